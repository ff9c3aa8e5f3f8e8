/* Lowering (NHWC) of whole output rows to an im2col matrix, and its inverse.
 *
 * In NHWC the channels of one pixel are contiguous, so an im2col row (one output
 * position) is KH*KW runs of C/g channels, each filled by one contiguous copy, and
 * its layout [KH][KW][C/g] is exactly that of one filter w[k]: the GEMM reads both
 * with unit stride. Rows are numbered across the batch (n * OH + oh), since the
 * positions of consecutive images follow each other in y. */
#include "internal.h"

#include <string.h>

/* Input column of output column `ow`'s first tap (negative inside the left pad). */
static int64_t first_input_column(const conv_shape *s, int ow)
{
    return (int64_t)ow * s->stride_w - s->pad_l;
}

/* Channels of one tap. Depthwise (one channel) gets a plain load: a memcpy call per
 * float would cost more than the GEMM. */
static inline void copy_channels(float *dst, const float *src, size_t count)
{
    if (count == 1)
        *dst = *src;
    else
        memcpy(dst, src, count * sizeof(float));
}

/* A kernel row's KW taps are one contiguous run of x that one copy fills: every
 * channel is in the group, taps are adjacent and none of them reads padding. */
static int whole_run_inside(const conv_shape *s, int64_t iw0)
{
    return s->groups == 1 && s->dil_w == 1 && iw0 >= 0 && iw0 + s->kw <= s->w;
}

void bc_im2col_nhwc_columns(const conv_shape *s, const float *x, int group, int row_begin,
                            int row_end, int64_t j0, int64_t j1, float *col)
{
    const size_t cg = (size_t)s->c_per_group;
    const size_t image = (size_t)s->h * s->w * s->c;
    const int64_t run = (int64_t)s->kw * (int64_t)cg; /* columns of one kernel row */
    float *dst = col;
    for (int row = row_begin; row < row_end; row++) {
        const int n = row / s->oh, oh = row % s->oh;
        const float *x_image = x + (size_t)n * image + (size_t)group * cg;
        for (int ow = 0; ow < s->ow; ow++) {
            const int64_t iw0 = first_input_column(s, ow);
            for (int ki = 0; ki < s->kh; ki++) {
                /* this kernel row's columns [run0, run0 + run), clipped to [lo, hi) */
                const int64_t run0 = (int64_t)ki * run;
                const int64_t lo = j0 > run0 ? j0 : run0, hi = j1 < run0 + run ? j1 : run0 + run;
                if (lo >= hi)
                    continue;
                const int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
                if ((uint64_t)ih >= (uint64_t)s->h) {
                    memset(dst, 0, (size_t)(hi - lo) * sizeof(float));
                    dst += hi - lo;
                    continue;
                }
                const float *x_row = x_image + (size_t)ih * s->w * s->c;
                if (whole_run_inside(s, iw0)) {
                    memcpy(dst, x_row + iw0 * s->c + (lo - run0),
                           (size_t)(hi - lo) * sizeof(float));
                    dst += hi - lo;
                    continue;
                }
                for (int kj = (int)((lo - run0) / (int64_t)cg); kj < s->kw; kj++) {
                    const int64_t tap0 = run0 + (int64_t)kj * (int64_t)cg;
                    if (tap0 >= hi)
                        break;
                    const int64_t from = lo > tap0 ? lo - tap0 : 0;
                    const int64_t to = hi < tap0 + (int64_t)cg ? hi - tap0 : (int64_t)cg;
                    const int64_t iw = iw0 + (int64_t)kj * s->dil_w;
                    if ((uint64_t)iw >= (uint64_t)s->w)
                        memset(dst, 0, (size_t)(to - from) * sizeof(float));
                    else
                        copy_channels(dst, x_row + iw * s->c + from, (size_t)(to - from));
                    dst += to - from;
                }
            }
        }
    }
}

void bc_im2col_nhwc(const conv_shape *s, const float *x, int group, int row_begin, int row_end,
                    float *col)
{
    bc_im2col_nhwc_columns(s, x, group, row_begin, row_end, 0, (int64_t)s->col_rows, col);
}

/* dst += src over a run: one loop over a kernel row's KW*C floats (a loop per tap
 * cost more than the adds on few channels: r50_conv1's 3). */
static void add_run(float *restrict dst, const float *restrict src, size_t count)
{
    for (size_t q = 0; q < count; q++)
        dst[q] += src[q];
}

void bc_col2im_nhwc_window(const conv_shape *s, const float *col, int group, int row_begin,
                           int row_end, int ih_begin, int ih_end, float *dx)
{
    const size_t cg = (size_t)s->c_per_group;
    const size_t image = (size_t)s->h * s->w * s->c;
    const float *src = col;
    for (int row = row_begin; row < row_end; row++) {
        const int n = row / s->oh, oh = row % s->oh;
        float *dx_image = dx + (size_t)n * image + (size_t)group * cg;
        for (int ow = 0; ow < s->ow; ow++) {
            const int64_t iw0 = first_input_column(s, ow);
            for (int ki = 0; ki < s->kh; ki++) {
                const int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
                if (ih < ih_begin || ih >= ih_end) {
                    src += (size_t)s->kw * cg;
                    continue;
                }
                float *dx_row = dx_image + (size_t)ih * s->w * s->c;
                if (whole_run_inside(s, iw0)) { /* the kernel row's taps: one run of dx */
                    add_run(dx_row + iw0 * s->c, src, (size_t)s->kw * cg);
                    src += (size_t)s->kw * cg;
                    continue;
                }
                for (int kj = 0; kj < s->kw; kj++, src += cg) {
                    const int64_t iw = iw0 + (int64_t)kj * s->dil_w;
                    if ((uint64_t)iw >= (uint64_t)s->w)
                        continue;
                    float *out = dx_row + (size_t)iw * s->c;
                    for (size_t c = 0; c < cg; c++)
                        out[c] += src[c];
                }
            }
        }
    }
}

void bc_col2im_nhwc(const conv_shape *s, const float *col, int group, int row_begin, int row_end,
                    float *dx)
{
    bc_col2im_nhwc_window(s, col, group, row_begin, row_end, 0, s->h, dx);
}
