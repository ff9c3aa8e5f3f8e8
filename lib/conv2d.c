/* Forward convolution: pick the path (1x1 straight to sgemm, or im2col tiles),
 * then run each tile through the context's sgemm with the bias fused. */
#include "internal.h"

#include <string.h>

/* y rows [0, k_count) at columns [first, first+count) start as the bias, so the
 * GEMM adds onto them with beta = 1 (no separate bias pass over y). */
BC_MULTI_ISA static void fill_bias(float *y_group, const float *bias_group, int k_count,
                                   size_t positions, size_t first, size_t count)
{
    for (int k = 0; k < k_count; k++) {
        float *row = y_group + (size_t)k * positions + first;
        const float b = bias_group[k];
        for (size_t i = 0; i < count; i++)
            row[i] = b;
    }
}

/* Output rows [oh, oh_end) of one image and group, lowered by kernel columns into
 * `rows` (row_shift.c): kernel row ki's GEMM reads them from input row ki*dh on and
 * adds onto y_tile (ldy = OH*OW), which holds the bias (beta 1) or nothing yet. */
static void shifted_tile(const blasconv_context *ctx, const conv_plan *p, const float *x_group,
                         int k0, int kg, int oh, int oh_end, float beta, float *y_tile,
                         float *rows)
{
    const conv_shape *s = &p->s;
    const int depth = s->c_per_group * s->kw, cols = (oh_end - oh) * s->ow;
    const int ldb = (int)bc_row_shift_lowered_rows(s, PASS_FORWARD, oh_end - oh) * s->ow;
    bc_row_shift_lower(s, x_group, oh, oh_end, rows);
    for (int ki = 0; ki < s->kh; ki++)
        bc_sgemm_lowered(ctx, CBLAS_NO_TRANS, kg, cols, depth,
                         p->shifted_filter + ((size_t)ki * s->k + (size_t)k0) * (size_t)depth,
                         depth, rows + (size_t)ki * s->dil_h * s->ow, ldb, ki ? 1.0f : beta,
                         y_tile, (int)s->positions);
}

/* One slot's share of an NCHW forward pass (all of it when serial): its output rows
 * and channels, lowering into `col` in tiles that stay inside one image. */
static void forward_nchw(const blasconv_context *ctx, const conv_plan *p, const float *x,
                         const float *w, const float *bias, float *y, float *col, slot_range r)
{
    const conv_shape *s = &p->s;
    const int rows_per_tile = p->rows_per_tile;
    const int cg = s->c_per_group, kg = r.k_end - r.k_begin;
    const int positions = (int)s->positions, col_rows = (int)s->col_rows;
    const size_t plane = (size_t)s->h * s->w;
    const float beta = bias ? 1.0f : 0.0f;
    for (int row = r.row_begin; row < r.row_end;) {
        const int n = row / s->oh, oh_begin = row % s->oh;
        const int oh_stop = r.row_end - n * s->oh < s->oh ? r.row_end - n * s->oh : s->oh;
        row = n * s->oh + oh_stop;
        for (int g = 0; g < s->groups; g++) {
            const int k0 = g * s->k_per_group + r.k_begin; /* first output channel */
            const float *x_group = x + ((size_t)n * s->c + (size_t)g * cg) * plane;
            const float *w_group = w + (size_t)k0 * s->col_rows;
            float *y_group = y + ((size_t)n * s->k + (size_t)k0) * s->positions;
            const float *b_group = bias ? bias + k0 : NULL;
            if (s->direct_1x1) { /* the rows' positions are contiguous columns of x */
                size_t first = (size_t)oh_begin * s->ow;
                int cols = (oh_stop - oh_begin) * s->ow;
                if (b_group)
                    fill_bias(y_group, b_group, kg, s->positions, first, (size_t)cols);
                bc_sgemm_lowered(ctx, CBLAS_NO_TRANS, kg, cols, cg, w_group, cg, x_group + first,
                                 positions, beta, y_group + first, positions);
                continue;
            }
            for (int oh = oh_begin; oh < oh_stop; oh += rows_per_tile) {
                const int oh_end = bc_tile_end(oh, rows_per_tile, oh_stop);
                int tile_cols = (oh_end - oh) * s->ow;
                size_t first = (size_t)oh * s->ow;
                if (b_group)
                    fill_bias(y_group, b_group, kg, s->positions, first, (size_t)tile_cols);
                if (p->row_shift) {
                    shifted_tile(ctx, p, x_group, k0, kg, oh, oh_end, beta, y_group + first, col);
                    continue;
                }
                /* all the input channels at once, or channels_per_tile at a time, each
                 * tile's GEMM adding onto the last */
                const int step = p->channels_per_tile ? p->channels_per_tile : cg;
                const int taps = s->kh * s->kw;
                for (int c = 0; c < cg; c += step) {
                    const int c_end = bc_tile_end(c, step, cg);
                    bc_im2col_nchw_kernel_rows(s, x_group, c * s->kh, c_end * s->kh, oh, oh_end,
                                               col, (size_t)tile_cols);
                    bc_sgemm_lowered(ctx, CBLAS_NO_TRANS, kg, tile_cols, (c_end - c) * taps,
                                     w_group + (size_t)c * taps, col_rows, col, tile_cols,
                                     c ? 1.0f : beta, y_group + first, positions);
                }
            }
        }
    }
}

/* NCHW forward on a small map (plan.c): the slot's whole images, images_per_tile at a
 * time, lowered side by side into col (image j's columns at j*OH*OW), one GEMM per
 * group into `product` after them, which starts as the bias like y does (so each
 * output gets the same sums as on the per-image path), then copied out per image. */
static void forward_nchw_images(const blasconv_context *ctx, const conv_plan *p, const float *x,
                                const float *w, const float *bias, float *y, float *col,
                                slot_range r)
{
    const conv_shape *s = &p->s;
    const int cg = s->c_per_group, kg = r.k_end - r.k_begin, col_rows = (int)s->col_rows;
    const size_t positions = (size_t)s->positions, plane = (size_t)s->h * s->w;
    float *product = col + (size_t)p->images_per_tile * (size_t)s->col_elems;
    const int n_end = r.row_end / s->oh;
    for (int n0 = r.row_begin / s->oh; n0 < n_end; n0 += p->images_per_tile) {
        const int count = n_end - n0 < p->images_per_tile ? n_end - n0 : p->images_per_tile;
        const size_t cols = (size_t)count * positions;
        for (int g = 0; g < s->groups; g++) {
            const int k0 = g * s->k_per_group + r.k_begin;
            for (int j = 0; j < count; j++)
                bc_im2col_nchw(s, x + ((size_t)(n0 + j) * s->c + (size_t)g * cg) * plane, 0, s->oh,
                               col + (size_t)j * positions, cols);
            if (bias)
                fill_bias(product, bias + k0, kg, cols, 0, cols);
            bc_sgemm_lowered(ctx, CBLAS_NO_TRANS, kg, (int)cols, col_rows,
                             w + (size_t)k0 * s->col_rows, col_rows, col, (int)cols,
                             bias ? 1.0f : 0.0f, product, (int)cols);
            for (int j = 0; j < count; j++)
                for (int k = 0; k < kg; k++)
                    memcpy(y + ((size_t)(n0 + j) * s->k + (size_t)(k0 + k)) * positions,
                           product + (size_t)k * cols + (size_t)j * positions,
                           positions * sizeof(float));
        }
    }
}

/* NHWC: `count` output positions of K channels each start as the bias. */
static void fill_bias_nhwc(float *y_positions, const float *bias, int k, size_t count)
{
    for (size_t i = 0; i < count; i++)
        memcpy(y_positions + i * (size_t)k, bias, (size_t)k * sizeof(float));
}

/* NHWC: output rows [oh, oh_end) of image n and group g, lowered by kernel columns
 * into `rows` (row_shift.c): kernel row ki's GEMM reads the positions ki*dh rows on
 * and the filters' taps of that kernel row, and adds onto y_tile (ldc = K). */
static void shifted_tile_nhwc(const blasconv_context *ctx, const conv_shape *s, const float *x,
                              const float *w, int g, int n, int oh, int oh_end, float beta,
                              float *y_tile, float *rows)
{
    const int depth = s->c_per_group * s->kw, kg = s->k_per_group;
    bc_row_shift_lower_nhwc(s, x, g, n, oh, oh_end, rows);
    for (int ki = 0; ki < s->kh; ki++)
        bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_TRANS, (oh_end - oh) * s->ow, kg, depth, 1.0f,
                 rows + (size_t)ki * s->dil_h * s->ow * depth, depth,
                 w + (size_t)g * kg * s->col_rows + (size_t)ki * depth, (int)s->col_rows,
                 ki ? 1.0f : beta, y_tile + (size_t)g * kg, s->k);
}

/* NHWC: y[positions][K] comes straight out of col[positions][KH*KW*C/g] times
 * w_g^T, one group's K/g columns at a time (ldc = K), for output rows [row_begin,
 * row_end) of the batch (row n*OH + oh; a tile may cross images). A 1x1 stride-1
 * unpadded layer is one GEMM per group over those rows' positions, straight on x
 * (lda = C). */
static void forward_nhwc(const blasconv_context *ctx, const conv_plan *p, const float *x,
                         const float *w, const float *bias, float *y, float *col, int row_begin,
                         int row_end)
{
    const conv_shape *s = &p->s;
    const int cg = s->c_per_group, kg = s->k_per_group, col_width = (int)s->col_rows;
    const float beta = bias ? 1.0f : 0.0f;
    if (s->direct_1x1) { /* OH = H, OW = W: rows of y are rows of x */
        const size_t first = (size_t)row_begin * s->ow;
        const int positions = (row_end - row_begin) * s->ow; /* < x_elems < 2^31 */
        if (bias)
            fill_bias_nhwc(y + first * s->k, bias, s->k, (size_t)positions);
        for (int g = 0; g < s->groups; g++)
            bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_TRANS, positions, kg, cg, 1.0f,
                     x + first * s->c + (size_t)g * cg, s->c, w + (size_t)g * kg * cg, cg, beta,
                     y + first * s->k + (size_t)g * kg, s->k);
        return;
    }
    for (int row = row_begin, end; row < row_end; row = end) {
        end = bc_tile_end(row, p->rows_per_tile, row_end);
        const int n = row / s->oh, image_end = (n + 1) * s->oh;
        if (p->row_shift && end > image_end) /* its shifted rows stay in one image */
            end = image_end;
        const int tile_positions = (end - row) * s->ow;
        float *y_tile = y + (size_t)row * s->ow * s->k;
        if (bias)
            fill_bias_nhwc(y_tile, bias, s->k, (size_t)tile_positions);
        for (int g = 0; g < s->groups; g++) {
            if (p->row_shift) {
                shifted_tile_nhwc(ctx, s, x, w, g, n, row - n * s->oh, end - n * s->oh, beta,
                                  y_tile, col);
                continue;
            }
            bc_im2col_nhwc(s, x, g, row, end, col);
            bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_TRANS, tile_positions, kg, col_width, 1.0f, col,
                     col_width, w + (size_t)g * kg * s->col_rows, col_width, beta,
                     y_tile + (size_t)g * kg, s->k);
        }
    }
}

struct forward_job {
    const blasconv_context *ctx;
    const conv_plan *plan;
    const float *x, *w, *bias;
    float *y;
};

static void forward_share(void *arg, float *col, slot_range r)
{
    const struct forward_job *j = arg;
    if (j->plan->s.layout == BLASCONV_NHWC) { /* slots split rows only */
        forward_nhwc(j->ctx, j->plan, j->x, j->w, j->bias, j->y, col, r.row_begin, r.row_end);
        return;
    }
    if (j->plan->images_per_tile > 1)
        forward_nchw_images(j->ctx, j->plan, j->x, j->w, j->bias, j->y, col, r);
    else
        forward_nchw(j->ctx, j->plan, j->x, j->w, j->bias, j->y, col, r);
}

blasconv_status blasconv_conv2d_forward(blasconv_context *ctx, const blasconv_conv2d *d,
                                        const float *x, const float *w, const float *bias,
                                        float *y)
{
    static const char fn[] = "conv2d_forward";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !w ? "w" : !y ? "y" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    blasconv_context tmp;
    blasconv_context *c = bc_call_begin(ctx, &tmp);
    conv_plan p;
    blasconv_status st = bc_conv_plan(c, fn, d, PASS_FORWARD, &p);
    if (st == BLASCONV_OK) {
        if (p.winograd.m)
            bc_winograd_forward(c, &p.s, &p.winograd, x, w, bias, y);
        else if (p.depthwise)
            bc_depthwise_forward(c, &p.s, x, w, bias, y);
        else {
            if (p.shifted_filter)
                bc_row_shift_filter(&p.s, w, p.shifted_filter, bc_thread_count(c));
            bc_for_slots(&p, forward_share, &(struct forward_job){c, &p, x, w, bias, y});
        }
        bc_clear_error(c);
    }
    bc_call_end(c, &tmp);
    return st;
}

blasconv_status blasconv_corr2d(blasconv_context *ctx, const float *x, int height, int width,
                                const float *kernel, int kernel_height, int kernel_width, float *y)
{
    static const char fn[] = "corr2d";
    const char *null_name = !x ? "x" : !kernel ? "kernel" : !y ? "y" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    if (height <= 0 || width <= 0)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "image %dx%d is empty", height, width);
    if (kernel_height <= 0 || kernel_width <= 0)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "kernel %dx%d is empty", kernel_height,
                       kernel_width);
    if (kernel_height > height || kernel_width > width)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, fn, "kernel %dx%d is larger than image %dx%d",
                       kernel_height, kernel_width, height, width);
    const blasconv_conv2d d = {
        .batch = 1,
        .in_channels = 1,
        .in_height = height,
        .in_width = width,
        .out_channels = 1,
        .kernel_height = kernel_height,
        .kernel_width = kernel_width,
    };
    return blasconv_conv2d_forward(ctx, &d, x, kernel, NULL, y);
}

/* A pass lowered by kernel columns, untiled: the filter copy and a tile of the whole
 * image. */
static size_t row_shift_untiled_bytes(const conv_shape *s, conv_pass pass)
{
    return bc_row_shift_filter_bytes(s) +
           bc_row_shift_tile_bytes(s, pass, bc_row_shift_image_rows(s, pass));
}

blasconv_status blasconv_conv2d_workspace_size(const blasconv_conv2d *d, size_t *forward_bytes,
                                               size_t *backward_data_bytes,
                                               size_t *backward_filter_bytes)
{
    if (!d || !forward_bytes || !backward_data_bytes || !backward_filter_bytes)
        return BLASCONV_ERR_NULL_POINTER;
    conv_shape s;
    blasconv_status st = bc_conv_shape(NULL, "conv2d_workspace_size", d, &s);
    if (st != BLASCONV_OK)
        return st;
    size_t col_bytes =
        s.direct_1x1 || bc_depthwise_applies(&s) ? 0 : (size_t)s.col_elems * sizeof(float);
    *forward_bytes = col_bytes;
    *backward_data_bytes = col_bytes;
    if (bc_row_shift_applies(&s, PASS_FORWARD))
        *forward_bytes = row_shift_untiled_bytes(&s, PASS_FORWARD);
    if (bc_row_shift_applies(&s, PASS_BACKWARD_DATA))
        *backward_data_bytes = row_shift_untiled_bytes(&s, PASS_BACKWARD_DATA);
    *backward_filter_bytes = col_bytes;
    return BLASCONV_OK;
}
