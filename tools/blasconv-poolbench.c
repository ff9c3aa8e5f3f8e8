/* Pooling throughput: GB/s of (x read + y written) next to a plain memcpy of the
 * same number of bytes, measured in the same run, per suite row, layout and
 * thread count. Medians of repetitions. */
#define _POSIX_C_SOURCE 200809L
#include "bench_clock.h"
#include "bench_host.h"
#include "blasconv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef POOLBENCH_DEFAULT_SUITE
#define POOLBENCH_DEFAULT_SUITE "tools/suites/pools.csv"
#endif
#define MAX_ROWS 64
#define MAX_REPS 1001

typedef struct row {
    char name[64];
    blasconv_pool2d d;
} row;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blasconv-poolbench [--suite FILE] [--reps N] [--threads LIST] [--layout L]\n"
            "                          [--backward] [--help]\n"
            "Times blasconv_pool2d_forward (or _backward) on each row of a pools suite and a\n"
            "plain memcpy of the same bytes in the same run. GB/s = (bytes of x read + bytes\n"
            "of y written) / median time; memcpy GB/s = bytes copied / median time.\n"
            "  --suite FILE    CSV as ../shared/bench/pools.csv (default %s)\n"
            "  --reps N        timed repetitions per cell, median reported (default 31)\n"
            "  --threads LIST  comma-separated thread counts (default 1,2)\n"
            "  --layout L      nchw, nhwc or both (default both)\n"
            "  --backward      time the backward pass (bytes: x + dy read, dx written)\n",
            POOLBENCH_DEFAULT_SUITE);
}

/* name,mode,batch,channels,in_height,in_width,window_height,window_width,
 * stride_height,stride_width,pad_top,pad_bottom,pad_left,pad_right,ceil_mode */
static int read_suite(const char *path, row *rows, int capacity)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "blasconv-poolbench: cannot open suite '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    int count = 0, line_no = 0;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        if (line_no == 1 || line[0] == '#' || line[0] == '\n')
            continue;
        if (count == capacity) {
            fprintf(stderr, "blasconv-poolbench: %s: more than %d rows\n", path, capacity);
            fclose(f);
            return -1;
        }
        row *r = &rows[count];
        char mode[16];
        blasconv_pool2d d = {0};
        int fields = sscanf(line, "%63[^,],%15[^,],%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d",
                            r->name, mode, &d.batch, &d.channels, &d.in_height, &d.in_width,
                            &d.window_height, &d.window_width, &d.stride_height, &d.stride_width,
                            &d.pad_top, &d.pad_bottom, &d.pad_left, &d.pad_right, &d.ceil_mode);
        if (fields != 15 || (strcmp(mode, "max") != 0 && strcmp(mode, "avg") != 0)) {
            fprintf(stderr, "blasconv-poolbench: %s:%d: expected 15 fields with mode max|avg\n",
                    path, line_no);
            fclose(f);
            return -1;
        }
        d.mode = strcmp(mode, "max") == 0 ? BLASCONV_POOL_MAX : BLASCONV_POOL_AVG;
        int oh, ow;
        blasconv_status st = blasconv_pool2d_output_size(&d, &oh, &ow);
        if (st != BLASCONV_OK) {
            fprintf(stderr, "blasconv-poolbench: %s:%d (%s): %s\n", path, line_no, r->name,
                    blasconv_status_string(st));
            fclose(f);
            return -1;
        }
        r->d = d;
        count++;
    }
    fclose(f);
    return count;
}

/* memcpy split over threads, as the library splits pooling: the reference copy runs
 * on helper threads that stay awake (spinning) through its block of samples, so that
 * neither thread starts nor sleeping cores are counted against it; the library's own
 * workers spin for a millisecond after a call and are not counted against it either. */
struct copy_team {
    char *dst;
    const char *src;
    size_t bytes;
    int threads;
    unsigned round; /* bumped per copy; ~0u tells the helpers to leave */
    int busy;       /* helpers still copying this round */
};

static void copy_part(const struct copy_team *c, int t)
{
    size_t begin = c->bytes * (size_t)t / (size_t)c->threads;
    size_t end = c->bytes * (size_t)(t + 1) / (size_t)c->threads;
    memcpy(c->dst + begin, c->src + begin, end - begin);
}

struct copy_helper {
    struct copy_team *team;
    int index;
};

static void *copy_helper_run(void *p)
{
    struct copy_helper *h = p;
    unsigned seen = 0;
    for (;;) {
        unsigned round;
        while ((round = __atomic_load_n(&h->team->round, __ATOMIC_ACQUIRE)) == seen)
            ;
        if (round == ~0u)
            return NULL;
        seen = round;
        copy_part(h->team, h->index);
        __atomic_sub_fetch(&h->team->busy, 1, __ATOMIC_ACQ_REL);
    }
}

static void team_copy(struct copy_team *c)
{
    __atomic_store_n(&c->busy, c->threads - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->round, c->round + 1, __ATOMIC_RELEASE);
    copy_part(c, 0);
    while (__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE) > 0)
        ;
}

/* Median seconds of reps copies of `bytes` on `threads` threads (the caller's among
 * them); a helper that cannot start leaves its part to the caller. */
static double median_copy_seconds(char *dst, const char *src, size_t bytes, int threads, int reps,
                                  double *samples)
{
    if (threads > 16)
        threads = 16;
    struct copy_team c = {dst, src, bytes, 1, 0, 0};
    struct copy_helper helpers[16];
    pthread_t ids[16];
    for (int t = 1; t < threads; t++) {
        helpers[t] = (struct copy_helper){&c, t};
        if (pthread_create(&ids[t], NULL, copy_helper_run, &helpers[t]) != 0)
            break;
        c.threads = t + 1;
    }
    for (int k = -2; k < reps; k++) { /* two warm-up copies */
        double t0 = bench_clock_seconds(CLOCK_MONOTONIC);
        team_copy(&c);
        if (k >= 0)
            samples[k] = bench_clock_seconds(CLOCK_MONOTONIC) - t0;
    }
    __atomic_store_n(&c.round, ~0u, __ATOMIC_RELEASE);
    for (int t = 1; t < c.threads; t++)
        pthread_join(ids[t], NULL);
    return bench_median(samples, reps);
}

static int parse_threads(const char *text, int *threads, int capacity)
{
    int count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 256 || count == capacity)
            return -1;
        threads[count++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return count;
}

int main(int argc, char **argv)
{
    const char *suite = POOLBENCH_DEFAULT_SUITE;
    int reps = 31, backward = 0, layouts[2] = {BLASCONV_NCHW, BLASCONV_NHWC}, n_layouts = 2;
    int threads[8] = {1, 2}, n_threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--backward") == 0) {
            backward = 1;
        } else if (next && strcmp(a, "--suite") == 0) {
            suite = argv[++i];
        } else if (next && strcmp(a, "--reps") == 0) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > MAX_REPS) {
                fprintf(stderr, "blasconv-poolbench: --reps %s: expected 1..%d\n", next, MAX_REPS);
                return 2;
            }
        } else if (next && strcmp(a, "--threads") == 0) {
            n_threads = parse_threads(argv[++i], threads, 8);
            if (n_threads < 1) {
                fprintf(stderr, "blasconv-poolbench: --threads %s: expected e.g. 1,2\n", next);
                return 2;
            }
        } else if (next && strcmp(a, "--layout") == 0) {
            i++;
            if (strcmp(next, "nchw") == 0)
                layouts[0] = BLASCONV_NCHW, n_layouts = 1;
            else if (strcmp(next, "nhwc") == 0)
                layouts[0] = BLASCONV_NHWC, n_layouts = 1;
            else if (strcmp(next, "both") != 0) {
                fprintf(stderr, "blasconv-poolbench: --layout %s: expected nchw|nhwc|both\n",
                        next);
                return 2;
            }
        } else {
            fprintf(stderr, "blasconv-poolbench: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    static row rows[MAX_ROWS];
    int n_rows = read_suite(suite, rows, MAX_ROWS);
    if (n_rows < 0)
        return 1;
    blasconv_context *ctx;
    if (blasconv_context_create(&ctx) != BLASCONV_OK) {
        fprintf(stderr, "blasconv-poolbench: cannot create a context\n");
        return 1;
    }
    static double samples[MAX_REPS];
    printf("# blasconv %s pool %s, %d reps, medians; GB/s = 1e9 bytes/s\n", blasconv_version(),
           backward ? "backward" : "forward", reps);
    printf("# %s\n", bench_host_description());
    printf("%-16s %-4s %-6s %3s %8s %10s %10s %6s\n", "name", "mode", "layout", "thr", "MB",
           "pool_GB/s", "memcpy_GB/s", "ratio");
    int status = 0;
    for (int r = 0; r < n_rows && status == 0; r++) {
        blasconv_pool2d d = rows[r].d;
        int oh, ow;
        blasconv_pool2d_output_size(&d, &oh, &ow);
        size_t nx = (size_t)d.batch * d.channels * d.in_height * d.in_width;
        size_t ny = (size_t)d.batch * d.channels * oh * ow;
        /* Forward reads x, writes y; backward reads x and dy, writes dx. */
        size_t bytes = (backward ? 2 * nx + ny : nx + ny) * sizeof(float);
        float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
        float *dx = malloc(nx * sizeof *dx);
        char *copy_src = malloc(bytes), *copy_dst = malloc(bytes);
        if (!x || !y || !dx || !copy_src || !copy_dst) {
            fprintf(stderr, "blasconv-poolbench: %s: out of memory\n", rows[r].name);
            status = 1;
        }
        for (size_t i = 0; status == 0 && i < nx; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        for (size_t i = 0; status == 0 && i < ny; i++)
            y[i] = 1.0f;
        if (status == 0)
            memset(copy_src, 1, bytes), memset(copy_dst, 0, bytes);
        for (int l = 0; l < n_layouts && status == 0; l++) {
            d.layout = (blasconv_layout)layouts[l];
            for (int t = 0; t < n_threads && status == 0; t++) {
                blasconv_context_set_threads(ctx, threads[t]);
                fprintf(stderr, "poolbench: %s %s %d thread(s)\n", rows[r].name,
                        d.layout == BLASCONV_NCHW ? "nchw" : "nhwc", threads[t]);
                /* The pool's samples, then the copy's (see median_copy_seconds). */
                for (int k = -2; k < reps && status == 0; k++) { /* two warm-up rounds */
                    double t0 = bench_clock_seconds(CLOCK_MONOTONIC);
                    blasconv_status st = backward ? blasconv_pool2d_backward(ctx, &d, x, y, dx)
                                                  : blasconv_pool2d_forward(ctx, &d, x, y);
                    double t1 = bench_clock_seconds(CLOCK_MONOTONIC);
                    if (st != BLASCONV_OK) {
                        fprintf(stderr, "blasconv-poolbench: %s: %s (%s)\n", rows[r].name,
                                blasconv_status_string(st), blasconv_context_last_error(ctx));
                        status = 1;
                    } else if (k >= 0) {
                        samples[k] = t1 - t0;
                    }
                }
                if (status)
                    break;
                double pool_s = bench_median(samples, reps);
                double copy_s =
                    median_copy_seconds(copy_dst, copy_src, bytes, threads[t], reps, samples);
                double pool_gbs = (double)bytes / pool_s * 1e-9;
                double copy_gbs = (double)bytes / copy_s * 1e-9;
                printf("%-16s %-4s %-6s %3d %8.2f %10.2f %10.2f %6.2f\n", rows[r].name,
                       d.mode == BLASCONV_POOL_MAX ? "max" : "avg",
                       d.layout == BLASCONV_NCHW ? "nchw" : "nhwc", threads[t],
                       (double)bytes / 1e6, pool_gbs, copy_gbs, pool_gbs / copy_gbs);
                fflush(stdout);
            }
        }
        free(x), free(y), free(dx), free(copy_src), free(copy_dst);
    }
    blasconv_context_destroy(ctx);
    return status;
}
