/* Planning a convolution call: validate, pick the path, size the tiles and get
 * their scratch, all before any output is touched. */
#include "internal.h"

/* Rows a tile may span: one image's in NCHW (its planes are apart in y); in NHWC
 * the positions of consecutive images are contiguous, so a tile may cross images
 * and small layers get one larger GEMM instead of one per image. */
static int tiled_rows(const conv_shape *s)
{
    return s->layout == BLASCONV_NHWC ? s->n * s->oh : s->oh; /* < y_elems < 2^31 */
}

/* Output rows per tile so that col_rows * rows * OW floats fit in `bytes`. */
static int tile_height(const conv_shape *s, size_t bytes)
{
    size_t row_bytes = (size_t)s->col_rows * (size_t)s->ow * sizeof(float);
    size_t rows = bytes / row_bytes;
    /* A tile also stays under 2^31 elements, like every scratch buffer. */
    size_t max_rows = (size_t)(BLASCONV_MAX_ELEMENTS - 1) / ((size_t)s->col_rows * s->ow);
    if (rows > max_rows)
        rows = max_rows;
    return rows > (size_t)tiled_rows(s) ? tiled_rows(s) : (int)rows;
}

static blasconv_status plan_col_tiles(blasconv_context *ctx, const char *fn, const conv_shape *s,
                                      float **col, int *rows_per_tile)
{
    const size_t row_bytes = (size_t)s->col_rows * (size_t)s->ow * sizeof(float);
    const size_t capacity = bc_scratch_capacity(ctx);
    if (capacity < row_bytes)
        return bc_fail(ctx, BLASCONV_ERR_WORKSPACE, fn,
                       "workspace of %zu bytes is below the %zu bytes one output row needs",
                       capacity, row_bytes);
    /* With several BLAS threads each gets a slice of the tile's columns: grow the
     * tile with them (measured: 2 threads run r50_3x3_14_b8 ~15% faster with 4 MiB
     * than with 1 MiB tiles), up to 4 threads' worth. */
    int threads = bc_thread_count(ctx);
    size_t tile_bytes = BLASCONV_DEFAULT_TILE_BYTES;
    if (threads > 1)
        tile_bytes *= 2 * (size_t)(threads < 4 ? threads : 4);
    size_t target = tile_bytes > row_bytes ? tile_bytes : row_bytes;
    if (s->layout == BLASCONV_NHWC) {
        size_t min_rows =
            ((size_t)BLASCONV_NHWC_MIN_TILE_POSITIONS + (size_t)s->ow - 1) / (size_t)s->ow;
        if (target / row_bytes < min_rows)
            target = min_rows * row_bytes; /* min_rows <= 512: no overflow */
    }
    if (target > capacity)
        target = capacity;
    int rows = tile_height(s, target);
    float *buffer = bc_scratch(ctx, (size_t)rows * row_bytes);
    if (!buffer)
        return bc_fail(ctx, BLASCONV_ERR_NO_MEMORY, fn, "cannot allocate %zu bytes of scratch",
                       (size_t)rows * row_bytes);
    *col = buffer;
    *rows_per_tile = rows;
    return BLASCONV_OK;
}

blasconv_status bc_conv_plan(blasconv_context *ctx, const char *fn, const blasconv_conv2d *d,
                             conv_pass pass, conv_plan *p)
{
    p->col = NULL;
    p->rows_per_tile = 0;
    p->depthwise = 0;
    blasconv_status st = bc_conv_shape(ctx, fn, d, &p->s);
    if (st != BLASCONV_OK)
        return st;
    p->tiled_rows = tiled_rows(&p->s);
    p->depthwise = pass == PASS_FORWARD && bc_depthwise_applies(&p->s);
    p->winograd.m = 0;
    if (pass == PASS_FORWARD && !p->depthwise)
        st = bc_winograd_plan(ctx, fn, &p->s, &p->winograd);
    if (st == BLASCONV_OK && !p->s.direct_1x1 && !p->depthwise && !p->winograd.m)
        st = plan_col_tiles(ctx, fn, &p->s, &p->col, &p->rows_per_tile);
    if (st == BLASCONV_OK)
        bc_blas_apply_threads(ctx);
    return st;
}
