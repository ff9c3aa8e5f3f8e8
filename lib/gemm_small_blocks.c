/* The lowering's GEMMs as blocks for a BLAS's small-matrix kernels.
 *
 * OpenBLAS (0.3.21, SkylakeX-family kernels) runs a GEMM of at most 100^3
 * multiply-adds through kernels that read A and B where they lie, without packing
 * them. On this project's AVX-512 machine (one thread, a test program, medians of
 * 15-21, GFLOP/s whole against in blocks of 64 x 64 x 128) blocks won for the
 * forward pass (A as it lies) where A is short or the tile narrow: 64 x 3136 x 576
 * 146 -> 164, 128 x 784 x 1152 173 -> 187, 256 x 196 x 2304 174 -> 187, 512 x 49 x
 * 4608 124 -> 141; and lost on taller A with wider tiles (512 x 98 x 4608 129 -> 121,
 * 512 x 196 x 4608 145 -> 124, 512 x 2048 x 512 180 -> 112) and on a depth with a
 * short last block (64 x 12544 x 147 147 -> 139). For backward data (A transposed)
 * they won on one column block (4608 x 49 x 512 125 -> 149, 2304 x 49 x 256 129 ->
 * 154, 1536 x 49 x 512 131 -> 144) and were uneven beyond it (4608 x 128 x 512 147
 * -> 119, 4608 x 196 x 512 183 -> 180, 1152 x 196 x 128 176 -> 194).
 * bc_small_blocks_pay keeps to where they won. */
#include "internal.h"

#define BLOCK_M 64
#define BLOCK_N 64  /* a multiple of 16: the kernels' vector width along a row */
#define BLOCK_K 128 /* 64 x 64 x 128 = 524,288, under the 100^3 the kernels take */
#define SMALL_KERNEL_MAX_PRODUCT 1e6

int bc_small_blocks_pay(int trans_a, int m, int n, int k)
{
    if ((double)m * n * k <= SMALL_KERNEL_MAX_PRODUCT)
        return 0; /* the BLAS takes its small kernels itself */
    if (k < BLOCK_K || (k % BLOCK_K && k % BLOCK_K < BLOCK_K / 2))
        return 0; /* a short last block of the depth */
    if (n <= BLOCK_N)
        return 1; /* one column block */
    /* Forward: short A, or a narrow tile of a mid-height A. */
    return trans_a == CBLAS_NO_TRANS &&
           (m <= 2 * BLOCK_M || (m <= 4 * BLOCK_M && n <= 4 * BLOCK_N));
}

void bc_sgemm_small_blocks(blasconv_sgemm_fn sgemm, int trans_a, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c,
                           int ldc)
{
    /* Columns outermost: a block of B stays in L1 while the rows of A pass it. */
    for (int j = 0; j < n; j += BLOCK_N) {
        const int nb = n - j < BLOCK_N ? n - j : BLOCK_N;
        for (int p = 0; p < k; p += BLOCK_K) {
            const int kb = k - p < BLOCK_K ? k - p : BLOCK_K;
            for (int i = 0; i < m; i += BLOCK_M)
                sgemm(CBLAS_ROW_MAJOR, trans_a, CBLAS_NO_TRANS, m - i < BLOCK_M ? m - i : BLOCK_M,
                      nb, kb, alpha,
                      trans_a == CBLAS_NO_TRANS ? a + (size_t)i * lda + p
                                                : a + (size_t)p * lda + i,
                      lda, b + (size_t)p * ldb + j, ldb, p ? 1.0f : beta, c + (size_t)i * ldc + j,
                      ldc);
        }
    }
}
