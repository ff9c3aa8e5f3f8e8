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
/* "N=2 C=3 ..." for failure messages (static buffer). */
const char *test_conv_describe(const blasconv_conv2d *d);

/* Index of the first element where |got - want| > atol + rtol*|want| or where
 * exactly one of them is NaN; n when all agree. */
size_t test_first_mismatch(const float *got, const float *want, size_t n, double atol,
                           double rtol);
/* Absolute tolerance for float32 sums of `terms` products of values in [-1, 1]. */
double test_sum_tolerance(double terms);

/* Asserts that got and want agree, naming the descriptor and the element. */
#define test_assert_close(got, want, n, atol, rtol, what)                                          \
    do {                                                                                           \
        size_t bad_ = test_first_mismatch((got), (want), (n), (atol), (rtol));                     \
        ck_assert_msg(bad_ == (n), "%s: element %zu of %zu: got %.9g want %.9g", (what), bad_,     \
                      (size_t)(n), bad_ < (n) ? (double)(got)[bad_] : 0.0,                         \
                      bad_ < (n) ? (double)(want)[bad_] : 0.0);                                    \
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
