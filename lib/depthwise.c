/* Depthwise convolution (every output channel reads one input channel) as a
 * direct strided-window reduction: its GEMM would have M = K/groups rows, far too
 * thin for a BLAS to run fast, so no GEMM and no scratch here. */
#include "internal.h"

#include <string.h>

/* acc[o] += weight * in[o * stride] for o in [0, count). Inlined into the
 * cloned plane function below, so each ISA gets its own vector loop. */
static inline void accumulate_tap(float *restrict acc, const float *restrict in, int count,
                                  int stride, float weight)
{
    if (stride == 1) {
        for (int o = 0; o < count; o++)
            acc[o] += weight * in[o];
    } else {
        for (int o = 0; o < count; o++)
            acc[o] += weight * in[(size_t)o * stride];
    }
}

BC_MULTI_ISA void bc_split_phases(const float *restrict row, int64_t width, int stride,
                                  float *restrict phases)
{
    if (stride == 2) { /* 32 floats into 16 even and 16 odd ones a step, the rest singly */
        float *odds = phases + bc_phase_start(width, 2, 1);
        int64_t j = 0;
        for (; 2 * j + 32 <= width; j += 16) {
            vec16 a, b;
            memcpy(&a, row + 2 * j, sizeof a);
            memcpy(&b, row + 2 * j + 16, sizeof b);
            const vec16 e = BC_SHUFFLE(a, b, BC_EVERY_2ND(0)),
                        o = BC_SHUFFLE(a, b, BC_EVERY_2ND(1));
            memcpy(phases + j, &e, sizeof e);
            memcpy(odds + j, &o, sizeof o);
        }
        for (; 2 * j < width; j++) {
            phases[j] = row[2 * j];
            if (2 * j + 1 < width)
                odds[j] = row[2 * j + 1];
        }
        return;
    }
    for (int p = 0; p < stride && p < width; p++) {
        float *to = phases + bc_phase_start(width, stride, p);
        const int64_t count =
            bc_phase_start(width, stride, p + 1) - bc_phase_start(width, stride, p);
        for (int64_t j = 0; j < count; j++)
            to[j] = row[p + j * stride];
    }
}

BC_MULTI_ISA void bc_interleave_phases(const float *restrict phases, int64_t width, int stride,
                                       float *restrict row)
{
    if (stride == 2) { /* 16 even and 16 odd floats into 32 a step, the rest singly */
        const float *odds = phases + bc_phase_start(width, 2, 1);
        int64_t j = 0;
        for (; 2 * j + 32 <= width; j += 16) {
            vec16 e, o;
            memcpy(&e, phases + j, sizeof e);
            memcpy(&o, odds + j, sizeof o);
            const vec16 low = BC_SHUFFLE(e, o, BC_ALTERNATE(0)),
                        high = BC_SHUFFLE(e, o, BC_ALTERNATE(8));
            memcpy(row + 2 * j, &low, sizeof low);
            memcpy(row + 2 * j + 16, &high, sizeof high);
        }
        for (; 2 * j < width; j++) {
            row[2 * j] = phases[j];
            if (2 * j + 1 < width)
                row[2 * j + 1] = odds[j];
        }
        return;
    }
    for (int p = 0; p < stride && p < width; p++) {
        const float *from = phases + bc_phase_start(width, stride, p);
        const int64_t count =
            bc_phase_start(width, stride, p + 1) - bc_phase_start(width, stride, p);
        for (int64_t j = 0; j < count; j++)
            row[p + j * stride] = from[j];
    }
}

/* Where each kernel column lands: output columns [lo, hi) read the input row at
 * lo*stride + offset (bc_kernel_columns), and where its run starts in a row split by
 * phases. Computed once per call; kernels wider than the cache compute it per use. */
typedef struct tap_columns {
    bc_kernel_columns columns;
    int64_t phase_run[BC_COLUMN_CACHE]; /* stride > 1: bc_phase_run_start of the column */
} tap_columns;

static void tap_columns_init(const conv_shape *s, tap_columns *t)
{
    bc_kernel_columns_init(s, &t->columns);
    for (int kj = 0; kj < s->kw && kj < BC_COLUMN_CACHE; kj++)
        t->phase_run[kj] = s->stride_w > 1 ? bc_phase_run_start(s->w, s->stride_w,
                                                                (int64_t)kj * s->dil_w - s->pad_l)
                                           : 0;
}

/* Columns every live tap covers (stride 1), 16 at a time: all taps summed in
 * registers, one store, instead of a pass over the row per tap. Sums run in
 * tap order, as on the border, so every output is computed the same way. */
static inline __attribute__((always_inline)) void interior_stride1(const bc_live_tap *taps,
                                                                   int count, float b, int lo,
                                                                   int hi, float *out)
{
    int o = lo;
    for (; o + 64 <= hi; o += 64) { /* 4 vectors a tap: the tap's bookkeeping is shared */
        vec16 acc0 = {0}, acc1, acc2, acc3;
        acc0 += b;
        acc1 = acc2 = acc3 = acc0;
        for (int i = 0; i < count; i++) {
            const float *in = taps[i].row + o + taps[i].offset;
            const float wt = taps[i].weight;
            vec16 c0, c1, c2, c3;
            memcpy(&c0, in, sizeof c0);
            memcpy(&c1, in + 16, sizeof c1);
            memcpy(&c2, in + 32, sizeof c2);
            memcpy(&c3, in + 48, sizeof c3);
            acc0 += wt * c0;
            acc1 += wt * c1;
            acc2 += wt * c2;
            acc3 += wt * c3;
        }
        memcpy(out + o, &acc0, sizeof acc0);
        memcpy(out + o + 16, &acc1, sizeof acc1);
        memcpy(out + o + 32, &acc2, sizeof acc2);
        memcpy(out + o + 48, &acc3, sizeof acc3);
    }
    for (; o < hi; o += 16) {
        /* The last block ends at hi and may overlap the previous one: recomputing
         * a few outputs is cheaper than a scalar tail. */
        if (o + 16 > hi) {
            if (hi - lo < 16)
                break;
            o = hi - 16;
        }
        vec16 acc = {0};
        acc += b;
        for (int i = 0; i < count; i++) {
            vec16 in;
            memcpy(&in, taps[i].row + o + taps[i].offset, sizeof in);
            acc += taps[i].weight * in;
        }
        memcpy(out + o, &acc, sizeof acc);
    }
    for (; o < hi; o++) { /* interiors narrower than one vector */
        float acc = b;
        for (int i = 0; i < count; i++)
            acc += taps[i].weight * taps[i].row[o + taps[i].offset];
        out[o] = acc;
    }
}

/* out[0..width) = b + the sum of the taps over the columns each covers, in tap order:
 * the columns [inner_lo, inner_hi) all of them cover in registers, the border columns
 * (a few, where some tap reads padding) one at a time, skipping the taps that miss. */
static inline __attribute__((always_inline)) void sum_live_taps(const bc_live_tap *taps, int count,
                                                                float b, int inner_lo,
                                                                int inner_hi, int width,
                                                                float *out)
{
    if (inner_hi < inner_lo)
        inner_hi = inner_lo;
    for (int o = 0; o < width; o++) {
        if (o == inner_lo)
            o = inner_hi;
        if (o >= width)
            break;
        float acc = b;
        for (int i = 0; i < count; i++)
            if (o >= taps[i].lo && o < taps[i].hi)
                acc += taps[i].weight * taps[i].row[o + taps[i].offset];
        out[o] = acc;
    }
    interior_stride1(taps, count, b, inner_lo, inner_hi, out);
}

/* --- 3x3, stride 1, dilation 1 (MobileNet's depthwise layer) ----------------- */

/* One output of a 3x3 window whose input rows are rows[0..2], taps outside the
 * input row skipped: the border columns. Same tap order as the vector blocks. */
static inline float dw3x3_border(const float *const rows[3], const float w[9], float b, int o,
                                 int64_t offset, int width)
{
    float acc = b;
    for (int ki = 0; ki < 3; ki++)
        for (int kj = 0; kj < 3; kj++) {
            int64_t c = o + offset + kj;
            if (c >= 0 && c < width)
                acc += w[ki * 3 + kj] * rows[ki][c];
        }
    return acc;
}

/* Output rows out[0..pair] (pair 0 or 1) whose input rows rows[0..2+pair] all lie
 * inside the input. Two rows share four input rows: each vector loaded feeds both
 * rows' FMAs, and the taps are compile-time constants (no per-row tap list). */
static inline __attribute__((always_inline)) void dw3x3_rows(const float *const rows[4],
                                                             const float w[9], float b, int pair,
                                                             int64_t offset, int width, int ow,
                                                             float *const out[2])
{
    /* Columns whose three taps all land inside the input row. */
    int lo = offset < 0 ? (int)-offset : 0;
    int64_t hi64 = (int64_t)width - 2 - offset;
    int hi = hi64 < lo ? lo : hi64 > ow ? ow : (int)hi64;
    if (hi - lo < 16)
        lo = hi = 0; /* too narrow for one vector: all columns take the border loop */
    for (int o = lo; o < hi; o += 16) {
        if (o + 16 > hi) /* the last block ends at hi, overlapping the one before */
            o = hi - 16;
        vec16 acc0 = {0};
        acc0 += b;
        vec16 acc1 = acc0;
        for (int r = 0; r < 3 + pair; r++) {
            const float *in = rows[r] + o + offset;
            vec16 c0, c1, c2;
            memcpy(&c0, in, sizeof c0);
            memcpy(&c1, in + 1, sizeof c1);
            memcpy(&c2, in + 2, sizeof c2);
            if (r < 3) {
                acc0 += w[r * 3] * c0;
                acc0 += w[r * 3 + 1] * c1;
                acc0 += w[r * 3 + 2] * c2;
            }
            if (pair && r >= 1) {
                acc1 += w[r * 3 - 3] * c0;
                acc1 += w[r * 3 - 2] * c1;
                acc1 += w[r * 3 - 1] * c2;
            }
        }
        memcpy(out[0] + o, &acc0, sizeof acc0);
        if (pair)
            memcpy(out[1] + o, &acc1, sizeof acc1);
    }
    for (int p = 0; p <= pair; p++)
        for (int o = 0; o < ow; o++) {
            if (o == lo)
                o = hi;
            if (o >= ow)
                break;
            out[p][o] = dw3x3_border(rows + p, w, b, o, offset, width);
        }
}

/* One output plane: every row starts at the bias, then each tap adds a shifted
 * input row over the columns where it lands inside the input. The columns all taps
 * share take the register-blocked interior path instead: with stride 1 directly, with
 * a larger stride on each input row split by phases (column o*S + offset is column
 * o + q of phase p, offset = qS + p), so that a tap reads a contiguous run. (Each tap
 * gathering its strided run added into the row tap by tap: MobileNet's 3x3 stride-2
 * layer on 32x112x112, one thread, took 0.27 ms; this way 0.17.) */
BC_MULTI_ISA static void depthwise_plane(const conv_shape *s, const tap_columns *t,
                                         const float *x_plane, const float *w_k, float b,
                                         float *y_plane)
{
    const int stride = s->stride_w;
    const int phased = stride > 1 && (int64_t)s->kh * s->w <= BC_PHASE_FLOATS;
    const int blocked =
        (stride == 1 || phased) && s->ow >= 16 && (int64_t)s->kh * s->kw <= BC_MAX_LIVE_TAPS;
    float phases[BC_PHASE_FLOATS];
    bc_live_tap taps[BC_MAX_LIVE_TAPS];
    const int fixed3x3 = bc_3x3_stride1(s);
    for (int oh = 0; oh < s->oh; oh++) {
        float *out = y_plane + (size_t)oh * s->ow;
        /* Rows whose three input rows all lie inside the input: the 3x3 kernel, in pairs. */
        int64_t top = (int64_t)oh - s->pad_t;
        if (fixed3x3 && top >= 0 && top + 2 < s->h) {
            const int pair = oh + 1 < s->oh && top + 3 < s->h;
            const float *rows[4];
            for (int r = 0; r < 3 + pair; r++)
                rows[r] = x_plane + (size_t)(top + r) * s->w;
            float *const outs[2] = {out, out + s->ow};
            if (pair)
                dw3x3_rows(rows, w_k, b, 1, -(int64_t)s->pad_l, s->w, s->ow, outs);
            else
                dw3x3_rows(rows, w_k, b, 0, -(int64_t)s->pad_l, s->w, s->ow, outs);
            oh += pair;
            continue;
        }
        if (!blocked)
            for (int o = 0; o < s->ow; o++)
                out[o] = b;
        int count = 0, inner_lo = 0, inner_hi = s->ow;
        for (int ki = 0; ki < s->kh; ki++) {
            int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
            if ((uint64_t)ih >= (uint64_t)s->h)
                continue;
            float *row_phases = blocked && phased ? phases + (size_t)ki * s->w : NULL;
            if (row_phases)
                bc_split_phases(x_plane + (size_t)ih * s->w, s->w, stride, row_phases);
            for (int kj = 0; kj < s->kw; kj++) {
                bc_live_tap tap = {x_plane + (size_t)ih * s->w, (int64_t)kj * s->dil_w - s->pad_l,
                                   w_k[ki * s->kw + kj], 0, 0};
                bc_kernel_columns_at(s, &t->columns, kj, &tap.lo, &tap.hi);
                if (row_phases) { /* the run from row_phases + tap.offset on */
                    tap.row = row_phases;
                    tap.offset = kj < BC_COLUMN_CACHE
                                     ? t->phase_run[kj]
                                     : bc_phase_run_start(s->w, s->stride_w, tap.offset);
                }
                if (!blocked) {
                    if (tap.hi > tap.lo)
                        accumulate_tap(out + tap.lo,
                                       tap.row + (int64_t)tap.lo * s->stride_w + tap.offset,
                                       tap.hi - tap.lo, s->stride_w, tap.weight);
                    continue;
                }
                inner_lo = tap.lo > inner_lo ? tap.lo : inner_lo;
                inner_hi = tap.hi < inner_hi ? tap.hi : inner_hi;
                taps[count++] = tap;
            }
        }
        if (blocked)
            sum_live_taps(taps, count, b, inner_lo, inner_hi, s->ow, out);
    }
}

BC_MULTI_ISA void bc_depthwise_tap_row(const bc_live_tap *taps, int count, int width, float *out)
{
    int inner_lo = 0, inner_hi = width;
    for (int i = 0; i < count; i++) {
        inner_lo = taps[i].lo > inner_lo ? taps[i].lo : inner_lo;
        inner_hi = taps[i].hi < inner_hi ? taps[i].hi : inner_hi;
    }
    sum_live_taps(taps, count, 0.0f, inner_lo, inner_hi, width, out);
}

int bc_depthwise_applies(const conv_shape *s)
{
    /* One input channel per group; a small channel multiplier keeps the direct
     * loops ahead of a GEMM with that many rows. NHWC takes multiplier 1 only,
     * where output and input channels line up. */
    if (s->c_per_group != 1)
        return 0;
    if (s->layout == BLASCONV_NCHW)
        return s->k_per_group <= 4;
    return s->k_per_group == 1 && (int64_t)s->kh * s->kw * s->k <= BC_DEPTHWISE_NHWC_MAX_WEIGHTS;
}

void bc_depthwise_weights_by_tap(const conv_shape *s, const float *w, int rotated, float *w_by_tap)
{
    const int64_t taps = (int64_t)s->kh * s->kw;
    for (int k = 0; k < s->k; k++)
        for (int64_t t = 0; t < taps; t++)
            w_by_tap[(size_t)t * s->k + k] = w[(size_t)k * taps + (rotated ? taps - 1 - t : t)];
}

/* Channels [k0, k0 + 16 * nvec) of `pixels` consecutive NHWC output pixels (1, or 4
 * whose windows lie inside the input row), summed in registers over the taps inside
 * the input (in (ki, kj) order, as the NCHW path), one store each. A pixel alone
 * chains its nine 3x3 multiply-adds on one accumulator per vector: four side by side
 * keep the FMA units busy (dw_3x3_112 NHWC forward, one thread, a test program's
 * fastest of 50 calls: 0.24-0.30 ms one pixel at a time). */
static inline __attribute__((always_inline)) void nhwc_pixel_block(
    const conv_shape *s, const float *x_image, const float *w_by_tap, const float *bias,
    int64_t ih0, int64_t iw0, int k0, int nvec, int pixels, float *out)
{
    const int k_count = s->k;
    const size_t in_step = (size_t)s->stride_w * k_count;
    vec16 acc[4][2] = {{{0}}};
    if (bias)
        for (int p = 0; p < pixels; p++)
            for (int v = 0; v < nvec; v++)
                memcpy(&acc[p][v], bias + k0 + 16 * v, sizeof acc[p][v]);
    for (int ki = 0; ki < s->kh; ki++) {
        int64_t ih = ih0 + (int64_t)ki * s->dil_h;
        if ((uint64_t)ih >= (uint64_t)s->h)
            continue;
        for (int kj = 0; kj < s->kw; kj++) {
            int64_t iw = iw0 + (int64_t)kj * s->dil_w;
            if ((uint64_t)iw >= (uint64_t)s->w)
                continue;
            const float *in = x_image + ((size_t)ih * s->w + (size_t)iw) * k_count + k0;
            const float *wt = w_by_tap + ((size_t)ki * s->kw + kj) * k_count + k0;
            for (int v = 0; v < nvec; v++) {
                vec16 b;
                memcpy(&b, wt + 16 * v, sizeof b);
                for (int p = 0; p < pixels; p++) {
                    vec16 a;
                    memcpy(&a, in + p * in_step + 16 * v, sizeof a);
                    acc[p][v] += a * b;
                }
            }
        }
    }
    for (int p = 0; p < pixels; p++)
        for (int v = 0; v < nvec; v++)
            memcpy(out + (size_t)p * k_count + k0 + 16 * v, &acc[p][v], sizeof acc[p][v]);
}

/* Channel blocks of `pixels` consecutive output pixels (see nhwc_pixel_block): 32 and
 * 16 at a time, the last 16 overlapping the block before. k_count >= 16. */
static inline __attribute__((always_inline)) void nhwc_pixels(const conv_shape *s,
                                                              const float *x_image,
                                                              const float *w_by_tap,
                                                              const float *bias, int64_t ih0,
                                                              int64_t iw0, int pixels, float *out)
{
    const int k_count = s->k;
    int k0 = 0;
    for (; k0 + 32 <= k_count; k0 += 32)
        nhwc_pixel_block(s, x_image, w_by_tap, bias, ih0, iw0, k0, 2, pixels, out);
    for (; k0 < k_count; k0 += 16) {
        if (k0 + 16 > k_count)
            k0 = k_count - 16;
        nhwc_pixel_block(s, x_image, w_by_tap, bias, ih0, iw0, k0, 1, pixels, out);
    }
}

/* Every output pixel is a vector of K channels: it starts at the bias and each
 * tap inside the input adds its weight vector times the input pixel, in the same
 * tap order as the NCHW path. Channels go 32 and 16 at a time in registers (the
 * last block may overlap the one before); fewer than 16 take the scalar loop. This
 * runs output rows [row_begin, row_end) of the batch (row n*OH + oh). */
BC_MULTI_ISA static void depthwise_nhwc(const conv_shape *s, const float *x, const float *w_by_tap,
                                        const float *bias, float *y, int64_t row_begin,
                                        int64_t row_end)
{
    const int k_count = s->k;
    /* Output columns [inner_lo, inner_hi) have every kernel column inside the row. */
    int inner_lo = 0, inner_hi = s->ow;
    for (int kj = 0; kj < s->kw; kj++) {
        int lo, hi;
        bc_valid_columns(s, (int64_t)kj * s->dil_w - s->pad_l, &lo, &hi);
        inner_lo = lo > inner_lo ? lo : inner_lo;
        inner_hi = hi < inner_hi ? hi : inner_hi;
    }
    for (int64_t row = row_begin; row < row_end; row++) {
        const int n = (int)(row / s->oh), oh = (int)(row % s->oh);
        const float *x_image = x + (size_t)n * s->h * s->w * k_count;
        for (int ow = 0; ow < s->ow; ow++) {
            float *restrict out = y + (((size_t)n * s->oh + oh) * s->ow + ow) * k_count;
            const int64_t ih0 = (int64_t)oh * s->stride_h - s->pad_t;
            const int64_t iw0 = (int64_t)ow * s->stride_w - s->pad_l;
            if (k_count >= 16) {
                if (ow >= inner_lo && ow + 4 <= inner_hi) {
                    nhwc_pixels(s, x_image, w_by_tap, bias, ih0, iw0, 4, out);
                    ow += 3;
                } else {
                    nhwc_pixels(s, x_image, w_by_tap, bias, ih0, iw0, 1, out);
                }
                continue;
            }
            for (int k = 0; k < k_count; k++)
                out[k] = bias ? bias[k] : 0.0f;
            for (int ki = 0; ki < s->kh; ki++) {
                int64_t ih = ih0 + (int64_t)ki * s->dil_h;
                if ((uint64_t)ih >= (uint64_t)s->h)
                    continue;
                for (int kj = 0; kj < s->kw; kj++) {
                    int64_t iw = iw0 + (int64_t)kj * s->dil_w;
                    if ((uint64_t)iw >= (uint64_t)s->w)
                        continue;
                    const float *restrict in =
                        x_image + ((size_t)ih * s->w + (size_t)iw) * k_count;
                    const float *restrict weights = w_by_tap + ((size_t)ki * s->kw + kj) * k_count;
                    for (int k = 0; k < k_count; k++)
                        out[k] += weights[k] * in[k];
                }
            }
        }
    }
}

/* One call's arguments, for the parallel loops over planes (NCHW) or rows (NHWC). */
struct depthwise_job {
    const conv_shape *s;
    const tap_columns *columns; /* NCHW */
    const float *x, *w, *bias;  /* w: [K][taps] (NCHW), [taps][K] (NHWC) */
    int rotated;                /* NCHW: each plane's kernel read rotated 180 degrees */
    float *y;
};

static void nhwc_rows(void *arg, int64_t begin, int64_t end)
{
    const struct depthwise_job *j = arg;
    depthwise_nhwc(j->s, j->x, j->w, j->bias, j->y, begin, end);
}

/* Planes [begin, end) of the batch (plane n*K + k). */
static void nchw_planes(void *arg, int64_t begin, int64_t end)
{
    const struct depthwise_job *j = arg;
    const conv_shape *s = j->s;
    const size_t plane = (size_t)s->h * s->w;
    const size_t taps = (size_t)s->kh * s->kw;
    for (int64_t p = begin; p < end; p++) {
        const int n = (int)(p / s->k), k = (int)(p % s->k);
        const float *x_plane = j->x + ((size_t)n * s->c + (size_t)(k / s->k_per_group)) * plane;
        float *y_plane = j->y + (size_t)p * s->positions;
        const float *w_k = j->w + (size_t)k * taps;
        float rotated[BC_DEPTHWISE_MAX_ROTATED_TAPS];
        if (j->rotated) {
            for (size_t t = 0; t < taps; t++)
                rotated[t] = w_k[taps - 1 - t];
            w_k = rotated;
        }
        depthwise_plane(s, j->columns, x_plane, w_k, j->bias ? j->bias[k] : 0.0f, y_plane);
    }
}

/* Forward, or with rotated kernels (no bias then). */
static void depthwise_run(const blasconv_context *ctx, const conv_shape *s, const float *x,
                          const float *w, int rotated, const float *bias, float *y)
{
    const int threads = bc_thread_count(ctx);
    const int64_t taps = (int64_t)s->kh * s->kw;
    if (s->layout == BLASCONV_NCHW) {
        tap_columns columns;
        tap_columns_init(s, &columns);
        struct depthwise_job job = {s, &columns, x, w, bias, rotated, y};
        const int64_t per_plane = s->positions * taps;
        bc_parallel_for(threads, (int64_t)s->n * s->k, bc_parallel_grain(per_plane), nchw_planes,
                        &job);
        return;
    }
    float w_by_tap[BC_DEPTHWISE_NHWC_MAX_WEIGHTS];
    bc_depthwise_weights_by_tap(s, w, rotated, w_by_tap);
    struct depthwise_job job = {s, NULL, x, w_by_tap, bias, 0, y};
    const int64_t per_row = (int64_t)s->ow * s->k * taps;
    bc_parallel_for(threads, (int64_t)s->n * s->oh, bc_parallel_grain(per_row), nhwc_rows, &job);
}

void bc_depthwise_forward(const blasconv_context *ctx, const conv_shape *s, const float *x,
                          const float *w, const float *bias, float *y)
{
    depthwise_run(ctx, s, x, w, 0, bias, y);
}

void bc_depthwise_forward_rotated(const blasconv_context *ctx, const conv_shape *s, const float *x,
                                  const float *w, float *y)
{
    depthwise_run(ctx, s, x, w, 1, NULL, y);
}
