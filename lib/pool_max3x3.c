/* 3-wide, stride-2 MAX pooling (ResNet's 3x3 stride-2 stem pooling), NCHW planes or
 * NHWC images, separably: each input row's 3-wide maxima are computed once, then
 * every output row takes the maximum of its rows' maxima in row order. Window by
 * window, every input row was read for each of the (up to) two output rows that
 * share it, with nine dependent steps per output (and, in NHWC, a call per tap).
 *
 * MAX's step keeps the first maximum and the last NaN. Any grouping that keeps the
 * row-major order of the elements gives the same answer, so the result is bit for
 * bit that of the window in row-major order (ties and NaN payloads included). */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Floats of one row's maxima a strip holds: the rows' maxima of one strip of output
 * columns sit on the stack. */
#define STRIP 1024

/* h[q] = max of r[2q], r[2q+1], r[2q+2], in that order (one channel). The inline
 * helpers here are compiled into each ISA's clone of their callers. */
static inline void max3_stride2_span(float *restrict h, const float *restrict r, int count)
{
    for (int q = 0; q < count; q++)
        h[q] = bc_max_step(bc_max_step(r[2 * q], r[2 * q + 1]), r[2 * q + 2]);
}

/* GCC vectorises the span for all but its last (count - 1) % 16 + 1 outputs (a whole
 * last vector would read r[2q + 3], one float past the window), and that scalar
 * remainder's branches are mispredicted on real data. So the span runs on 16k + 1
 * outputs, then on the last 17 (overlapping, rewriting the same values). */
static inline void max3_stride2(float *restrict h, const float *restrict r, int count)
{
    if (count <= 17) {
        max3_stride2_span(h, r, count);
        return;
    }
    const int head = (count - 1) / 16 * 16 + 1, q = count - 17;
    max3_stride2_span(h, r, head);
    max3_stride2_span(h + q, r + 2 * q, 17);
}

BC_MULTI_ISA static void row_max3_stride2(float *h, const float *r, int count)
{
    max3_stride2(h, r, count);
}

/* out[q] = max of the pixels t, t + c, t + 2c, channel q, for c a multiple of 16: 16
 * channels at a time in a loop of constant length, which GCC compiles to whole
 * vectors (a loop over c has its own prologue and remainder per pixel: r50_maxpool
 * NHWC, before it had pad1_rows below, took 61 us a call at one thread instead of
 * 76). */
static inline void pixel_max3_by16(float *restrict out, const float *restrict t, int c)
{
    for (int q0 = 0; q0 < c; q0 += 16)
        for (int q = q0; q < q0 + 16; q++)
            out[q] = bc_max_step(bc_max_step(t[q], t[c + q]), t[2 * c + q]);
}

/* The same for `count` pixels of c channels (NHWC): h[p][q] = max of the pixels
 * 2p, 2p+1, 2p+2 of r, channel q. */
BC_MULTI_ISA static void pixels_max3_stride2(float *restrict h, const float *restrict r, int count,
                                             int c)
{
    if (c % 16 == 0) {
        for (int p = 0; p < count; p++)
            pixel_max3_by16(h + (int64_t)p * c, r + (int64_t)p * 2 * c, c);
        return;
    }
    for (int p = 0; p < count; p++) {
        const float *t = r + (int64_t)p * 2 * c;
        float *out = h + (int64_t)p * c;
        for (int q = 0; q < c; q++)
            out[q] = bc_max_step(bc_max_step(t[q], t[c + q]), t[2 * c + q]);
    }
}

/* One output row from the maxima of its window's in-input rows, in row order (none
 * only with dilation: every window of the row is padding). */
static inline void combine_maxima(const float *const *rows, int used, float *restrict y_row,
                                  int width)
{
    if (used == 3) {
        const float *restrict a = rows[0], *restrict b = rows[1], *restrict c = rows[2];
        for (int q = 0; q < width; q++)
            y_row[q] = bc_max_step(bc_max_step(a[q], b[q]), c[q]);
    } else if (used == 2) {
        const float *restrict a = rows[0], *restrict b = rows[1];
        for (int q = 0; q < width; q++)
            y_row[q] = bc_max_step(a[q], b[q]);
    } else if (used == 1) {
        memcpy(y_row, rows[0], (size_t)width * sizeof *y_row);
    } else {
        for (int q = 0; q < width; q++)
            y_row[q] = -INFINITY;
    }
}

BC_MULTI_ISA static void combine_rows(const float *const *rows, int used, float *y_row, int width)
{
    combine_maxima(rows, used, y_row, width);
}

/* The in-input taps [*first, *last) of border column ow's 3-wide window. */
static int64_t border_taps(const pool_shape *s, int ow, int64_t *first, int64_t *last)
{
    const int64_t w_start = (int64_t)ow * 2 - s->pad_l;
    *first = w_start < 0 ? -w_start : 0;
    *last = s->w - w_start < 3 ? s->w - w_start : 3;
    return w_start;
}

/* One border column of one channel. Starting from -inf is starting from an empty
 * window: the step takes the first element over it (or keeps the same -inf). */
static float border_max(const pool_shape *s, const float *x_row, int ow)
{
    int64_t first, last;
    const int64_t w_start = border_taps(s, ow, &first, &last);
    float best = -INFINITY;
    for (int64_t j = first; j < last; j++)
        best = bc_max_step(best, x_row[w_start + j]);
    return best;
}

/* The same for one pixel of c channels. (NCHW keeps the scalar one above: this one
 * with c = 1 made 113-wide planes, whose rows go through the row cache, 15% slower,
 * medians of 1001 calls on 64 planes, four alternating runs.) */
static void border_max_pixel(const pool_shape *s, const float *x_row, int ow, int c, float *h)
{
    int64_t first, last;
    const int64_t w_start = border_taps(s, ow, &first, &last);
    for (int q = 0; q < c; q++)
        h[q] = -INFINITY;
    for (int64_t j = first; j < last; j++) {
        const float *tap = x_row + (w_start + j) * c;
        for (int q = 0; q < c; q++)
            h[q] = bc_max_step(h[q], tap[q]);
    }
}

/* The 3-wide maxima of input row x_row (pixels of c channels) for output columns
 * [ow0, ow1) into h; the columns [lo, hi) have their whole window inside the row. */
static void row_maxima(const pool_shape *s, const float *x_row, int c, int ow0, int ow1, int lo,
                       int hi, float *h)
{
    const int vec_lo = lo > ow0 ? lo : ow0, vec_hi = hi < ow1 ? hi : ow1;
    const int border_end = vec_lo < ow1 ? vec_lo : ow1,
              right = vec_hi > vec_lo ? vec_hi : border_end;
    if (c == 1) {
        for (int ow = ow0; ow < border_end; ow++)
            h[ow - ow0] = border_max(s, x_row, ow);
        if (vec_hi > vec_lo)
            row_max3_stride2(h + (vec_lo - ow0), x_row + (int64_t)vec_lo * 2 - s->pad_l,
                             vec_hi - vec_lo);
        for (int ow = right; ow < ow1; ow++)
            h[ow - ow0] = border_max(s, x_row, ow);
        return;
    }
    for (int ow = ow0; ow < border_end; ow++)
        border_max_pixel(s, x_row, ow, c, h + (int64_t)(ow - ow0) * c);
    if (vec_hi > vec_lo)
        pixels_max3_stride2(h + (int64_t)(vec_lo - ow0) * c,
                            x_row + ((int64_t)vec_lo * 2 - s->pad_l) * c, vec_hi - vec_lo, c);
    for (int ow = right; ow < ow1; ow++)
        border_max_pixel(s, x_row, ow, c, h + (int64_t)(ow - ow0) * c);
}

/* Output rows per run of the flat path below. Longer runs make fewer calls, but
 * ran slower once the planes came from memory: 64x112x112 planes, 1 thread, medians
 * of alternating runs (us): batch 1 (in cache) 165 before the flat path, 129 with
 * runs of 2, 122 of 3, 104-147 of 26; batch 8 (from memory) 2015, 1715, 2166,
 * 2611. */
#define FLAT_RUN 2

/* An NCHW plane twice as wide as its output (W = 2 OW: ResNet's 112 -> 56), windows
 * two rows apart: input element 2k - pad_l starts the window of output column k of
 * the flattened rows, so the rows new to a run of `group` output rows take one span
 * call (border columns, whose windows would cross rows, are redone per row) and the
 * run's last row is kept for the next run. Per-row calls had cost more than the
 * vector work on such short rows. `maxima` holds (2 group + 1) OW floats. */
static void plane_rows_flat(const pool_shape *s, const float *x, float *y, int oh_begin,
                            int oh_end, float *maxima, int group)
{
    const int ow = s->ow;
    const int64_t first_k = (s->pad_l + 1) / 2; /* windows inside the plane */
    /* floored: on a plane of under 3 - pad_l floats no window is inside */
    const int64_t end_k = bc_floor_div((int64_t)s->h * s->w - 3 + s->pad_l, 2) + 1;
    int lo, hi;
    bc_pool_interior_columns(s, &lo, &hi);
    int64_t held = -1; /* the input row whose maxima sit in maxima's first row */
    for (int oh0 = oh_begin; oh0 < oh_end; oh0 += group) {
        const int oh1 = oh_end - oh0 < group ? oh_end : oh0 + group;
        int64_t base = (int64_t)oh0 * 2 - s->pad_t, last = (int64_t)(oh1 - 1) * 2 - s->pad_t + 2;
        base = base < 0 ? 0 : base;
        last = last >= s->h ? s->h - 1 : last;
        const int64_t first_new = held == base ? base + 1 : base; /* rows [.., last] */
        if (last >= first_new) {
            float *h = maxima + (first_new - base) * ow;
            const int64_t k0 = first_new * ow > first_k ? first_new * ow : first_k;
            const int64_t k1 = (last + 1) * ow < end_k ? (last + 1) * ow : end_k;
            if (k1 > k0)
                row_max3_stride2(h + (k0 - first_new * ow), x + 2 * k0 - s->pad_l, (int)(k1 - k0));
            for (int64_t r = first_new; r <= last; r++, h += ow) {
                for (int col = 0; col < lo && col < ow; col++)
                    h[col] = border_max(s, x + r * s->w, col);
                for (int col = hi > lo ? hi : lo; col < ow; col++)
                    h[col] = border_max(s, x + r * s->w, col);
            }
        }
        for (int oh = oh0; oh < oh1; oh++) {
            const int64_t h_start = (int64_t)oh * 2 - s->pad_t;
            int i0, i1;
            bc_pool_taps(h_start, 3, 1, s->h, &i0, &i1);
            const float *rows[3];
            for (int i = i0; i < i1; i++)
                rows[i - i0] = maxima + (h_start + i - base) * ow;
            combine_rows(rows, i1 - i0, y + (int64_t)oh * ow, ow);
        }
        if (last > base) /* keep the last row for the next run */
            memcpy(maxima, maxima + (last - base) * ow, (size_t)ow * sizeof *maxima);
        held = last;
    }
}

/* The 3-wide maxima h[q] of row r (2 ow floats, left pad 1) for ow >= 16, 16 at a
 * time: output q's window is r[2q - 1], r[2q], r[2q + 1], so a block of 16 outputs
 * takes the odd and even floats of its 32 and the odd ones shifted down a lane, the
 * first of those being r[2 q0 - 1] (-inf, an empty start, for q0 = 0: the step takes
 * any float over it). The last block overlaps the one before when 16 does not
 * divide ow. */
static inline void max3_pad1_row(float *restrict h, const float *restrict r, int ow)
{
    for (int block = 0; block < ow; block += 16) {
        const int q0 = block < ow - 16 ? block : ow - 16;
        const vec16 a = bc_load16(r + 2 * q0), b = bc_load16(r + 2 * q0 + 16);
        const vec16 even = BC_SHUFFLE(a, b, BC_EVERY_2ND(0)),
                    odd = BC_SHUFFLE(a, b, BC_EVERY_2ND(1));
        const vec16 carry = {q0 > 0 ? r[2 * q0 - 1] : -INFINITY};
        const vec16 left =
            BC_SHUFFLE(carry, odd, 0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
        /* The steps on arrays, not on vec16 (its compares: see internal.h). */
        float l[16], e[16], o[16];
        bc_store16(l, left);
        bc_store16(e, even);
        bc_store16(o, odd);
        for (int k = 0; k < 16; k++)
            h[q0 + k] = bc_max_step(bc_max_step(l[k], e[k]), o[k]);
    }
}

/* The same for pixels [ow0, ow1) of c channels (NHWC, c a multiple of 16): pixel 0's
 * window is the row's first two pixels, pixel p >= 1's the three from 2p - 1. */
static inline void pixels_max3_pad1(float *restrict h, const float *restrict r, int ow0, int ow1,
                                    int c)
{
    int p = ow0;
    if (p == 0) {
        for (int q = 0; q < c; q++)
            h[q] = bc_max_step(r[q], r[c + q]);
        p = 1;
    }
    for (; p < ow1; p++)
        pixel_max3_by16(h + (int64_t)(p - ow0) * c, r + (int64_t)(2 * p - 1) * c, c);
}

/* ResNet's case (W = 2 OW, left pad 1, vertical stride 2): output rows [oh_begin,
 * oh_end) of one NCHW plane (c = 1) or NHWC image in one call, strip by strip of
 * output columns, each input row's maxima computed once per strip into
 * rows[ih % 3] (an output row's three input rows are consecutive, and the next output
 * row keeps its last), then combined in row order.
 * - NCHW: with per-row calls and border windows done one by one, the flat path
 *   (above) ran r50_maxpool at half the speed of a copy of its bytes, and the span
 *   loop (max3_stride2) with its scalar remainders and border column at 0.8; rows
 *   of 16 or more now take max3_pad1_row.
 * - NHWC (c a multiple of 16): each pixel's channels go 16 at a time in loops of
 *   constant length. The general path below, its loop over c per pixel, border
 *   pixels on their own and strips down a whole image, ran r50_maxpool_b8 at 0.6-0.8
 *   of a copy of its bytes at one thread. */
static inline __attribute__((always_inline)) void pad1_rows(const float *restrict x,
                                                            float *restrict y, int h, int ow,
                                                            int c, int pad_t, int oh_begin,
                                                            int oh_end)
{
    float rows[3][STRIP] __attribute__((aligned(64)));
    const int strip = c == 1 ? ow : STRIP / c; /* NCHW: one strip */
    for (int ow0 = 0; ow0 < ow; ow0 += strip) {
        const int ow1 = ow - ow0 < strip ? ow : ow0 + strip;
        int64_t done = -1; /* the last input row whose maxima are in rows */
        for (int oh = oh_begin; oh < oh_end; oh++) {
            const float *used[3];
            int count = 0;
            for (int64_t ih = (int64_t)oh * 2 - pad_t; ih < (int64_t)oh * 2 - pad_t + 3; ih++) {
                if (ih < 0 || ih >= h)
                    continue;
                if (ih > done) {
                    const float *r = x + ih * 2 * ow * c;
                    float *maxima = rows[ih % 3];
                    if (c > 1) {
                        pixels_max3_pad1(maxima, r, ow0, ow1, c);
                    } else if (ow >= 16) {
                        max3_pad1_row(maxima, r, ow);
                    } else {
                        maxima[0] = bc_max_step(r[0], r[1]);
                        max3_stride2(maxima + 1, r + 1, ow - 1);
                    }
                    done = ih;
                }
                used[count++] = rows[ih % 3];
            }
            combine_maxima(used, count, y + ((int64_t)oh * ow + ow0) * c, (ow1 - ow0) * c);
        }
    }
}

/* pad1_rows with its channel count a constant: NCHW's 1, and the 64 of the stems of
 * ResNets and DenseNets (r50_maxpool_b8 NHWC, one thread: 1.09-1.13 ms a call
 * against 1.18-1.21 for pad1_rows_any). 128 channels gained more (four such images:
 * 1.01-1.06 ms against 1.27-1.29), but each constant adds three clones of the whole
 * loop. */
#define PAD1_ROWS_FOR(C)                                                                          \
    BC_MULTI_ISA static void pad1_rows_##C(const float *x, float *y, int h, int ow, int pad_t,    \
                                           int oh_begin, int oh_end)                              \
    {                                                                                             \
        pad1_rows(x, y, h, ow, C, pad_t, oh_begin, oh_end);                                       \
    }
PAD1_ROWS_FOR(1)
PAD1_ROWS_FOR(64)

BC_MULTI_ISA static void pad1_rows_any(const float *x, float *y, int h, int ow, int c, int pad_t,
                                       int oh_begin, int oh_end)
{
    pad1_rows(x, y, h, ow, c, pad_t, oh_begin, oh_end);
}

static void rows_pad1(const pool_shape *s, int c, const float *x, float *y, int oh_begin,
                      int oh_end)
{
    switch (c) {
    case 1: pad1_rows_1(x, y, s->h, s->ow, s->pad_t, oh_begin, oh_end); break;
    case 64: pad1_rows_64(x, y, s->h, s->ow, s->pad_t, oh_begin, oh_end); break;
    default: pad1_rows_any(x, y, s->h, s->ow, c, s->pad_t, oh_begin, oh_end);
    }
}

int bc_pool_max3x3_stride2_applies(const pool_shape *s)
{
    return s->mode == BLASCONV_POOL_MAX && s->kh == 3 && s->kw == 3 && s->stride_w == 2 &&
           s->dil_w == 1 && (s->layout == BLASCONV_NCHW || s->c <= STRIP);
}

void bc_pool_max3x3_stride2_rows(const pool_shape *s, const float *x, float *y, int oh_begin,
                                 int oh_end)
{
    float maxima[3 * STRIP]
        __attribute__((aligned(64))); /* three rows' maxima, or the flat path's run */
    const int c = s->layout == BLASCONV_NHWC ? s->c : 1, strip = STRIP / c;
    if (s->w == 2 * (int64_t)s->ow && s->stride_h == 2 && s->dil_h == 1 && s->pad_l == 1 &&
        (c == 1 ? s->ow <= STRIP : c % 16 == 0)) {
        rows_pad1(s, c, x, y, oh_begin, oh_end);
        return;
    }
    if (c == 1 && s->w == 2 * (int64_t)s->ow && s->stride_h == 2 && s->dil_h == 1 &&
        3 * STRIP >= (2 * FLAT_RUN + 1) * s->ow) {
        plane_rows_flat(s, x, y, oh_begin, oh_end, maxima, FLAT_RUN);
        return;
    }
    const int64_t x_row_elems = (int64_t)s->w * c, y_row_elems = (int64_t)s->ow * c;
    int lo, hi;
    bc_pool_interior_columns(s, &lo, &hi);
    for (int ow0 = 0; ow0 < s->ow; ow0 += strip) {
        const int ow1 = s->ow - ow0 < strip ? s->ow : ow0 + strip;
        const int width = (ow1 - ow0) * c;
        int64_t held[3] = {-1, -1, -1}; /* the input row each buffer holds the maxima of */
        for (int oh = oh_begin; oh < oh_end; oh++) {
            float *y_row = y + oh * y_row_elems + (int64_t)ow0 * c;
            const int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
            int i0, i1;
            bc_pool_taps(h_start, 3, s->dil_h, s->h, &i0, &i1);
            const float *rows[3];
            int used = 0, taken[3] = {0, 0, 0};
            for (int i = i0; i < i1; i++) {
                const int64_t ih = h_start + (int64_t)i * s->dil_h;
                int b = 0;
                while (b < 3 && held[b] != ih)
                    b++;
                if (b == 3) { /* compute into the free buffer holding the oldest row */
                    b = -1;
                    for (int k = 0; k < 3; k++)
                        if (!taken[k] && (b < 0 || held[k] < held[b]))
                            b = k;
                    row_maxima(s, x + ih * x_row_elems, c, ow0, ow1, lo, hi, maxima + b * STRIP);
                    held[b] = ih;
                }
                taken[b] = 1;
                rows[used++] = maxima + b * STRIP;
            }
            combine_rows(rows, used, y_row, width);
        }
    }
}
