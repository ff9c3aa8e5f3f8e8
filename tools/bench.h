/* Shared by the files of blasconv-bench: one measured row, the report writers
 * (bench_report.c) and the optional oneDNN comparison (bench_onednn.c). */
#ifndef BLASCONV_BENCH_H
#define BLASCONV_BENCH_H

#include "blasconv.h"

#include <stdio.h>

#define BENCH_MAX_LAYERS 256

typedef struct bench_layer {
    char name[64];
    blasconv_conv2d d;
} bench_layer;

/* The tool name bench_suite.c's messages start with (default "blasconv-bench"). */
extern const char *bench_program;

/* bench_suite.c: reads a suite CSV (header of blasconv_conv2d field names) and keeps
 * the layers named in a comma list. Errors are printed; 0 on error, 1 on success. */
int bench_read_suite(const char *path, bench_layer *layers, int *count);
int bench_filter_layers(const char *filter, bench_layer *layers, int *count);
/* Splits a comma list into at most max tokens of at most 63 characters; -1 on error. */
int bench_split_list(const char *text, char tokens[][64], int max);

typedef enum bench_pass {
    PASS_FWD,
    PASS_BWD_DATA,
    PASS_BWD_FILTER,
    PASS_COUNT
} bench_pass;

extern const char *const bench_pass_names[PASS_COUNT];

/* One layer x vendor x threads x layout x pass. Times are medians, in seconds;
 * a value that was not measured is NaN. */
typedef struct bench_row {
    const char *layer;
    const char *vendor;
    int threads;
    blasconv_layout layout;
    bench_pass pass;
    int batch;
    int gemm_m, gemm_n, gemm_k, gemm_count; /* the per-image, per-group GEMM, run count times */
    double gflop;                           /* 2*N*K*(C/g)*KH*KW*OH*OW */
    double conv_s, sgemm_s;
    double conv_gflops, sgemm_gflops, conv_over_sgemm;
    double max_abs_err, tolerance;
    double vs_onednn;   /* blasconv GFLOP/s over oneDNN's, same layer, threads and pass */
    int dense;          /* bench_layer_is_dense: counts in the summary's means */
    const char *status; /* "ok", "unsupported", "WRONG" or "error" */
    char kernels[256];  /* which BLAS build and kernel family ran */
} bench_row;

/* The median of reps timed runs of fn(arg) after one warm-up run; fast calls are
 * repeated inside a timed run so that it lasts about a millisecond. Samples of a
 * row stop early once bench_row_budget_seconds are spent (at least one is taken). */
double bench_median_seconds(void (*fn)(void *), void *arg, int reps);
/* A row stops taking samples (keeping at least one) after this many seconds of
 * them; 0 = no limit. */
extern double bench_row_budget_seconds;
/* > 0: a row's timed fns take their samples one after the other (not in turns), each
 * after a pause of this many seconds; for thread counts above 1 (see bench_run.c). */
extern double bench_settle_seconds;

/* bench_run.c: a layer's random inputs (NCHW, and NHWC copies made on first use)
 * and its reference outputs, computed once per pass on first use and kept. */
typedef struct bench_layer_data bench_layer_data;
/* batch > 0 overrides the layer's batch. Exits the program when memory runs out. */
bench_layer_data *bench_layer_data_create(const bench_layer *layer, int batch);
void bench_layer_data_destroy(bench_layer_data *data);
/* Runs one pass on ctx (checked against the reference when verify), then times it
 * interleaved with ctx's sgemm on the pass's GEMM shape; fills row's measurements
 * (the caller fills layer, vendor, threads and kernels). */
void bench_run_row(blasconv_context *ctx, bench_layer_data *data, blasconv_layout layout,
                   bench_pass pass, int reps, int verify, bench_row *row);
/* The same for oneDNN's forward convolution (NCHW). */
void bench_run_onednn_row(bench_layer_data *data, int threads, int reps, int verify,
                          bench_row *row);
/* Sets vs_onednn on every blasconv forward row that has a oneDNN row beside it. */
void bench_fill_vs_onednn(bench_row *rows, size_t count);

/* bench_report.c */
void bench_print_table(FILE *out, const bench_row *rows, size_t count);
int bench_write_csv(const char *path, const bench_row *rows, size_t count);
/* Grouped bars (GFLOP/s per layer per vendor) through gnuplot; 0 on success, 1 on
 * an error, and 0 with a note on stderr when gnuplot is not installed. */
int bench_draw_chart(const char *path, const bench_row *rows, size_t count);
/* gnuplot's terminal for a chart file name (.png or .svg), or NULL when unusable. */
const char *bench_chart_terminal(const char *path);

/* bench_summary.c: one line per vendor, threads, layout and pass with the geometric
 * means of conv/sgemm and blasconv/oneDNN over the dense layers: more than one input
 * channel per group and more than one output channel (not depthwise, not the
 * chapter's one-channel edge layer); at 2+ threads also the range of speedups over
 * one thread on those rows with a batch. */
int bench_layer_is_dense(const blasconv_conv2d *d);
void bench_print_summary(FILE *out, const bench_row *rows, size_t count);

/* bench_onednn.c: only built when oneDNN (libdnnl-dev) is found. oneDNN's forward
 * convolution on the NCHW tensors x, w and bias (read), writing y (NCHW):
 *   BENCH_ONEDNN_NCHW      each run reorders x and w to oneDNN's chosen layouts and
 *                          y back, as for a caller holding NCHW tensors;
 *   BENCH_ONEDNN_OWN       x and w reordered once by create, y once by finish: each
 *                          run is the convolution alone, in oneDNN's own layouts;
 *   BENCH_ONEDNN_WINOGRAD  the same with oneDNN's Winograd algorithm.
 * create names the implementation oneDNN chose; run is one timed call (a void * for
 * the timing helpers); finish writes y if need be and frees everything. create and
 * finish return NULL on success, else a sentence (create then leaves *out NULL). */
typedef enum {
    BENCH_ONEDNN_NCHW,
    BENCH_ONEDNN_OWN,
    BENCH_ONEDNN_WINOGRAD
} bench_onednn_mode;
typedef struct bench_onednn bench_onednn;
const char *bench_onednn_create(bench_onednn **out, const blasconv_conv2d *d, int threads,
                                bench_onednn_mode mode, const float *x, const float *w,
                                const float *bias, float *y, char *impl, size_t impl_size);
void bench_onednn_run(void *onednn);
const char *bench_onednn_finish(bench_onednn *onednn);

/* oneDNN's dnnl_sgemm as a blasconv_sgemm_fn, for the onednn-sgemm vendor: its
 * context gets it through blasconv_context_set_sgemm and set_sgemm_concurrent, each
 * call computing on one OpenMP thread, the calling one, so that blasconv's parallel
 * slots share the work as they do with OpenBLAS. prepare (once, before any call) finds
 * the OpenMP runtime; info names oneDNN's version, runtime and ISA. */
void bench_onednn_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc);
void bench_onednn_sgemm_prepare(void);
const char *bench_onednn_sgemm_info(void);

#endif
