/* The convolution descriptor rules of API.md, restated independently of lib/shape.c
 * with 128-bit products, so a harness can tell what status the library owes.
 * Order: every BAD_SHAPE rule before any OVERFLOW rule (the header: "then the
 * descriptor (BAD_SHAPE / OVERFLOW)"; the library checks them in that order). */
#ifndef BLASCONV_FUZZ_CONV_RULES_H
#define BLASCONV_FUZZ_CONV_RULES_H

#include "fuzz_input.h"

typedef struct conv_expect {
    blasconv_status status;
    int64_t oh, ow;
    int64_t cg, kg;         /* channels per group in and out */
    int direct_1x1;         /* no scratch needed */
    uint64_t one_row_bytes; /* minimum scratch of a pass (NCHW) */
    uint64_t untiled_bytes; /* what workspace_size reports */
    /* ... or, for forward and backward data lowered by kernel columns (vertical
     * stride 1, KH > 1; NCHW), the filter copy (cache-line rounded) plus the lowering
     * of every output row with its halo (forward) or of every input row (data); 0
     * where that path cannot apply. */
    uint64_t shifted_forward_bytes, shifted_data_bytes;
} conv_expect;

static inline int fuzz_count_at_least_2_31(int64_t a, int64_t b, int64_t c, int64_t d)
{
    unsigned __int128 p = (unsigned __int128)a * (unsigned __int128)b;
    p *= (unsigned __int128)c;
    p *= (unsigned __int128)d;
    return p >= ((unsigned __int128)1 << 31);
}

static inline conv_expect fuzz_conv_expect(const blasconv_conv2d *d)
{
    conv_expect e = {.status = BLASCONV_ERR_BAD_SHAPE};
    if (d->layout != BLASCONV_NCHW && d->layout != BLASCONV_NHWC)
        return e;
    if (d->batch <= 0 || d->in_channels <= 0 || d->in_height <= 0 || d->in_width <= 0 ||
        d->out_channels <= 0 || d->kernel_height <= 0 || d->kernel_width <= 0)
        return e;
    if (d->stride_height < 0 || d->stride_width < 0 || d->pad_top < 0 || d->pad_bottom < 0 ||
        d->pad_left < 0 || d->pad_right < 0 || d->dilation_height < 0 || d->dilation_width < 0 ||
        d->groups < 0)
        return e;
    const int64_t groups = d->groups ? d->groups : 1;
    const int64_t sh = d->stride_height ? d->stride_height : 1;
    const int64_t sw = d->stride_width ? d->stride_width : 1;
    const int64_t dh = d->dilation_height ? d->dilation_height : 1;
    const int64_t dw = d->dilation_width ? d->dilation_width : 1;
    if (d->in_channels % groups != 0 || d->out_channels % groups != 0)
        return e;
    e.cg = d->in_channels / groups;
    e.kg = d->out_channels / groups;
    e.oh = fuzz_floor_div((int64_t)d->in_height + d->pad_top + d->pad_bottom -
                              dh * (d->kernel_height - 1) - 1,
                          sh) +
           1;
    e.ow = fuzz_floor_div((int64_t)d->in_width + d->pad_left + d->pad_right -
                              dw * (d->kernel_width - 1) - 1,
                          sw) +
           1;
    if (e.oh < 1 || e.ow < 1)
        return e;
    e.status = BLASCONV_ERR_OVERFLOW;
    if (e.oh > INT_MAX || e.ow > INT_MAX)
        return e;
    if (fuzz_count_at_least_2_31(d->batch, d->in_channels, d->in_height, d->in_width) ||
        fuzz_count_at_least_2_31(d->out_channels, e.cg, d->kernel_height, d->kernel_width) ||
        fuzz_count_at_least_2_31(d->batch, d->out_channels, e.oh, e.ow) ||
        fuzz_count_at_least_2_31(e.cg, d->kernel_height, d->kernel_width, e.ow))
        return e;
    e.status = BLASCONV_OK;
    e.direct_1x1 = d->kernel_height == 1 && d->kernel_width == 1 && sh == 1 && sw == 1 &&
                   d->pad_top == 0 && d->pad_bottom == 0 && d->pad_left == 0 && d->pad_right == 0;
    const uint64_t col_rows = (uint64_t)e.cg * (uint64_t)d->kernel_height * d->kernel_width;
    e.one_row_bytes = e.direct_1x1 ? 0 : col_rows * (uint64_t)e.ow * sizeof(float);
    e.untiled_bytes = e.direct_1x1 ? 0 : col_rows * (uint64_t)(e.oh * e.ow) * sizeof(float);
    if (sh == 1 && d->kernel_height > 1) {
        const uint64_t filter =
            ((uint64_t)d->out_channels * col_rows * sizeof(float) + 63) / 64 * 64;
        const uint64_t lowered_row = (uint64_t)e.cg * d->kernel_width * e.ow * sizeof(float);
        e.shifted_forward_bytes =
            filter + (uint64_t)(e.oh + (d->kernel_height - 1) * dh) * lowered_row;
        e.shifted_data_bytes = filter + (uint64_t)d->in_height * lowered_row;
    }
    return e;
}

#endif
