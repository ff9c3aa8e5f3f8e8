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

/* Sizes the tiles and gets their scratch: one tile per image slot (p->image_slots,
 * dropped to 1 when the capacity cannot give every slot an output row). */
static blasconv_status plan_col_tiles(blasconv_context *ctx, const char *fn, conv_plan *p)
{
    const conv_shape *s = &p->s;
    const size_t row_bytes = (size_t)s->col_rows * (size_t)s->ow * sizeof(float);
    size_t capacity = bc_scratch_capacity(ctx);
    if (capacity < row_bytes)
        return bc_fail(ctx, BLASCONV_ERR_WORKSPACE, fn,
                       "workspace of %zu bytes is below the %zu bytes one output row needs",
                       capacity, row_bytes);
    if (capacity / (size_t)p->image_slots < row_bytes)
        p->image_slots = 1;
    capacity /= (size_t)p->image_slots;
    /* With several BLAS threads on one GEMM each gets a slice of the tile's columns:
     * grow the tile with them (measured: 2 threads run r50_3x3_14_b8 ~15% faster with
     * 4 MiB than with 1 MiB tiles), up to 4 threads' worth. Slots run one-thread
     * GEMMs and keep the one-thread tile. */
    int threads = p->image_slots > 1 ? 1 : bc_thread_count(ctx);
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
    size_t slot_bytes = (size_t)rows * row_bytes; /* <= capacity / slots: no overflow */
    float *buffer = bc_scratch(ctx, slot_bytes * (size_t)p->image_slots);
    if (!buffer)
        return bc_fail(ctx, BLASCONV_ERR_NO_MEMORY, fn, "cannot allocate %zu bytes of scratch",
                       slot_bytes * (size_t)p->image_slots);
    p->col = buffer;
    p->rows_per_tile = rows;
    p->slot_floats = slot_bytes / sizeof(float);
    return BLASCONV_OK;
}

/* Parallel slots over the batch pay for starting threads (tens of microseconds) and
 * then run one-thread GEMMs on whole images, which scale better than several BLAS
 * threads sharing each tile's small GEMM. */
static int image_slots(const blasconv_context *ctx, const conv_shape *s, conv_pass pass)
{
    if (pass == PASS_BACKWARD_FILTER) /* sums over the batch: order must not change */
        return 1;
    if (s->layout != BLASCONV_NCHW || s->n < 2 || !bc_blas_parallel_callable(ctx))
        return 1;
    int threads = bc_thread_count(ctx);
    double flops = 2.0 * (double)s->y_elems * (double)s->col_rows;
    if (threads < 2 || flops < 5e7)
        return 1;
    return threads < s->n ? threads : s->n;
}

struct slot_job {
    const conv_plan *plan;
    bc_images_fn fn;
    void *arg;
};

static void run_slots(void *arg, int64_t begin, int64_t end)
{
    const struct slot_job *job = arg;
    const conv_plan *p = job->plan;
    for (int64_t slot = begin; slot < end; slot++) {
        int n_begin = (int)((int64_t)p->s.n * slot / p->image_slots);
        int n_end = (int)((int64_t)p->s.n * (slot + 1) / p->image_slots);
        float *col = p->col ? p->col + (size_t)slot * p->slot_floats : NULL;
        job->fn(job->arg, col, n_begin, n_end);
    }
}

void bc_for_image_slots(const conv_plan *p, bc_images_fn fn, void *arg)
{
    if (p->image_slots <= 1) {
        fn(arg, p->col, 0, p->s.n);
        return;
    }
    struct slot_job job = {p, fn, arg};
    bc_parallel_for(p->image_slots, p->image_slots, 1, run_slots, &job);
}

blasconv_status bc_conv_plan(blasconv_context *ctx, const char *fn, const blasconv_conv2d *d,
                             conv_pass pass, conv_plan *p)
{
    p->col = NULL;
    p->rows_per_tile = 0;
    p->depthwise = 0;
    p->image_slots = 1;
    p->slot_floats = 0;
    blasconv_status st = bc_conv_shape(ctx, fn, d, &p->s);
    if (st != BLASCONV_OK)
        return st;
    p->tiled_rows = tiled_rows(&p->s);
    p->depthwise = pass == PASS_FORWARD && bc_depthwise_applies(&p->s);
    p->winograd.m = 0;
    if (pass == PASS_FORWARD && !p->depthwise)
        st = bc_winograd_plan(ctx, fn, &p->s, &p->winograd);
    if (st == BLASCONV_OK && !p->depthwise && !p->winograd.m)
        p->image_slots = image_slots(ctx, &p->s, pass);
    if (st == BLASCONV_OK && !p->s.direct_1x1 && !p->depthwise && !p->winograd.m)
        st = plan_col_tiles(ctx, fn, p);
    if (st == BLASCONV_OK && p->image_slots > 1)
        bc_blas_use_threads(ctx, 1);
    else if (st == BLASCONV_OK)
        bc_blas_apply_threads(ctx);
    return st;
}
