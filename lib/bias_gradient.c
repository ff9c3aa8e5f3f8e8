/* The bias gradient of backward filter: dbias[k] = dy summed over the batch and the
 * positions, in double, in that order, in both layouts (so they agree bit for bit). */
#include "internal.h"

#include <string.h>

/* dbias[k] = sum of dy over the batch and positions, accumulated in double in that
 * order. A block of channels is summed side by side: one double chain waits on the
 * add's latency at every element (r50_conv1's 64 sums of 12544 took a fifth of its
 * backward filter), independent chains do not. */
#define NCHW_BLOCK 16

typedef double vec8d __attribute__((vector_size(64)));
typedef double vec16d __attribute__((vector_size(128)));

/* The 16 channels' sums over positions [0, count) of their planes, positions 16 at a
 * time: a 16 x 16 block loaded a channel a row, transposed so that each vector holds
 * one position of all 16, then added position by position (in the scalar loop's
 * order, so the bits are the same). Element by element, r50_conv1's 64 sums took
 * 0.24-0.27 ms of a 2.0 ms backward filter. Returns the positions done. */
static inline size_t sum16_blocks(const float *planes, size_t positions, double sums[16])
{
    vec8d lo, hi;
    memcpy(&lo, sums, sizeof lo);
    memcpy(&hi, sums + 8, sizeof hi);
    size_t i = 0;
    for (; i + 16 <= positions; i += 16) {
        vec16 t[16];
        for (int j = 0; j < 16; j++)
            t[j] = bc_load16(planes + (size_t)j * positions + i);
        bc_transpose16(t);
        for (int q = 0; q < 16; q++) {
            /* converted whole, then halved: GCC 12 converts a vec8f as two xmm halves
             * and an insert (r50_conv1's 64 sums: 0.16 -> 0.11 ms) */
            const vec16d d = __builtin_convertvector(t[q], vec16d);
            lo += __builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7);
            hi += __builtin_shufflevector(d, d, 8, 9, 10, 11, 12, 13, 14, 15);
        }
    }
    memcpy(sums, &lo, sizeof lo);
    memcpy(sums + 8, &hi, sizeof hi);
    return i;
}

BC_MULTI_ISA static void bias_gradient_nchw(const conv_shape *s, const float *restrict dy,
                                            int64_t block_begin, int64_t block_end,
                                            float *restrict dbias)
{
    enum {
        BLOCK = NCHW_BLOCK
    };
    const size_t positions = (size_t)s->positions;
    for (int k0 = (int)block_begin * BLOCK; k0 < s->k && k0 < block_end * BLOCK; k0 += BLOCK) {
        const int count = s->k - k0 < BLOCK ? s->k - k0 : BLOCK;
        double sums[BLOCK] = {0};
        for (int n = 0; n < s->n; n++) {
            const float *planes = dy + ((size_t)n * s->k + (size_t)k0) * positions;
            if (count == BLOCK) /* a constant count: one vector of chains */
                for (size_t i = sum16_blocks(planes, positions, sums); i < positions; i++)
                    for (int j = 0; j < BLOCK; j++)
                        sums[j] += planes[(size_t)j * positions + i];
            else
                for (size_t i = 0; i < positions; i++)
                    for (int j = 0; j < count; j++)
                        sums[j] += planes[(size_t)j * positions + i];
        }
        for (int j = 0; j < count; j++)
            dbias[k0 + j] = (float)sums[j];
    }
}

/* NHWC dbias: the same sums in the same order as NCHW (batch, then positions), in
 * double; channels go in blocks so each pass reads dy rows contiguously. */
BC_MULTI_ISA static void bias_gradient_nhwc(const conv_shape *s, const float *restrict dy,
                                            float *restrict dbias)
{
    enum {
        BLOCK = 64
    };
    const int64_t all_positions = (int64_t)s->n * s->positions;
    for (int k0 = 0; k0 < s->k; k0 += BLOCK) {
        const int count = s->k - k0 < BLOCK ? s->k - k0 : BLOCK;
        double sums[BLOCK] = {0};
        for (int64_t i = 0; i < all_positions; i++) {
            const float *channels = dy + (size_t)i * s->k + k0;
            for (int j = 0; j < count; j++)
                sums[j] += channels[j];
        }
        for (int j = 0; j < count; j++)
            dbias[k0 + j] = (float)sums[j];
    }
}

struct bias_job {
    const conv_shape *s;
    const float *dy;
    float *dbias;
};

static void nchw_blocks(void *arg, int64_t begin, int64_t end)
{
    const struct bias_job *j = arg;
    bias_gradient_nchw(j->s, j->dy, begin, end, j->dbias);
}

void bc_bias_gradient(const blasconv_context *ctx, const conv_shape *s, const float *dy,
                      float *dbias)
{
    if (s->layout == BLASCONV_NHWC) {
        bias_gradient_nhwc(s, dy, dbias);
        return;
    }
    /* NCHW: blocks of channels over the threads (each sum stays on one thread, in
     * its order); dw_3x3_112's 32 sums of 12544 took a third of its filter gradient. */
    struct bias_job job = {s, dy, dbias};
    bc_parallel_for(bc_thread_count(ctx), (s->k + NCHW_BLOCK - 1) / NCHW_BLOCK,
                    bc_parallel_grain((int64_t)s->n * s->positions * NCHW_BLOCK), nchw_blocks,
                    &job);
}
