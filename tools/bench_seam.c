/* The timing sgemm of blasconv-fastbench --seam. It forwards each call to
 * blasconv_sgemm on a plain one-thread context, which runs the linked BLAS as a
 * convolution's GEMMs do, and adds up the wall time around it: FAST's calls then
 * split into the BLAS's part and the transforms' (everything else). Wall rather than
 * thread CPU time: reading the monotonic clock costs tens of nanoseconds, the CPU
 * clock a system call, and a call makes hundreds of GEMMs. */
#define _POSIX_C_SOURCE 200809L
#include "bench_seam.h"
#include "bench_clock.h"

#include <stdio.h>
#include <time.h>

static blasconv_context *plain;
static double seconds, flops;

static void timing_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc)
{
    (void)layout; /* blasconv calls row-major (101) only, as blasconv_sgemm computes */
    const double t0 = bench_clock_seconds(CLOCK_MONOTONIC);
    blasconv_sgemm(plain, trans_a == 112, trans_b == 112, m, n, k, alpha, a, lda, b, ldb, beta, c,
                   ldc); /* 112: CblasTrans */
    seconds += bench_clock_seconds(CLOCK_MONOTONIC) - t0;
    flops += 2.0 * m * n * k;
}

int bench_seam_attach(const char *tool, blasconv_context *ctx)
{
    if (!plain && (blasconv_context_create(&plain) != BLASCONV_OK ||
                   blasconv_context_set_threads(plain, 1) != BLASCONV_OK)) {
        fprintf(stderr, "%s: --seam: cannot make a context for the BLAS\n", tool);
        bench_seam_release();
        return 0;
    }
    if (blasconv_context_set_sgemm(ctx, timing_sgemm) != BLASCONV_OK) {
        fprintf(stderr, "%s: --seam: %s\n", tool, blasconv_context_last_error(ctx));
        return 0;
    }
    return 1;
}

void bench_seam_reset(void)
{
    seconds = 0, flops = 0;
}

double bench_seam_seconds(void)
{
    return seconds;
}

double bench_seam_flops(void)
{
    return flops;
}

void bench_seam_release(void)
{
    blasconv_context_destroy(plain);
    plain = NULL;
}
