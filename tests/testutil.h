/* Helpers shared by the Check suites: random data and descriptors, NaN
 * poisoning, tolerance checks. Tests use only the public header and these. */
#ifndef BLASCONV_TESTUTIL_H
#define BLASCONV_TESTUTIL_H

#include "blasconv.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>

typedef struct test_rng {
    uint64_t state;
} test_rng;

test_rng test_rng_seeded(uint64_t seed);
uint64_t test_rng_next(test_rng *r);
/* Uniform integer in [lo, hi]. */
int test_rng_int(test_rng *r, int lo, int hi);
/* Uniform in [-1, 1). */
float test_rng_float(test_rng *r);

/* malloc'd arrays; the test aborts (Check failure) when malloc fails. */
float *test_alloc_random(test_rng *r, size_t n);
float *test_alloc_poisoned(size_t n); /* every element NaN */
float *test_alloc_copy(const float *src, size_t n);
void test_poison(float *a, size_t n);

/* Element counts of a valid descriptor's tensors. */
size_t test_conv_x_elems(const blasconv_conv2d *d);
size_t test_conv_w_elems(const blasconv_conv2d *d);
size_t test_conv_y_elems(const blasconv_conv2d *d);

/* A random valid NCHW descriptor with small sizes: groups (depthwise too),
 * dilation, strides, asymmetric pads, non-square shapes, kernels larger than the
 * input with enough padding, batch > 1; every few calls a 1x1 direct case. */
blasconv_conv2d test_random_conv(test_rng *r);

/* A 3x3 convolution with stride 1 and padding 1 (output as large as the input), as
 * an initializer: usable in static tables. */
#define TEST_CONV_3X3_SAME(n, c, h, w, k)                                                         \
    {                                                                                             \
        .batch = (n), .in_channels = (c), .in_height = (h), .in_width = (w), .out_channels = (k), \
        .kernel_height = 3, .kernel_width = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,      \
        .pad_right = 1                                                                            \
    }
/* The chapter's edge layer: a 6x8 image, one 1x2 kernel, no padding. */
#define TEST_CONV_CHAPTER_EDGE                                                                    \
    {                                                                                             \
        .batch = 1, .in_channels = 1, .in_height = 6, .in_width = 8, .out_channels = 1,           \
        .kernel_height = 1, .kernel_width = 2                                                     \
    }
/* Random inputs for one descriptor: x, w, bias[K] and dy, each in [-1, 1). */
typedef struct test_conv_problem {
    blasconv_conv2d d;
    size_t nx, nw, ny;
    float *x, *w, *bias, *dy;
} test_conv_problem;
test_conv_problem test_conv_problem_make(test_rng *r, blasconv_conv2d d);
void test_conv_problem_free(test_conv_problem *p);

/* Bytes of one output row of im2col (NCHW or NHWC): the smallest workspace a
 * lowered call of d accepts. */
size_t test_conv_row_bytes(const blasconv_conv2d *d);
/* The header's rules for lowering by kernel columns (vertical stride 1, KH > 1).
 * Forward: not depthwise; NCHW: 2K <= N*OH*OW and one image or OH*OW >= 192; NHWC:
 * OH*OW >= 512. Backward data: C/g > 1; NCHW: 2K <= N*OH*OW; NHWC: OH*OW >= 512.
 * Both: one image's lowering by kernel columns under 2^31 floats.
 * Returns the smallest
 * workspace at which the pass keeps that path (NCHW's filter copy, cache-line
 * rounded, plus one tile row: forward lowers 1 + (KH-1)*dil_h rows of C/g*KW*OW
 * floats for an output row, backward data one for an input row), and in
 * *lowered_row the bytes of one lowered row; 0 when the pass does not take it. */
size_t test_conv_row_shift_bytes(const blasconv_conv2d *d, blasconv_conv2d_pass pass,
                                 size_t *lowered_row);

/* Runs forward and backward data of p on ctx (NULL: a default context), outputs
 * poisoned first, and asserts both close to the oracle. */
void test_assert_forward_and_data_match_oracle(blasconv_context *ctx, const test_conv_problem *p);
/* The same for backward filter (dw; no bias gradient). */
void test_assert_filter_matches_oracle(blasconv_context *ctx, const test_conv_problem *p);

/* "N=2 C=3 ..." for failure messages (static buffer). */
const char *test_conv_describe(const blasconv_conv2d *d);

/* One comparison for every suite: blasconv_compare (the public helper). The
 * report of got against want; the suite fails on a bad status. */
blasconv_compare_report test_compare(const float *got, const float *want, size_t n, double atol,
                                     double rtol);
/* "element 12 of 40: got 1.5 want 1.25 (|err| 0.25, 3.1x the tolerance); 1 failure, 0 NaN and
 * 0 Inf mismatches" for failure messages (static buffer). */
const char *test_compare_describe(const blasconv_compare_report *r, const float *got,
                                  const float *want);

/* The public tolerance for one output of d, for the suites' data: random values in
 * [-1, 1), so BLASCONV_TOLERANCE_RANDOM_DATA with max_abs_input 1. */
void test_conv_tolerance(const blasconv_conv2d *d, blasconv_conv2d_pass pass, double *atol,
                         double *rtol);

/* The tolerance for a k-deep sgemm with |a|, |b|, |c| <= 1, |alpha| <= 2 and |beta| <= 1,
 * compared with test_naive_sgemm: the public tolerance of the same sum as a 1x1
 * convolution over k channels (M = 2 covers alpha), doubled because the naive
 * product also rounds its alpha and beta steps in float32. */
void test_gemm_tolerance(int k, double *atol, double *rtol);

/* Asserts that got and want agree within atol + rtol*|want| (NaN only against NaN,
 * Inf only against the same Inf), naming the worst element. */
#define test_assert_close(got, want, n, atol, rtol, what)                                         \
    do {                                                                                          \
        blasconv_compare_report rep_ = test_compare((got), (want), (n), (atol), (rtol));          \
        ck_assert_msg(rep_.passed, "%s: %s", (what),                                              \
                      test_compare_describe(&rep_, (got), (want)));                               \
    } while (0)

/* Asserts that got, one output of d's `pass`, agrees with the reference's want within
 * the public tolerance (test_conv_tolerance). */
#define test_assert_conv_close(got, want, n, d, pass, what)                                       \
    do {                                                                                          \
        double atol_, rtol_;                                                                      \
        test_conv_tolerance((d), (pass), &atol_, &rtol_);                                         \
        test_assert_close((got), (want), (n), atol_, rtol_, (what));                              \
    } while (0)

/* Asserts that two float32 results of d's `pass` (e.g. two layouts or two tilings)
 * agree: each is within the public tolerance of the exact result, so they are within
 * twice it of each other. */
#define test_assert_conv_agree(a, b, n, d, pass, what)                                            \
    do {                                                                                          \
        double atol_, rtol_;                                                                      \
        test_conv_tolerance((d), (pass), &atol_, &rtol_);                                         \
        test_assert_close((a), (b), (n), 2 * atol_, 2 * rtol_, (what));                           \
    } while (0)

/* A plain row-major sgemm for blasconv_context_set_sgemm, double accumulation:
 * each element depends only on its row and column, never on the GEMM's size, so
 * it shows exactly what the lowering computes. Counts its calls. */
extern int test_naive_sgemm_calls;
void test_naive_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);

/* Runs a suite and returns the number of failures (for main). */
int test_run_suite(Suite *s);

#endif
