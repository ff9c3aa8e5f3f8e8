/* The bias gradient of backward filter: dbias[k] = dy summed over the batch and the
 * positions, in double, in that order, in both layouts (so they agree bit for bit). */
#include "internal.h"

/* dbias[k] = sum of dy over the batch and positions, accumulated in double in that
 * order. A block of channels is summed side by side: one double chain waits on the
 * add's latency at every element (r50_conv1's 64 sums of 12544 took a fifth of its
 * backward filter), independent chains do not. */
BC_MULTI_ISA static void bias_gradient_nchw(const conv_shape *s, const float *restrict dy,
                                            float *restrict dbias)
{
    enum {
        BLOCK = 16
    };
    const size_t positions = (size_t)s->positions;
    for (int k0 = 0; k0 < s->k; k0 += BLOCK) {
        const int count = s->k - k0 < BLOCK ? s->k - k0 : BLOCK;
        double sums[BLOCK] = {0};
        for (int n = 0; n < s->n; n++) {
            const float *planes = dy + ((size_t)n * s->k + (size_t)k0) * positions;
            if (count == BLOCK) /* a constant count: one vector of chains */
                for (size_t i = 0; i < positions; i++)
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

void bc_bias_gradient(const conv_shape *s, const float *dy, float *dbias)
{
    if (s->layout == BLASCONV_NHWC)
        bias_gradient_nhwc(s, dy, dbias);
    else
        bias_gradient_nchw(s, dy, dbias);
}
