/* Lowering of whole output rows to an im2col matrix (NCHW), and its inverse. */
#include "internal.h"

#include <string.h>

/* ceil(num / den) for den > 0, also for negative num. */
static int64_t ceil_div(int64_t num, int64_t den)
{
    return -bc_floor_div(-num, den);
}

/* dst[o] = src[o * stride] for o in [0, count): strided convolutions' lowering
 * (r50_conv1's 7x7 stride-2 taps) is mostly this loop. */
BC_MULTI_ISA static void gather_strided(float *restrict dst, const float *restrict src, int count,
                                        int stride)
{
    if (stride == 2) { /* a constant stride vectorises as shuffles, not gathers */
        for (int o = 0; o < count; o++)
            dst[o] = src[(size_t)o * 2];
        return;
    }
    for (int o = 0; o < count; o++)
        dst[o] = src[(size_t)o * stride];
}

void bc_valid_columns(const conv_shape *s, int64_t offset, int *lo, int *hi)
{
    int64_t first = ceil_div(-offset, s->stride_w);
    int64_t last = bc_floor_div((int64_t)s->w - 1 - offset, s->stride_w) + 1;
    if (first < 0)
        first = 0;
    if (first > s->ow)
        first = s->ow;
    if (last > s->ow)
        last = s->ow;
    if (last < first)
        last = first;
    *lo = (int)first;
    *hi = (int)last;
}

void bc_kernel_columns_init(const conv_shape *s, bc_kernel_columns *columns)
{
    for (int kj = 0; kj < s->kw && kj < BC_COLUMN_CACHE; kj++)
        bc_valid_columns(s, (int64_t)kj * s->dil_w - s->pad_l, &columns->lo[kj], &columns->hi[kj]);
}

/* Stride 1 and OW = W: the output rows [*first, *last) of [oh_begin, oh_end) whose
 * kernel row ki reads an input row, ih = oh + *shift. */
static void tap_rows(const conv_shape *s, int ki, int oh_begin, int oh_end, int64_t *first,
                     int64_t *last, int64_t *shift)
{
    *shift = (int64_t)ki * s->dil_h - s->pad_t;
    int64_t f = -*shift, l = (int64_t)s->h - *shift;
    f = f < oh_begin ? oh_begin : f > oh_end ? oh_end : f;
    l = l > oh_end ? oh_end : l;
    *first = f;
    *last = l < f ? f : l;
}

/* One im2col row (a kernel tap) over output rows [oh_begin, oh_end) when stride
 * is 1 and the output is as wide as the input: consecutive output rows then read
 * consecutive input rows at the same shift, so the valid rows are ONE copy, and
 * only the few columns that wrapped into a neighbouring row are zeroed after. */
static void im2col_tap_span(const conv_shape *s, const float *x_plane, int ki, int64_t col_offset,
                            int lo, int hi, int oh_begin, int oh_end, float *dst)
{
    const int ow = s->ow;
    int64_t first, last, shift;
    tap_rows(s, ki, oh_begin, oh_end, &first, &last, &shift);
    float *valid = dst + (size_t)(first - oh_begin) * ow;
    memset(dst, 0, (size_t)(first - oh_begin) * ow * sizeof(float));
    memset(dst + (size_t)(last - oh_begin) * ow, 0, (size_t)(oh_end - last) * ow * sizeof(float));
    if (last == first)
        return;
    const size_t rows = (size_t)(last - first);
    if (hi > lo) {
        const float *src = x_plane + (size_t)(first + shift) * s->w + col_offset;
        size_t begin = (size_t)lo, end = (rows - 1) * ow + (size_t)hi;
        memcpy(valid + begin, src + begin, (end - begin) * sizeof(float));
    }
    for (size_t r = 0; r < rows; r++) {
        float *out = valid + r * ow;
        for (int o = 0; o < lo; o++)
            out[o] = 0.0f;
        for (int o = hi > lo ? hi : lo; o < ow; o++)
            out[o] = 0.0f;
    }
}

void bc_im2col_nchw(const conv_shape *s, const float *x_group, int oh_begin, int oh_end,
                    float *col, size_t ld)
{
    bc_im2col_nchw_kernel_rows(s, x_group, 0, s->c_per_group * s->kh, oh_begin, oh_end, col, ld);
}

/* Input rows a vertically strided lowering prefetches ahead of the row it copies:
 * its rows skip (stride - 1) rows of x, which the hardware prefetchers did not
 * follow, and each row's copy then waited on memory. blasconv-bench --pass
 * fwd,bwd-filter --reps 11, one thread, six runs alternating the library before and
 * after, conv/sgemm: r50_1x1_s2 forward 0.88-0.92 -> 0.90-0.94 (8 rows ahead; 4 gave
 * the same), backward filter 0.83-0.90 -> 0.89-0.90; r50_conv1, whose 600 KB of x
 * stay in the L2 cache, unchanged (0.95-0.99 and 0.88-0.92). */
#define PREFETCH_ROWS 8

/* Prefetches the floats src[0], src[stride], ... src[(count - 1) * stride]. */
static inline void prefetch_strided(const float *src, int count, int stride)
{
    bc_prefetch_bytes(src, ((size_t)(count - 1) * (size_t)stride + 1) * sizeof(float));
}

void bc_im2col_nchw_kernel_rows(const conv_shape *s, const float *x_group, int first, int end,
                                int oh_begin, int oh_end, float *col, size_t ld)
{
    const int spans = s->stride_h == 1 && s->stride_w == 1 && s->ow == s->w;
    const int ow = s->ow;
    const size_t plane = (size_t)s->h * s->w;
    bc_kernel_columns columns;
    bc_kernel_columns_init(s, &columns);
    size_t row = 0;
    for (int kernel_row = first; kernel_row < end; kernel_row++) {
        const int c = kernel_row / s->kh, ki = kernel_row % s->kh;
        const float *x_plane = x_group + (size_t)c * plane;
        for (int kj = 0; kj < s->kw; kj++, row++) {
            const int64_t col_offset = (int64_t)kj * s->dil_w - s->pad_l;
            int lo, hi;
            bc_kernel_columns_at(s, &columns, kj, &lo, &hi);
            float *dst = col + row * ld;
            if (spans) {
                im2col_tap_span(s, x_plane, ki, col_offset, lo, hi, oh_begin, oh_end, dst);
                continue;
            }
            for (int oh = oh_begin; oh < oh_end; oh++, dst += ow) {
                int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
                if ((uint64_t)ih >= (uint64_t)s->h) {
                    memset(dst, 0, (size_t)ow * sizeof(float));
                    continue;
                }
                const float *src = x_plane + (size_t)ih * s->w;
                if (kj == 0 && s->stride_h > 1 && hi > lo &&
                    ih + (int64_t)PREFETCH_ROWS * s->stride_h < s->h)
                    prefetch_strided(src + (size_t)PREFETCH_ROWS * s->stride_h * s->w +
                                         (int64_t)lo * s->stride_w + col_offset,
                                     hi - lo, s->stride_w);
                if (lo > 0) /* zero-length memsets: 0.5% of r50_1x1_s2 (callgrind) */
                    memset(dst, 0, (size_t)lo * sizeof(float));
                if (hi == lo) {
                    /* the whole row reads padding */
                } else if (s->stride_w == 1) {
                    memcpy(dst + lo, src + lo + col_offset, (size_t)(hi - lo) * sizeof(float));
                } else {
                    gather_strided(dst + lo, src + (int64_t)lo * s->stride_w + col_offset, hi - lo,
                                   s->stride_w);
                }
                if (hi < ow)
                    memset(dst + hi, 0, (size_t)(ow - hi) * sizeof(float));
            }
        }
    }
}

/* out[o * 2] += src[o] for o in [0, count): stride 2 has its own loop, as a constant
 * stride vectorises and a variable one does not (r50_conv1's backward data ran 1.15x
 * faster). */
static inline void add_stride2(float *restrict out, const float *restrict src, int count)
{
    for (int o = 0; o < count; o++)
        out[(size_t)o * 2] += src[o];
}

/* Stride 2, dilation 1: kernel columns kj and kj + 1 land on alternate elements of
 * one input row (kj's output o at row[offset + 2o], kj + 1's at row[offset + 2o + 1];
 * offset is kj's column offset), so their lowered rows src and src1 are added as one
 * interleaved pass where both reach. kj + 1 reads one column further right: its
 * outputs [lo1, hi1) start and end no later than kj's [lo0, hi0), so both reach
 * [lo0, hi1), kj + 1 alone [lo1, lo0) and kj alone [hi1, hi0), an output or none each.
 * Each element still gets one term from the pair, in kj order across pairs. Separate
 * strided passes, each a read-modify-write of the whole row, took most of r50_conv1's
 * col2im. */
static inline void add_column_pair(const float *restrict src, const float *restrict src1, int lo0,
                                   int hi0, int lo1, int hi1, float *restrict row, int64_t offset)
{
    const int both_end = hi1 > lo0 ? hi1 : lo0;
    add_stride2(row + offset + 2 * (int64_t)lo1 + 1, src1 + lo1, (hi1 < lo0 ? hi1 : lo0) - lo1);
    add_stride2(row + offset + 2 * (int64_t)both_end, src + both_end, hi0 - both_end);
    if (both_end == lo0)
        return;
    float *restrict pair = row + offset + 2 * (int64_t)lo0;
    const float *s0 = src + lo0, *s1 = src1 + lo0;
    const int n = both_end - lo0;
    int o = 0;
    for (; o + 16 <= n; o += 16) { /* the two rows zipped: 32 floats of the row at once */
        const vec16 x0 = bc_load16(s0 + o), x1 = bc_load16(s1 + o);
        float *at = pair + 2 * o;
        bc_store16(at, bc_load16(at) + BC_SHUFFLE(x0, x1, BC_ALTERNATE(0)));
        bc_store16(at + 16, bc_load16(at + 16) + BC_SHUFFLE(x0, x1, BC_ALTERNATE(8)));
    }
    for (; o < n; o++) {
        pair[2 * o] += s0[o];
        pair[2 * o + 1] += s1[o];
    }
}

/* Output row oh of a tile added back into every input plane it read: contributions
 * reach a dx element in (oh, c, ki, kj) order whatever the tile size, so results do
 * not depend on the workspace. One call per row, so each ISA gets its own loops. */
BC_MULTI_ISA static void col2im_row(const conv_shape *s, const float *restrict col_at_row,
                                    size_t tile_cols, int oh, const bc_kernel_columns *columns,
                                    int ih_begin, int ih_end, float *restrict dx_group)
{
    const size_t plane = (size_t)s->h * s->w;
    const int stride = s->stride_w;
    size_t row = 0;
    for (int c = 0; c < s->c_per_group; c++) {
        float *dx_plane = dx_group + (size_t)c * plane;
        for (int ki = 0; ki < s->kh; ki++) {
            int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
            if (ih < ih_begin || ih >= ih_end) {
                row += (size_t)s->kw;
                continue;
            }
            float *dst = dx_plane + (size_t)ih * s->w;
            for (int kj = 0; kj < s->kw; kj++, row++) {
                const int64_t col_offset = (int64_t)kj * s->dil_w - s->pad_l;
                int lo, hi;
                bc_kernel_columns_at(s, columns, kj, &lo, &hi);
                const float *src = col_at_row + row * tile_cols;
                if (stride == 2 && s->dil_w == 1 && kj + 1 < s->kw) {
                    int lo1, hi1;
                    bc_kernel_columns_at(s, columns, kj + 1, &lo1, &hi1);
                    add_column_pair(src, src + tile_cols, lo, hi, lo1, hi1, dst, col_offset);
                    kj++, row++;
                    continue;
                }
                src += lo;
                float *out = dst + (int64_t)lo * stride + col_offset;
                if (stride == 1)
                    for (int o = 0; o < hi - lo; o++)
                        out[o] += src[o];
                else if (stride == 2)
                    add_stride2(out, src, hi - lo);
                else
                    for (int o = 0; o < hi - lo; o++)
                        out[(size_t)o * stride] += src[o];
            }
        }
    }
}

BC_MULTI_ISA static void add_span(float *restrict dst, const float *restrict src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] += src[i];
}

/* One dx row of a strided 1x1 layer: dst[o * stride] = src[o] + 0 for o < count, every
 * other float of the `width` zero. count = (width - 1) / stride + 1, so at stride 2 the
 * pairs cover the row, or all but its last float, which is a value. */
BC_MULTI_ISA static void spread_row_with_zeros(float *restrict dst, const float *restrict src,
                                               int count, int stride, int width)
{
    if (stride == 2) { /* a constant stride vectorises */
        const int pairs = width / 2;
        for (int o = 0; o < pairs; o++) {
            dst[2 * o] = src[o] + 0.0f;
            dst[2 * o + 1] = 0.0f;
        }
        if (pairs < count)
            dst[2 * pairs] = src[pairs] + 0.0f;
        return;
    }
    memset(dst, 0, (size_t)width * sizeof(float));
    for (int o = 0; o < count; o++)
        dst[(size_t)o * stride] = src[o] + 0.0f;
}

/* Each dx element of a strided 1x1 layer gets at most one sum: writing the rows whole
 * saves zeroing dx first and adding into it (a read and a write of dx). */
void bc_col2im_1x1_strided(const conv_shape *s, const float *col, int oh_begin, int oh_end,
                           int ih_begin, int ih_end, float *dx_group)
{
    const size_t tile_cols = (size_t)(oh_end - oh_begin) * (size_t)s->ow;
    const size_t plane = (size_t)s->h * s->w;
    const int64_t first =
        (int64_t)oh_begin * s->stride_h > ih_begin ? (int64_t)oh_begin * s->stride_h : ih_begin;
    const int64_t stop =
        (int64_t)oh_end * s->stride_h < ih_end ? (int64_t)oh_end * s->stride_h : ih_end;
    for (int c = 0; c < s->c_per_group; c++) {
        float *dx_plane = dx_group + (size_t)c * plane;
        for (int64_t ih = first; ih < stop; ih++) {
            float *dst = dx_plane + (size_t)ih * s->w;
            if (ih % s->stride_h != 0)
                memset(dst, 0, (size_t)s->w * sizeof(float));
            else
                spread_row_with_zeros(dst,
                                      col + (size_t)c * tile_cols +
                                          (size_t)(ih / s->stride_h - oh_begin) * s->ow,
                                      s->ow, s->stride_w, s->w);
        }
    }
}

/* col2im when stride is 1 and OW = W, the inverse of im2col_tap_span: each tap's
 * valid rows add into dx as one span. The tap's entries that read padding are zeroed
 * first, as the span lays them on a neighbouring row's edge, where adding +0 changes
 * nothing (dx starts at +0 and so never holds -0). Taps go ki descending (output rows
 * ascending, for any one dx element) and kj ascending: each dx element gets its
 * sums in col2im_row's order, whatever the tiles. Short rows (14 or 28 wide) made
 * col2im_row's per-row loops cost a fifth of backward data. */
static void col2im_spans(const conv_shape *s, float *col, int oh_begin, int oh_end, int ih_begin,
                         int ih_end, float *dx_group)
{
    const int ow = s->ow;
    const size_t tile_cols = (size_t)(oh_end - oh_begin) * (size_t)ow;
    const size_t plane = (size_t)s->h * s->w;
    for (int c = 0; c < s->c_per_group; c++) {
        float *dx_plane = dx_group + (size_t)c * plane;
        for (int ki = s->kh - 1; ki >= 0; ki--) {
            int64_t first, last, shift;
            tap_rows(s, ki, oh_begin, oh_end, &first, &last, &shift);
            if (first + shift < ih_begin) /* dx row = output row + shift */
                first = ih_begin - shift;
            if (last + shift > ih_end)
                last = ih_end - shift;
            if (last <= first)
                continue;
            for (int kj = 0; kj < s->kw; kj++) {
                const int64_t col_offset = (int64_t)kj * s->dil_w - s->pad_l;
                int lo, hi;
                bc_valid_columns(s, col_offset, &lo, &hi);
                float *src = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * tile_cols +
                             (size_t)(first - oh_begin) * ow;
                if (hi <= lo)
                    continue;
                for (int64_t r = 0; r < last - first; r++) {
                    for (int o = 0; o < lo; o++)
                        src[r * ow + o] = 0.0f;
                    for (int o = hi; o < ow; o++)
                        src[r * ow + o] = 0.0f;
                }
                add_span(dx_plane + (size_t)(first + shift) * s->w + col_offset + lo, src + lo,
                         (size_t)(last - first - 1) * ow + (size_t)(hi - lo));
            }
        }
    }
}

void bc_col2im_nchw(const conv_shape *s, float *col, int oh_begin, int oh_end, int ih_begin,
                    int ih_end, float *dx_group)
{
    if (s->stride_h == 1 && s->stride_w == 1 && s->ow == s->w) {
        col2im_spans(s, col, oh_begin, oh_end, ih_begin, ih_end, dx_group);
        return;
    }
    const size_t tile_cols = (size_t)(oh_end - oh_begin) * (size_t)s->ow;
    bc_kernel_columns columns;
    bc_kernel_columns_init(s, &columns);
    for (int oh = oh_begin; oh < oh_end; oh++)
        col2im_row(s, col + (size_t)(oh - oh_begin) * s->ow, tile_cols, oh, &columns, ih_begin,
                   ih_end, dx_group);
}
