/* Convolution descriptors: validation, output sizes and overflow-checked counts. */
#include "internal.h"

#include <limits.h>

int64_t bc_floor_div(int64_t num, int64_t den)
{
    int64_t q = num / den;
    return (num % den != 0 && num < 0) ? q - 1 : q;
}

/* out = floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1; all inputs are
 * already known to be non-negative ints, so nothing here overflows int64. */
static int64_t conv_output_extent(int64_t in, int64_t pad_before, int64_t pad_after,
                                  int64_t kernel, int64_t stride, int64_t dilation)
{
    return bc_floor_div(in + pad_before + pad_after - dilation * (kernel - 1) - 1, stride) + 1;
}

/* *acc *= factor; false when the product reaches BLASCONV_MAX_ELEMENTS. */
static int mul_within_limit(int64_t *acc, int64_t factor)
{
    int64_t product;
    if (__builtin_mul_overflow(*acc, factor, &product) || product >= BLASCONV_MAX_ELEMENTS)
        return 0;
    *acc = product;
    return 1;
}

int bc_count_elements(int64_t *out, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t n = 1;
    if (!mul_within_limit(&n, a) || !mul_within_limit(&n, b) || !mul_within_limit(&n, c) ||
        !mul_within_limit(&n, d))
        return 0;
    *out = n;
    return 1;
}

blasconv_status bc_check_fields(blasconv_context *ctx, const char *fn,
                                const bc_named_int *positive, size_t positive_count,
                                const bc_named_int *non_negative, size_t non_negative_count)
{
    for (size_t i = 0; i < positive_count; i++)
        if (positive[i].value <= 0)
            return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "%s=%d must be positive",
                           positive[i].name, positive[i].value);
    for (size_t i = 0; i < non_negative_count; i++)
        if (non_negative[i].value < 0)
            return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "%s=%d is negative",
                           non_negative[i].name, non_negative[i].value);
    return BLASCONV_OK;
}

blasconv_status bc_conv_shape(blasconv_context *ctx, const char *fn, const blasconv_conv2d *d,
                              conv_shape *s)
{
    if (d->layout != BLASCONV_NCHW && d->layout != BLASCONV_NHWC)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "layout=%d is not a blasconv_layout",
                       (int)d->layout);
    const bc_named_int positive[] = {
        {"batch", d->batch},
        {"in_channels", d->in_channels},
        {"in_height", d->in_height},
        {"in_width", d->in_width},
        {"out_channels", d->out_channels},
        {"kernel_height", d->kernel_height},
        {"kernel_width", d->kernel_width},
    };
    const bc_named_int non_negative[] = {
        {"stride_height", d->stride_height},
        {"stride_width", d->stride_width},
        {"pad_top", d->pad_top},
        {"pad_bottom", d->pad_bottom},
        {"pad_left", d->pad_left},
        {"pad_right", d->pad_right},
        {"dilation_height", d->dilation_height},
        {"dilation_width", d->dilation_width},
        {"groups", d->groups},
    };
    blasconv_status st = bc_check_fields(ctx, fn, positive, BC_COUNT(positive), non_negative,
                                         BC_COUNT(non_negative));
    if (st != BLASCONV_OK)
        return st;

    s->n = d->batch;
    s->c = d->in_channels;
    s->h = d->in_height;
    s->w = d->in_width;
    s->k = d->out_channels;
    s->kh = d->kernel_height;
    s->kw = d->kernel_width;
    s->stride_h = d->stride_height ? d->stride_height : 1;
    s->stride_w = d->stride_width ? d->stride_width : 1;
    s->pad_t = d->pad_top;
    s->pad_b = d->pad_bottom;
    s->pad_l = d->pad_left;
    s->pad_r = d->pad_right;
    s->dil_h = d->dilation_height ? d->dilation_height : 1;
    s->dil_w = d->dilation_width ? d->dilation_width : 1;
    s->groups = d->groups ? d->groups : 1;
    s->layout = d->layout;

    if (s->c % s->groups != 0)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "groups=%d does not divide in_channels=%d",
                       s->groups, s->c);
    if (s->k % s->groups != 0)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn,
                       "groups=%d does not divide out_channels=%d", s->groups, s->k);
    s->c_per_group = s->c / s->groups;
    s->k_per_group = s->k / s->groups;

    int64_t oh = conv_output_extent(s->h, s->pad_t, s->pad_b, s->kh, s->stride_h, s->dil_h);
    int64_t ow = conv_output_extent(s->w, s->pad_l, s->pad_r, s->kw, s->stride_w, s->dil_w);
    if (oh < 1)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn,
                       "output height %lld is empty (in_height=%d, pads %d+%d, kernel_height=%d, "
                       "dilation_height=%d)",
                       (long long)oh, s->h, s->pad_t, s->pad_b, s->kh, s->dil_h);
    if (ow < 1)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn,
                       "output width %lld is empty (in_width=%d, pads %d+%d, kernel_width=%d, "
                       "dilation_width=%d)",
                       (long long)ow, s->w, s->pad_l, s->pad_r, s->kw, s->dil_w);
    if (oh > INT_MAX || ow > INT_MAX)
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn, "output size %lldx%lld does not fit int",
                       (long long)oh, (long long)ow);
    s->oh = (int)oh;
    s->ow = (int)ow;

    if (!bc_count_elements(&s->x_elems, s->n, s->c, s->h, s->w))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "input %dx%dx%dx%d has 2^31 or more elements", s->n, s->c, s->h, s->w);
    if (!bc_count_elements(&s->w_elems, s->k, s->c_per_group, s->kh, s->kw))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "weights %dx%dx%dx%d have 2^31 or more elements", s->k, s->c_per_group,
                       s->kh, s->kw);
    if (!bc_count_elements(&s->y_elems, s->n, s->k, s->oh, s->ow))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "output %dx%dx%dx%d has 2^31 or more elements", s->n, s->k, s->oh, s->ow);
    int64_t tile_row_elems;
    if (!bc_count_elements(&tile_row_elems, s->c_per_group, s->kh, s->kw, s->ow))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "one output row of the im2col buffer (%d channels x %dx%d kernel x %d "
                       "columns) has 2^31 or more elements",
                       s->c_per_group, s->kh, s->kw, s->ow);
    s->col_rows = (int64_t)s->c_per_group * s->kh * s->kw;
    s->positions = (int64_t)s->oh * s->ow;
    s->col_elems = s->col_rows * s->positions; /* < 2^31 * 2^31: fits int64 */
    s->direct_1x1 = s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 &&
                    s->pad_t == 0 && s->pad_b == 0 && s->pad_l == 0 && s->pad_r == 0;
    s->strided_1x1 = s->kh == 1 && s->kw == 1 && !s->direct_1x1 && s->pad_t == 0 &&
                     s->pad_b == 0 && s->pad_l == 0 && s->pad_r == 0;
    return BLASCONV_OK;
}

blasconv_status blasconv_conv2d_output_size(const blasconv_conv2d *d, int *out_height,
                                            int *out_width)
{
    if (!d || !out_height || !out_width)
        return BLASCONV_ERR_NULL_POINTER;
    conv_shape s;
    blasconv_status st = bc_conv_shape(NULL, "conv2d_output_size", d, &s);
    if (st != BLASCONV_OK)
        return st;
    *out_height = s.oh;
    *out_width = s.ow;
    return BLASCONV_OK;
}
