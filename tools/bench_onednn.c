/* oneDNN's forward convolution on a blasconv layer, for blasconv-bench --onednn and
 * blasconv-fastbench --onednn. oneDNN picks its own layouts (format_tag_any). With
 * BENCH_ONEDNN_NCHW the reorders of x, w and y to and from them run inside each
 * call, as they would for a caller holding NCHW tensors; the own-layout modes
 * reorder x and w once at creation and y once at the end, as a framework that keeps
 * its tensors in oneDNN's layouts would. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "bench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

struct bench_onednn {
    int own_layout; /* reorders of x and w at creation, of y in bench_onednn_finish */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t conv, reorder_x, reorder_w, reorder_y;
    dnnl_memory_t user_x, user_w, user_y, bias, x, w, y;
    dnnl_status_t status;
    char error[160];
};

static void execute(bench_onednn *c, dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args)
{
    if (c->status == dnnl_success)
        c->status = dnnl_primitive_execute(p, c->stream, nargs, args);
}

static void reorder_inputs(bench_onednn *c)
{
    if (c->reorder_x)
        execute(c, c->reorder_x, 2,
                (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, c->user_x}, {DNNL_ARG_TO, c->x}});
    if (c->reorder_w)
        execute(c, c->reorder_w, 2,
                (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, c->user_w}, {DNNL_ARG_TO, c->w}});
}

static void reorder_output(bench_onednn *c)
{
    if (c->reorder_y)
        execute(c, c->reorder_y, 2,
                (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, c->y}, {DNNL_ARG_TO, c->user_y}});
}

static void wait_stream(bench_onednn *c)
{
    if (c->status == dnnl_success)
        c->status = dnnl_stream_wait(c->stream);
}

void bench_onednn_run(void *arg)
{
    bench_onednn *c = arg;
    if (!c->own_layout)
        reorder_inputs(c);
    execute(c, c->conv, 4,
            (dnnl_exec_arg_t[]){{DNNL_ARG_SRC, c->x},
                                {DNNL_ARG_WEIGHTS, c->w},
                                {DNNL_ARG_BIAS, c->bias},
                                {DNNL_ARG_DST, c->y}});
    if (!c->own_layout)
        reorder_output(c);
    wait_stream(c);
}

/* The memory oneDNN's convolution wants for `what`: the user's, or a new buffer and
 * a reorder from (to_user = 0) or to (to_user = 1) the user's. */
static dnnl_status_t bind(bench_onednn *c, dnnl_query_t what, dnnl_memory_t user,
                          dnnl_memory_t *mem, dnnl_primitive_t *reorder, int to_user)
{
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(c->pd, what, 0);
    const dnnl_memory_desc_t *have;
    dnnl_status_t st = dnnl_memory_get_memory_desc(user, &have);
    if (st != dnnl_success)
        return st;
    if (dnnl_memory_desc_equal(want, have)) {
        *mem = user;
        return dnnl_success;
    }
    st = dnnl_memory_create(mem, want, c->engine, DNNL_MEMORY_ALLOCATE);
    if (st != dnnl_success)
        return st;
    dnnl_primitive_desc_t rpd;
    st = to_user
             ? dnnl_reorder_primitive_desc_create(&rpd, want, c->engine, have, c->engine, NULL)
             : dnnl_reorder_primitive_desc_create(&rpd, have, c->engine, want, c->engine, NULL);
    if (st != dnnl_success)
        return st;
    st = dnnl_primitive_create(reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    return st;
}

static void destroy(bench_onednn *c)
{
    if (!c)
        return;
    dnnl_primitive_t prims[] = {c->conv, c->reorder_x, c->reorder_w, c->reorder_y};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {c->x != c->user_x ? c->x : NULL,
                            c->w != c->user_w ? c->w : NULL,
                            c->y != c->user_y ? c->y : NULL,
                            c->user_x,
                            c->user_w,
                            c->user_y,
                            c->bias};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    if (c->pd)
        dnnl_primitive_desc_destroy(c->pd);
    if (c->stream)
        dnnl_stream_destroy(c->stream);
    if (c->engine)
        dnnl_engine_destroy(c->engine);
    free(c);
}

/* oneDNN here runs on OpenMP: its thread count is the OpenMP runtime's (per calling
 * thread). omp_set_num_threads, looked up from the main thread before any use
 * (bench_onednn_create, bench_onednn_sgemm_prepare); NULL without OpenMP. */
static void (*omp_set_threads)(int);

static void find_omp(void)
{
    if (!omp_set_threads)
        omp_set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

static void set_omp_threads(int threads)
{
    find_omp();
    if (omp_set_threads)
        omp_set_threads(threads);
}

static const char *status_name(dnnl_status_t st)
{
    switch (st) {
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "no implementation for this shape";
    default: return "error";
    }
}

#define TRY(call, what)                                                                           \
    do {                                                                                          \
        dnnl_status_t st_ = (call);                                                               \
        if (st_ != dnnl_success) {                                                                \
            snprintf(c->error, sizeof c->error, "%s failed: %s (dnnl status %d)", (what),         \
                     status_name(st_), (int)st_);                                                 \
            goto done;                                                                            \
        }                                                                                         \
    } while (0)

const char *bench_onednn_create(bench_onednn **out, const blasconv_conv2d *d, int threads,
                                bench_onednn_mode mode, const float *x, const float *w,
                                const float *bias, float *y, char *impl, size_t impl_size)
{
    static char error[160];
    *out = NULL;
    int oh, ow;
    if (blasconv_conv2d_output_size(d, &oh, &ow) != BLASCONV_OK)
        return "invalid descriptor";
    bench_onednn *c = calloc(1, sizeof *c);
    if (!c)
        return "out of memory";
    c->own_layout = mode != BENCH_ONEDNN_NCHW;
    set_omp_threads(threads);
    const int g = d->groups ? d->groups : 1;
    const int64_t sh = d->stride_height ? d->stride_height : 1;
    const int64_t sw = d->stride_width ? d->stride_width : 1;
    const int64_t dh = d->dilation_height ? d->dilation_height : 1;
    const int64_t dw = d->dilation_width ? d->dilation_width : 1;
    dnnl_dims_t x_dims = {d->batch, d->in_channels, d->in_height, d->in_width};
    dnnl_dims_t y_dims = {d->batch, d->out_channels, oh, ow};
    dnnl_dims_t w_dims = {g, d->out_channels / g, d->in_channels / g, d->kernel_height,
                          d->kernel_width};
    dnnl_dims_t b_dims = {d->out_channels};
    dnnl_dims_t strides = {sh, sw}, dilates = {dh - 1, dw - 1};
    dnnl_dims_t pad_l = {d->pad_top, d->pad_left}, pad_r = {d->pad_bottom, d->pad_right};
    /* Grouped weights are 5-D (goihw); plain ones 4-D (oihw), same memory order. */
    const int w_ndims = g > 1 ? 5 : 4;
    const dnnl_dims_t *w_shape = g > 1 ? &w_dims : (const dnnl_dims_t *)&w_dims[1];
    const dnnl_format_tag_t w_tag = g > 1 ? dnnl_goihw : dnnl_oihw;
    dnnl_memory_desc_t x_md, w_md, y_md, b_md, x_any, w_any, y_any;
    TRY(dnnl_memory_desc_init_by_tag(&x_md, 4, x_dims, dnnl_f32, dnnl_nchw), "x desc");
    TRY(dnnl_memory_desc_init_by_tag(&y_md, 4, y_dims, dnnl_f32, dnnl_nchw), "y desc");
    TRY(dnnl_memory_desc_init_by_tag(&w_md, w_ndims, *w_shape, dnnl_f32, w_tag), "w desc");
    TRY(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x), "bias desc");
    TRY(dnnl_memory_desc_init_by_tag(&x_any, 4, x_dims, dnnl_f32, dnnl_format_tag_any), "x any");
    TRY(dnnl_memory_desc_init_by_tag(&y_any, 4, y_dims, dnnl_f32, dnnl_format_tag_any), "y any");
    TRY(dnnl_memory_desc_init_by_tag(&w_any, w_ndims, *w_shape, dnnl_f32, dnnl_format_tag_any),
        "w any");
    dnnl_convolution_desc_t cd;
    const dnnl_alg_kind_t alg =
        mode == BENCH_ONEDNN_WINOGRAD ? dnnl_convolution_winograd : dnnl_convolution_direct;
    TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, alg, &x_any,
                                                   &w_any, &b_md, &y_any, strides, dilates, pad_l,
                                                   pad_r),
        "convolution desc");
    TRY(dnnl_engine_create(&c->engine, dnnl_cpu, 0), "engine");
    TRY(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags), "stream");
    TRY(dnnl_primitive_desc_create(&c->pd, &cd, NULL, c->engine, NULL), "primitive desc");
    const char *name = NULL;
    if (dnnl_primitive_desc_query(c->pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success &&
        name)
        snprintf(impl, impl_size, "%s", name);
    /* oneDNN only reads x, w and bias: the casts drop const for its handle type. */
    TRY(dnnl_memory_create(&c->user_x, &x_md, c->engine, (void *)x), "x memory");
    TRY(dnnl_memory_create(&c->user_w, &w_md, c->engine, (void *)w), "w memory");
    TRY(dnnl_memory_create(&c->bias, &b_md, c->engine, (void *)bias), "bias memory");
    TRY(dnnl_memory_create(&c->user_y, &y_md, c->engine, y), "y memory");
    TRY(bind(c, dnnl_query_src_md, c->user_x, &c->x, &c->reorder_x, 0), "x reorder");
    TRY(bind(c, dnnl_query_weights_md, c->user_w, &c->w, &c->reorder_w, 0), "w reorder");
    TRY(bind(c, dnnl_query_dst_md, c->user_y, &c->y, &c->reorder_y, 1), "y reorder");
    TRY(dnnl_primitive_create(&c->conv, c->pd), "primitive");
    if (c->own_layout) {
        reorder_inputs(c);
        wait_stream(c);
        TRY(c->status, "reorder of x and w");
    }
done:
    if (c->error[0]) {
        snprintf(error, sizeof error, "%s", c->error);
        destroy(c);
        return error;
    }
    *out = c;
    return NULL;
}

const char *bench_onednn_finish(bench_onednn *c)
{
    static char error[160];
    if (c->own_layout) {
        reorder_output(c);
        wait_stream(c);
    }
    error[0] = '\0';
    if (c->status != dnnl_success)
        snprintf(error, sizeof error, "execution failed (dnnl status %d)", (int)c->status);
    destroy(c);
    return error[0] ? error : NULL;
}

void bench_onednn_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc)
{
    (void)layout;           /* blasconv calls row-major (101) only, as dnnl_sgemm computes */
    if (omp_set_threads)    /* one OpenMP thread for this calling thread: blasconv's */
        omp_set_threads(1); /* slots call it from several threads at once */
    /* Valid arguments (blasconv checks them first) leave no error to report. */
    (void)dnnl_sgemm(trans_a == 112 ? 'T' : 'N', trans_b == 112 ? 'T' : 'N', m, n, k, alpha, a,
                     lda, b, ldb, beta, c, ldc);
}

void bench_onednn_sgemm_prepare(void)
{
    find_omp();
}

const char *bench_onednn_sgemm_info(void)
{
    static char info[96];
    const dnnl_version_t *v = dnnl_version();
    const char *isa = "";
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core: isa = ", avx512_core"; break;
    case dnnl_cpu_isa_avx512_core_vnni: isa = ", avx512_core_vnni"; break;
    case dnnl_cpu_isa_avx512_core_bf16: isa = ", avx512_core_bf16"; break;
    case dnnl_cpu_isa_avx512_core_amx: isa = ", avx512_core_amx"; break;
    case dnnl_cpu_isa_avx2: isa = ", avx2"; break;
    default: break;
    }
    snprintf(info, sizeof info, "oneDNN %d.%d.%d dnnl_sgemm (%s runtime%s)", v->major, v->minor,
             v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other", isa);
    return info;
}
