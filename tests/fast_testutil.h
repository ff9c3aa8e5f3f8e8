/* Helpers of the BLASCONV_ALGO_FAST suites (test_winograd, test_winograd_backward_data):
 * eligible descriptors, FAST's documented budget and error bound, FAST contexts. */
#ifndef BLASCONV_FAST_TESTUTIL_H
#define BLASCONV_FAST_TESTUTIL_H

#include "testutil.h"

/* A random 3x3 stride-1 descriptor FAST takes: odd sizes, pads 0-2 per side, C and K
 * from min_channels to 16, batch 1-3, either layout. */
blasconv_conv2d test_fast_random_eligible(test_rng *r, int min_channels);
/* 3x3, stride 1, dilation 1, groups 1 (whatever the pads). */
int test_fast_eligible(const blasconv_conv2d *d);

/* Bytes of F(m x m)'s transformed filter (NCHW: 16 floats between tap positions) and
 * of V plus M per tile (the library's documented budget: the filter and one batch of
 * tiles must fit the limit). */
size_t test_fast_filter_bytes(const blasconv_conv2d *d, int m);
size_t test_fast_tile_bytes(const blasconv_conv2d *d, int m);
/* A limit holding the filter and `tiles` tiles of F(m x m), with the alignment slack. */
size_t test_fast_limit_for(const blasconv_conv2d *d, int m, int tiles);

/* FAST's documented extra error for a sum over `channels` channels' 3x3 taps of
 * values bounded by sa and sb: 1e-6 * 9(channels + 1) * sa * sb. */
double test_fast_extra(int channels, double sa, double sb);

/* Asserts got within FAST's bound of want (the oracle's, n values of pass's output):
 * the default tolerance plus test_fast_extra over the sum's channels (C forward, K
 * backward data), inputs in [-1, 1]. */
void test_assert_fast_close(const float *got, const float *want, size_t n,
                            const blasconv_conv2d *d, blasconv_conv2d_pass pass, const char *what);

/* A context under BLASCONV_ALGO_FAST. */
blasconv_context *test_fast_context(void);
/* A GEMM (default algorithm) context whose GEMMs go through the counting naive sgemm. */
blasconv_context *test_naive_gemm_context(void);
/* A FAST context whose GEMMs go through the counting naive sgemm: on the caller alone
 * at one thread, promised concurrent at more. */
blasconv_context *test_naive_fast_context(int threads);

#endif
