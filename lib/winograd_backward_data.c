/* FAST backward data for 3x3 stride-1 layers: Winograd on the forward layer of dy.
 *
 * With stride 1 and dilation 1, dx[c][h][w] = sum over k, i, j of
 * dy[k][h + pad_t - i][w + pad_l - j] * w[k][c][i][j]: a forward correlation of dy
 * (K channels in, C out) with the filter turned 180 degrees and its channel axes
 * swapped, w'[c][k][i][j] = w[k][c][2 - i][2 - j], padded by 2 - pad on each side
 * (its output is then H x W). That needs each pad <= 2; a larger one falls back to
 * the lowering. The turned filter is copied ahead of FAST's buffers on every call
 * (9KC floats, inside the workspace limit) and never kept: FAST's filter transform
 * then runs unchanged on it. */
#include "internal.h"

/* The turn's cost in the plan's ranking against the lowering, per filter float, at
 * any thread count (it is bound by memory): blasconv-fastbench --pass bwd-data against
 * forward's FAST time on the same layer, one thread, took 0.3-0.4 ns in NCHW
 * (r50_3x3_14, r50_3x3_7_b8), 0.5 (r50_3x3_14) to 1.0 (r50_3x3_7_b8, 9.4 MB of filter)
 * in NHWC, whose rows of w and of the turned filter, 2 KB apart there, share two L1
 * sets. Charged 0.3 in NCHW, r50_3x3_14 ran FAST at two threads at 0.89-0.91x the
 * lowering's time; at 0.5 it takes the lowering. */
#define NS_PER_TURNED_FLOAT 0.5
#define NS_PER_TURNED_FLOAT_NHWC 1.0

static size_t align64(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

blasconv_status bc_winograd_plan_backward_data(blasconv_context *ctx, const char *fn,
                                               const conv_shape *s, conv_shape *as_forward,
                                               winograd_plan *wp)
{
    *wp = (winograd_plan){0};
    if (ctx->algorithm != BLASCONV_ALGO_FAST || !bc_3x3_stride1(s) || s->groups != 1 ||
        s->pad_t > 2 || s->pad_b > 2 || s->pad_l > 2 || s->pad_r > 2)
        return BLASCONV_OK;
    const blasconv_conv2d d = {
        .batch = s->n,
        .in_channels = s->k,
        .in_height = s->oh,
        .in_width = s->ow,
        .out_channels = s->c,
        .kernel_height = 3,
        .kernel_width = 3,
        .pad_top = 2 - s->pad_t,
        .pad_bottom = 2 - s->pad_b,
        .pad_left = 2 - s->pad_l,
        .pad_right = 2 - s->pad_r,
        .layout = s->layout,
    };
    if (bc_conv_shape(NULL, fn, &d, as_forward) != BLASCONV_OK) /* not expected: s is valid */
        return BLASCONV_OK;
    return bc_winograd_plan_after(ctx, fn, as_forward, align64((size_t)s->w_elems * sizeof(float)),
                                  (double)s->w_elems * (s->layout == BLASCONV_NCHW
                                                            ? NS_PER_TURNED_FLOAT
                                                            : NS_PER_TURNED_FLOAT_NHWC),
                                  wp);
}

struct turn_job {
    const conv_shape *s;
    const float *w;
    float *turned;
};

/* NHWC turns w [K][3][3][C] into [C][3][3][K] in tiles of TURN_BLOCK channels by
 * TURN_BLOCK filters per tap: a tile reads TURN_BLOCK lines of w whole and writes
 * TURN_BLOCK lines of the turned filter whole, so no line waits in the cache for
 * later use. Rows of either, 1 KB apart on r50_3x3_14, share few L1 sets: a loop
 * that kept 144 of them open (one line of each of 9 * 16 rows at a time) missed on
 * nearly every load, and the turn took 0.7-1.6 ms of that layer's 1.4-2.9. */
#define TURN_BLOCK 16

static void turn_tile_nhwc(const float *w, int64_t c_count, int64_t k_count, int64_t c0,
                           int64_t c1, int64_t k0, int64_t k1, int t, float *turned)
{
    float tile[TURN_BLOCK][TURN_BLOCK];
    for (int64_t k = k0; k < k1; k++)
        for (int64_t c = c0; c < c1; c++)
            tile[c - c0][k - k0] = w[(k * 9 + 8 - t) * c_count + c];
    for (int64_t c = c0; c < c1; c++)
        for (int64_t k = k0; k < k1; k++)
            turned[(c * 9 + t) * k_count + k] = tile[c - c0][k - k0];
}

/* Rows [begin, end) of the turned filter: its output channels, the layer's input
 * channels c, in tiles of TURN_BLOCK rows by TURN_BLOCK filters k. A row is [k][3][3]
 * (NCHW: a tile reads and writes runs of 9 * TURN_BLOCK floats) or [3][3][k] (NHWC). */
static void turn_rows(void *arg, int64_t begin, int64_t end)
{
    const struct turn_job *j = arg;
    const int64_t k_count = j->s->k, c_count = j->s->c;
    const float *w = j->w;
    float *turned = j->turned;
    for (int64_t c0 = begin; c0 < end; c0 += TURN_BLOCK) {
        const int64_t c1 = c0 + TURN_BLOCK < end ? c0 + TURN_BLOCK : end;
        for (int64_t k0 = 0; k0 < k_count; k0 += TURN_BLOCK) {
            const int64_t k1 = k0 + TURN_BLOCK < k_count ? k0 + TURN_BLOCK : k_count;
            if (j->s->layout == BLASCONV_NCHW) /* a tile's rows: 9 * TURN_BLOCK floats */
                for (int64_t c = c0; c < c1; c++)
                    for (int64_t k = k0; k < k1; k++)
                        for (int t = 0; t < 9; t++)
                            turned[(c * k_count + k) * 9 + t] = w[(k * c_count + c) * 9 + 8 - t];
            else
                for (int t = 0; t < 9; t++)
                    turn_tile_nhwc(w, c_count, k_count, c0, c1, k0, k1, t, turned);
        }
    }
}

void bc_winograd_backward_data(blasconv_context *ctx, const conv_shape *s,
                               const conv_shape *as_forward, const winograd_plan *wp,
                               const float *dy, const float *w, float *dx)
{
    struct turn_job job = {s, w, wp->ahead};
    bc_parallel_for(wp->threads, s->c, bc_parallel_grain(9 * (int64_t)s->k), turn_rows, &job);
    bc_winograd_forward(ctx, as_forward, wp, dy, wp->ahead, NULL, dx);
}
