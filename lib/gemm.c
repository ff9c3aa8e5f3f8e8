/* blasconv_sgemm: the context's GEMM seam as a public call, so a benchmark or an
 * app can time or use the very BLAS a context runs its convolutions on. */
#include "internal.h"

#include <stdint.h>

/* Rows x leading dimension of one operand must fit the element limit. */
static int operand_fits(int rows, int ld)
{
    return (int64_t)rows * ld < BLASCONV_MAX_ELEMENTS;
}

static blasconv_status validate(blasconv_context *ctx, int trans_a, int trans_b, int m, int n,
                                int k, const float *a, int lda, const float *b, int ldb,
                                const float *c, int ldc)
{
    static const char fn[] = "sgemm";
    const int need_ab = m > 0 && n > 0 && k > 0;
    if (need_ab && !a)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "a is NULL with m=%d n=%d k=%d", m, n,
                       k);
    if (need_ab && !b)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "b is NULL with m=%d n=%d k=%d", m, n,
                       k);
    if (m > 0 && n > 0 && !c)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "c is NULL with m=%d n=%d", m, n);
    if (trans_a != 0 && trans_a != 1)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "trans_a=%d is neither 0 nor 1", trans_a);
    if (trans_b != 0 && trans_b != 1)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "trans_b=%d is neither 0 nor 1", trans_b);
    if (m < 0 || n < 0 || k < 0)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "%s=%d is negative",
                       m < 0   ? "m"
                       : n < 0 ? "n"
                               : "k",
                       m < 0   ? m
                       : n < 0 ? n
                               : k);
    /* Row-major: op(A) is m x k, op(B) is k x n, C is m x n. */
    const int a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
    const int b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
    if (lda < (a_cols > 1 ? a_cols : 1))
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "lda=%d is less than %d (trans_a=%d)", lda,
                       a_cols > 1 ? a_cols : 1, trans_a);
    if (ldb < (b_cols > 1 ? b_cols : 1))
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "ldb=%d is less than %d (trans_b=%d)", ldb,
                       b_cols > 1 ? b_cols : 1, trans_b);
    if (ldc < (n > 1 ? n : 1))
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "ldc=%d is less than n=%d", ldc, n);
    if (!operand_fits(a_rows, lda) || !operand_fits(b_rows, ldb) || !operand_fits(m, ldc))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "an operand of m=%d n=%d k=%d (lda=%d ldb=%d ldc=%d) holds 2^31 or more "
                       "elements",
                       m, n, k, lda, ldb, ldc);
    return BLASCONV_OK;
}

/* A user function promised concurrent (set_sgemm_concurrent) computes on its calling
 * thread alone: the context's threads then take column blocks of C, 16 columns at
 * least per block, on products of BC_SLOT_MIN_FLOPS or more (as the convolutions'
 * slots). */
#define COLUMN_BLOCK 16

struct column_job {
    const blasconv_context *ctx;
    int trans_a, trans_b, m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
};

static void column_blocks(void *arg, int64_t begin, int64_t end)
{
    const struct column_job *j = arg;
    const int j0 = (int)begin * COLUMN_BLOCK;
    const int j1 = end * COLUMN_BLOCK < j->n ? (int)end * COLUMN_BLOCK : j->n;
    const float *b = j->b + (j->trans_b == CBLAS_TRANS ? (size_t)j0 * j->ldb : (size_t)j0);
    bc_sgemm(j->ctx, j->trans_a, j->trans_b, j->m, j1 - j0, j->k, j->alpha, j->a, j->lda, b,
             j->ldb, j->beta, j->c + j0, j->ldc);
}

static int splits_columns(const blasconv_context *ctx, int m, int n, int k)
{
    return ctx->user_sgemm && bc_blas_parallel_callable(ctx) && bc_thread_count(ctx) > 1 &&
           n >= 2 * COLUMN_BLOCK && 2.0 * m * n * k >= BC_SLOT_MIN_FLOPS;
}

blasconv_status blasconv_sgemm(blasconv_context *ctx, int trans_a, int trans_b, int m, int n,
                               int k, float alpha, const float *a, int lda, const float *b,
                               int ldb, float beta, float *c, int ldc)
{
    blasconv_context tmp;
    blasconv_context *run = bc_call_begin(ctx, &tmp);
    blasconv_status st = validate(run, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    const int ta = trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const int tb = trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS;
    if (st == BLASCONV_OK && m > 0 && n > 0 && splits_columns(run, m, n, k)) {
        struct column_job job = {run, ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
        bc_parallel_for(bc_thread_count(run), (n + COLUMN_BLOCK - 1) / COLUMN_BLOCK, 1,
                        column_blocks, &job);
    } else if (st == BLASCONV_OK && m > 0 && n > 0) {
        bc_blas_apply_threads(run);
        bc_sgemm(run, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    if (st == BLASCONV_OK)
        bc_clear_error(run);
    bc_call_end(run, &tmp);
    return st;
}
