/* The reference oracle for convolution: direct loops, double accumulation, no
 * BLAS, no scratch. Index arithmetic is per layout; the sums are the definition. */
#include "internal.h"

static size_t x_index(const conv_shape *s, int n, int c, int64_t h, int64_t w)
{
    if (s->layout == BLASCONV_NCHW)
        return (((size_t)n * s->c + c) * s->h + (size_t)h) * s->w + (size_t)w;
    return (((size_t)n * s->h + (size_t)h) * s->w + (size_t)w) * s->c + c;
}

/* c is the channel inside the group. */
static size_t w_index(const conv_shape *s, int k, int c, int i, int j)
{
    if (s->layout == BLASCONV_NCHW)
        return (((size_t)k * s->c_per_group + c) * s->kh + i) * s->kw + j;
    return (((size_t)k * s->kh + i) * s->kw + j) * s->c_per_group + c;
}

static size_t y_index(const conv_shape *s, int n, int k, int oh, int ow)
{
    if (s->layout == BLASCONV_NCHW)
        return (((size_t)n * s->k + k) * s->oh + oh) * s->ow + ow;
    return (((size_t)n * s->oh + oh) * s->ow + ow) * s->k + k;
}

static int in_range(int64_t v, int64_t limit)
{
    return v >= 0 && v < limit;
}

blasconv_status blasconv_reference_conv2d_forward(blasconv_context *ctx, const blasconv_conv2d *d,
                                                  const float *x, const float *w,
                                                  const float *bias, float *y)
{
    static const char fn[] = "reference_conv2d_forward";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !w ? "w" : !y ? "y" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    conv_shape s;
    blasconv_status st = bc_conv_shape(ctx, fn, d, &s);
    if (st != BLASCONV_OK)
        return st;
    for (int n = 0; n < s.n; n++)
        for (int k = 0; k < s.k; k++) {
            const int c0 = k / s.k_per_group * s.c_per_group;
            for (int oh = 0; oh < s.oh; oh++)
                for (int ow = 0; ow < s.ow; ow++) {
                    double sum = bias ? (double)bias[k] : 0.0;
                    for (int c = 0; c < s.c_per_group; c++)
                        for (int i = 0; i < s.kh; i++) {
                            int64_t ih = (int64_t)oh * s.stride_h - s.pad_t + (int64_t)i * s.dil_h;
                            if (!in_range(ih, s.h))
                                continue;
                            for (int j = 0; j < s.kw; j++) {
                                int64_t iw =
                                    (int64_t)ow * s.stride_w - s.pad_l + (int64_t)j * s.dil_w;
                                if (in_range(iw, s.w))
                                    sum += (double)x[x_index(&s, n, c0 + c, ih, iw)] *
                                           (double)w[w_index(&s, k, c, i, j)];
                            }
                        }
                    y[y_index(&s, n, k, oh, ow)] = (float)sum;
                }
        }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

/* The output position that tap (i of a kernel axis) maps input coordinate `in` to,
 * or -1 when that tap does not land on an output position. */
static int64_t output_for_tap(int64_t in, int tap, int stride, int pad, int dilation, int out)
{
    int64_t numerator = in + pad - (int64_t)tap * dilation;
    if (numerator < 0 || numerator % stride != 0)
        return -1;
    int64_t o = numerator / stride;
    return o < out ? o : -1;
}

blasconv_status blasconv_reference_conv2d_backward_data(blasconv_context *ctx,
                                                        const blasconv_conv2d *d, const float *dy,
                                                        const float *w, float *dx)
{
    static const char fn[] = "reference_conv2d_backward_data";
    const char *null_name = !d ? "descriptor" : !dy ? "dy" : !w ? "w" : !dx ? "dx" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    conv_shape s;
    blasconv_status st = bc_conv_shape(ctx, fn, d, &s);
    if (st != BLASCONV_OK)
        return st;
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++) {
            const int g = c / s.c_per_group, c_in_group = c % s.c_per_group;
            for (int ih = 0; ih < s.h; ih++)
                for (int iw = 0; iw < s.w; iw++) {
                    double sum = 0.0;
                    for (int i = 0; i < s.kh; i++) {
                        int64_t oh = output_for_tap(ih, i, s.stride_h, s.pad_t, s.dil_h, s.oh);
                        if (oh < 0)
                            continue;
                        for (int j = 0; j < s.kw; j++) {
                            int64_t ow = output_for_tap(iw, j, s.stride_w, s.pad_l, s.dil_w, s.ow);
                            if (ow < 0)
                                continue;
                            for (int kk = 0; kk < s.k_per_group; kk++) {
                                int k = g * s.k_per_group + kk;
                                sum += (double)dy[y_index(&s, n, k, (int)oh, (int)ow)] *
                                       (double)w[w_index(&s, k, c_in_group, i, j)];
                            }
                        }
                    }
                    dx[x_index(&s, n, c, ih, iw)] = (float)sum;
                }
        }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_reference_conv2d_backward_filter(blasconv_context *ctx,
                                                          const blasconv_conv2d *d, const float *x,
                                                          const float *dy, float *dw, float *dbias)
{
    static const char fn[] = "reference_conv2d_backward_filter";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !dy ? "dy" : !dw ? "dw" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    conv_shape s;
    blasconv_status st = bc_conv_shape(ctx, fn, d, &s);
    if (st != BLASCONV_OK)
        return st;
    for (int k = 0; k < s.k; k++) {
        const int c0 = k / s.k_per_group * s.c_per_group;
        for (int c = 0; c < s.c_per_group; c++)
            for (int i = 0; i < s.kh; i++)
                for (int j = 0; j < s.kw; j++) {
                    double sum = 0.0;
                    for (int n = 0; n < s.n; n++)
                        for (int oh = 0; oh < s.oh; oh++) {
                            int64_t ih = (int64_t)oh * s.stride_h - s.pad_t + (int64_t)i * s.dil_h;
                            if (!in_range(ih, s.h))
                                continue;
                            for (int ow = 0; ow < s.ow; ow++) {
                                int64_t iw =
                                    (int64_t)ow * s.stride_w - s.pad_l + (int64_t)j * s.dil_w;
                                if (in_range(iw, s.w))
                                    sum += (double)dy[y_index(&s, n, k, oh, ow)] *
                                           (double)x[x_index(&s, n, c0 + c, ih, iw)];
                            }
                        }
                    dw[w_index(&s, k, c, i, j)] = (float)sum;
                }
    }
    if (dbias)
        for (int k = 0; k < s.k; k++) {
            double sum = 0.0;
            for (int n = 0; n < s.n; n++)
                for (int oh = 0; oh < s.oh; oh++)
                    for (int ow = 0; ow < s.ow; ow++)
                        sum += dy[y_index(&s, n, k, oh, ow)];
            dbias[k] = (float)sum;
        }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}
