/* blasconv-bench's measurements: one layer's data and reference outputs, the timed
 * pass next to its same-shape sgemm, and the oneDNN rows. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench.h"
#include "bench_clock.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- timing ------------------------------------------------------------------ */

/* Calls per timed sample so that a sample lasts about a millisecond. */
static int inner_calls(double one_call_seconds)
{
    if (one_call_seconds >= 1e-3)
        return 1;
    double calls = ceil(1e-3 / (one_call_seconds > 1e-8 ? one_call_seconds : 1e-8));
    return calls > 10000 ? 10000 : (int)calls;
}

/* Seconds of timed samples after which a row stops taking more (0 = no limit). */
double bench_row_budget_seconds = 2.0;

double bench_settle_seconds = 0.0;

/* Medians of reps samples of each fn, the fns taking turns so that all of them see
 * the same machine load; fewer samples (at least one) once the row's time budget is
 * spent. With bench_settle_seconds > 0 each fn takes all its samples in turn instead,
 * after that pause: a threaded BLAS's idle workers spin for a while after each call
 * and would take a core from the fn timed next. warm[i] > 0 is the duration of a call
 * already made (the warm-up); otherwise one warm-up call is made and timed here. */
static void time_interleaved(int count, void (*const fns[])(void *), void *const args[],
                             const double warm[], int reps, double medians[])
{
    int inner[4];
    double *samples = malloc(sizeof *samples * (size_t)reps * (size_t)count);
    for (int i = 0; i < count; i++) {
        double t = warm[i];
        if (t <= 0) {
            double t0 = bench_clock_seconds(CLOCK_MONOTONIC);
            fns[i](args[i]);
            t = bench_clock_seconds(CLOCK_MONOTONIC) - t0;
        }
        inner[i] = inner_calls(t);
    }
    if (!samples) {
        for (int i = 0; i < count; i++)
            medians[i] = NAN;
        return;
    }
    const int blocks = bench_settle_seconds > 0 ? count : 1;
    const int per_block = count / blocks;
    const double budget = bench_row_budget_seconds / blocks;
    int taken = 0;
    for (int b = 0; b < blocks; b++) {
        bench_sleep(bench_settle_seconds);
        const double start = bench_clock_seconds(CLOCK_MONOTONIC);
        const int want = b == 0 ? reps : taken; /* every block as many as the first */
        taken = 0;
        while (taken < want) {
            for (int i = b * per_block; i < (b + 1) * per_block; i++) {
                double t0 = bench_clock_seconds(CLOCK_MONOTONIC);
                for (int c = 0; c < inner[i]; c++)
                    fns[i](args[i]);
                samples[(size_t)i * reps + taken] =
                    (bench_clock_seconds(CLOCK_MONOTONIC) - t0) / inner[i];
            }
            taken++;
            if (b == 0 && budget > 0 && bench_clock_seconds(CLOCK_MONOTONIC) - start > budget)
                break;
        }
    }
    for (int i = 0; i < count; i++) { /* fn i's samples start at i * reps */
        double *s = samples + (size_t)i * reps;
        medians[i] = bench_median(s, taken);
    }
    free(samples);
}

double bench_median_seconds(void (*fn)(void *), void *arg, int reps)
{
    void (*const fns[1])(void *) = {fn};
    void *const args[1] = {arg};
    const double warm[1] = {0};
    double median;
    time_interleaved(1, fns, args, warm, reps, &median);
    return median;
}

/* ---- one layer's data: inputs, NHWC copies and reference outputs ---------------- */

struct bench_layer_data {
    const bench_layer *layer;
    blasconv_conv2d d; /* NCHW, batch overridden */
    int oh, ow;
    size_t nx, nw, ny;
    float *x, *w, *bias, *dy; /* NCHW, random in [-1, 1) */
    float *x_t, *w_t, *dy_t;  /* the NHWC copies, made on first use */
    float *ref[PASS_COUNT];   /* reference y, dx, dw (NCHW), made on first use */
    float *ref_db;
};

static float *alloc_floats(size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    if (!a) {
        fprintf(stderr, "blasconv-bench: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return a;
}

static uint64_t rng_state = 0x5eed;

static float *alloc_random(size_t n)
{
    float *a = alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (float)((double)(rng_state >> 40) / (double)(1u << 24) * 2.0 - 1.0);
    }
    return a;
}

/* [outer][channels][inner] <-> [outer][inner][channels], the NCHW/NHWC transpose
 * (weights too: [K][C/g][KH*KW] <-> [K][KH*KW][C/g]). */
static void to_channels_last(const float *src, float *dst, size_t outer, size_t channels,
                             size_t inner)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t c = 0; c < channels; c++)
            for (size_t i = 0; i < inner; i++)
                dst[(o * inner + i) * channels + c] = src[(o * channels + c) * inner + i];
}

static void to_channels_first(const float *src, float *dst, size_t outer, size_t channels,
                              size_t inner)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t c = 0; c < channels; c++)
            for (size_t i = 0; i < inner; i++)
                dst[(o * channels + c) * inner + i] = src[(o * inner + i) * channels + c];
}

bench_layer_data *bench_layer_data_create(const bench_layer *l, int batch)
{
    bench_layer_data *ld = calloc(1, sizeof *ld);
    if (!ld) {
        fprintf(stderr, "blasconv-bench: out of memory\n");
        exit(1);
    }
    ld->layer = l;
    ld->d = l->d;
    ld->d.layout = BLASCONV_NCHW;
    if (batch)
        ld->d.batch = batch;
    blasconv_conv2d_output_size(&ld->d, &ld->oh, &ld->ow);
    const blasconv_conv2d *d = &ld->d;
    int g = d->groups ? d->groups : 1;
    ld->nx = (size_t)d->batch * d->in_channels * d->in_height * d->in_width;
    ld->nw = (size_t)d->out_channels * (d->in_channels / g) * d->kernel_height * d->kernel_width;
    ld->ny = (size_t)d->batch * d->out_channels * ld->oh * ld->ow;
    return ld;
}

static void layer_data_inputs(bench_layer_data *ld)
{
    if (ld->x)
        return;
    ld->x = alloc_random(ld->nx);
    ld->w = alloc_random(ld->nw);
    ld->bias = alloc_random((size_t)ld->d.out_channels);
    ld->dy = alloc_random(ld->ny);
}

static void layer_data_nhwc(bench_layer_data *ld)
{
    if (ld->x_t)
        return;
    const blasconv_conv2d *d = &ld->d;
    int g = d->groups ? d->groups : 1;
    ld->x_t = alloc_floats(ld->nx);
    ld->w_t = alloc_floats(ld->nw);
    ld->dy_t = alloc_floats(ld->ny);
    to_channels_last(ld->x, ld->x_t, (size_t)d->batch, (size_t)d->in_channels,
                     (size_t)d->in_height * d->in_width);
    to_channels_last(ld->w, ld->w_t, (size_t)d->out_channels, (size_t)(d->in_channels / g),
                     (size_t)d->kernel_height * d->kernel_width);
    to_channels_last(ld->dy, ld->dy_t, (size_t)d->batch, (size_t)d->out_channels,
                     (size_t)ld->oh * ld->ow);
}

void bench_layer_data_destroy(bench_layer_data *ld)
{
    if (!ld)
        return;
    free(ld->x), free(ld->w), free(ld->bias), free(ld->dy);
    free(ld->x_t), free(ld->w_t), free(ld->dy_t);
    for (int p = 0; p < PASS_COUNT; p++)
        free(ld->ref[p]);
    free(ld->ref_db);
    free(ld);
}

static size_t pass_output_elems(const bench_layer_data *ld, bench_pass pass)
{
    return pass == PASS_FWD ? ld->ny : pass == PASS_BWD_DATA ? ld->nx : ld->nw;
}

/* The reference output of a pass, computed once (slow: direct loops). */
static const float *layer_reference(bench_layer_data *ld, bench_pass pass)
{
    if (ld->ref[pass])
        return ld->ref[pass];
    fprintf(stderr, " (reference)");
    float *out = alloc_floats(pass_output_elems(ld, pass));
    blasconv_status st;
    if (pass == PASS_FWD) {
        st = blasconv_reference_conv2d_forward(NULL, &ld->d, ld->x, ld->w, ld->bias, out);
    } else if (pass == PASS_BWD_DATA) {
        st = blasconv_reference_conv2d_backward_data(NULL, &ld->d, ld->dy, ld->w, out);
    } else {
        ld->ref_db = alloc_floats((size_t)ld->d.out_channels);
        st = blasconv_reference_conv2d_backward_filter(NULL, &ld->d, ld->x, ld->dy, out,
                                                       ld->ref_db);
    }
    if (st != BLASCONV_OK) {
        fprintf(stderr, "blasconv-bench: the reference failed on %s: %s\n", ld->layer->name,
                blasconv_status_string(st));
        exit(1);
    }
    ld->ref[pass] = out;
    return out;
}

/* Products summed into one output element: the scale of its rounding error. */
static double pass_terms(const bench_layer_data *ld, bench_pass pass)
{
    const blasconv_conv2d *d = &ld->d;
    int g = d->groups ? d->groups : 1;
    double taps = (double)d->kernel_height * d->kernel_width;
    if (pass == PASS_FWD)
        return (double)(d->in_channels / g) * taps + 1;
    if (pass == PASS_BWD_DATA)
        return (double)(d->out_channels / g) * taps;
    return (double)d->batch * ld->oh * ld->ow;
}

static double max_abs_diff(const float *got, const float *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= worst)) /* NaN too */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* ---- one row: a pass and its same-shape sgemm -------------------------------------- */

typedef struct pass_call {
    blasconv_context *ctx;
    const blasconv_conv2d *d;
    bench_pass pass;
    const float *x, *w, *bias, *dy;
    float *out, *out_db;
    blasconv_status status;
} pass_call;

static void run_pass(void *arg)
{
    pass_call *c = arg;
    if (c->pass == PASS_FWD)
        c->status = blasconv_conv2d_forward(c->ctx, c->d, c->x, c->w, c->bias, c->out);
    else if (c->pass == PASS_BWD_DATA)
        c->status = blasconv_conv2d_backward_data(c->ctx, c->d, c->dy, c->w, c->out);
    else
        c->status = blasconv_conv2d_backward_filter(c->ctx, c->d, c->x, c->dy, c->out, c->out_db);
}

/* The GEMM blasconv issues per image and group in a pass, run count times. An
 * operand that is a slice of the batch's tensors (x, y, dy, dx) is a new buffer each
 * time, as in the pass, which streams every image; the filter, dw and the lowered
 * scratch are one buffer reused, as blasconv reuses them. */
typedef struct gemm_call {
    blasconv_context *ctx;
    int trans_a, trans_b, m, n, k, lda, ldb, count;
    int a_per_image, b_per_image, c_per_image;
    const float *a, *b;
    float *c;
    blasconv_status status;
} gemm_call;

static void run_gemm(void *arg)
{
    gemm_call *g = arg;
    const size_t a_step = g->a_per_image ? (size_t)g->m * g->k : 0;
    const size_t b_step = g->b_per_image ? (size_t)g->k * g->n : 0;
    const size_t c_step = g->c_per_image ? (size_t)g->m * g->n : 0;
    for (int i = 0; i < g->count; i++)
        g->status = blasconv_sgemm(g->ctx, g->trans_a, g->trans_b, g->m, g->n, g->k, 1.0f,
                                   g->a + i * a_step, g->lda, g->b + i * b_step, g->ldb, 0.0f,
                                   g->c + i * c_step, g->n);
}

static gemm_call pass_gemm(const bench_layer_data *ld, bench_pass pass)
{
    const blasconv_conv2d *d = &ld->d;
    int g = d->groups ? d->groups : 1;
    int kg = d->out_channels / g, positions = ld->oh * ld->ow;
    int col_rows = d->in_channels / g * d->kernel_height * d->kernel_width;
    /* A 1x1 stride-1 unpadded layer has no lowering: its GEMMs read and write x or dx */
    const int direct = d->kernel_height == 1 && d->kernel_width == 1 && d->stride_height <= 1 &&
                       d->stride_width <= 1 && !d->pad_top && !d->pad_bottom && !d->pad_left &&
                       !d->pad_right;
    gemm_call c = {.count = d->batch * g};
    if (pass == PASS_FWD) /* y[kg][P] = w[kg][col_rows] col[col_rows][P] */
        c.m = kg, c.n = positions, c.k = col_rows, c.lda = c.k, c.ldb = c.n,
        c.b_per_image = direct, c.c_per_image = 1;
    else if (pass == PASS_BWD_DATA) /* col[col_rows][P] = w^T dy[kg][P] */
        c.trans_a = 1, c.m = col_rows, c.n = positions, c.k = kg, c.lda = c.m, c.ldb = c.n,
        c.b_per_image = 1, c.c_per_image = direct;
    else /* dw[kg][col_rows] = dy[kg][P] col^T */
        c.trans_b = 1, c.m = kg, c.n = col_rows, c.k = positions, c.lda = c.k, c.ldb = c.k,
        c.a_per_image = 1, c.b_per_image = direct;
    return c;
}

void bench_run_row(blasconv_context *ctx, bench_layer_data *ld, blasconv_layout layout,
                   bench_pass pass, int reps, int verify, bench_row *row)
{
    blasconv_conv2d d = ld->d;
    d.layout = layout;
    gemm_call gemm = pass_gemm(ld, pass);
    row->layout = layout;
    row->pass = pass;
    row->batch = d.batch;
    row->gemm_m = gemm.m, row->gemm_n = gemm.n, row->gemm_k = gemm.k;
    row->gemm_count = gemm.count;
    row->gflop = 2.0 * gemm.m * gemm.n * gemm.k * gemm.count * 1e-9;
    row->conv_s = row->sgemm_s = row->conv_gflops = row->sgemm_gflops = NAN;
    row->conv_over_sgemm = row->max_abs_err = row->tolerance = row->vs_onednn = NAN;

    layer_data_inputs(ld);
    int nhwc = layout == BLASCONV_NHWC;
    if (nhwc)
        layer_data_nhwc(ld);
    size_t out_elems = pass_output_elems(ld, pass);
    float *out = alloc_floats(out_elems), *out_db = alloc_floats((size_t)d.out_channels);
    for (size_t i = 0; i < out_elems; i++)
        out[i] = NAN;
    pass_call call = {.ctx = ctx,
                      .d = &d,
                      .pass = pass,
                      .x = nhwc ? ld->x_t : ld->x,
                      .w = nhwc ? ld->w_t : ld->w,
                      .bias = ld->bias,
                      .dy = nhwc ? ld->dy_t : ld->dy,
                      .out = out,
                      .out_db = out_db};
    double t0 = bench_clock_seconds(CLOCK_MONOTONIC);
    run_pass(&call); /* the checked run, and the warm-up */
    double first = bench_clock_seconds(CLOCK_MONOTONIC) - t0;
    if (call.status == BLASCONV_ERR_UNSUPPORTED) {
        row->status = "unsupported";
    } else if (call.status != BLASCONV_OK) {
        fprintf(stderr, "blasconv-bench: %s %s %s: %s (%s)\n", ld->layer->name,
                layout == BLASCONV_NHWC ? "nhwc" : "nchw", bench_pass_names[pass],
                blasconv_status_string(call.status), blasconv_context_last_error(ctx));
        row->status = "error";
    } else {
        row->status = "ok";
        if (verify) {
            const float *want = layer_reference(ld, pass);
            const float *got = out;
            float *back = NULL;
            if (nhwc && pass != PASS_BWD_FILTER) {
                back = alloc_floats(out_elems);
                size_t channels =
                    pass == PASS_FWD ? (size_t)d.out_channels : (size_t)d.in_channels;
                size_t plane =
                    pass == PASS_FWD ? (size_t)ld->oh * ld->ow : (size_t)d.in_height * d.in_width;
                to_channels_first(out, back, (size_t)d.batch, channels, plane);
                got = back;
            } else if (nhwc) {
                int g = d.groups ? d.groups : 1;
                back = alloc_floats(out_elems);
                to_channels_first(out, back, (size_t)d.out_channels, (size_t)(d.in_channels / g),
                                  (size_t)d.kernel_height * d.kernel_width);
                got = back;
            }
            row->max_abs_err = max_abs_diff(got, want, out_elems);
            if (pass == PASS_BWD_FILTER) {
                double db_err = max_abs_diff(out_db, ld->ref_db, (size_t)d.out_channels);
                row->max_abs_err = db_err > row->max_abs_err ? db_err : row->max_abs_err;
            }
            row->tolerance = 4e-6 * (pass_terms(ld, pass) + 1);
            if (!(row->max_abs_err <= row->tolerance))
                row->status = "WRONG";
            free(back);
        }
        const size_t count = (size_t)gemm.count;
        float *ga = alloc_random((gemm.a_per_image ? count : 1) * gemm.m * gemm.k),
              *gb = alloc_random((gemm.b_per_image ? count : 1) * gemm.k * gemm.n);
        float *gc = alloc_floats((gemm.c_per_image ? count : 1) * gemm.m * gemm.n);
        gemm.ctx = ctx, gemm.a = ga, gemm.b = gb, gemm.c = gc;
        void (*const fns[2])(void *) = {run_pass, run_gemm};
        void *const args[2] = {&call, &gemm};
        const double warm[2] = {first, 0};
        double medians[2];
        time_interleaved(2, fns, args, warm, reps, medians);
        if (gemm.status != BLASCONV_OK) {
            fprintf(stderr, "blasconv-bench: sgemm %dx%dx%d: %s (%s)\n", gemm.m, gemm.n, gemm.k,
                    blasconv_status_string(gemm.status), blasconv_context_last_error(ctx));
            row->status = "error";
        }
        row->conv_s = medians[0], row->sgemm_s = medians[1];
        row->conv_gflops = row->gflop / row->conv_s;
        row->sgemm_gflops = row->gflop / row->sgemm_s;
        row->conv_over_sgemm = row->conv_gflops / row->sgemm_gflops;
        free(ga), free(gb), free(gc);
    }
    free(out), free(out_db);
}

/* ---- oneDNN rows --------------------------------------------------------------------- */

void bench_run_onednn_row(bench_layer_data *ld, int threads, int reps, int verify, bench_row *row)
{
    row->layout = BLASCONV_NCHW;
    row->pass = PASS_FWD;
    row->batch = ld->d.batch;
    gemm_call gemm = pass_gemm(ld, PASS_FWD);
    row->gemm_m = gemm.m, row->gemm_n = gemm.n, row->gemm_k = gemm.k;
    row->gemm_count = gemm.count;
    row->gflop = 2.0 * gemm.m * gemm.n * gemm.k * gemm.count * 1e-9;
    row->conv_s = row->sgemm_s = row->conv_gflops = row->sgemm_gflops = NAN;
    row->conv_over_sgemm = row->max_abs_err = row->tolerance = row->vs_onednn = NAN;
#ifdef BLASCONV_BENCH_HAVE_ONEDNN
    layer_data_inputs(ld);
    float *y = alloc_floats(ld->ny);
    for (size_t i = 0; i < ld->ny; i++)
        y[i] = NAN;
    char impl[128] = "";
    bench_onednn *onednn;
    const char *err = bench_onednn_create(&onednn, &ld->d, threads, BENCH_ONEDNN_NCHW, ld->x,
                                          ld->w, ld->bias, y, impl, sizeof impl);
    if (!err) {
        row->conv_s = bench_median_seconds(bench_onednn_run, onednn, reps);
        err = bench_onednn_finish(onednn);
    }
    snprintf(row->kernels, sizeof row->kernels, "oneDNN %s", impl);
    if (err) {
        fprintf(stderr, "blasconv-bench: oneDNN on %s: %s\n", ld->layer->name, err);
        row->status = "error";
    } else {
        row->status = "ok";
        row->conv_gflops = row->gflop / row->conv_s;
        if (verify) {
            row->max_abs_err = max_abs_diff(y, layer_reference(ld, PASS_FWD), ld->ny);
            row->tolerance = 4e-6 * (pass_terms(ld, PASS_FWD) + 1);
            if (!(row->max_abs_err <= row->tolerance))
                row->status = "WRONG";
        }
    }
    free(y);
#else
    (void)ld, (void)threads, (void)reps, (void)verify;
    row->status = "error";
#endif
}

/* blasconv rows get blasconv GFLOP/s over oneDNN's for the same layer and threads. */
void bench_fill_vs_onednn(bench_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(rows[i].vendor, "onednn") != 0)
            continue;
        for (size_t j = 0; j < count; j++)
            if (j != i && strcmp(rows[j].vendor, "onednn") && rows[j].pass == PASS_FWD &&
                rows[j].layer == rows[i].layer && rows[j].threads == rows[i].threads)
                rows[j].vs_onednn = rows[j].conv_gflops / rows[i].conv_gflops;
    }
}
