/* The lowering's GEMMs as small blocks (lib/gemm_small_blocks.c), tested directly so
 * that it runs whatever BLAS and kernels this machine has: against a naive product,
 * with every block under the small-matrix limit, part blocks on every side, padded
 * leading dimensions, A as it lies (forward) and transposed (backward data), alpha
 * and beta (0 over a NaN-poisoned C, which must not show). */
#include "../lib/internal.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

static int largest_ok;

/* The naive product (which counts its calls), recording that no block is over
 * 64 x 64 x 128. */
static void counting_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c,
                           int ldc)
{
    if (m > 64 || n > 64 || k > 128)
        largest_ok = 0;
    test_naive_sgemm(layout, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

START_TEST(blocks_match_one_product)
{
    const struct {
        int m, n, k;
        float alpha, beta;
    } cases[] = {{100, 150, 300, 1.0f, 0.0f}, /* 64 + 36 rows, 64 + 64 + 22, 128 + 128 + 44 */
                 {64, 64, 128, 1.0f, 0.0f},   /* exactly one block */
                 {130, 70, 256, 0.5f, 1.0f},  /* 64 + 64 + 2 rows; adds onto C */
                 {7, 200, 129, 1.0f, 0.75f}}; /* one part block of rows; depth 128 + 1 */
    test_rng r = test_rng_seeded(4600);
    for (size_t t = 0; t < 2 * sizeof cases / sizeof cases[0]; t++) {
        const int ta = t % 2 ? CBLAS_TRANS : CBLAS_NO_TRANS; /* A as it lies, then A^T */
        const int m = cases[t / 2].m, n = cases[t / 2].n, k = cases[t / 2].k;
        const float alpha = cases[t / 2].alpha, beta = cases[t / 2].beta;
        const int lda = (t % 2 ? m : k) + 3, ldb = n + 5, ldc = n + 2;
        float *a = test_alloc_random(&r, (size_t)(t % 2 ? k : m) * lda);
        float *b = test_alloc_random(&r, (size_t)k * ldb);
        float *c = beta != 0.0f ? test_alloc_random(&r, (size_t)m * ldc)
                                : test_alloc_poisoned((size_t)m * ldc);
        float *want = test_alloc_copy(c, (size_t)m * ldc);
        test_naive_sgemm(CBLAS_ROW_MAJOR, ta, CBLAS_NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta,
                         want, ldc);
        test_naive_sgemm_calls = 0, largest_ok = 1;
        bc_sgemm_small_blocks(counting_sgemm, ta, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        char what[64];
        snprintf(what, sizeof what, "%d x %d x %d, A%s", m, n, k, t % 2 ? "^T" : "");
        ck_assert_int_eq(test_naive_sgemm_calls,
                         ((m + 63) / 64) * ((n + 63) / 64) * ((k + 127) / 128));
        ck_assert_msg(largest_ok, "%s: a block over 64 x 64 x 128", what);
        double atol, rtol;
        test_gemm_tolerance(k, &atol, &rtol);
        /* All of C, the padding between rows too (left as it was) */
        test_assert_close(c, want, (size_t)m * ldc, atol, rtol, what);
        free(a), free(b), free(c), free(want);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm_small_blocks");
    TCase *tc = tcase_create("blocks");
    tcase_add_test(tc, blocks_match_one_product);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
