/* Pooling: strided window reductions, no im2col, no GEMM, no heap scratch.
 *
 * NCHW: each output row is built in place in y by one pass per window tap over the
 * interior columns (whose whole window lies inside the input): acc[q] = op(acc[q],
 * x_row[q*stride + tap]), a contiguous, branch-free loop. Taps go in row-major
 * window order, so every output sees its elements in PyTorch's order (ties and NaN
 * exactly as the reference). Border columns take the scalar window loop.
 * NHWC: each output pixel reduces whole channel vectors, tap by tap.
 * 3x3 stride-2 MAX (ResNet's) goes to pool_max3x3.c in both layouts.
 * Backward recomputes the MAX argmax from x and accumulates dy into dx. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Channels NHWC backward keeps in its stack arrays at a time. */
#define CHANNEL_CHUNK 256

/* --- row kernels: acc[q] op= src[q * stride], q < count ---------------- */

BC_MULTI_ISA static void row_copy(float *restrict acc, const float *restrict src, int count,
                                  int stride)
{
    if (stride == 1)
        memcpy(acc, src, (size_t)count * sizeof *acc);
    else if (stride == 2)
        for (int q = 0; q < count; q++)
            acc[q] = src[2 * q];
    else
        for (int q = 0; q < count; q++)
            acc[q] = src[(size_t)q * stride];
}

BC_MULTI_ISA static void row_max(float *restrict acc, const float *restrict src, int count,
                                 int stride)
{
    if (stride == 1)
        for (int q = 0; q < count; q++)
            acc[q] = bc_max_step(acc[q], src[q]);
    else if (stride == 2)
        for (int q = 0; q < count; q++)
            acc[q] = bc_max_step(acc[q], src[2 * q]);
    else
        for (int q = 0; q < count; q++)
            acc[q] = bc_max_step(acc[q], src[(size_t)q * stride]);
}

BC_MULTI_ISA static void row_add(float *restrict acc, const float *restrict src, int count,
                                 int stride)
{
    if (stride == 1)
        for (int q = 0; q < count; q++)
            acc[q] += src[q];
    else if (stride == 2)
        for (int q = 0; q < count; q++)
            acc[q] += src[2 * q];
    else
        for (int q = 0; q < count; q++)
            acc[q] += src[(size_t)q * stride];
}

BC_MULTI_ISA static void row_divide(float *restrict acc, int count, float divisor)
{
    for (int q = 0; q < count; q++)
        acc[q] /= divisor;
}

/* Whole 2x2 stride-2 windows in one pass over rows r0, r1, taps in window order (the
 * same sums and maxima as the row passes, which made four passes over acc). */
static inline void row_max2x2_stride2(float *restrict acc, const float *restrict r0,
                                      const float *restrict r1, int count)
{
    for (int q = 0; q < count; q++)
        acc[q] = bc_max_step(bc_max_step(bc_max_step(r0[2 * q], r0[2 * q + 1]), r1[2 * q]),
                             r1[2 * q + 1]);
}

static inline void row_avg2x2_stride2(float *restrict acc, const float *restrict r0,
                                      const float *restrict r1, int count, float divisor)
{
    for (int q = 0; q < count; q++)
        acc[q] = (((r0[2 * q] + r0[2 * q + 1]) + r1[2 * q]) + r1[2 * q + 1]) / divisor;
}

/* `rows` output rows (ld_y apart) of `count` whole 2x2 stride-2 windows each, the
 * window's two input rows row_gap apart and ld_x on per output row. GCC vectorises
 * a row 16 outputs at a time and leaves the rest to scalar code (12 of avg_2x2_56's
 * 28, each with its own division), so a row of 16 or more runs its whole vectors,
 * then its last 16 again (overlapping, rewriting the same values). One call takes a
 * whole plane when every window is inside it: per-row calls cost as much as the
 * vector work on such short rows. */
BC_MULTI_ISA static void rows_2x2_stride2(blasconv_pool_mode mode, float *restrict y, int64_t ld_y,
                                          const float *restrict x, int64_t ld_x, int64_t row_gap,
                                          int rows, int count, float divisor)
{
    const int head = count < 16 ? count : count / 16 * 16, last = count - 16;
    for (int r = 0; r < rows; r++) {
        float *acc = y + r * ld_y;
        const float *r0 = x + r * ld_x, *r1 = r0 + row_gap;
        if (mode == BLASCONV_POOL_MAX) {
            row_max2x2_stride2(acc, r0, r1, head);
            if (head < count)
                row_max2x2_stride2(acc + last, r0 + 2 * last, r1 + 2 * last, 16);
        } else {
            row_avg2x2_stride2(acc, r0, r1, head, divisor);
            if (head < count)
                row_avg2x2_stride2(acc + last, r0 + 2 * last, r1 + 2 * last, 16, divisor);
        }
    }
}

/* Sum of a contiguous span in eight independent lanes (vectorisable without
 * reassociating a single float chain): global average pooling's inner loop. */
BC_MULTI_ISA static float span_sum(const float *restrict src, int64_t count)
{
    float lanes[8] = {0};
    int64_t q = 0;
    for (; q + 8 <= count; q += 8)
        for (int l = 0; l < 8; l++)
            lanes[l] += src[q + l];
    float sum = 0.0f;
    for (int l = 0; l < 8; l++)
        sum += lanes[l];
    for (; q < count; q++)
        sum += src[q];
    return sum;
}

static void fill(float *dst, int64_t count, float value)
{
    for (int64_t q = 0; q < count; q++)
        dst[q] = value;
}

/* --- the scalar window: borders, and the definition the row kernels follow --- */

/* One window of one plane (elements `pixel_stride` apart, rows `row_stride` apart).
 * MAX returns the value and its offset (-1 for a window with no in-input element,
 * value -inf); AVG returns the sum over the divisor. */
static float window_value(const pool_shape *s, const float *plane, int64_t row_stride,
                          int64_t pixel_stride, int oh, int ow, int64_t *argmax)
{
    int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
    int64_t w_start = (int64_t)ow * s->stride_w - s->pad_l;
    int i0, i1, j0, j1;
    bc_pool_taps(h_start, s->kh, s->dil_h, s->h, &i0, &i1);
    bc_pool_taps(w_start, s->kw, s->dil_w, s->w, &j0, &j1);
    if (s->mode == BLASCONV_POOL_MAX) {
        float best = -INFINITY;
        int64_t at = -1;
        for (int i = i0; i < i1; i++) {
            int64_t row = (h_start + (int64_t)i * s->dil_h) * row_stride;
            for (int j = j0; j < j1; j++) {
                int64_t offset = row + (w_start + (int64_t)j * s->dil_w) * pixel_stride;
                float v = plane[offset];
                if (at < 0 || v > best || v != v) {
                    best = v;
                    at = offset;
                }
            }
        }
        if (argmax)
            *argmax = at;
        return best;
    }
    float sum = 0.0f;
    for (int i = i0; i < i1; i++) {
        int64_t row = (h_start + i) * row_stride;
        for (int j = j0; j < j1; j++)
            sum += plane[row + (w_start + j) * pixel_stride];
    }
    return sum / (float)bc_pool_divisor(s, h_start, w_start);
}

/* --- NCHW ---------------------------------------------------------------- */

static void forward_plane_nchw(const pool_shape *s, const float *x, float *y)
{
    int col_lo, col_hi;
    bc_pool_interior_columns(s, &col_lo, &col_hi);
    const int count = col_hi - col_lo;
    /* A window that spans whole contiguous rows (global pooling) sums as one span. */
    const int whole_rows =
        s->mode == BLASCONV_POOL_AVG && s->ow == 1 && count == 1 && s->kw == s->w && s->pad_l == 0;
    /* Passes over a very narrow interior cost more than the scalar window. */
    const int use_rows = count >= 4;
    const int window2x2_stride2 = s->kh == 2 && s->kw == 2 && s->stride_w == 2 && s->dil_w == 1;
    if (window2x2_stride2 && s->stride_h == 2 && s->pad_t == 0 && s->pad_l == 0 &&
        col_hi == s->ow && count >= 4 &&
        (int64_t)(s->oh - 1) * 2 + s->dil_h < s->h) { /* every window inside */
        rows_2x2_stride2(s->mode, y, s->ow, x, 2 * (int64_t)s->w, (int64_t)s->dil_h * s->w, s->oh,
                         s->ow, (float)bc_pool_divisor(s, 0, 0));
        return;
    }
    for (int oh = 0; oh < s->oh; oh++) {
        float *y_row = y + (int64_t)oh * s->ow;
        int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
        int i0, i1;
        bc_pool_taps(h_start, s->kh, s->dil_h, s->h, &i0, &i1);
        if (i0 == i1) { /* only with dilation: every window of this row is padding */
            fill(y_row, s->ow, -INFINITY);
            continue;
        }
        if (whole_rows) {
            const float *span = x + (h_start + i0) * s->w;
            y_row[0] =
                span_sum(span, (int64_t)(i1 - i0) * s->w) / (float)bc_pool_divisor(s, h_start, 0);
            continue;
        }
        int lo = use_rows ? col_lo : s->ow, hi = use_rows ? col_hi : s->ow;
        for (int ow = 0; ow < lo; ow++)
            y_row[ow] = window_value(s, x, s->w, 1, oh, ow, NULL);
        for (int ow = hi; ow < s->ow; ow++)
            y_row[ow] = window_value(s, x, s->w, 1, oh, ow, NULL);
        if (lo >= hi)
            continue;
        float *acc = y_row + lo;
        const int64_t col0 = (int64_t)lo * s->stride_w - s->pad_l;
        if (window2x2_stride2 && i1 - i0 == 2) {
            const float *r0 = x + (h_start + (int64_t)i0 * s->dil_h) * s->w + col0;
            const float *r1 = r0 + (int64_t)s->dil_h * s->w;
            rows_2x2_stride2(s->mode, acc, 0, r0, 0, r1 - r0, 1, hi - lo,
                             (float)bc_pool_divisor(s, h_start, col0));
            continue;
        }
        int first = 1;
        for (int i = i0; i < i1; i++) {
            const float *x_row = x + (h_start + (int64_t)i * s->dil_h) * s->w + col0;
            for (int j = 0; j < s->kw; j++) {
                const float *src = x_row + (int64_t)j * s->dil_w;
                if (first)
                    row_copy(acc, src, hi - lo, s->stride_w);
                else if (s->mode == BLASCONV_POOL_MAX)
                    row_max(acc, src, hi - lo, s->stride_w);
                else
                    row_add(acc, src, hi - lo, s->stride_w);
                first = 0;
            }
        }
        if (s->mode == BLASCONV_POOL_AVG)
            row_divide(acc, hi - lo, (float)bc_pool_divisor(s, h_start, col0));
    }
}

static void backward_plane_nchw(const pool_shape *s, const float *x, const float *dy, float *dx)
{
    memset(dx, 0, (size_t)s->h * s->w * sizeof *dx);
    for (int oh = 0; oh < s->oh; oh++)
        for (int ow = 0; ow < s->ow; ow++) {
            float g = dy[(int64_t)oh * s->ow + ow];
            if (s->mode == BLASCONV_POOL_MAX) {
                int64_t at = -1;
                window_value(s, x, s->w, 1, oh, ow, &at);
                if (at >= 0)
                    dx[at] += g;
                continue;
            }
            int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
            int64_t w_start = (int64_t)ow * s->stride_w - s->pad_l;
            int i0, i1, j0, j1;
            bc_pool_taps(h_start, s->kh, 1, s->h, &i0, &i1);
            bc_pool_taps(w_start, s->kw, 1, s->w, &j0, &j1);
            g /= (float)bc_pool_divisor(s, h_start, w_start);
            for (int i = i0; i < i1; i++) {
                float *dx_row = dx + (h_start + i) * s->w + w_start;
                for (int j = j0; j < j1; j++)
                    dx_row[j] += g;
            }
        }
}

/* --- NHWC ---------------------------------------------------------------- */

/* out[q] = the fold of first[q] with t[0][q], ..., t[n - 1][q] in that order (n <= 4),
 * then / divisor if `divide`. `first` is a tap, or out itself for a later group of a
 * large window, hence no restrict on the two (each float is read before it is
 * written). */
static inline void fold_channels(int max, int n, int divide, float *out, const float *first,
                                 const float *const *t, float divisor, int c)
{
    const float *restrict t0 = t[0], *restrict t1 = t[1], *restrict t2 = t[2], *restrict t3 = t[3];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
    for (int q = 0; q < c; q++) {
        float v = first[q];
        if (n > 0)
            v = max ? bc_max_step(v, t0[q]) : v + t0[q];
        if (n > 1)
            v = max ? bc_max_step(v, t1[q]) : v + t1[q];
        if (n > 2)
            v = max ? bc_max_step(v, t2[q]) : v + t2[q];
        if (n > 3)
            v = max ? bc_max_step(v, t3[q]) : v + t3[q];
        if (divide)
            v /= divisor;
        out[q] = v;
    }
}

#define FOLD_CASE(M, N, D)                                                                        \
    case (M)*10 + (D)*5 + (N):                                                                    \
        fold_channels(M, N, D, out, first, t, divisor, c);                                        \
        break
#define FOLD_CASES(M, D)                                                                          \
    FOLD_CASE(M, 0, D);                                                                           \
    FOLD_CASE(M, 1, D);                                                                           \
    FOLD_CASE(M, 2, D);                                                                           \
    FOLD_CASE(M, 3, D);                                                                           \
    FOLD_CASE(M, 4, D)

/* fold_channels with its flags as constants: one loop per case. */
BC_MULTI_ISA static void fold_pass(int max, int n, int divide, float *out, const float *first,
                                   const float *const *t, float divisor, int c)
{
    switch (max * 10 + divide * 5 + n) {
        FOLD_CASES(0, 0);
        FOLD_CASES(0, 1);
        FOLD_CASES(1, 0);
    }
}

/* One output row (n, oh) of NHWC forward: every pixel folds its window's in-input
 * taps in row-major order over whole channel vectors, four taps per pass over the
 * pixel's output (a pass per tap stored each output float once per tap: global
 * average pooling gained nothing from a second thread). AVG divides in the last
 * pass. */
static void forward_row_nhwc(const pool_shape *s, const float *x_image, int oh, float *y_row)
{
    const int c = s->c, max = s->mode == BLASCONV_POOL_MAX;
    int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
    int i0, i1;
    bc_pool_taps(h_start, s->kh, s->dil_h, s->h, &i0, &i1);
    for (int ow = 0; ow < s->ow; ow++) {
        float *out = y_row + (int64_t)ow * c;
        int64_t w_start = (int64_t)ow * s->stride_w - s->pad_l;
        int j0, j1;
        bc_pool_taps(w_start, s->kw, s->dil_w, s->w, &j0, &j1);
        if (i0 == i1 || j0 == j1) {
            fill(out, c, -INFINITY);
            continue;
        }
        const float divisor = max ? 1.0f : (float)bc_pool_divisor(s, h_start, w_start);
        const int64_t taps = (int64_t)(i1 - i0) * (j1 - j0);
        const float *first = NULL, *t[4];
        int held = 0;
        for (int64_t k = 0; k < taps; k++) {
            const int64_t i = i0 + k / (j1 - j0), j = j0 + k % (j1 - j0);
            const float *src =
                x_image + ((h_start + i * s->dil_h) * s->w + w_start + j * s->dil_w) * c;
            if (!first) {
                first = src;
                continue;
            }
            t[held++] = src;
            if (held == 4 && k + 1 < taps) { /* a full group, and more to come */
                fold_pass(max, 4, 0, out, first, t, divisor, c);
                first = out;
                held = 0;
            }
        }
        for (int k = held; k < 4; k++) /* unread, but not left unset */
            t[k] = first;
        fold_pass(max, held, !max, out, first, t, divisor, c);
    }
}

/* MAX backward of one NHWC pixel for channels [c0, c0+cn): argmax per channel in
 * row-major tap order, kept as the pixel offset it was found at. */
static void backward_max_pixel_nhwc(const pool_shape *s, const float *x_image, const float *dy,
                                    float *dx_image, int oh, int ow, int c0, int cn)
{
    float best[CHANNEL_CHUNK];
    int64_t at[CHANNEL_CHUNK];
    const int c = s->c;
    int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
    int64_t w_start = (int64_t)ow * s->stride_w - s->pad_l;
    int i0, i1, j0, j1;
    bc_pool_taps(h_start, s->kh, s->dil_h, s->h, &i0, &i1);
    bc_pool_taps(w_start, s->kw, s->dil_w, s->w, &j0, &j1);
    if (i0 == i1 || j0 == j1)
        return;
    int first = 1;
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) {
            int64_t pixel =
                ((h_start + (int64_t)i * s->dil_h) * s->w + w_start + (int64_t)j * s->dil_w) * c +
                c0;
            const float *v = x_image + pixel;
            for (int q = 0; q < cn; q++) {
                int take = first || v[q] > best[q] || v[q] != v[q];
                best[q] = take ? v[q] : best[q];
                at[q] = take ? pixel : at[q];
            }
            first = 0;
        }
    for (int q = 0; q < cn; q++)
        dx_image[at[q] + q] += dy[q];
}

static void backward_image_nhwc(const pool_shape *s, const float *x_image, const float *dy_image,
                                float *dx_image)
{
    const int c = s->c;
    memset(dx_image, 0, (size_t)s->h * s->w * c * sizeof *dx_image);
    for (int oh = 0; oh < s->oh; oh++)
        for (int ow = 0; ow < s->ow; ow++) {
            const float *dy = dy_image + ((int64_t)oh * s->ow + ow) * c;
            if (s->mode == BLASCONV_POOL_MAX) {
                for (int c0 = 0; c0 < c; c0 += CHANNEL_CHUNK)
                    backward_max_pixel_nhwc(s, x_image, dy + c0, dx_image, oh, ow, c0,
                                            c - c0 < CHANNEL_CHUNK ? c - c0 : CHANNEL_CHUNK);
                continue;
            }
            int64_t h_start = (int64_t)oh * s->stride_h - s->pad_t;
            int64_t w_start = (int64_t)ow * s->stride_w - s->pad_l;
            int i0, i1, j0, j1;
            bc_pool_taps(h_start, s->kh, 1, s->h, &i0, &i1);
            bc_pool_taps(w_start, s->kw, 1, s->w, &j0, &j1);
            const float divisor = (float)bc_pool_divisor(s, h_start, w_start);
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) {
                    float *dx = dx_image + ((h_start + i) * s->w + w_start + j) * c;
                    for (int q = 0; q < c; q++)
                        dx[q] += dy[q] / divisor;
                }
        }
}

/* --- drivers ------------------------------------------------------------- */

struct pool_job {
    const pool_shape *s;
    const float *x, *dy;
    float *y, *dx;
};

/* The sum of a plane of n >= 16 floats as 16 lane sums: whole vectors, then the
 * last 16 floats with the lanes already counted masked to +0. */
static inline vec16 plane_lanes(const float *x, int64_t n)
{
    vec16 acc = bc_load16(x);
    int64_t q = 16;
    for (; q + 16 <= n; q += 16)
        acc += bc_load16(x + q);
    if (q < n) {
        ivec16 keep;
        memcpy(&keep, bc_keep_last + (n - q), sizeof keep);
        acc += (vec16)((ivec16)bc_load16(x + n - 16) & keep);
    }
    return acc;
}

/* Lane l: the sum of the lanes of v[l], each in the same order (lane k with k + 8,
 * then k + 4, k + 2, k + 1) by a transposing tree of shuffles and adds. */
static inline vec16 lane_sums16(const vec16 v[16])
{
    vec16 u[8], t[4], s2[2];
    for (int i = 0; i < 8; i++)
        u[i] = BC_SHUFFLE(v[2 * i], v[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21,
                          22, 23) +
               BC_SHUFFLE(v[2 * i], v[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28,
                          29, 30, 31);
    for (int j = 0; j < 4; j++)
        t[j] = BC_SHUFFLE(u[2 * j], u[2 * j + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25,
                          26, 27) +
               BC_SHUFFLE(u[2 * j], u[2 * j + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28,
                          29, 30, 31);
    for (int k = 0; k < 2; k++)
        s2[k] = BC_SHUFFLE(t[2 * k], t[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24,
                           25, 28, 29) +
                BC_SHUFFLE(t[2 * k], t[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26,
                           27, 30, 31);
    return BC_SHUFFLE(s2[0], s2[1], BC_EVERY_2ND(0)) + BC_SHUFFLE(s2[0], s2[1], BC_EVERY_2ND(1));
}

/* The same order for one vector, in scalars. */
static inline float lane_sum(vec16 v)
{
    float f[16];
    bc_store16(f, v);
    for (int k = 0; k < 8; k++)
        f[k] += f[k + 8];
    for (int k = 0; k < 4; k++)
        f[k] += f[k + 4];
    return (f[0] + f[2]) + (f[1] + f[3]);
}

/* Global average pooling: each plane's mean, planes one after another in one call
 * (7x7 planes are too small to pay forward_plane_nchw's per-plane setup). Planes of
 * 16 floats or more are summed in 16 lanes, then 16 planes' lanes at once by
 * lane_sums16: a plane's eight-lane sum and its horizontal reduction (about 4.5 ns
 * a 7x7 plane) kept global_avg_7 at 0.6-0.9 of a copy of its bytes. Each plane's
 * sum takes the same order wherever it falls among the 16, so any split of the
 * planes over threads gives the same bits. */
BC_MULTI_ISA static void plane_means(const float *restrict x, float *restrict y, int64_t planes,
                                     int64_t plane_elems, float divisor)
{
    int64_t p = 0;
    if (plane_elems >= 16) {
        for (; p + 16 <= planes; p += 16) {
            vec16 v[16];
            for (int l = 0; l < 16; l++)
                v[l] = plane_lanes(x + (p + l) * plane_elems, plane_elems);
            float sums[16];
            bc_store16(sums, lane_sums16(v));
            for (int l = 0; l < 16; l++)
                y[p + l] = sums[l] / divisor;
        }
        for (; p < planes; p++)
            y[p] = lane_sum(plane_lanes(x + p * plane_elems, plane_elems)) / divisor;
        return;
    }
    for (; p < planes; p++)
        y[p] = span_sum(x + p * plane_elems, plane_elems) / divisor;
}

static void forward_planes_nchw(void *arg, int64_t begin, int64_t end)
{
    const struct pool_job *job = arg;
    const pool_shape *s = job->s;
    if (s->mode == BLASCONV_POOL_AVG && s->oh == 1 && s->ow == 1 && s->kh == s->h &&
        s->kw == s->w && s->pad_t == 0 && s->pad_l == 0 && s->dil_h == 1 && s->dil_w == 1) {
        const int64_t plane = (int64_t)s->h * s->w;
        plane_means(job->x + begin * plane, job->y + begin, end - begin, plane,
                    (float)bc_pool_divisor(s, 0, 0));
        return;
    }
    const int max3x3_stride2 = bc_pool_max3x3_stride2_applies(s);
    for (int64_t p = begin; p < end; p++) {
        const float *x = job->x + p * s->h * s->w;
        float *y = job->y + p * s->oh * s->ow;
        if (max3x3_stride2)
            bc_pool_max3x3_stride2_rows(s, x, y, 0, s->oh);
        else
            forward_plane_nchw(s, x, y);
    }
}

static void forward_rows_nhwc(void *arg, int64_t begin, int64_t end)
{
    const struct pool_job *job = arg;
    const pool_shape *s = job->s;
    if (bc_pool_max3x3_stride2_applies(s)) { /* the rows of each image in turn */
        for (int64_t r = begin; r < end;) {
            const int64_t n = r / s->oh, image_end = (n + 1) * s->oh;
            const int64_t stop = end < image_end ? end : image_end;
            bc_pool_max3x3_stride2_rows(s, job->x + n * s->h * s->w * s->c,
                                        job->y + n * s->oh * s->ow * s->c, (int)(r - n * s->oh),
                                        (int)(stop - n * s->oh));
            r = stop;
        }
        return;
    }
    for (int64_t r = begin; r < end; r++) {
        int64_t n = r / s->oh;
        forward_row_nhwc(s, job->x + n * s->h * s->w * s->c, (int)(r % s->oh),
                         job->y + r * s->ow * s->c);
    }
}

static void backward_planes_nchw(void *arg, int64_t begin, int64_t end)
{
    const struct pool_job *job = arg;
    const pool_shape *s = job->s;
    for (int64_t p = begin; p < end; p++)
        backward_plane_nchw(s, job->x + p * s->h * s->w, job->dy + p * s->oh * s->ow,
                            job->dx + p * s->h * s->w);
}

static void backward_images_nhwc(void *arg, int64_t begin, int64_t end)
{
    const struct pool_job *job = arg;
    const pool_shape *s = job->s;
    const int64_t x_image = (int64_t)s->h * s->w * s->c, y_image = (int64_t)s->oh * s->ow * s->c;
    for (int64_t n = begin; n < end; n++)
        backward_image_nhwc(s, job->x + n * x_image, job->dy + n * y_image, job->dx + n * x_image);
}

blasconv_status blasconv_pool2d_forward(blasconv_context *ctx, const blasconv_pool2d *d,
                                        const float *x, float *y)
{
    static const char fn[] = "pool2d_forward";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !y ? "y" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    blasconv_context tmp;
    blasconv_context *c = bc_call_begin(ctx, &tmp);
    pool_shape s;
    blasconv_status st = bc_pool_shape(c, fn, d, &s);
    if (st == BLASCONV_OK) {
        struct pool_job job = {&s, x, NULL, y, NULL};
        const int threads = bc_thread_count(c);
        const int64_t work = s.x_elems + s.y_elems * s.kh * s.kw;
        if (s.layout == BLASCONV_NCHW) {
            int64_t planes = (int64_t)s.n * s.c;
            bc_parallel_for(threads, planes, bc_parallel_grain(work / planes), forward_planes_nchw,
                            &job);
        } else {
            int64_t rows = (int64_t)s.n * s.oh;
            bc_parallel_for(threads, rows, bc_parallel_grain(work / rows), forward_rows_nhwc,
                            &job);
        }
        bc_clear_error(c);
    }
    bc_call_end(c, &tmp);
    return st;
}

blasconv_status blasconv_pool2d_backward(blasconv_context *ctx, const blasconv_pool2d *d,
                                         const float *x, const float *dy, float *dx)
{
    static const char fn[] = "pool2d_backward";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !dy ? "dy" : !dx ? "dx" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    blasconv_context tmp;
    blasconv_context *c = bc_call_begin(ctx, &tmp);
    pool_shape s;
    blasconv_status st = bc_pool_shape(c, fn, d, &s);
    if (st == BLASCONV_OK) {
        struct pool_job job = {&s, x, dy, NULL, dx};
        const int threads = bc_thread_count(c);
        const int64_t work = 2 * s.x_elems + s.y_elems * s.kh * s.kw;
        if (s.layout == BLASCONV_NCHW) {
            int64_t planes = (int64_t)s.n * s.c;
            bc_parallel_for(threads, planes, bc_parallel_grain(work / planes),
                            backward_planes_nchw, &job);
        } else {
            /* Windows of one image overlap in dx: images are the unit of parallelism. */
            bc_parallel_for(threads, s.n, bc_parallel_grain(work / s.n), backward_images_nhwc,
                            &job);
        }
        bc_clear_error(c);
    }
    bc_call_end(c, &tmp);
    return st;
}
