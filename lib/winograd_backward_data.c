/* FAST backward data for 3x3 stride-1 layers: Winograd on the forward layer of dy.
 *
 * With stride 1 and dilation 1, dx[c][h][w] = sum over k, i, j of
 * dy[k][h + pad_t - i][w + pad_l - j] * w[k][c][i][j]: a forward correlation of dy
 * (K channels in, C out) with the filter turned 180 degrees and its channel axes
 * swapped, w'[c][k][i][j] = w[k][c][2 - i][2 - j], padded by 2 - pad on each side
 * (its output is then H x W). That needs each pad <= 2; a larger one falls back to
 * the lowering. FAST's filter transform reads w' straight from w (a turned plan,
 * bc_winograd_plan_turned): a turned copy of w, made on every call, had cost 0.3-1.0 ns
 * per filter float (blasconv-fastbench --pass bwd-data against forward's FAST time,
 * one thread; 2.4 ms of NHWC r50_3x3_7_b8's 8.7) and sent r50_3x3_14 back to the
 * lowering at two threads. */
#include "internal.h"

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
    return bc_winograd_plan_turned(ctx, fn, as_forward, wp);
}
