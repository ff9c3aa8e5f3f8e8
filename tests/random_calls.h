/* Random calls checked against the oracle, for the long-running and threaded
 * tests (concurrency, soak): no Check asserts inside, so any thread may run them.
 * One function per entry-point family (a row of test_random_call_kinds each). */
#ifndef BLASCONV_RANDOM_CALLS_H
#define BLASCONV_RANDOM_CALLS_H

#include "testutil.h"

/* Draws a random valid problem, runs the library on ctx (may be NULL) and the
 * oracle, and compares. Returns 0 when they agree; otherwise 1 with a sentence in
 * why. *calls grows by the number of library calls made. */
typedef int (*test_random_call_fn)(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                                   size_t why_size);

/* Forward (bias or none), backward data and backward filter (dbias or none), NCHW
 * or NHWC. */
int test_random_conv_call(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                          size_t why_size);
/* Pool forward and backward: MAX and AVG, both layouts, ceil_mode, pads, dilation,
 * exclude_pad, inputs with ties, NaN and infinities. */
int test_random_pool_call(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                          size_t why_size);
/* Forward (three times) and backward data under BLASCONV_ALGO_FAST (mostly 3x3
 * stride-1 layers, which run Winograd; now and then any layer), with
 * set_weights_constant on or off on this caller's own weights, checked with FAST's
 * documented tolerance. ctx NULL: a context of its own.
 * Leaves ctx back on GEMM with weights_constant 0. */
int test_random_fast_call(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                          size_t why_size);

typedef struct test_random_call_kind {
    const char *name;
    test_random_call_fn run;
} test_random_call_kind;

extern const test_random_call_kind test_random_call_kinds[];
extern const int test_random_call_kind_count;

#endif
