/* blasconv-bench: convolution layers x BLAS vendors x threads x layouts x passes.
 * For each: median time, GFLOP/s, the same vendor's plain sgemm on the layer's GEMM
 * shape timed in the same run (and the ratio: what im2col costs), and the max error
 * against the reference. Table on stdout, CSV and a gnuplot chart on request. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, setenv, strtok_r, popen */
#include "bench.h"
#include "bench_busy.h"
#include "bench_clock.h"
#include "bench_host.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BLASCONV_BENCH_DEFAULT_SUITE
#define BLASCONV_BENCH_DEFAULT_SUITE "tools/suites/layers.csv"
#endif

#define MAX_VENDORS 16
#define MAX_LIST 8

const char *const bench_pass_names[PASS_COUNT] = {"fwd", "bwd-data", "bwd-filter"};
static const char *const layout_names[2] = {"nchw", "nhwc"};

/* The Debian packages' per-vendor folders; a vendor is offered when its file exists. */
static const struct {
    const char *name, *path;
} debian_vendors[] = {
    {"openblas", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"},
    {"blis", "/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3"},
    {"atlas", "/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3"},
    {"netlib", "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"},
};
#define DEBIAN_VENDOR_COUNT (sizeof debian_vendors / sizeof debian_vendors[0])

typedef struct vendor {
    char name[32];
    char path[1024];  /* "" = the BLAS the library was linked with */
    int onednn_sgemm; /* oneDNN's dnnl_sgemm through blasconv_context_set_sgemm */
} vendor;

/* The vendor name of oneDNN's sgemm (not "onednn": that names its convolution rows). */
static const char onednn_sgemm_name[] = "onednn-sgemm";

typedef struct options {
    const char *suite, *csv, *chart, *layer_filter;
    int batch; /* 0 = the suite's */
    vendor vendors[MAX_VENDORS];
    int vendor_count;
    int threads[MAX_LIST], thread_count;
    blasconv_layout layouts[2];
    int layout_count;
    bench_pass passes[PASS_COUNT];
    int pass_count;
    int reps, verify, onednn;
    size_t workspace_limit; /* bytes; 0 = none */
    int busy_cpu;           /* --busy-cpu; -1 = none */
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blasconv-bench [options]\n"
            "Times blasconv's convolution passes on a suite of real layers with one or more\n"
            "BLAS vendors, next to the same vendor's plain sgemm on each layer's GEMM shape.\n"
            "\n"
            "  --suite FILE        layer suite CSV (default: %s)\n"
            "  --layers A,B        only these layers of the suite (by name)\n"
            "  --batch N           override every layer's batch size\n"
            "  --blas NAME=PATH    a BLAS shared library with cblas_sgemm, loaded through\n"
            "                      blasconv_context_load_blas; repeatable. NAME alone picks a\n"
            "                      Debian vendor (openblas, blis, atlas, netlib) or 'linked'\n"
            "                      (the BLAS the library was built with), or onednn-sgemm\n"
            "                      (oneDNN's dnnl_sgemm through blasconv_context_set_sgemm\n"
            "                      and _set_sgemm_concurrent, each GEMM on one thread, when\n"
            "                      the tool was built with libdnnl-dev). Default: every\n"
            "                      Debian vendor installed under /usr/lib/x86_64-linux-gnu/\n"
            "                      {openblas-pthread,blis-pthread,atlas,blas}/libblas.so.3,\n"
            "                      and onednn-sgemm where built in\n"
            "  --threads 1,2       thread counts (default 1). A loaded vendor gets them through\n"
            "                      OPENBLAS_NUM_THREADS/BLIS_NUM_THREADS/OMP_NUM_THREADS, set\n"
            "                      before it is loaded, and the context's set_threads\n"
            "  --layout nchw,nhwc  layouts (default nchw); a layout this build does not\n"
            "                      implement is reported as 'unsupported', not as a failure\n"
            "  --pass fwd,bwd-data,bwd-filter   passes, or 'all' (default fwd)\n"
            "  --reps N            timed repetitions after one warm-up; the median is\n"
            "                      reported (default 3)\n"
            "  --workspace-limit B cap each call's scratch at B bytes\n"
            "                      (blasconv_context_set_workspace_limit; default: none)\n"
            "  --budget S          a row stops taking samples once its timed samples have\n"
            "                      lasted S seconds (at least one is kept; default 2; 0 = no\n"
            "                      limit), so slow vendors do not stretch the run\n"
            "  --busy-cpu N        a process of this tool spins on CPU N through every timing\n"
            "                      (another program's load on a core: how a call's threads\n"
            "                      share their work when one runs slower)\n"
            "  --no-verify         skip the error check against the reference\n"
            "  --onednn            also run oneDNN's forward convolution (NCHW in and out,\n"
            "                      reorders timed) when the tool was built with libdnnl-dev,\n"
            "                      check its output and report blasconv/oneDNN (vs_onednn)\n"
            "  --csv FILE          write every row as CSV\n"
            "  --chart FILE        grouped bars of GFLOP/s per layer and vendor, .png or .svg\n"
            "                      (needs gnuplot; skipped with a note when it is missing)\n"
            "  --help              this text\n"
            "\n"
            "Columns: ms and GFLOP/s of the pass (2*N*K*(C/g)*KH*KW*OH*OW flop); sgemm: the\n"
            "same vendor's blasconv_sgemm on the per-image, per-group GEMM of the pass\n"
            "(forward M=K/g N=OH*OW K=C/g*KH*KW), run batch*groups times (operands that are\n"
            "slices of x, y, dy or dx in a new buffer each time, as the pass streams them; the\n"
            "filter, dw and the lowered matrix in one reused buffer), timed interleaved\n"
            "with the pass (at 2+ threads: after a 0.3 s pause, the pass's samples then the\n"
            "sgemm's, as a threaded BLAS's idle workers spin and would take a core from the\n"
            "other); ratio = pass GFLOP/s / sgemm GFLOP/s (1 = im2col for free).\n"
            "max_err: the largest |difference| from blasconv_reference_conv2d_* (double\n"
            "accumulation) on random data in [-1, 1), every element compared. The reference\n"
            "runs once per layer and pass, before the timings, and is reused for every\n"
            "vendor, thread count and layout (NHWC results are compared after transposing);\n"
            "a row above 4e-6*(terms+1), terms = products summed per output, is WRONG.\n"
            "Exit status: 0 when every row is ok or unsupported, 1 otherwise, 2 on bad usage.\n"
            "Kernels: what blasconv_context_blas_info reports for each vendor (the library and\n"
            "the kernel family that ran) is printed and kept in the CSV's kernels column; the\n"
            "OPENBLAS_CORETYPE and BLIS_ARCH_TYPE environment is printed too.\n",
            BLASCONV_BENCH_DEFAULT_SUITE);
}

/* Prints "blasconv-bench: <message>" on stderr; returns 0 (failure) for the caller. */
static int fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "blasconv-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 0;
}

/* ---- options ----------------------------------------------------------- */

static int parse_positive(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > 1000000)
        return 0;
    *out = (int)v;
    return 1;
}

static int add_vendor(options *o, const char *spec)
{
    if (o->vendor_count == MAX_VENDORS)
        return fail("too many --blas options (at most %d)", MAX_VENDORS);
    vendor *v = &o->vendors[o->vendor_count];
    const char *eq = strchr(spec, '=');
    size_t name_len = eq ? (size_t)(eq - spec) : strlen(spec);
    if (name_len == 0 || name_len >= sizeof v->name)
        return fail("--blas '%s': NAME must be 1 to 31 characters", spec);
    memcpy(v->name, spec, name_len);
    v->name[name_len] = '\0';
    v->onednn_sgemm = 0;
    if (strcmp(v->name, onednn_sgemm_name) == 0) {
#if defined(BLASCONV_BENCH_HAVE_ONEDNN)
        if (eq)
            return fail("--blas '%s': %s takes no PATH", spec, onednn_sgemm_name);
        v->path[0] = '\0';
        v->onednn_sgemm = 1;
#else
        return fail("--blas %s: this build has no oneDNN (install libdnnl-dev and rebuild)",
                    onednn_sgemm_name);
#endif
    } else if (eq) {
        if (!eq[1] || strlen(eq + 1) >= sizeof v->path)
            return fail("--blas '%s': PATH is empty or too long", spec);
        strcpy(v->path, eq + 1);
    } else if (strcmp(v->name, "linked") == 0) {
        v->path[0] = '\0';
    } else {
        size_t i = 0;
        while (i < DEBIAN_VENDOR_COUNT && strcmp(debian_vendors[i].name, v->name) != 0)
            i++;
        if (i == DEBIAN_VENDOR_COUNT)
            return fail("--blas '%s': not a known vendor (openblas, blis, atlas, netlib, "
                        "linked, %s); give NAME=PATH",
                        spec, onednn_sgemm_name);
        strcpy(v->path, debian_vendors[i].path);
    }
    o->vendor_count++;
    return 1;
}

static int is_value_option(const char *opt)
{
    static const char *const names[] = {
        "--suite", "--layers", "--batch", "--blas",  "--threads",         "--layout",  "--pass",
        "--reps",  "--budget", "--csv",   "--chart", "--workspace-limit", "--busy-cpu"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(opt, names[i]) == 0)
            return 1;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.suite = BLASCONV_BENCH_DEFAULT_SUITE,
                   .threads = {1},
                   .thread_count = 1,
                   .layouts = {BLASCONV_NCHW},
                   .layout_count = 1,
                   .passes = {PASS_FWD},
                   .pass_count = 1,
                   .reps = 3,
                   .verify = 1,
                   .busy_cpu = -1};
    char tokens[MAX_LIST][64];
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_arg = 1;
        if (strcmp(opt, "--no-verify") == 0) {
            o->verify = 0, takes_arg = 0;
        } else if (strcmp(opt, "--onednn") == 0) {
            o->onednn = 1, takes_arg = 0;
        } else if (!is_value_option(opt)) {
            return fail("unknown option '%s' (see --help)", opt);
        } else if (!arg) {
            return fail("%s needs a value", opt);
        } else if (strcmp(opt, "--suite") == 0) {
            o->suite = arg;
        } else if (strcmp(opt, "--layers") == 0) {
            o->layer_filter = arg;
        } else if (strcmp(opt, "--csv") == 0) {
            o->csv = arg;
        } else if (strcmp(opt, "--chart") == 0) {
            o->chart = arg;
        } else if (strcmp(opt, "--batch") == 0) {
            if (!parse_positive(arg, &o->batch))
                return fail("--batch '%s' is not a positive integer", arg);
        } else if (strcmp(opt, "--reps") == 0) {
            if (!parse_positive(arg, &o->reps))
                return fail("--reps '%s' is not a positive integer", arg);
        } else if (strcmp(opt, "--budget") == 0) {
            char *end;
            double budget = strtod(arg, &end);
            if (end == arg || *end || !(budget >= 0) || budget > 1e6)
                return fail("--budget '%s' is not a number of seconds >= 0", arg);
            bench_row_budget_seconds = budget;
        } else if (strcmp(opt, "--workspace-limit") == 0) {
            char *end;
            unsigned long long bytes = strtoull(arg, &end, 10);
            if (end == arg || *end || arg[0] == '-')
                return fail("--workspace-limit '%s' is not a number of bytes", arg);
            o->workspace_limit = (size_t)bytes;
        } else if (strcmp(opt, "--busy-cpu") == 0) {
            if ((o->busy_cpu = bench_busy_parse(arg)) < 0)
                return fail("--busy-cpu '%s' is not a CPU number", arg);
        } else if (strcmp(opt, "--blas") == 0) {
            if (!add_vendor(o, arg))
                return 0;
        } else if (strcmp(opt, "--threads") == 0) {
            int n = bench_split_list(arg, tokens, MAX_LIST);
            if (n <= 0)
                return fail("--threads '%s' is not a list like 1,2", arg);
            for (int t = 0; t < n; t++)
                if (!parse_positive(tokens[t], &o->threads[t]))
                    return fail("--threads: '%s' is not a positive integer", tokens[t]);
            o->thread_count = n;
        } else if (strcmp(opt, "--layout") == 0) {
            int n = bench_split_list(arg, tokens, 2);
            if (n <= 0)
                return fail("--layout '%s' is not nchw, nhwc or nchw,nhwc", arg);
            for (int t = 0; t < n; t++) {
                if (strcmp(tokens[t], "nchw") && strcmp(tokens[t], "nhwc"))
                    return fail("--layout: '%s' is not nchw or nhwc", tokens[t]);
                o->layouts[t] = strcmp(tokens[t], "nchw") ? BLASCONV_NHWC : BLASCONV_NCHW;
            }
            o->layout_count = n;
        } else if (strcmp(opt, "--pass") == 0) {
            int n = strcmp(arg, "all") == 0 ? -2 : bench_split_list(arg, tokens, PASS_COUNT);
            if (n == -2) {
                for (int p = 0; p < PASS_COUNT; p++)
                    o->passes[p] = (bench_pass)p;
                n = PASS_COUNT;
            } else if (n <= 0) {
                return fail("--pass '%s' is not a list of fwd, bwd-data, bwd-filter", arg);
            } else {
                for (int t = 0; t < n; t++) {
                    int p = 0;
                    while (p < PASS_COUNT && strcmp(tokens[t], bench_pass_names[p]))
                        p++;
                    if (p == PASS_COUNT)
                        return fail("--pass: '%s' is not fwd, bwd-data or bwd-filter", tokens[t]);
                    o->passes[t] = (bench_pass)p;
                }
            }
            o->pass_count = n;
        } else {
            return fail("unknown option '%s' (see --help)", opt);
        }
        i += takes_arg;
    }
    if (o->vendor_count == 0) {
        for (size_t v = 0; v < DEBIAN_VENDOR_COUNT; v++)
            if (access(debian_vendors[v].path, R_OK) == 0)
                add_vendor(o, debian_vendors[v].name);
        if (o->vendor_count == 0)
            add_vendor(o, "linked");
#if defined(BLASCONV_BENCH_HAVE_ONEDNN)
        add_vendor(o, onednn_sgemm_name);
#endif
    }
    return 1;
}

/* ---- main ---------------------------------------------------------------------------- */

static void set_thread_env(int threads)
{
    char text[16];
    snprintf(text, sizeof text, "%d", threads);
    setenv("OPENBLAS_NUM_THREADS", text, 1);
    setenv("BLIS_NUM_THREADS", text, 1);
    setenv("OMP_NUM_THREADS", text, 1);
}

/* A context running vendor v with the given threads and workspace limit (0 = none);
 * NULL (after a message) on error. */
static blasconv_context *vendor_context(const vendor *v, int threads, size_t workspace_limit)
{
    blasconv_context *ctx = NULL;
    if (blasconv_context_create(&ctx) != BLASCONV_OK) {
        fprintf(stderr, "blasconv-bench: cannot create a context\n");
        return NULL;
    }
    set_thread_env(threads);
#if defined(BLASCONV_BENCH_HAVE_ONEDNN)
    if (v->onednn_sgemm) {
        bench_onednn_sgemm_prepare();
        blasconv_context_set_sgemm(ctx, bench_onednn_sgemm);
        blasconv_context_set_sgemm_concurrent(ctx, 1);
    }
#endif
    if (v->path[0] && blasconv_context_load_blas(ctx, v->path) != BLASCONV_OK) {
        fprintf(stderr, "blasconv-bench: --blas %s=%s: %s\n", v->name, v->path,
                blasconv_context_last_error(ctx));
        blasconv_context_destroy(ctx);
        return NULL;
    }
    blasconv_context_set_threads(ctx, threads);
    blasconv_context_set_workspace_limit(ctx, workspace_limit);
    return ctx;
}

/* What ran v's GEMMs: blasconv_context_blas_info, with oneDNN's version and ISA in
 * front for onednn-sgemm (whose context then reports the user function). */
static const char *vendor_kernels(const vendor *v, const blasconv_context *ctx)
{
#if defined(BLASCONV_BENCH_HAVE_ONEDNN)
    static char text[256];
    if (v->onednn_sgemm) {
        snprintf(text, sizeof text, "%s via %s", bench_onednn_sgemm_info(),
                 blasconv_context_blas_info(ctx));
        return text;
    }
#else
    (void)v;
#endif
    return blasconv_context_blas_info(ctx);
}

static void print_environment(void)
{
    const char *vars[] = {"OPENBLAS_CORETYPE", "BLIS_ARCH_TYPE", "OPENBLAS_NUM_THREADS",
                          "OMP_NUM_THREADS"};
    printf("blasconv %s; environment:", blasconv_version());
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *value = getenv(vars[i]);
        printf(" %s=%s", vars[i], value ? value : "(unset)");
    }
    printf("\n%s\n", bench_host_description());
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    static options o;
    if (!parse_options(argc, argv, &o))
        return 2;
#ifndef BLASCONV_BENCH_HAVE_ONEDNN
    if (o.onednn) {
        fprintf(stderr, "blasconv-bench: --onednn: this build has no oneDNN (install "
                        "libdnnl-dev and configure again)\n");
        return 2;
    }
#endif
    if (o.chart && !bench_chart_terminal(o.chart)) {
        fprintf(stderr,
                "blasconv-bench: --chart '%s': the name must end in .png or .svg "
                "(and hold no quote)\n",
                o.chart);
        return 2;
    }
    /* before anything is allocated: a bad CPU exits at once */
    if (o.busy_cpu >= 0 && !bench_busy_start("blasconv-bench", o.busy_cpu))
        return 2;
    static bench_layer layers[BENCH_MAX_LAYERS];
    int layer_count = 0;
    if (!bench_read_suite(o.suite, layers, &layer_count))
        return 1;
    if (o.layer_filter && !bench_filter_layers(o.layer_filter, layers, &layer_count))
        return 1;
    print_environment(); /* before the thread variables are set for the vendors */
    for (int v = 0; v < o.vendor_count; v++) { /* every vendor loads, before any timing */
        const vendor *ven = &o.vendors[v];
        blasconv_context *ctx = vendor_context(ven, o.threads[0], o.workspace_limit);
        if (!ctx)
            return 1;
        printf("  %-10s %s\n  %-10s %s\n", ven->name,
               ven->onednn_sgemm ? "(libdnnl, linked into this tool)"
               : ven->path[0]    ? ven->path
                                 : "(linked at build time)",
               "", vendor_kernels(ven, ctx));
        blasconv_context_destroy(ctx);
    }
    printf("\n");

    size_t per_setting = (size_t)layer_count * o.layout_count * o.pass_count;
    size_t total = per_setting * o.vendor_count * o.thread_count +
                   (o.onednn ? (size_t)layer_count * o.thread_count : 0);
    bench_row *rows = calloc(total, sizeof *rows);
    bench_layer_data **data = calloc((size_t)layer_count, sizeof *data);
    if (!rows || !data) {
        fprintf(stderr, "blasconv-bench: out of memory\n");
        return 1;
    }
    for (int l = 0; l < layer_count; l++)
        data[l] = bench_layer_data_create(&layers[l], o.batch);
    if (o.busy_cpu >= 0)
        printf("busy: a process spinning on CPU %d through every timing\n\n", o.busy_cpu);

    /* Timed layer by layer, each layer's oneDNN row right after its vendors' rows, so
     * that a change of the shared machine's speed between layers moves both sides of a
     * ratio; printed vendor by vendor, oneDNN last. */
    const size_t onednn_first = per_setting * o.vendor_count * o.thread_count;
    size_t done = 0;
    for (int t = 0; t < o.thread_count; t++) {
        blasconv_context *ctx[MAX_VENDORS];
        for (int v = 0; v < o.vendor_count; v++)
            if (!(ctx[v] = vendor_context(&o.vendors[v], o.threads[t], o.workspace_limit)))
                return 1;
        bench_settle_seconds = bench_settle_seconds_for(o.threads[t]);
        for (int l = 0; l < layer_count; l++) {
            for (int v = 0; v < o.vendor_count; v++)
                for (int a = 0; a < o.layout_count; a++)
                    for (int p = 0; p < o.pass_count; p++) {
                        const vendor *ven = &o.vendors[v];
                        bench_row *row =
                            &rows[(((size_t)v * o.thread_count + t) * layer_count + l) *
                                      o.layout_count * o.pass_count +
                                  (size_t)a * o.pass_count + p];
                        row->layer = layers[l].name;
                        row->dense = bench_layer_is_dense(&layers[l].d);
                        row->vendor = ven->name;
                        row->threads = o.threads[t];
                        snprintf(row->kernels, sizeof row->kernels, "%s",
                                 vendor_kernels(ven, ctx[v]));
                        fprintf(stderr, "[%zu/%zu] %s %s %dt %s %s ...", ++done, total,
                                layers[l].name, ven->name, o.threads[t],
                                layout_names[o.layouts[a]], bench_pass_names[o.passes[p]]);
                        bench_run_row(ctx[v], data[l], o.layouts[a], o.passes[p], o.reps, o.verify,
                                      row);
                        fprintf(stderr, " %.3g GFLOP/s (%s)\n", row->conv_gflops, row->status);
                    }
            if (o.onednn) {
                bench_row *row = &rows[onednn_first + (size_t)t * layer_count + l];
                row->layer = layers[l].name;
                row->dense = bench_layer_is_dense(&layers[l].d);
                row->vendor = "onednn";
                row->threads = o.threads[t];
                fprintf(stderr, "[%zu/%zu] %s onednn %dt nchw fwd ...", ++done, total,
                        layers[l].name, o.threads[t]);
                bench_run_onednn_row(data[l], o.threads[t], o.reps, o.verify, row);
                fprintf(stderr, " %.3g GFLOP/s (%s)\n", row->conv_gflops, row->status);
            }
        }
        for (int v = 0; v < o.vendor_count; v++)
            blasconv_context_destroy(ctx[v]);
    }
    bench_busy_stop();
    bench_fill_vs_onednn(rows, done);

    bench_print_table(stdout, rows, done);
    bench_print_summary(stdout, rows, done);
    int failed = 0;
    for (size_t i = 0; i < done; i++)
        failed |= strcmp(rows[i].status, "ok") != 0 && strcmp(rows[i].status, "unsupported") != 0;
    if (o.csv && !bench_write_csv(o.csv, rows, done))
        failed = 1;
    if (o.chart && bench_draw_chart(o.chart, rows, done) != 0)
        failed = 1;
    for (int l = 0; l < layer_count; l++)
        bench_layer_data_destroy(data[l]);
    free(data);
    free(rows);
    return failed ? 1 : 0;
}
