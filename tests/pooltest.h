/* Helpers for the pooling suites: tensor sizes, layout permutation, random
 * descriptors and inputs that stress ties, NaN and signed zeros. */
#ifndef BLASCONV_POOLTEST_H
#define BLASCONV_POOLTEST_H

#include "testutil.h"

#include <math.h>
#include <stdio.h>

/* No valid pooling output is this value: outputs start as it, so an element the
 * call forgot to write fails the comparison even where the right answer is NaN. */
#define POOL_POISON 777.25f

static inline size_t pool_x_elems(const blasconv_pool2d *d)
{
    return (size_t)d->batch * d->channels * d->in_height * d->in_width;
}

static inline size_t pool_y_elems(const blasconv_pool2d *d)
{
    int oh = 0, ow = 0;
    ck_assert_int_eq(blasconv_pool2d_output_size(d, &oh, &ow), BLASCONV_OK);
    return (size_t)d->batch * d->channels * oh * ow;
}

static inline void pool_fill(float *a, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        a[i] = value;
}

/* dst[N][H][W][C] = src[N][C][H][W], or the inverse when to_nhwc is 0. */
static inline void pool_permute(const float *src, float *dst, int n, int c, int h, int w,
                                int to_nhwc)
{
    for (int b = 0; b < n; b++)
        for (int k = 0; k < c; k++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    size_t nchw = (((size_t)b * c + k) * h + i) * w + j;
                    size_t nhwc = (((size_t)b * h + i) * w + j) * c + k;
                    if (to_nhwc)
                        dst[nhwc] = src[nchw];
                    else
                        dst[nchw] = src[nhwc];
                }
}

/* A random valid NCHW descriptor: both modes, windows larger and smaller than the
 * stride, default strides, asymmetric pads up to half the window, dilation (MAX),
 * ceil_mode, both AVG divisors, and every few calls global pooling. */
static inline blasconv_pool2d pool_random_descriptor(test_rng *r)
{
    for (;;) {
        blasconv_pool2d d = {0};
        d.mode = test_rng_int(r, 0, 1) ? BLASCONV_POOL_AVG : BLASCONV_POOL_MAX;
        d.batch = test_rng_int(r, 1, 2);
        d.channels = test_rng_int(r, 1, 5);
        d.in_height = test_rng_int(r, 1, 13);
        d.in_width = test_rng_int(r, 1, 13);
        if (test_rng_int(r, 0, 7) == 0) { /* global pooling */
            d.window_height = d.in_height;
            d.window_width = d.in_width;
        } else {
            d.window_height = test_rng_int(r, 1, 6);
            d.window_width = test_rng_int(r, 1, 6);
            d.stride_height = test_rng_int(r, 0, 4);
            d.stride_width = test_rng_int(r, 0, 4);
            d.pad_top = test_rng_int(r, 0, d.window_height / 2);
            d.pad_bottom = test_rng_int(r, 0, d.window_height / 2);
            d.pad_left = test_rng_int(r, 0, d.window_width / 2);
            d.pad_right = test_rng_int(r, 0, d.window_width / 2);
            if (d.mode == BLASCONV_POOL_MAX && test_rng_int(r, 0, 2) == 0) {
                d.dilation_height = test_rng_int(r, 0, 3);
                d.dilation_width = test_rng_int(r, 0, 3);
            }
        }
        d.ceil_mode = test_rng_int(r, 0, 1);
        d.exclude_pad = test_rng_int(r, 0, 1);
        int oh, ow;
        if (blasconv_pool2d_output_size(&d, &oh, &ow) == BLASCONV_OK)
            return d;
    }
}

/* Inputs of one of three kinds: small integers (many ties, signed zeros), plain
 * floats, or floats with some NaN and infinities. */
static inline float *pool_random_input(test_rng *r, size_t n)
{
    float *x = test_alloc_random(r, n);
    int kind = test_rng_int(r, 0, 2);
    for (size_t i = 0; i < n; i++) {
        if (kind == 0) {
            int v = test_rng_int(r, -2, 2);
            x[i] = v == 0 && test_rng_int(r, 0, 1) ? -0.0f : (float)v;
        } else if (kind == 2) {
            int roll = test_rng_int(r, 0, 19);
            x[i] = roll == 0 ? NAN : roll == 1 ? INFINITY : roll == 2 ? -INFINITY : x[i];
        }
    }
    return x;
}

static inline const char *pool_describe(const blasconv_pool2d *d)
{
    static char text[256];
    snprintf(text, sizeof text,
             "%s N=%d C=%d H=%d W=%d k=%dx%d s=%d,%d pad=%d,%d,%d,%d dil=%d,%d ceil=%d "
             "exclude_pad=%d layout=%d",
             d->mode == BLASCONV_POOL_MAX ? "max" : "avg", d->batch, d->channels, d->in_height,
             d->in_width, d->window_height, d->window_width, d->stride_height, d->stride_width,
             d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, d->dilation_height,
             d->dilation_width, d->ceil_mode, d->exclude_pad, (int)d->layout);
    return text;
}

#endif
