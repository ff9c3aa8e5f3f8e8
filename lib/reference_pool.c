/* The reference oracle for pooling: direct loops over each window, double
 * accumulation for AVG, no scratch, no allocation. The loops are the definition. */
#include "internal.h"

#include <math.h>

static size_t x_index(const pool_shape *s, int n, int c, int h, int w)
{
    if (s->layout == BLASCONV_NCHW)
        return (((size_t)n * s->c + c) * s->h + h) * s->w + w;
    return (((size_t)n * s->h + h) * s->w + w) * s->c + c;
}

static size_t y_index(const pool_shape *s, int n, int c, int oh, int ow)
{
    if (s->layout == BLASCONV_NCHW)
        return (((size_t)n * s->c + c) * s->oh + oh) * s->ow + ow;
    return (((size_t)n * s->oh + oh) * s->ow + ow) * s->c + c;
}

static int in_range(int64_t v, int64_t limit)
{
    return v >= 0 && v < limit;
}

/* The MAX rule: the first in-input element in row-major window order, replaced by
 * v when v > best or v is NaN. Returns 0 for a window with no in-input element. */
static int window_argmax(const pool_shape *s, const float *x, int n, int c, int oh, int ow,
                         size_t *argmax)
{
    int found = 0;
    float best = 0.0f;
    for (int i = 0; i < s->kh; i++) {
        int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)i * s->dil_h;
        if (!in_range(ih, s->h))
            continue;
        for (int j = 0; j < s->kw; j++) {
            int64_t iw = (int64_t)ow * s->stride_w - s->pad_l + (int64_t)j * s->dil_w;
            if (!in_range(iw, s->w))
                continue;
            size_t at = x_index(s, n, c, (int)ih, (int)iw);
            float v = x[at];
            if (!found || v > best || isnan(v)) {
                best = v;
                *argmax = at;
                found = 1;
            }
        }
    }
    return found;
}

static double window_sum(const pool_shape *s, const float *x, int n, int c, int oh, int ow)
{
    double sum = 0.0;
    for (int i = 0; i < s->kh; i++) {
        int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + i;
        if (!in_range(ih, s->h))
            continue;
        for (int j = 0; j < s->kw; j++) {
            int64_t iw = (int64_t)ow * s->stride_w - s->pad_l + j;
            if (in_range(iw, s->w))
                sum += (double)x[x_index(s, n, c, (int)ih, (int)iw)];
        }
    }
    return sum;
}

static double divisor_of(const pool_shape *s, int oh, int ow)
{
    return (double)bc_pool_divisor(s, (int64_t)oh * s->stride_h - s->pad_t,
                                   (int64_t)ow * s->stride_w - s->pad_l);
}

blasconv_status blasconv_reference_pool2d_forward(blasconv_context *ctx, const blasconv_pool2d *d,
                                                  const float *x, float *y)
{
    static const char fn[] = "reference_pool2d_forward";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !y ? "y" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    pool_shape s;
    blasconv_status st = bc_pool_shape(ctx, fn, d, &s);
    if (st != BLASCONV_OK)
        return st;
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++)
            for (int oh = 0; oh < s.oh; oh++)
                for (int ow = 0; ow < s.ow; ow++) {
                    float out;
                    if (s.mode == BLASCONV_POOL_MAX) {
                        size_t at = 0;
                        out = window_argmax(&s, x, n, c, oh, ow, &at) ? x[at] : -INFINITY;
                    } else {
                        out = (float)(window_sum(&s, x, n, c, oh, ow) / divisor_of(&s, oh, ow));
                    }
                    y[y_index(&s, n, c, oh, ow)] = out;
                }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

/* The outputs [*first, *last) of one axis whose (undilated) window holds input
 * coordinate `in`: o*stride - pad <= in < o*stride - pad + window. */
static void outputs_covering(int64_t in, int stride, int pad, int window, int out, int *first,
                             int *last)
{
    int64_t lo = -bc_floor_div(-(in + pad - window + 1), stride); /* ceil */
    int64_t hi = bc_floor_div(in + pad, stride) + 1;
    *first = (int)(lo < 0 ? 0 : lo);
    *last = (int)(hi > out ? out : hi);
}

blasconv_status blasconv_reference_pool2d_backward(blasconv_context *ctx, const blasconv_pool2d *d,
                                                   const float *x, const float *dy, float *dx)
{
    static const char fn[] = "reference_pool2d_backward";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !dy ? "dy" : !dx ? "dx" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    pool_shape s;
    blasconv_status st = bc_pool_shape(ctx, fn, d, &s);
    if (st != BLASCONV_OK)
        return st;
    if (s.mode == BLASCONV_POOL_MAX) {
        /* Each output sends its gradient to its argmax; overlapping windows add up. */
        for (int64_t i = 0; i < s.x_elems; i++)
            dx[i] = 0.0f;
        for (int n = 0; n < s.n; n++)
            for (int c = 0; c < s.c; c++)
                for (int oh = 0; oh < s.oh; oh++)
                    for (int ow = 0; ow < s.ow; ow++) {
                        size_t at = 0;
                        if (window_argmax(&s, x, n, c, oh, ow, &at))
                            dx[at] += dy[y_index(&s, n, c, oh, ow)];
                    }
    } else {
        /* Each input gathers dy / divisor from every window that holds it. */
        for (int n = 0; n < s.n; n++)
            for (int c = 0; c < s.c; c++)
                for (int ih = 0; ih < s.h; ih++)
                    for (int iw = 0; iw < s.w; iw++) {
                        int oh0, oh1, ow0, ow1;
                        outputs_covering(ih, s.stride_h, s.pad_t, s.kh, s.oh, &oh0, &oh1);
                        outputs_covering(iw, s.stride_w, s.pad_l, s.kw, s.ow, &ow0, &ow1);
                        double sum = 0.0;
                        for (int oh = oh0; oh < oh1; oh++)
                            for (int ow = ow0; ow < ow1; ow++)
                                sum +=
                                    (double)dy[y_index(&s, n, c, oh, ow)] / divisor_of(&s, oh, ow);
                        dx[x_index(&s, n, c, ih, iw)] = (float)sum;
                    }
    }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}
