/* Pooling descriptors: validation, output sizes (PyTorch's rules) and window geometry. */
#include "internal.h"

#include <limits.h>

/* PyTorch's pooling_output_shape_pad_lr: floor or ceil, then the last window must
 * start inside the input or the leading padding. All inputs are non-negative ints
 * (stride and dilation >= 1), so nothing here overflows int64. */
static int64_t pool_output_extent(int64_t in, int64_t pad_before, int64_t pad_after,
                                  int64_t window, int64_t stride, int64_t dilation, int ceil_mode)
{
    int64_t span = in + pad_before + pad_after - dilation * (window - 1) - 1;
    int64_t out = bc_floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad_before)
        out--;
    return out;
}

/* pad <= window/2 on the undilated window, as PyTorch's pool2d_shape_check. */
static blasconv_status check_pad(blasconv_context *ctx, const char *fn, const char *pad_name,
                                 int pad, const char *window_name, int window)
{
    if (pad > window / 2)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "%s=%d is more than half of %s=%d",
                       pad_name, pad, window_name, window);
    return BLASCONV_OK;
}

blasconv_status bc_pool_shape(blasconv_context *ctx, const char *fn, const blasconv_pool2d *d,
                              pool_shape *s)
{
    if (d->layout != BLASCONV_NCHW && d->layout != BLASCONV_NHWC)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "layout=%d is not a blasconv_layout",
                       (int)d->layout);
    if (d->mode != BLASCONV_POOL_MAX && d->mode != BLASCONV_POOL_AVG)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "mode=%d is not a blasconv_pool_mode",
                       (int)d->mode);
    const bc_named_int positive[] = {
        {"batch", d->batch},
        {"channels", d->channels},
        {"in_height", d->in_height},
        {"in_width", d->in_width},
        {"window_height", d->window_height},
        {"window_width", d->window_width},
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
    };
    blasconv_status st = bc_check_fields(ctx, fn, positive, BC_COUNT(positive), non_negative,
                                         BC_COUNT(non_negative));
    if (st != BLASCONV_OK)
        return st;
    if ((st = check_pad(ctx, fn, "pad_top", d->pad_top, "window_height", d->window_height)) ||
        (st =
             check_pad(ctx, fn, "pad_bottom", d->pad_bottom, "window_height", d->window_height)) ||
        (st = check_pad(ctx, fn, "pad_left", d->pad_left, "window_width", d->window_width)) ||
        (st = check_pad(ctx, fn, "pad_right", d->pad_right, "window_width", d->window_width)))
        return st;

    s->mode = d->mode;
    s->n = d->batch;
    s->c = d->channels;
    s->h = d->in_height;
    s->w = d->in_width;
    s->kh = d->window_height;
    s->kw = d->window_width;
    s->stride_h = d->stride_height ? d->stride_height : d->window_height;
    s->stride_w = d->stride_width ? d->stride_width : d->window_width;
    s->pad_t = d->pad_top;
    s->pad_b = d->pad_bottom;
    s->pad_l = d->pad_left;
    s->pad_r = d->pad_right;
    s->dil_h = d->dilation_height ? d->dilation_height : 1;
    s->dil_w = d->dilation_width ? d->dilation_width : 1;
    s->exclude_pad = d->mode == BLASCONV_POOL_AVG && d->exclude_pad;
    s->layout = d->layout;
    if (s->mode == BLASCONV_POOL_AVG && (s->dil_h != 1 || s->dil_w != 1))
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn,
                       "dilation %dx%d: average pooling accepts only dilation 1", s->dil_h,
                       s->dil_w);

    int64_t oh =
        pool_output_extent(s->h, s->pad_t, s->pad_b, s->kh, s->stride_h, s->dil_h, d->ceil_mode);
    int64_t ow =
        pool_output_extent(s->w, s->pad_l, s->pad_r, s->kw, s->stride_w, s->dil_w, d->ceil_mode);
    if (oh < 1)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn,
                       "output height %lld is empty (in_height=%d, pads %d+%d, window_height=%d, "
                       "dilation_height=%d, stride_height=%d)",
                       (long long)oh, s->h, s->pad_t, s->pad_b, s->kh, s->dil_h, s->stride_h);
    if (ow < 1)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn,
                       "output width %lld is empty (in_width=%d, pads %d+%d, window_width=%d, "
                       "dilation_width=%d, stride_width=%d)",
                       (long long)ow, s->w, s->pad_l, s->pad_r, s->kw, s->dil_w, s->stride_w);
    if (oh > INT_MAX || ow > INT_MAX)
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn, "output size %lldx%lld does not fit int",
                       (long long)oh, (long long)ow);
    s->oh = (int)oh;
    s->ow = (int)ow;

    int64_t x_elems, y_elems;
    if (!bc_count_elements(&x_elems, s->n, s->c, s->h, s->w))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "input %dx%dx%dx%d has 2^31 or more elements", s->n, s->c, s->h, s->w);
    if (!bc_count_elements(&y_elems, s->n, s->c, s->oh, s->ow))
        return bc_fail(ctx, BLASCONV_ERR_OVERFLOW, fn,
                       "output %dx%dx%dx%d has 2^31 or more elements", s->n, s->c, s->oh, s->ow);
    s->x_elems = x_elems;
    s->y_elems = y_elems;
    return BLASCONV_OK;
}

void bc_pool_taps(int64_t start, int taps, int dilation, int extent, int *first, int *last)
{
    int64_t lo = start < 0 ? (-start + dilation - 1) / dilation : 0;
    int64_t room = extent - start; /* taps t with start + t*dilation < extent: t < room/dil */
    int64_t hi = room <= 0 ? 0 : (room + dilation - 1) / dilation;
    if (hi > taps)
        hi = taps;
    if (lo > hi)
        lo = hi;
    *first = (int)lo;
    *last = (int)hi;
}

/* The count of one axis: clipped at in + pad_after (padding counted) or at the input. */
static int64_t axis_count(int64_t start, int window, int extent, int pad_after, int exclude_pad)
{
    int64_t end = start + window;
    if (end > (int64_t)extent + pad_after)
        end = (int64_t)extent + pad_after;
    if (exclude_pad) {
        if (start < 0)
            start = 0;
        if (end > extent)
            end = extent;
    }
    return end - start;
}

int64_t bc_pool_divisor(const pool_shape *s, int64_t h_start, int64_t w_start)
{
    return axis_count(h_start, s->kh, s->h, s->pad_b, s->exclude_pad) *
           axis_count(w_start, s->kw, s->w, s->pad_r, s->exclude_pad);
}

blasconv_status blasconv_pool2d_output_size(const blasconv_pool2d *d, int *out_height,
                                            int *out_width)
{
    if (!d || !out_height || !out_width)
        return BLASCONV_ERR_NULL_POINTER;
    pool_shape s;
    blasconv_status st = bc_pool_shape(NULL, "pool2d_output_size", d, &s);
    if (st != BLASCONV_OK)
        return st;
    *out_height = s.oh;
    *out_width = s.ow;
    return BLASCONV_OK;
}

void bc_pool_interior_columns(const pool_shape *s, int *lo, int *hi)
{
    int64_t first =
        ((int64_t)s->pad_l + s->stride_w - 1) / s->stride_w; /* stride may be INT_MAX */
    int64_t last_start = (int64_t)s->w - 1 - (int64_t)(s->kw - 1) * s->dil_w + s->pad_l;
    int64_t end = last_start < 0 ? 0 : last_start / s->stride_w + 1;
    if (end > s->ow)
        end = s->ow;
    if (first > end)
        first = end;
    *lo = (int)first;
    *hi = (int)end;
}
