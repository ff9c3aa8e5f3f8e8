/* Depthwise backward data (one input channel per group) as direct loops, like the
 * forward's (depthwise.c): as a GEMM it has a depth of K/g, far too thin for a BLAS
 * (dw_3x3_112 took 0.42-0.55 ms that way, one thread). No scratch; each thread owns
 * whole dx planes (NCHW) or rows (NHWC), so results are bitwise those of one thread. */
#include "internal.h"

#include <string.h>

/* A stride-1 layer's input gradient is dy correlated with each kernel rotated 180
 * degrees, over dy padded so that dx row ih sees the dy rows ih + pad_t - ki*dil_h:
 * the forward pass of the layer *r (bc_depthwise_forward_rotated rotates the
 * kernels). 0 when that does not apply (strides, channel multipliers, kernels too
 * large for its stack copy, pads beyond int). */
static int rotated_layer(const conv_shape *s, conv_shape *r)
{
    if (s->stride_h != 1 || s->stride_w != 1 || s->k_per_group != 1 ||
        (s->layout == BLASCONV_NCHW && (int64_t)s->kh * s->kw > BC_DEPTHWISE_MAX_ROTATED_TAPS))
        return 0;
    const int64_t reach_h = (int64_t)(s->kh - 1) * s->dil_h,
                  reach_w = (int64_t)(s->kw - 1) * s->dil_w;
    const int64_t pads[4] = {reach_h - s->pad_t, reach_h - s->pad_b, reach_w - s->pad_l,
                             reach_w - s->pad_r};
    for (int i = 0; i < 4; i++)
        if (pads[i] < -INT32_MAX || pads[i] > INT32_MAX)
            return 0;
    *r = *s;
    r->h = s->oh, r->w = s->ow, r->oh = s->h, r->ow = s->w;
    r->pad_t = (int)pads[0], r->pad_b = (int)pads[1], r->pad_l = (int)pads[2],
    r->pad_r = (int)pads[3];
    r->x_elems = s->y_elems, r->y_elems = s->x_elems;
    r->positions = (int64_t)s->h * s->w;
    return 1;
}

/* The output row (or column) whose kernel row (column) k reaches input row (column)
 * i: (i + pad - k*dilation) / stride where that divides and lies in [0, out); else -1. */
static inline int64_t output_reaching(int64_t i, int pad, int k, int dilation, int stride, int out)
{
    const int64_t t = i + pad - (int64_t)k * dilation;
    return t < 0 || t % stride || t / stride >= out ? -1 : t / stride;
}

/* NCHW: the dy row of output channel k (dy_image: one image's K planes) whose kernel
 * row ki lands on input row ih, or NULL if none does. */
static inline const float *dy_row_reaching(const conv_shape *s, const float *dy_image, int k,
                                           int ki, int64_t ih)
{
    const int64_t oh = output_reaching(ih, s->pad_t, ki, s->dil_h, s->stride_h, s->oh);
    return oh < 0 ? NULL : dy_image + (size_t)k * s->positions + (size_t)oh * s->ow;
}

/* row[o*stride + offset] += weight * dy_row[o] for o in [lo, hi): one tap's share of
 * a dx row (the forward's tap read, transposed). */
static inline void scatter_tap(float *restrict row, const float *restrict dy_row, int lo, int hi,
                               int stride, int64_t offset, float weight)
{
    if (stride == 1) {
        for (int o = lo; o < hi; o++)
            row[o + offset] += weight * dy_row[o];
    } else {
        for (int o = lo; o < hi; o++)
            row[(int64_t)o * stride + offset] += weight * dy_row[o];
    }
}

/* Where each kernel column's taps land in a dx row split by phases (data_row_phased). */
typedef struct column_phases {
    int phase[BC_MAX_LIVE_TAPS];     /* kernel column kj lands on phase[kj] */
    int64_t shift[BC_MAX_LIVE_TAPS]; /* ... at its column j + shift[kj] for dy column j */
} column_phases;

static void column_phases_init(const conv_shape *s, column_phases *cp)
{
    for (int kj = 0; kj < s->kw; kj++) /* kw <= BC_MAX_LIVE_TAPS: data_plane's test */
        cp->phase[kj] =
            bc_phase_of((int64_t)kj * s->dil_w - s->pad_l, s->stride_w, &cp->shift[kj]);
}

/* dx row ih of input channel c with a stride S across, one phase (columns p, p + S,
 * ...) at a time: column j of phase p gets, from each tap whose kernel column lands
 * there (offset kj*dil - pad_l = q*S + p), dy column j - q, so a phase is a stride-1
 * sum of dy rows, which bc_depthwise_tap_row keeps in registers; the phases are then
 * interleaved into the row. Each element's sums run in (output channel, ki, kj) order,
 * as the scatter's. (Scattered tap by tap, a stride-2 3x3 layer on 32x112x112 ran
 * 0.32-0.33 ms, 5.4 GFLOP/s; this way 0.19-0.20.) */
static void data_row_phased(const conv_shape *s, const column_phases *cp, const float *dy_image,
                            const float *w, int c, int ih, float *phases, float *row)
{
    const int stride = s->stride_w;
    const int64_t taps = (int64_t)s->kh * s->kw;
    for (int p = 0; p < stride && p < s->w; p++) {
        const int64_t start = bc_phase_start(s->w, stride, p);
        const int64_t length = bc_phase_start(s->w, stride, p + 1) - start;
        bc_live_tap live[BC_MAX_LIVE_TAPS];
        int count = 0;
        for (int k = c * s->k_per_group; k < (c + 1) * s->k_per_group; k++)
            for (int ki = 0; ki < s->kh; ki++) {
                const float *dy_row = dy_row_reaching(s, dy_image, k, ki, ih);
                if (!dy_row)
                    continue;
                for (int kj = 0; kj < s->kw; kj++) {
                    if (cp->phase[kj] != p)
                        continue;
                    const int64_t q = cp->shift[kj];
                    const int64_t lo = q > 0 ? q : 0, hi = s->ow + q < length ? s->ow + q : length;
                    if (hi > lo)
                        live[count++] = (bc_live_tap){
                            dy_row, -q, w[(size_t)k * taps + ki * s->kw + kj], (int)lo, (int)hi};
                }
            }
        bc_depthwise_tap_row(live, count, (int)length, phases + start);
    }
    bc_interleave_phases(phases, s->w, stride, row);
}

/* dx plane of input channel c of one image (dy_image: the image's K planes): each
 * row starts at zero, then every output channel of the group and kernel row whose dy
 * row reaches it adds its taps, in (output channel, ki, kj) order. */
BC_MULTI_ISA static void data_plane(const conv_shape *s, const float *dy_image, const float *w,
                                    int c, float *dx_plane)
{
    const int64_t taps = (int64_t)s->kh * s->kw;
    if (s->stride_w > 1 && s->w <= BC_PHASE_FLOATS &&
        (int64_t)s->k_per_group * taps <= BC_MAX_LIVE_TAPS) {
        float phases[BC_PHASE_FLOATS];
        column_phases cp;
        column_phases_init(s, &cp);
        for (int ih = 0; ih < s->h; ih++)
            data_row_phased(s, &cp, dy_image, w, c, ih, phases, dx_plane + (size_t)ih * s->w);
        return;
    }
    bc_kernel_columns columns; /* kernel column kj's output columns, once per plane */
    bc_kernel_columns_init(s, &columns);
    for (int ih = 0; ih < s->h; ih++) {
        float *row = dx_plane + (size_t)ih * s->w;
        memset(row, 0, (size_t)s->w * sizeof *row);
        for (int k = c * s->k_per_group; k < (c + 1) * s->k_per_group; k++) {
            const float *w_k = w + (size_t)k * taps;
            for (int ki = 0; ki < s->kh; ki++) {
                const float *dy_row = dy_row_reaching(s, dy_image, k, ki, ih);
                if (!dy_row)
                    continue;
                for (int kj = 0; kj < s->kw; kj++) {
                    const int64_t offset = (int64_t)kj * s->dil_w - s->pad_l;
                    int first, last;
                    bc_kernel_columns_at(s, &columns, kj, &first, &last);
                    scatter_tap(row, dy_row, first, last, s->stride_w, offset,
                                w_k[ki * s->kw + kj]);
                }
            }
        }
    }
}

/* One NHWC dx row (image n, input row ih): each pixel's channel vector starts at zero
 * and every tap whose dy pixel exists adds weight vector times dy pixel, in (ki, kj)
 * order. w_by_tap: [taps][K]. */
BC_MULTI_ISA static void data_row_nhwc(const conv_shape *s, const float *dy, const float *w_by_tap,
                                       int n, int ih, float *dx)
{
    const int kc = s->k;
    for (int iw = 0; iw < s->w; iw++) {
        float *restrict out = dx + (((size_t)n * s->h + ih) * s->w + iw) * kc;
        memset(out, 0, (size_t)kc * sizeof *out);
        for (int ki = 0; ki < s->kh; ki++) {
            const int64_t oh = output_reaching(ih, s->pad_t, ki, s->dil_h, s->stride_h, s->oh);
            if (oh < 0)
                continue;
            for (int kj = 0; kj < s->kw; kj++) {
                const int64_t ow = output_reaching(iw, s->pad_l, kj, s->dil_w, s->stride_w, s->ow);
                if (ow < 0)
                    continue;
                const float *restrict g =
                    dy + (((size_t)n * s->oh + oh) * s->ow + (size_t)ow) * kc;
                const float *restrict wt = w_by_tap + ((size_t)ki * s->kw + kj) * kc;
                for (int k = 0; k < kc; k++)
                    out[k] += wt[k] * g[k];
            }
        }
    }
}

struct data_job {
    const conv_shape *s;
    const float *dy, *w; /* w: [K][taps] (NCHW), [taps][K] (NHWC) */
    float *dx;
};

/* dx planes [begin, end) of the batch (plane n*C + c). */
static void data_planes(void *arg, int64_t begin, int64_t end)
{
    const struct data_job *j = arg;
    const conv_shape *s = j->s;
    for (int64_t p = begin; p < end; p++) {
        const int n = (int)(p / s->c), c = (int)(p % s->c);
        data_plane(s, j->dy + (size_t)n * s->k * s->positions, j->w, c,
                   j->dx + (size_t)p * s->h * s->w);
    }
}

/* dx rows [begin, end) of the batch (row n*H + ih). */
static void data_rows_nhwc(void *arg, int64_t begin, int64_t end)
{
    const struct data_job *j = arg;
    for (int64_t r = begin; r < end; r++)
        data_row_nhwc(j->s, j->dy, j->w, (int)(r / j->s->h), (int)(r % j->s->h), j->dx);
}

void bc_depthwise_backward_data(const blasconv_context *ctx, const conv_shape *s, const float *dy,
                                const float *w, float *dx)
{
    conv_shape rotated;
    if (rotated_layer(s, &rotated)) {
        bc_depthwise_forward_rotated(ctx, &rotated, dy, w, dx);
        return;
    }
    const int threads = bc_thread_count(ctx);
    const int64_t taps = (int64_t)s->kh * s->kw;
    if (s->layout == BLASCONV_NCHW) {
        struct data_job job = {s, dy, w, dx};
        const int64_t per_plane = (int64_t)s->k_per_group * s->positions * taps + s->h * s->w;
        bc_parallel_for(threads, (int64_t)s->n * s->c, bc_parallel_grain(per_plane), data_planes,
                        &job);
        return;
    }
    float w_by_tap[BC_DEPTHWISE_NHWC_MAX_WEIGHTS];
    bc_depthwise_weights_by_tap(s, w, 0, w_by_tap);
    struct data_job job = {s, dy, w_by_tap, dx};
    const int64_t per_row = (int64_t)s->w * s->k * taps;
    bc_parallel_for(threads, (int64_t)s->n * s->h, bc_parallel_grain(per_row), data_rows_nhwc,
                    &job);
}
