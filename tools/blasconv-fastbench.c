/* FAST (Winograd) against the GEMM lowering on the 3x3 stride-1 rows of a layers
 * suite: the two contexts alternate in the same run, each call timed in thread CPU
 * time (the machine is shared: another process's load does not count) and wall
 * time; medians. Also the error of FAST relative to the lowering's result. With
 * --onednn, oneDNN's direct and Winograd convolutions in its own layouts (reorders
 * outside the timing), timed in wall time after the pair, and checked against the
 * lowering's NCHW result. With --seam, FAST's calls once more through a timing sgemm:
 * the part of each call spent in the BLAS and the part outside it. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "bench_busy.h"
#include "bench_clock.h"
#include "bench_host.h"
#include "bench_seam.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef FASTBENCH_DEFAULT_SUITE
#define FASTBENCH_DEFAULT_SUITE "tools/suites/layers.csv"
#endif
#define MAX_REPS 101

#ifdef BLASCONV_BENCH_HAVE_ONEDNN
static const int have_onednn = 1;
#else
static const int have_onednn = 0;
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blasconv-fastbench [--suite FILE] [--only NAME] [--reps N] [--threads N]\n"
            "                          [--layout nchw|nhwc] [--scale S] [--constant] [--onednn]\n"
            "                          [--pass fwd|bwd-data] [--busy-cpu N] [--seam] [--help]\n"
            "Times blasconv_conv2d_forward (or _backward_data) under BLASCONV_ALGO_GEMM and\n"
            "BLASCONV_ALGO_FAST, alternating, on every 3x3 stride-1 dilation-1 groups-1 row\n"
            "of a layers suite. Prints median thread-CPU and wall milliseconds, the speedup\n"
            "(CPU time) and the largest |FAST - GEMM| relative to the largest |GEMM| output.\n"
            "  --suite FILE   CSV as ../shared/bench/layers.csv (default %s)\n"
            "  --only NAME    just this row\n"
            "  --reps N       timed calls per algorithm (default 7, at most %d)\n"
            "  --threads N    context threads (default 1)\n"
            "  --layout L     nchw (default) or nhwc\n"
            "  --scale S      x (dy) and w uniform in [-S, S) (default 1)\n"
            "  --pass P       fwd (default): forward; bwd-data: backward data, dx from dy\n"
            "  --constant     FAST context promises constant weights (filter transform kept)\n"
            "  --busy-cpu N   a process of this tool spins on CPU N through every timing\n"
            "                 (another program's load on a core)\n"
            "  --seam         (one thread) time FAST's calls once more through a sgemm that\n"
            "                 times the linked BLAS: wall ms of the call, of its sgemm calls\n"
            "                 and of the rest (the transforms), and the sgemm calls' GFLOP/s\n"
            "  --onednn       also time oneDNN (direct and Winograd) in its own layouts, no\n"
            "                 reorders timed, and FAST again as oneDNN is timed (calls in a\n"
            "                 row, not alternating), and give the faster oneDNN's wall time\n"
            "                 over that FAST's%s\n",
            FASTBENCH_DEFAULT_SUITE, MAX_REPS, have_onednn ? "" : " (not in this build)");
}

static int winograd_shape(const blasconv_conv2d *d)
{
    return d->kernel_height == 3 && d->kernel_width == 3 && d->stride_height == 1 &&
           d->stride_width == 1 && d->dilation_height == 1 && d->dilation_width == 1 &&
           d->groups == 1;
}

static float *random_array(size_t n, float scale, unsigned *seed)
{
    float *a = malloc(n * sizeof *a);
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        a[i] = scale * ((float)(*seed >> 8) / 8388608.0f - 1.0f);
    }
    return a;
}

/* One timed call, forward (y from x) or backward data (dx from dy): thread CPU and
 * wall seconds. */
static int timed_call(blasconv_context *ctx, const bench_layer *r, int backward_data,
                      const float *in, const float *w, const float *bias, float *out, double *cpu,
                      double *wall)
{
    double c0 = bench_clock_seconds(CLOCK_THREAD_CPUTIME_ID),
           w0 = bench_clock_seconds(CLOCK_MONOTONIC);
    blasconv_status st = backward_data ? blasconv_conv2d_backward_data(ctx, &r->d, in, w, out)
                                       : blasconv_conv2d_forward(ctx, &r->d, in, w, bias, out);
    *cpu = bench_clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    *wall = bench_clock_seconds(CLOCK_MONOTONIC) - w0;
    if (st != BLASCONV_OK)
        fprintf(stderr, "blasconv-fastbench: %s: %s\n", r->name, blasconv_context_last_error(ctx));
    return st == BLASCONV_OK ? 0 : -1;
}

#ifdef BLASCONV_BENCH_HAVE_ONEDNN
/* Median wall seconds of oneDNN's `mode` on r's shape with NCHW x, w and bias (NAN
 * if oneDNN has no implementation), the largest |oneDNN - want| over its output,
 * and the implementation's name appended to `impls`. */
static double time_onednn(const bench_layer *r, bench_onednn_mode mode, int reps, int threads,
                          const float *x, const float *w, const float *bias, const float *want,
                          size_t ny, double *max_diff, char *impls, size_t impls_size)
{
    blasconv_conv2d d = r->d;
    d.layout = BLASCONV_NCHW;
    float *y = malloc(ny * sizeof *y);
    char impl[96] = "";
    bench_onednn *c = NULL;
    const char *err =
        y ? bench_onednn_create(&c, &d, threads, mode, x, w, bias, y, impl, sizeof impl)
          : "out of memory";
    double wall[MAX_REPS], t0;
    for (size_t i = 0; !err && i < ny; i++)
        y[i] = NAN; /* written by finish: what it leaves shows */
    bench_sleep(bench_settle_seconds_for(threads));
    for (int rep = -1; rep < reps && !err; rep++) {
        t0 = bench_clock_seconds(CLOCK_MONOTONIC);
        bench_onednn_run(c);
        if (rep >= 0)
            wall[rep] = bench_clock_seconds(CLOCK_MONOTONIC) - t0;
    }
    if (!err)
        err = bench_onednn_finish(c);
    size_t used = strlen(impls);
    snprintf(impls + used, impls_size - used, "%s%s", used ? ", " : "", err ? "none" : impl);
    double median = NAN;
    if (err) {
        fprintf(stderr, "blasconv-fastbench: oneDNN %s on %s: %s\n",
                mode == BENCH_ONEDNN_WINOGRAD ? "Winograd" : "direct", r->name, err);
    } else {
        median = bench_median(wall, reps);
        for (size_t i = 0; i < ny; i++)
            *max_diff = fmax(*max_diff, isnan(y[i]) ? INFINITY : fabs((double)y[i] - want[i]));
    }
    free(y);
    return median;
}

/* oneDNN's two algorithms on r (NCHW; the lowering's NCHW result `want`): the
 * table's extra cells, with FAST timed as they are (fast_alone) and the faster one's
 * wall time over it. */
static void print_onednn_cells(const bench_layer *r, int reps, int threads, const float *x,
                               const float *w, const float *bias, const float *want, size_t ny,
                               double fast_alone)
{
    char impls[200] = "";
    double diff = 0;
    double direct = time_onednn(r, BENCH_ONEDNN_OWN, reps, threads, x, w, bias, want, ny, &diff,
                                impls, sizeof impls);
    double wino = time_onednn(r, BENCH_ONEDNN_WINOGRAD, reps, threads, x, w, bias, want, ny, &diff,
                              impls, sizeof impls);
    double best = isnan(wino) || direct < wino ? direct : wino;
    printf(" %.2f | %.2f | %.2f | %.2fx | %.2e | %s |", 1e3 * direct, 1e3 * wino, 1e3 * fast_alone,
           best / fast_alone, diff, impls);
}
#endif

/* `reps` calls of ctx in a row after a warm-up, as oneDNN is timed (and PyTorch by
 * tools/torch-conv-bench.py), unlike the alternating pairs: each call's wall seconds,
 * and, where in_sgemm is given, bench_seam's seconds in sgemm during it. -1 if a call
 * fails. */
static int calls_in_a_row(blasconv_context *ctx, const bench_layer *r, int reps, int backward_data,
                          const float *in, const float *w, const float *bias, float *out,
                          double *wall, double *in_sgemm)
{
    double cpu, t;
    for (int rep = -1; rep < reps; rep++) {
        bench_seam_reset();
        if (timed_call(ctx, r, backward_data, in, w, bias, out, &cpu, &t) != 0)
            return -1;
        if (rep >= 0) {
            wall[rep] = t;
            if (in_sgemm)
                in_sgemm[rep] = bench_seam_seconds();
        }
    }
    return 0;
}

/* --seam's cells: calls in a row of a FAST context (weights constant or not, as the
 * timed one) whose sgemm is bench_seam's; medians of the call, of its time in sgemm
 * and of the rest, wall ms, and the sgemm calls' GFLOP/s. */
static int print_seam_cells(const bench_layer *r, int reps, int constant, int backward_data,
                            const float *in, const float *w, const float *bias, float *out)
{
    blasconv_context *ctx;
    if (blasconv_context_create(&ctx) != BLASCONV_OK)
        return -1;
    double call[MAX_REPS], in_sgemm[MAX_REPS], rest[MAX_REPS];
    int failed = blasconv_context_set_threads(ctx, 1) != BLASCONV_OK ||
                 blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_FAST) != BLASCONV_OK ||
                 blasconv_context_set_weights_constant(ctx, constant) != BLASCONV_OK ||
                 !bench_seam_attach(bench_program, ctx) ||
                 calls_in_a_row(ctx, r, reps, backward_data, in, w, bias, out, call, in_sgemm);
    blasconv_context_destroy(ctx);
    if (failed)
        return -1;
    for (int rep = 0; rep < reps; rep++)
        rest[rep] = call[rep] - in_sgemm[rep];
    const double sgemm = bench_median(in_sgemm, reps), flops = bench_seam_flops();
    printf(" %.2f | %.2f | %.2f | %.1f |", 1e3 * bench_median(call, reps), 1e3 * sgemm,
           1e3 * bench_median(rest, reps), sgemm > 0 ? flops / sgemm * 1e-9 : 0.0);
    return 0;
}

static int time_layer(const bench_layer *r, int reps, int threads, float scale, int constant,
                      int onednn, int backward_data, int seam)
{
    blasconv_context *ctx[2];
    size_t nx = (size_t)r->d.batch * r->d.in_channels * r->d.in_height * r->d.in_width;
    size_t nw = (size_t)r->d.out_channels * r->d.in_channels * 9;
    int oh, ow;
    blasconv_conv2d_output_size(&r->d, &oh, &ow);
    size_t ny = (size_t)r->d.batch * r->d.out_channels * oh * ow;
    const size_t n_in = backward_data ? ny : nx, n_out = backward_data ? nx : ny;
    unsigned seed = 12345;
    float *x = random_array(n_in, scale, &seed), *w = random_array(nw, scale, &seed);
    float *bias = random_array((size_t)r->d.out_channels, scale, &seed);
    float *y[2] = {malloc(n_out * sizeof(float)), malloc(n_out * sizeof(float))};
    int failed = !x || !w || !bias || !y[0] || !y[1];
    for (int a = 0; a < 2 && !failed; a++) {
        failed |= blasconv_context_create(&ctx[a]) != BLASCONV_OK;
        if (failed)
            break;
        blasconv_context_set_threads(ctx[a], threads);
        blasconv_context_set_algorithm(ctx[a], a ? BLASCONV_ALGO_FAST : BLASCONV_ALGO_GEMM);
        blasconv_context_set_weights_constant(ctx[a], a && constant);
    }
    double cpu[2][MAX_REPS], wall[2][MAX_REPS], c, t;
    if (onednn)
        bench_sleep(bench_settle_seconds_for(threads)); /* after the previous layer's oneDNN */
    for (int rep = -1; rep < reps && !failed; rep++)    /* rep -1 warms up (scratch, caches) */
        for (int a = 0; a < 2 && !failed; a++) {
            failed |= timed_call(ctx[a], r, backward_data, x, w, bias, y[a], &c, &t) != 0;
            if (rep >= 0)
                cpu[a][rep] = c, wall[a][rep] = t;
        }
    if (!failed) {
        double max_out = 0, max_err = 0;
        for (size_t i = 0; i < n_out; i++) {
            max_out = fmax(max_out, fabs(y[0][i]));
            max_err = fmax(max_err, fabs((double)y[1][i] - y[0][i]));
        }
        double gemm_cpu = bench_median(cpu[0], reps), fast_cpu = bench_median(cpu[1], reps);
        double gemm_wall = bench_median(wall[0], reps), fast_wall = bench_median(wall[1], reps);
        printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2fx | %.2fx | %.2e | %.2e |", r->name,
               1e3 * gemm_cpu, 1e3 * fast_cpu, 1e3 * gemm_wall, 1e3 * fast_wall,
               gemm_cpu / fast_cpu, gemm_wall / fast_wall, max_err,
               max_out > 0 ? max_err / max_out : 0.0);
        if (seam) /* into y[1]: the FAST result above is no longer needed */
            failed |= print_seam_cells(r, reps, constant, backward_data, x, w, bias, y[1]) != 0;
#ifdef BLASCONV_BENCH_HAVE_ONEDNN
        if (onednn) {
            /* FAST timed as oneDNN is, after the same pause (the lowering's BLAS threads) */
            double alone_wall[MAX_REPS];
            bench_sleep(bench_settle_seconds_for(threads));
            failed |= calls_in_a_row(ctx[1], r, reps, 0, x, w, bias, y[1], alone_wall, NULL);
            /* oneDNN reads x and w as NCHW: the lowering's NCHW result is its check. */
            blasconv_conv2d d = r->d;
            d.layout = BLASCONV_NCHW;
            if (r->d.layout != BLASCONV_NCHW)
                failed |= blasconv_conv2d_forward(ctx[0], &d, x, w, bias, y[1]) != BLASCONV_OK;
            const float *want = r->d.layout == BLASCONV_NCHW ? y[0] : y[1];
            if (!failed)
                print_onednn_cells(r, reps, threads, x, w, bias, want, ny,
                                   bench_median(alone_wall, reps));
        }
#else
        (void)onednn;
#endif
        printf("\n");
        fflush(stdout);
    }
    for (int a = 0; a < 2; a++) {
        free(y[a]);
        blasconv_context_destroy(ctx[a]);
    }
    free(x), free(w), free(bias);
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *suite = FASTBENCH_DEFAULT_SUITE, *only = NULL;
    int reps = 7, threads = 1, constant = 0, onednn = 0, backward_data = 0, busy_cpu = -1,
        seam = 0;
    float scale = 1.0f;
    blasconv_layout layout = BLASCONV_NCHW;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--constant")) {
            constant = 1;
            continue;
        } else if (!strcmp(arg, "--seam")) {
            seam = 1;
            continue;
        } else if (!strcmp(arg, "--onednn")) {
            if (!have_onednn) {
                fprintf(stderr, "blasconv-fastbench: --onednn: this build has no oneDNN (install "
                                "libdnnl-dev and rebuild)\n");
                return 2;
            }
            onednn = 1;
            continue;
        }
        if (!value) {
            fprintf(stderr, "blasconv-fastbench: unknown option or missing value: %s\n", arg);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(arg, "--suite"))
            suite = value;
        else if (!strcmp(arg, "--only"))
            only = value;
        else if (!strcmp(arg, "--reps"))
            reps = atoi(value);
        else if (!strcmp(arg, "--threads"))
            threads = atoi(value);
        else if (!strcmp(arg, "--busy-cpu") && (busy_cpu = bench_busy_parse(value)) >= 0)
            continue;
        else if (!strcmp(arg, "--scale"))
            scale = strtof(value, NULL);
        else if (!strcmp(arg, "--pass") && (!strcmp(value, "fwd") || !strcmp(value, "bwd-data")))
            backward_data = !strcmp(value, "bwd-data");
        else if (!strcmp(arg, "--layout") && (!strcmp(value, "nchw") || !strcmp(value, "nhwc")))
            layout = !strcmp(value, "nhwc") ? BLASCONV_NHWC : BLASCONV_NCHW;
        else {
            fprintf(stderr, "blasconv-fastbench: bad option %s %s\n", arg, value);
            usage(stderr);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || threads < 0 || !(scale > 0)) {
        fprintf(stderr, "blasconv-fastbench: need 1 <= reps <= %d, threads >= 0, scale > 0\n",
                MAX_REPS);
        return 2;
    }
    if (seam && threads != 1) {
        fprintf(stderr, "blasconv-fastbench: --seam times one thread (its sgemm runs on the "
                        "caller only)\n");
        return 2;
    }
    if (onednn && backward_data) {
        fprintf(stderr, "blasconv-fastbench: --onednn times forward only\n");
        return 2;
    }
    static bench_layer rows[BENCH_MAX_LAYERS];
    bench_program = "blasconv-fastbench";
    if (busy_cpu >= 0 && !bench_busy_start(bench_program, busy_cpu))
        return 2;
    int count = 0;
    if (!bench_read_suite(suite, rows, &count)) /* says what is wrong */
        return 1;
    printf("%s\n", bench_host_description());
    printf("BLAS: %s; threads %d; layout %s; scale %g; weights %s; pass %s\n",
           blasconv_context_blas_info(NULL), threads, layout == BLASCONV_NHWC ? "NHWC" : "NCHW",
           (double)scale, constant ? "constant (cached)" : "transformed per call",
           backward_data ? "backward data" : "forward");
    if (busy_cpu >= 0)
        printf("busy: a process spinning on CPU %d through every timing\n", busy_cpu);
    printf("| layer | GEMM cpu ms | FAST cpu ms | GEMM wall ms | FAST wall ms | speedup cpu |"
           " speedup wall | max abs diff | max diff / max abs |%s%s\n"
           "|---|---|---|---|---|---|---|---|---|%s%s\n",
           seam ? " FAST seam call wall ms | its sgemm wall ms | the rest wall ms |"
                  " its sgemm GFLOP/s |"
                : "",
           onednn ? " oneDNN direct wall ms | oneDNN Winograd wall ms | FAST alone wall ms |"
                    " best oneDNN / FAST alone | oneDNN max abs diff | oneDNN implementations |"
                  : "",
           seam ? "---|---|---|---|" : "", onednn ? "---|---|---|---|---|---|" : "");
    int ran = 0;
    for (int i = 0; i < count; i++) {
        if (!winograd_shape(&rows[i].d) || (only && strcmp(only, rows[i].name)))
            continue;
        rows[i].d.layout = layout;
        fprintf(stderr, "blasconv-fastbench: %s\n", rows[i].name);
        if (time_layer(&rows[i], reps, threads, scale, constant, onednn, backward_data, seam) !=
            0) {
            bench_busy_stop();
            bench_seam_release();
            return 1;
        }
        ran++;
    }
    bench_busy_stop();
    bench_seam_release();
    if (!ran) {
        fprintf(stderr, "blasconv-fastbench: no 3x3 stride-1 row matched\n");
        return 1;
    }
    return 0;
}
