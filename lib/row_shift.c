/* Forward and backward data with vertical stride 1 (NCHW and NHWC), lowered by kernel
 * columns only.
 *
 * im2col's row (c, ki, kj) over output rows [oh0, oh1) is input rows oh0+ki*dh-pad_t
 * onward, each shifted by kj: the rows for ki = 1, 2, ... are the rows for ki = 0
 * moved down by dh input rows. So a tile lowers each (c, kj) once over the
 * (oh1 - oh0) + (KH-1)*dh input rows it touches, and kernel row ki reads that same
 * buffer from row ki*dh on: KH GEMMs with K = C/g*KW, accumulating into y, in place
 * of one GEMM with K = C/g*KH*KW over a KH times larger lowering. Their A operands
 * are the filter's columns of one kernel row, which in NCHW need a copy of the
 * filter with ki outermost, made once per call. In NHWC a lowered row is one output
 * position's [KW][C/g] taps at one input row, and a kernel row's taps are already
 * contiguous in each filter [KH][KW][C/g]: kernel row ki's GEMM reads the positions
 * ki*dh*OW rows on, and the filter at ki*KW*C/g with its own leading dimension.
 * Backward data runs it the other way round (conv2d_backward.c): tiles of dx rows,
 * kernel row ki's GEMM reading dy ki*dh rows up into the same lowered rows, then a
 * col2im by kernel columns.
 *
 * Measured against im2col tiles (a test program, medians of 21-31 calls, one thread,
 * OpenBLAS Cooperlake): r50_3x3_56 1.54-1.85 -> 1.41-1.70 ms, r50_3x3_28 1.43-1.54 ->
 * 1.34-1.46 ms, vgg_3x3_224 26-31 -> 24-27 ms, dil_3x3_28 6.3 -> 5.6 ms; r50_3x3_14
 * at batch 1 1.38 -> 1.45 ms (its filter is larger than its lowering). */
#include "internal.h"

#include <string.h>

/* Whether `rows` lowered rows of one image (C/g*KW*OW floats each) stay under 2^31
 * elements, like every scratch buffer: then the path's tiles, leading dimensions and
 * row counts all fit an int (a huge dilation or pad would make them overflow). */
static int lowering_fits(const conv_shape *s, int64_t rows)
{
    const int64_t row = (int64_t)s->c_per_group * s->kw * s->ow; /* < 2^31 (shape.c) */
    return rows < BLASCONV_MAX_ELEMENTS / row;
}

int bc_row_shift_applies(const conv_shape *s, conv_pass pass)
{
    const int forward = pass == PASS_FORWARD;
    if (pass == PASS_BACKWARD_FILTER || s->stride_h != 1 || s->kh < 2 ||
        !lowering_fits(s, bc_row_shift_lowered_rows(s, pass, bc_row_shift_image_rows(s, pass))))
        return 0;
    /* Forward leaves depthwise layers to their direct path; in backward data one
     * input channel per group would leave the GEMMs KW rows tall. */
    if (forward ? bc_depthwise_applies(s) : s->c_per_group < 2)
        return 0;
    /* NHWC needs no filter copy (a kernel row's taps are contiguous in each filter),
     * but its tiles must stay inside an image, where they would otherwise cross
     * image borders to reach their minimum of positions. */
    if (s->layout == BLASCONV_NHWC)
        return s->positions >= BLASCONV_NHWC_MIN_TILE_POSITIONS;
    /* The filter copy (K*C/g*KH*KW floats) is made once per call: worth it while
     * it is at most half the batch's im2col lowering (C/g*KH*KW * N*OH*OW). Forward
     * sends several images of a small map to one GEMM instead (plan.c), at any cap. */
    return 2 * (int64_t)s->k <= (int64_t)s->n * s->positions &&
           (!forward || s->n == 1 || bc_images_per_gemm(s) == 1);
}

int64_t bc_row_shift_lowered_rows(const conv_shape *s, conv_pass pass, int64_t tile_rows)
{
    return pass == PASS_FORWARD ? tile_rows + (int64_t)(s->kh - 1) * s->dil_h : tile_rows;
}

int bc_row_shift_image_rows(const conv_shape *s, conv_pass pass)
{
    return pass == PASS_FORWARD ? s->oh : s->h;
}

size_t bc_row_shift_row_bytes(const conv_shape *s)
{
    return (size_t)s->c_per_group * (size_t)s->kw * (size_t)s->ow * sizeof(float);
}

size_t bc_row_shift_tile_bytes(const conv_shape *s, conv_pass pass, int tile_rows)
{
    return (size_t)bc_row_shift_lowered_rows(s, pass, tile_rows) * bc_row_shift_row_bytes(s);
}

size_t bc_row_shift_filter_bytes(const conv_shape *s)
{
    if (s->layout == BLASCONV_NHWC)
        return 0;
    return bc_align64((size_t)s->w_elems * sizeof(float)); /* keeps tiles aligned */
}

struct filter_job {
    const conv_shape *s;
    const float *w;
    float *shifted;
};

/* Output channels [k_begin, k_end) of the filter copy, filter by filter: each kernel
 * row's copy written in one run while the filter (C/g*KH*KW floats) is in the L1
 * cache. perf shares of r50_3x3_28's forward pass (a test program, 2001 calls):
 * 4.0% at one thread and 5.2% at two when the copy went kernel row by kernel row
 * over all filters, 2.9% and 7.1% when each filter was read once into KH runs at
 * the same time, 2.1% and 4.4% this way. */
static void copy_filter_rows(void *arg, int64_t k_begin, int64_t k_end)
{
    const struct filter_job *j = arg;
    const conv_shape *s = j->s;
    const int cg = s->c_per_group, kw = s->kw, kh = s->kh;
    const size_t depth = (size_t)cg * (size_t)kw, copy = (size_t)s->k * depth;
    const size_t taps = (size_t)kh * (size_t)kw;
    for (int64_t k = k_begin; k < k_end; k++)
        for (int ki = 0; ki < kh; ki++) {
            const float *src = j->w + (size_t)k * (size_t)s->col_rows + (size_t)ki * kw;
            float *dst = j->shifted + (size_t)ki * copy + (size_t)k * depth;
            if (kw == 3) /* fixed-size copies: a few moves, not a loop */
                for (int c = 0; c < cg; c++)
                    memcpy(dst + (size_t)c * 3, src + (size_t)c * taps, 3 * sizeof(float));
            else
                for (int c = 0; c < cg; c++)
                    memcpy(dst + (size_t)c * kw, src + (size_t)c * taps,
                           (size_t)kw * sizeof(float));
        }
}

void bc_row_shift_filter(const conv_shape *s, const float *w, float *shifted, int threads)
{
    struct filter_job job = {s, w, shifted};
    bc_parallel_for(threads, s->k, bc_parallel_grain(s->col_rows), copy_filter_rows, &job);
}

/* s with a kernel one row tall: its im2col over output rows v reads input rows
 * v - pad_t, which is what the lowering by kernel columns holds, and its col2im adds
 * that back. */
static conv_shape one_kernel_row(const conv_shape *s)
{
    conv_shape one_row = *s;
    one_row.kh = 1;
    one_row.dil_h = 1;
    one_row.col_rows = (int64_t)s->c_per_group * s->kw;
    return one_row;
}

void bc_row_shift_lower(const conv_shape *s, const float *x_group, int oh_begin, int oh_end,
                        float *rows)
{
    /* rows ih = oh - pad_t for oh in [oh_begin, oh_end + halo), padding rows zero */
    const conv_shape one_row = one_kernel_row(s);
    const int count = (int)bc_row_shift_lowered_rows(s, PASS_FORWARD, oh_end - oh_begin);
    bc_im2col_nchw(&one_row, x_group, oh_begin, oh_begin + count, rows,
                   (size_t)count * (size_t)s->ow);
}

void bc_row_shift_lower_nhwc(const conv_shape *s, const float *x, int group, int n, int oh_begin,
                             int oh_end, float *rows)
{
    /* On images of OH + halo output rows each, so that im2col's batch row
     * n*(OH + halo) + oh is image n's extended row oh. */
    conv_shape one_row = one_kernel_row(s);
    one_row.oh = (int)bc_row_shift_lowered_rows(s, PASS_FORWARD, s->oh); /* lowering_fits */
    const int first = n * one_row.oh + oh_begin;
    bc_im2col_nhwc(&one_row, x, group, first,
                   first + (int)bc_row_shift_lowered_rows(s, PASS_FORWARD, oh_end - oh_begin),
                   rows);
}

void bc_row_shift_col2im(const conv_shape *s, float *rows, int ih_begin, int ih_end,
                         float *dx_group)
{
    conv_shape one_row = one_kernel_row(s);
    bc_col2im_nchw(&one_row, rows, ih_begin + s->pad_t, ih_end + s->pad_t, 0, one_row.h, dx_group);
}

void bc_row_shift_col2im_nhwc(const conv_shape *s, const float *rows, int group, int n,
                              int ih_begin, int ih_end, float *dx)
{
    /* On images of H + pad_t rows: output row v of image n is batch row
     * n*(H + pad_t) + v and reads input row v - pad_t. */
    conv_shape one_row = one_kernel_row(s);
    one_row.oh = s->h + s->pad_t;
    const int first = n * one_row.oh + ih_begin + s->pad_t;
    bc_col2im_nhwc(&one_row, rows, group, first, first + (ih_end - ih_begin), dx);
}
