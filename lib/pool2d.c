/* Pooling: not implemented yet (its own issue). Arguments are still checked in
 * the documented order so callers see the statuses they will always see. */
#include "internal.h"

blasconv_status blasconv_pool2d_output_size(const blasconv_pool2d *d, int *out_height,
                                            int *out_width)
{
    if (!d || !out_height || !out_width)
        return BLASCONV_ERR_NULL_POINTER;
    return BLASCONV_ERR_UNSUPPORTED;
}

blasconv_status blasconv_pool2d_forward(blasconv_context *ctx, const blasconv_pool2d *d,
                                        const float *x, float *y)
{
    if (!d || !x || !y)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, "pool2d_forward", "an argument is NULL");
    return bc_fail(ctx, BLASCONV_ERR_UNSUPPORTED, "pool2d_forward", "pooling is not implemented yet");
}

blasconv_status blasconv_pool2d_backward(blasconv_context *ctx, const blasconv_pool2d *d,
                                         const float *x, const float *dy, float *dx)
{
    if (!d || !x || !dy || !dx)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, "pool2d_backward", "an argument is NULL");
    return bc_fail(ctx, BLASCONV_ERR_UNSUPPORTED, "pool2d_backward",
                   "pooling is not implemented yet");
}
