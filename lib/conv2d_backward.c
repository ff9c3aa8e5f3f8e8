/* Backward passes: data (sgemm, then col2im) and filter (im2col, then sgemm
 * accumulating over tiles and the batch), plus the bias gradient. */
#include "internal.h"

#include <string.h>

/* The rows [*first, *last) of input rows [ih, ih_end) whose gradient through kernel
 * row ki comes from a row of dy (ih <= *first <= *last <= ih_end); returns the
 * shift: dy row = input row + shift. */
static int dy_reach(const conv_shape *s, int ki, int ih, int ih_end, int *first, int *last)
{
    const int shift = s->pad_t - ki * s->dil_h;
    *first = ih + shift < 0 ? -shift : ih;
    *first = *first < ih_end ? *first : ih_end;
    *last = ih_end + shift > s->oh ? s->oh - shift : ih_end;
    *last = *last > *first ? *last : *first;
    return shift;
}

/* dx planes of one image's channels [c_begin, c_end) of group g lowered by kernel
 * columns (row_shift.c), in tiles of input rows [ih, ih_end): kernel row ki adds the
 * gradient of input row ih, which comes from dy row ih + pad_t - ki*dh, to the tile's
 * lowered rows (kernel row 0 writes the rows it reaches, the others start at zero;
 * rows whose dy row is outside dy get nothing), then
 * col2im adds them into the tile's dx rows only. Each dx row belongs to one tile, and
 * its sums run in the same order whatever the tile height. */
static void backward_data_shifted(const blasconv_context *ctx, const conv_plan *p,
                                  const conv_shape *share, const float *dy_group, int g,
                                  int c_begin, int ih_begin, int ih_stop, float *dx_share,
                                  float *col)
{
    const conv_shape *s = &p->s;
    const int kg = s->k_per_group, depth = s->c_per_group * s->kw;
    const int share_depth = share->c_per_group * s->kw;
    const size_t block = (size_t)s->k * (size_t)depth; /* one kernel row's filter copy */
    const float *w_share = p->shifted_filter + (size_t)g * kg * depth + (size_t)c_begin * s->kw;
    for (int ih = ih_begin; ih < ih_stop; ih += p->rows_per_tile) {
        const int ih_end = bc_tile_end(ih, p->rows_per_tile, ih_stop);
        const int tile_cols = (ih_end - ih) * s->ow;
        for (int ki = 0; ki < s->kh; ki++) {
            int first, last;
            const int shift = dy_reach(s, ki, ih, ih_end, &first, &last);
            if (ki == 0) /* kernel row 0's GEMM starts the rows it reaches; zero the rest */
                for (int r = 0; r < share_depth; r++) {
                    float *row = col + (size_t)r * tile_cols;
                    memset(row, 0, (size_t)(first - ih) * s->ow * sizeof(float));
                    memset(row + (size_t)(last - ih) * s->ow, 0,
                           (size_t)(ih_end - last) * s->ow * sizeof(float));
                }
            if (last > first)
                bc_sgemm_lowered(ctx, CBLAS_TRANS, share_depth, (last - first) * s->ow, kg,
                                 w_share + ki * block, depth,
                                 dy_group + (size_t)(first + shift) * s->ow, (int)s->positions,
                                 ki ? 1.0f : 0.0f, col + (size_t)(first - ih) * s->ow, tile_cols);
        }
        bc_row_shift_col2im(share, col, ih, ih_end, dx_share);
    }
}

/* Output rows [*oh_begin, *oh_end) whose gradient reaches input rows [ih_begin,
 * ih_end) through some kernel row. */
static void dy_rows_reaching(const conv_shape *s, int ih_begin, int ih_end, int *oh_begin,
                             int *oh_end)
{
    /* input row of output row oh through kernel row ki: oh*sh - pad_t + ki*dh */
    const int64_t reach = (int64_t)(s->kh - 1) * s->dil_h;
    const int64_t lo =
        bc_floor_div((int64_t)ih_begin + s->pad_t - reach + s->stride_h - 1, s->stride_h);
    const int64_t hi = bc_floor_div((int64_t)ih_end - 1 + s->pad_t, s->stride_h) + 1;
    *oh_begin = lo < 0 ? 0 : lo > s->oh ? s->oh : (int)lo;
    *oh_end = hi < *oh_begin ? *oh_begin : hi > s->oh ? s->oh : (int)hi;
}

/* Input rows [ih_begin, ih_end) of one image and group of an NCHW backward-data pass,
 * for input channels [c_begin, c_end): their rows of the column matrix (from the dy
 * rows that reach them) and their rows of dx. Each dx element gets its sums in the
 * same order whatever the window. */
static void backward_data_rows(const blasconv_context *ctx, const conv_plan *p, const float *dy,
                               const float *w, float *dx, float *col, int n, int g, int c_begin,
                               int c_end, int ih_begin, int ih_end)
{
    const conv_shape *s = &p->s;
    const int kg = s->k_per_group, taps = s->kh * s->kw;
    const int positions = (int)s->positions, col_rows = (int)s->col_rows;
    const int share_rows = (c_end - c_begin) * taps; /* of the column matrix */
    const size_t plane = (size_t)s->h * s->w;
    conv_shape share = *s; /* col2im of the share's channels only */
    share.c_per_group = c_end - c_begin;
    const float *dy_group = dy + ((size_t)n * s->k + (size_t)g * kg) * s->positions;
    const float *w_share = w + (size_t)g * kg * s->col_rows + (size_t)c_begin * taps;
    float *dx_share =
        dx + ((size_t)n * s->c + (size_t)g * s->c_per_group + (size_t)c_begin) * plane;
    if (s->direct_1x1) { /* dx_g[cg][HW] = W_g^T dy_g: written whole, no col2im */
        const size_t first = (size_t)ih_begin * s->w; /* H = OH, W = OW */
        bc_sgemm_lowered(ctx, CBLAS_TRANS, share_rows, (ih_end - ih_begin) * s->w, kg, w_share,
                         col_rows, dy_group + first, positions, 0.0f, dx_share + first, positions);
        return;
    }
    int oh_first, oh_stop;
    dy_rows_reaching(s, ih_begin, ih_end, &oh_first, &oh_stop);
    /* dx rows start at zero for col2im to add into; a strided 1x1 layer's rows from
     * the first one reached on are written whole by bc_col2im_1x1_strided */
    int64_t zero_end = ih_end;
    if (s->strided_1x1 && (int64_t)oh_first * s->stride_h < ih_end)
        zero_end = (int64_t)oh_first * s->stride_h;
    for (int c = 0; c < c_end - c_begin && zero_end > ih_begin; c++)
        memset(dx_share + (size_t)c * plane + (size_t)ih_begin * s->w, 0,
               (size_t)(zero_end - ih_begin) * s->w * sizeof(float));
    if (p->row_shift) {
        backward_data_shifted(ctx, p, &share, dy_group, g, c_begin, ih_begin, ih_end, dx_share,
                              col);
        return;
    }
    for (int oh = oh_first; oh < oh_stop; oh += p->rows_per_tile) {
        const int oh_end = bc_tile_end(oh, p->rows_per_tile, oh_stop);
        int tile_cols = (oh_end - oh) * s->ow;
        bc_sgemm_lowered(ctx, CBLAS_TRANS, share_rows, tile_cols, kg, w_share, col_rows,
                         dy_group + (size_t)oh * s->ow, positions, 0.0f, col, tile_cols);
        if (s->strided_1x1)
            bc_col2im_1x1_strided(&share, col, oh, oh_end, ih_begin, ih_end, dx_share);
        else
            bc_col2im_nchw(&share, col, oh, oh_end, ih_begin, ih_end, dx_share);
    }
}

/* A row split's share of one image: output rows [*row, row_end) up to the end of
 * *row's image, as the input rows [*ih_begin, *ih_end) they map to (oh*H/OH on), so
 * the slots' dx rows tile every image without overlap. Advances *row past them and
 * returns the image. */
static int next_input_rows(const conv_shape *s, int *row, int row_end, int *ih_begin, int *ih_end)
{
    const int n = *row / s->oh, oh_begin = *row % s->oh;
    const int oh_stop = row_end - n * s->oh < s->oh ? row_end - n * s->oh : s->oh;
    *row = n * s->oh + oh_stop;
    *ih_begin = (int)((int64_t)oh_begin * s->h / s->oh);
    *ih_end = (int)((int64_t)oh_stop * s->h / s->oh);
    return n;
}

/* One slot's share of an NCHW backward-data pass: input channels [r.k_begin, r.k_end)
 * of every group, for its rows of the batch (r.row_begin, r.row_end count output
 * rows, n*OH + oh). Image and channel splits give each slot whole images; a row
 * split the input rows of next_input_rows. */
static void backward_data_nchw(const blasconv_context *ctx, const conv_plan *p, const float *dy,
                               const float *w, float *dx, float *col, slot_range r)
{
    const conv_shape *s = &p->s;
    for (int row = r.row_begin; row < r.row_end;) {
        int ih_begin, ih_end;
        const int n = next_input_rows(s, &row, r.row_end, &ih_begin, &ih_end);
        if (ih_end == ih_begin)
            continue;
        const int step = p->channels_per_tile ? p->channels_per_tile : r.k_end - r.k_begin;
        for (int g = 0; g < s->groups; g++)
            for (int c = r.k_begin; c < r.k_end; c += step)
                backward_data_rows(ctx, p, dy, w, dx, col, n, g, c, bc_tile_end(c, step, r.k_end),
                                   ih_begin, ih_end);
    }
}

/* NHWC: image n's dx for group g lowered by kernel columns (row_shift.c), as
 * backward_data_shifted does in NCHW: per tile of input rows, kernel row ki adds the
 * dy positions ki*dh rows up times the filters' taps of that kernel row (ldb =
 * KH*KW*C/g), then col2im adds the tile's rows by kernel columns. */
static void backward_data_shifted_nhwc(const blasconv_context *ctx, const conv_plan *p,
                                       const float *dy, const float *w, int g, int n, int ih_begin,
                                       int ih_stop, float *dx, float *col)
{
    const conv_shape *s = &p->s;
    const int kg = s->k_per_group, depth = s->c_per_group * s->kw;
    const float *dy_image = dy + (size_t)n * s->positions * s->k + (size_t)g * kg;
    for (int ih = ih_begin; ih < ih_stop; ih += p->rows_per_tile) {
        const int ih_end = bc_tile_end(ih, p->rows_per_tile, ih_stop);
        const size_t row_floats = (size_t)s->ow * depth; /* one input row's positions */
        for (int ki = 0; ki < s->kh; ki++) {
            int first, last;
            const int shift = dy_reach(s, ki, ih, ih_end, &first, &last);
            if (ki == 0) { /* kernel row 0's GEMM starts the rows it reaches; zero the rest */
                memset(col, 0, (size_t)(first - ih) * row_floats * sizeof(float));
                memset(col + (size_t)(last - ih) * row_floats, 0,
                       (size_t)(ih_end - last) * row_floats * sizeof(float));
            }
            if (last > first)
                bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_NO_TRANS, (last - first) * s->ow, depth, kg,
                         1.0f, dy_image + (size_t)(first + shift) * s->ow * s->k, s->k,
                         w + (size_t)g * kg * s->col_rows + (size_t)ki * depth, (int)s->col_rows,
                         ki ? 1.0f : 0.0f, col + (size_t)(first - ih) * row_floats, depth);
        }
        bc_row_shift_col2im_nhwc(s, col, g, n, ih, ih_end, dx);
    }
}

/* Input rows [ih_begin, ih_end) of image n, group g, of an NHWC backward-data pass
 * lowered by im2col: the dy rows that reach them, tile by tile, each tile's col2im
 * adding only into those rows. */
static void backward_data_rows_nhwc(const blasconv_context *ctx, const conv_plan *p,
                                    const float *dy, const float *w, int g, int n, int ih_begin,
                                    int ih_end, float *dx, float *col)
{
    const conv_shape *s = &p->s;
    const int kg = s->k_per_group, col_width = (int)s->col_rows;
    int oh_first, oh_stop;
    dy_rows_reaching(s, ih_begin, ih_end, &oh_first, &oh_stop);
    for (int oh = oh_first; oh < oh_stop; oh += p->rows_per_tile) {
        const int oh_end = bc_tile_end(oh, p->rows_per_tile, oh_stop);
        const int row = n * s->oh + oh, end = n * s->oh + oh_end;
        bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_NO_TRANS, (end - row) * s->ow, col_width, kg, 1.0f,
                 dy + (size_t)row * s->ow * s->k + (size_t)g * kg, s->k,
                 w + (size_t)g * kg * s->col_rows, col_width, 0.0f, col, col_width);
        bc_col2im_nhwc_window(s, col, g, row, end, ih_begin, ih_end, dx);
    }
}

/* NHWC: dcol[positions][KH*KW*C/g] = dy_tile (K/g of its K columns) times w_g,
 * then col2im, for output rows [row_begin, row_end) of the batch. Whole images take
 * tiles that may cross images (a tile's col2im adds into every input row it read);
 * a share of an image (a row split, see plan.c) takes the input rows of
 * next_input_rows, as NCHW does. A 1x1 stride-1 unpadded layer is one GEMM per
 * group straight into dx, any rows. */
static void backward_data_nhwc(const blasconv_context *ctx, const conv_plan *p, const float *dy,
                               const float *w, float *dx, float *col, int row_begin, int row_end)
{
    const conv_shape *s = &p->s;
    const int cg = s->c_per_group, kg = s->k_per_group, col_width = (int)s->col_rows;
    if (s->direct_1x1) { /* OH = H, OW = W: rows of dy are rows of dx */
        const size_t first = (size_t)row_begin * s->ow;
        const int positions = (row_end - row_begin) * s->ow;
        for (int g = 0; g < s->groups; g++)
            bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_NO_TRANS, positions, cg, kg, 1.0f,
                     dy + first * s->k + (size_t)g * kg, s->k, w + (size_t)g * kg * cg, cg, 0.0f,
                     dx + first * s->c + (size_t)g * cg, s->c);
        return;
    }
    const size_t image = (size_t)s->h * s->w * s->c, dx_row = (size_t)s->w * s->c;
    if (row_begin % s->oh || row_end % s->oh) { /* a share of an image */
        for (int row = row_begin; row < row_end;) {
            int ih_begin, ih_end;
            const int n = next_input_rows(s, &row, row_end, &ih_begin, &ih_end);
            memset(dx + (size_t)n * image + (size_t)ih_begin * dx_row, 0,
                   (size_t)(ih_end - ih_begin) * dx_row * sizeof(float));
            for (int g = 0; g < s->groups && ih_end > ih_begin; g++) {
                if (p->row_shift)
                    backward_data_shifted_nhwc(ctx, p, dy, w, g, n, ih_begin, ih_end, dx, col);
                else
                    backward_data_rows_nhwc(ctx, p, dy, w, g, n, ih_begin, ih_end, dx, col);
            }
        }
        return;
    }
    memset(dx + (size_t)(row_begin / s->oh) * image, 0,
           (size_t)((row_end - row_begin) / s->oh) * image * sizeof(float));
    if (p->row_shift) {
        for (int n = row_begin / s->oh; n < row_end / s->oh; n++)
            for (int g = 0; g < s->groups; g++)
                backward_data_shifted_nhwc(ctx, p, dy, w, g, n, 0, s->h, dx, col);
        return;
    }
    for (int row = row_begin; row < row_end; row += p->rows_per_tile) {
        const int end = bc_tile_end(row, p->rows_per_tile, row_end);
        const int tile_positions = (end - row) * s->ow;
        const float *dy_tile = dy + (size_t)row * s->ow * s->k;
        for (int g = 0; g < s->groups; g++) {
            bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_NO_TRANS, tile_positions, col_width, kg, 1.0f,
                     dy_tile + (size_t)g * kg, s->k, w + (size_t)g * kg * s->col_rows, col_width,
                     0.0f, col, col_width);
            bc_col2im_nhwc(s, col, g, row, end, dx);
        }
    }
}

/* One backward call's arguments, for its slots: out is dx (data) or dw (filter). */
struct backward_job {
    const blasconv_context *ctx;
    const conv_plan *plan;
    const float *x, *w, *dy;
    float *out;
};

/* Backward data's slots split whole images, input channels or (NCHW, few channels)
 * input rows (see plan.c); NHWC whole images or input rows (rows of a direct 1x1 layer). */
static void backward_data_share(void *arg, float *col, slot_range r)
{
    const struct backward_job *j = arg;
    if (j->plan->s.layout == BLASCONV_NHWC) {
        backward_data_nhwc(j->ctx, j->plan, j->dy, j->w, j->out, col, r.row_begin, r.row_end);
        return;
    }
    backward_data_nchw(j->ctx, j->plan, j->dy, j->w, j->out, col, r);
}

/* Adds one tile's share of dw (kg x share_rows, leading dimension C/g*KH*KW) or, with
 * dwt, of dw^T (share_rows x kg): the tile's lowered rows (share_rows x cols, ld floats
 * apart) times its dy columns (kg x cols, OH*OW apart). */
static void add_filter_tile(const blasconv_context *ctx, const conv_shape *s, int share_rows,
                            int cols, const float *rows, int ld, const float *dy_tile, float beta,
                            float *dw_share, float *dwt_share)
{
    const int kg = s->k_per_group, positions = (int)s->positions;
    if (dwt_share)
        bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_TRANS, share_rows, kg, cols, 1.0f, rows, ld, dy_tile,
                 positions, beta, dwt_share, kg);
    else
        bc_sgemm(ctx, CBLAS_NO_TRANS, CBLAS_TRANS, kg, share_rows, cols, 1.0f, dy_tile, positions,
                 rows, ld, beta, dw_share, (int)s->col_rows);
}

/* dw columns of kernel rows [first, end) of every group (kernel row c*KH + ki: input
 * channel c's taps (ki, 0..KW-1)), summed over the whole batch and its tiles in one
 * order, lowering only those kernel rows. With p->dw_transposed the tiles add into
 * those rows of dw^T, transposed into dw at the end. */
static void backward_filter_nchw(const blasconv_context *ctx, const conv_plan *p, const float *x,
                                 const float *dy, float *dw, float *col, int first, int end)
{
    const conv_shape *s = &p->s;
    const int kg = s->k_per_group, positions = (int)s->positions;
    const int share_rows = (end - first) * s->kw; /* of the column matrix */
    const size_t plane = (size_t)s->h * s->w;
    for (int g = 0; g < s->groups; g++) {
        float *dw_share = dw + (size_t)g * kg * s->col_rows + (size_t)first * s->kw;
        float *dwt_share = p->dw_transposed ? p->dw_transposed + (size_t)g * kg * s->col_rows +
                                                  (size_t)first * s->kw * kg
                                            : NULL;
        float beta = 0.0f; /* the first GEMM overwrites dw, the rest accumulate */
        for (int n = 0; n < s->n; n++) {
            const float *x_group = x + ((size_t)n * s->c + (size_t)g * s->c_per_group) * plane;
            const float *dy_group = dy + ((size_t)n * s->k + (size_t)g * kg) * s->positions;
            if (s->direct_1x1) { /* a kernel row is a channel */
                add_filter_tile(ctx, s, share_rows, positions, x_group + (size_t)first * plane,
                                positions, dy_group, beta, dw_share, dwt_share);
                beta = 1.0f;
                continue;
            }
            for (int oh = 0; oh < s->oh; oh += p->rows_per_tile) {
                const int oh_end = bc_tile_end(oh, p->rows_per_tile, s->oh);
                int tile_cols = (oh_end - oh) * s->ow;
                bc_im2col_nchw_kernel_rows(s, x_group, first, end, oh, oh_end, col,
                                           (size_t)tile_cols);
                add_filter_tile(ctx, s, share_rows, tile_cols, col, tile_cols,
                                dy_group + (size_t)oh * s->ow, beta, dw_share, dwt_share);
                beta = 1.0f;
            }
        }
        if (dwt_share)
            bc_transpose(dwt_share, share_rows, kg, (size_t)kg, dw_share, (size_t)s->col_rows);
    }
}

/* Backward filter's slots split kernel rows of the input channels (see plan.c). */
static void backward_filter_share(void *arg, float *col, slot_range r)
{
    const struct backward_job *j = arg;
    backward_filter_nchw(j->ctx, j->plan, j->x, j->dy, j->out, col, r.k_begin, r.k_end);
}

/* NHWC: dw_g[K/g][KH*KW*C/g] = sum over tiles of dy_tile^T col, for the columns of dw
 * in 16-column blocks [b0, b1) (a slot's share); a 1x1 stride-1 unpadded layer is one
 * GEMM per group over the whole batch, straight on x. Each column's sum takes the
 * same tiles whatever the share. */
static void backward_filter_nhwc(const blasconv_context *ctx, const conv_plan *p, const float *x,
                                 const float *dy, float *dw, float *col, int b0, int b1)
{
    const conv_shape *s = &p->s;
    const int cg = s->c_per_group, kg = s->k_per_group, width = (int)s->col_rows;
    const int columns = (int)bc_dw_columns(s);
    const int j0 = b0 * BC_DW_COLUMN_BLOCK,
              j1 = b1 * BC_DW_COLUMN_BLOCK < columns ? b1 * BC_DW_COLUMN_BLOCK : columns;
    if (j1 <= j0)
        return;
    if (s->direct_1x1) {
        const int all_positions = s->n * s->h * s->w;
        for (int g = 0; g < s->groups; g++)
            bc_sgemm(ctx, CBLAS_TRANS, CBLAS_NO_TRANS, kg, j1 - j0, all_positions, 1.0f,
                     dy + (size_t)g * kg, s->k, x + (size_t)g * cg + j0, s->c, 0.0f,
                     dw + (size_t)g * kg * cg + j0, cg);
        return;
    }
    const int rows = s->n * s->oh; /* NHWC tiles may cross images */
    for (int row = 0; row < rows; row += p->rows_per_tile) {
        const int end = bc_tile_end(row, p->rows_per_tile, rows);
        const int tile_positions = (end - row) * s->ow;
        const float *dy_tile = dy + (size_t)row * s->ow * s->k;
        const float beta = row == 0 ? 0.0f : 1.0f; /* the first tile overwrites dw */
        for (int g = 0; g < s->groups; g++) {
            bc_im2col_nhwc_columns(s, x, g, row, end, j0, j1, col);
            bc_sgemm(ctx, CBLAS_TRANS, CBLAS_NO_TRANS, kg, j1 - j0, tile_positions, 1.0f,
                     dy_tile + (size_t)g * kg, s->k, col, j1 - j0, beta,
                     dw + (size_t)g * kg * width + j0, width);
        }
    }
}

static void backward_filter_nhwc_share(void *arg, float *col, slot_range r)
{
    const struct backward_job *j = arg;
    backward_filter_nhwc(j->ctx, j->plan, j->x, j->dy, j->out, col, r.k_begin, r.k_end);
}

blasconv_status blasconv_conv2d_backward_data(blasconv_context *ctx, const blasconv_conv2d *d,
                                              const float *dy, const float *w, float *dx)
{
    static const char fn[] = "conv2d_backward_data";
    const char *null_name = !d ? "descriptor" : !dy ? "dy" : !w ? "w" : !dx ? "dx" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    blasconv_context tmp;
    blasconv_context *c = bc_call_begin(ctx, &tmp);
    conv_plan p;
    blasconv_status st = bc_conv_plan(c, fn, d, PASS_BACKWARD_DATA, &p);
    if (st == BLASCONV_OK) {
        if (p.winograd.m) /* dx is the forward of dy (winograd_backward_data.c) */
            bc_winograd_forward(c, &p.dx_forward, &p.winograd, dy, w, NULL, dx);
        else if (p.depthwise)
            bc_depthwise_backward_data(c, &p.s, dy, w, dx);
        else {
            if (p.shifted_filter)
                bc_row_shift_filter(&p.s, w, p.shifted_filter, bc_thread_count(c));
            bc_for_slots(&p, backward_data_share, &(struct backward_job){c, &p, NULL, w, dy, dx});
        }
        bc_clear_error(c);
    }
    bc_call_end(c, &tmp);
    return st;
}

blasconv_status blasconv_conv2d_backward_filter(blasconv_context *ctx, const blasconv_conv2d *d,
                                                const float *x, const float *dy, float *dw,
                                                float *dbias)
{
    static const char fn[] = "conv2d_backward_filter";
    const char *null_name = !d ? "descriptor" : !x ? "x" : !dy ? "dy" : !dw ? "dw" : NULL;
    if (null_name)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, fn, "%s is NULL", null_name);
    blasconv_context tmp;
    blasconv_context *c = bc_call_begin(ctx, &tmp);
    conv_plan p;
    blasconv_status st = bc_conv_plan(c, fn, d, PASS_BACKWARD_FILTER, &p);
    if (st == BLASCONV_OK) {
        if (p.depthwise)
            bc_depthwise_backward_filter(c, &p.s, x, dy, dw);
        else if (p.s.layout == BLASCONV_NHWC)
            bc_for_slots(&p, backward_filter_nhwc_share,
                         &(struct backward_job){c, &p, x, NULL, dy, dw});
        else
            bc_for_slots(&p, backward_filter_share,
                         &(struct backward_job){c, &p, x, NULL, dy, dw});
        if (dbias)
            bc_bias_gradient(c, &p.s, dy, dbias);
        bc_clear_error(c);
    }
    bc_call_end(c, &tmp);
    return st;
}
