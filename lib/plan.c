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

/* A tile of grouped images (their lowering and their GEMM's output) stays under this. */
#define GROUP_MAX_BYTES ((size_t)8 << 20)

/* Scratch bytes of one grouped image: its lowering and its rows of the GEMM's output
 * (each under 2^31 elements). */
static size_t grouped_image_bytes(const conv_shape *s)
{
    return ((size_t)s->col_elems + (size_t)s->k_per_group * (size_t)s->positions) * sizeof(float);
}

/* Images one tile lowers side by side, given a slot's capacity: 1 unless the pass is
 * NCHW forward with im2col on a small map and a slot has several whole images. */
static int images_per_tile(const conv_plan *p, conv_pass pass, size_t capacity)
{
    const conv_shape *s = &p->s;
    if (pass != PASS_FORWARD || s->layout != BLASCONV_NCHW || s->direct_1x1 ||
        p->split == SPLIT_ROWS)
        return 1;
    int64_t want = bc_images_per_gemm(s);
    const int64_t per_slot = p->split == SPLIT_IMAGES ? (s->n + p->slots - 1) / p->slots : s->n;
    if (want > per_slot)
        want = per_slot;
    const size_t room = capacity < GROUP_MAX_BYTES ? capacity : GROUP_MAX_BYTES;
    if (want > (int64_t)(room / grouped_image_bytes(s)))
        want = (int64_t)(room / grouped_image_bytes(s));
    if (want > (BLASCONV_MAX_ELEMENTS - 1) / s->col_elems)
        want = (BLASCONV_MAX_ELEMENTS - 1) / s->col_elems;
    return want > 1 ? (int)want : 1;
}

/* Rows per tile of the lowering by kernel columns (row_shift.c), whose filter copy
 * takes *filter_bytes off the front of the `total` scratch; each of `slots` tiles
 * aims at `target` bytes. Forward tiles are output rows and lower a halo of rows
 * beyond them; backward data tiles are input rows (of dx) and lower no more. 0 when
 * not even one row fits. */
static int row_shift_tile_rows(const conv_shape *s, conv_pass pass, size_t total, int slots,
                               size_t target, size_t *filter_bytes)
{
    const size_t lowered_row = bc_row_shift_row_bytes(s);
    const size_t halo = (size_t)bc_row_shift_lowered_rows(s, pass, 0);
    const int limit = bc_row_shift_image_rows(s, pass);
    *filter_bytes = bc_row_shift_filter_bytes(s);
    if (total <= *filter_bytes)
        return 0;
    const size_t per_slot = (total - *filter_bytes) / (size_t)slots;
    size_t rows = (target < per_slot ? target : per_slot) / lowered_row;
    /* The tile stays under 2^31 elements, like every scratch buffer. */
    const size_t max_rows = (size_t)(BLASCONV_MAX_ELEMENTS - 1) / (lowered_row / sizeof(float));
    if (rows > max_rows)
        rows = max_rows;
    if (rows <= halo)
        return 0;
    rows -= halo;
    return rows > (size_t)limit ? limit : (int)rows;
}

/* NCHW backward filter sums dw^T ([C/g*KH*KW][K/g] per group: the lowering times dy
 * transposed) and transposes it into dw at the end, on layers of up to this many
 * output channels per group and this many positions over the batch: OpenBLAS ran
 * those GEMMs with dw^T as the output faster (a test program, one thread, medians of
 * 15, two runs, GFLOP/s dw = dy col^T -> dw^T = col dy^T): 64 x 147 x 12544 (r50_conv1)
 * 102-125 -> 139-144, 64 x 576 x 3136 140-142 -> 165-166, 64 x 256 x 3136 143-147 ->
 * 161, 128 x 1152 x 784 163-168 -> 179-184; with more channels the gain was small
 * (256 x 2304 x 196 180-188 -> 189-191) and the transpose at the end took more than
 * it (r50_3x3_14 1.32-1.43 -> 1.61-1.80 ms, r50_3x3_7 1.6-1.8 -> 3.2-3.5), as it would
 * on a few positions, where each element of dw takes little work; 256 and 512
 * channels on 784-3136 positions (dil_3x3_28, 256 -> 256 on 56x56 and 1x1, 256 -> 512
 * on 28x28, r50_3x3_14_b8) ran within the noise either way (blasconv-bench, three runs
 * alternating). Up to 128 it also won on grouped layers (128 channels in 8 groups on
 * 56x56: conv/sgemm 0.64-0.73 -> 0.87-0.88; in 32 groups the same) and 32 or 16
 * channels on 112x112 and 224x224 maps (0.83-0.85 -> 1.04-1.09, 1.04-1.09 ->
 * 1.17-1.21). */
#define DW_TRANSPOSED_MAX_CHANNELS 128
#define DW_TRANSPOSED_MIN_POSITIONS 512

/* Scratch bytes of dw^T ahead of the tiles (a whole number of cache lines, so that the
 * tiles stay aligned), or 0 where the pass sums dw itself: not NCHW backward filter,
 * outside the sizes above, or a capacity that would not keep `after` bytes for the
 * tiles. */
static size_t dw_transposed_bytes(const conv_shape *s, conv_pass pass, size_t capacity,
                                  size_t after)
{
    if (pass != PASS_BACKWARD_FILTER || s->layout != BLASCONV_NCHW ||
        s->k_per_group > DW_TRANSPOSED_MAX_CHANNELS ||
        (int64_t)s->n * s->positions < DW_TRANSPOSED_MIN_POSITIONS)
        return 0;
    const size_t bytes = bc_align64((size_t)s->w_elems * sizeof(float));
    return capacity >= bytes && capacity - bytes >= after ? bytes : 0;
}

/* NCHW backward data's im2col tiles hold all the output rows of at least this many
 * rows of the column matrix (input channels times taps) rather than some rows of all
 * of them, where the column matrix is at least twice as tall as it is wide: each
 * tile's GEMM then packs its share of the filter and all of dy (K/g x OH*OW), where
 * tiles of rows packed the whole filter (K/g x C/g*KH*KW) each. blasconv-bench
 * --threads 1 --reps 9 --pass bwd-data --workspace-limit 1048576 (where the filter
 * copy of the lowering by kernel columns does not fit), pinned, three runs
 * alternating the library before and after, ms: dil_3x3_28 6.46-7.01 -> 5.59-6.64,
 * r50_3x3_14_b8 12.5-13.0 -> 11.6-11.9, r50_3x3_14 1.57-1.65 -> 1.48-1.51. On layers
 * whose column matrix is less than twice as tall (128 channels, 3x3 stride 2 on 56x56:
 * 1152 rows, 784 positions) they ran 1-3% slower, unlimited.
 * Forward does the same (each tile adding its channels' share of the sums onto y)
 * where the lowering by kernel columns applies but a cap leaves no room for it: the
 * results then differ from the uncapped call's by rounding already, and the split
 * sums move them again, where im2col tiles of rows would not. The same command with
 * --pass fwd, three runs alternating a temporary switch, ms: dil_3x3_28 5.77-5.86 ->
 * 5.35-5.42, r50_3x3_14_b8 11.6-11.7 -> 11.0-11.4. */
#define CHANNEL_TILE_MIN_ROWS 128

/* Input channels per im2col tile (channels_per_tile) of a pass that takes them, where
 * a tile of `target` bytes holds `rows` < OH output rows of every channel, or 0. */
static int tile_channels(const conv_shape *s, conv_pass pass, int rows, size_t target)
{
    const int takes =
        pass == PASS_BACKWARD_DATA || (pass == PASS_FORWARD && bc_row_shift_applies(s, pass));
    if (!takes || s->layout != BLASCONV_NCHW || rows >= s->oh || s->col_rows < 2 * s->positions)
        return 0;
    const size_t taps = (size_t)s->kh * (size_t)s->kw;
    const size_t channel_floats = taps * (size_t)s->positions; /* < col_elems < 2^31 */
    size_t fit = target / (channel_floats * sizeof(float));
    if (fit > (size_t)(BLASCONV_MAX_ELEMENTS - 1) / channel_floats)
        fit = (size_t)(BLASCONV_MAX_ELEMENTS - 1) / channel_floats;
    if (fit > (size_t)s->c_per_group)
        fit = (size_t)s->c_per_group;
    if (fit * taps < CHANNEL_TILE_MIN_ROWS)
        return 0;
    /* as many tiles as that takes, evened out (no thin last tile) */
    const size_t tiles = ((size_t)s->c_per_group + fit - 1) / fit;
    return (int)(((size_t)s->c_per_group + tiles - 1) / tiles);
}

/* The direct 1x1 path's only scratch: dw^T for backward filter where it applies
 * (none otherwise, nor under a limit that cannot hold it, nor when it cannot be
 * allocated: the path needs no scratch). */
static blasconv_status plan_direct(blasconv_context *ctx, conv_pass pass, conv_plan *p)
{
    const size_t bytes = dw_transposed_bytes(&p->s, pass, bc_scratch_capacity(ctx), 0);
    if (bytes)
        p->dw_transposed = bc_scratch(ctx, bytes); /* NULL: dw summed as it lies */
    return BLASCONV_OK;
}

/* Sizes the tiles and gets their scratch: one tile per parallel slot (p->slots,
 * dropped to 1 when the capacity cannot give every slot an output row), after dw^T
 * where backward filter sums it (dw_transposed_bytes). */
static blasconv_status plan_col_tiles(blasconv_context *ctx, const char *fn, conv_pass pass,
                                      conv_plan *p)
{
    const conv_shape *s = &p->s;
    const size_t row_bytes = (size_t)s->col_rows * (size_t)s->ow * sizeof(float);
    const size_t scratch = bc_scratch_capacity(ctx);
    const size_t front = dw_transposed_bytes(s, pass, scratch, row_bytes);
    const size_t total = scratch - front;
    size_t capacity = total;
    if (capacity < row_bytes)
        return bc_fail(ctx, BLASCONV_ERR_WORKSPACE, fn,
                       "workspace of %zu bytes is below the %zu bytes one output row needs",
                       capacity, row_bytes);
    /* Backward filter's slots each hold the one-thread tile's rows for their share of
     * dw (below): NHWC's blocks of columns, NCHW's kernel rows. */
    const int share_split = pass == PASS_BACKWARD_FILTER;
    const int column_split = share_split && s->layout == BLASCONV_NHWC;
    if (!share_split) {
        if (capacity / (size_t)p->slots < row_bytes)
            p->slots = 1;
        capacity /= (size_t)p->slots;
    }
    /* With several BLAS threads on one GEMM each gets a slice of the tile's columns:
     * grow the tile with them (measured: 2 threads run r50_3x3_14_b8 ~15% faster with
     * 4 MiB than with 1 MiB tiles), up to 4 threads' worth. Slots run one-thread
     * GEMMs and keep the one-thread tile. */
    int threads = p->slots > 1 || column_split ? 1 : bc_thread_count(ctx);
    size_t tile_bytes = BLASCONV_DEFAULT_TILE_BYTES;
    if (threads > 1)
        tile_bytes *= 2 * (size_t)(threads < 4 ? threads : 4);
    size_t target = tile_bytes > row_bytes ? tile_bytes : row_bytes;
    /* Enough positions that the tile's GEMM amortises packing the weights: a deep
     * lowering (C/g*KH*KW in the thousands) fills 1 MiB with a hundred columns. */
    const size_t min_positions =
        s->layout == BLASCONV_NHWC ? BLASCONV_NHWC_MIN_TILE_POSITIONS : BLASCONV_GROUP_COLUMNS;
    const size_t min_rows = (min_positions + (size_t)s->ow - 1) / (size_t)s->ow;
    if (target / row_bytes < min_rows)
        target = min_rows * row_bytes; /* min_rows <= 512: no overflow */
    if (target > capacity)
        target = capacity;
    int rows = tile_height(s, target);
    size_t slot_bytes = (size_t)rows * row_bytes; /* <= capacity / slots: no overflow */
    if (share_split && p->slots > 1) {
        /* the one-thread tile's rows (its tiles fix the order of dw's sums), each slot
         * holding them for its own columns (NHWC: blocks of them) or kernel rows; NCHW
         * takes fewer rows where a cap cannot hold those (then its sums differ from one
         * thread's by rounding), NHWC one slot. NCHW had sized its slots for whole
         * rows of the lowering, and under a cap that held none per slot ran one slot
         * on the BLAS's threads: blasconv-bench --threads 2 --reps 7 --pass bwd-filter
         * --workspace-limit 1048576, two runs alternating the library before and
         * after, ms: vgg_3x3_224 38.7-40.7 -> 14.7-15.3, r50_3x3_28 1.09-1.11 ->
         * 0.87-0.92, r50_3x3_14_b8 7.1-7.2 -> 6.4. */
        const size_t share = ((size_t)p->channels + (size_t)p->slots - 1) / (size_t)p->slots;
        const size_t share_row =
            (size_t)s->ow * (column_split ? share * BC_DW_COLUMN_BLOCK : share * (size_t)s->kw) *
            sizeof(float);
        const size_t fit = total / (size_t)p->slots / share_row;
        if (!column_split && fit < (size_t)rows)
            rows = (int)fit;
        slot_bytes = (size_t)rows * share_row;
        if (rows == 0 || slot_bytes > total / (size_t)p->slots) { /* past the cap */
            p->slots = 1;
            rows = tile_height(s, target);
            slot_bytes = (size_t)rows * row_bytes;
        }
    }
    p->images_per_tile = images_per_tile(p, pass, capacity);
    size_t filter_bytes = 0;
    if (p->images_per_tile > 1) { /* whole images, and their GEMM's output */
        rows = s->oh;
        slot_bytes = (size_t)p->images_per_tile * grouped_image_bytes(s); /* <= capacity */
    } else if (bc_row_shift_applies(s, pass)) {
        /* A byte of this tile holds KH times fewer GEMM columns than im2col's; twice
         * the bytes ran r50_3x3_56 ~6% faster than the same as im2col's (a test
         * program, 28 rows against 4, medians of 21) and vgg_3x3_224 no slower. */
        int slots = p->slots;
        int shift_rows = row_shift_tile_rows(s, pass, total, slots, 2 * target, &filter_bytes);
        if (shift_rows == 0 && slots > 1) { /* one slot rather than im2col tiles: */
            slots = 1;                      /* the same sums at every cap that fits */
            shift_rows = row_shift_tile_rows(s, pass, total, 1, 2 * target, &filter_bytes);
        }
        /* Where not even one slot's fits (the filter copy alone can outgrow a cap), the
         * slots keep their im2col tiles: dropped to one, they had left each tile's GEMM
         * to the BLAS's threads, and two threads under a 1 MiB cap ran slower than one
         * (blasconv-bench --threads 2 --reps 7 --pass fwd --workspace-limit 1048576,
         * two runs alternating the library before and after, ms: r50_3x3_14_b8
         * 21.4-25.1 -> 7.5-8.7, dil_3x3_28 10.0-10.6 -> 3.7-4.6; one thread: 11.4-11.6
         * and 5.6-6.0). */
        if (shift_rows > 0) {
            p->slots = slots;
            p->row_shift = 1;
            rows = shift_rows;
            slot_bytes = bc_row_shift_tile_bytes(s, pass, rows);
        } else {
            filter_bytes = 0;
        }
    }
    if (!p->row_shift && p->images_per_tile == 1 &&
        (p->channels_per_tile = tile_channels(s, pass, rows, target)) > 0) {
        rows = s->oh;
        slot_bytes = (size_t)p->channels_per_tile * (size_t)s->kh * (size_t)s->kw *
                     (size_t)s->positions * sizeof(float); /* <= target <= capacity */
    }
    const size_t bytes = front + filter_bytes + slot_bytes * (size_t)p->slots;
    float *buffer = bc_scratch(ctx, bytes);
    if (!buffer)
        return bc_fail(ctx, BLASCONV_ERR_NO_MEMORY, fn, "cannot allocate %zu bytes of scratch",
                       bytes);
    p->dw_transposed = front ? buffer : NULL;
    buffer += front / sizeof(float);
    p->shifted_filter = filter_bytes ? buffer : NULL;
    buffer += filter_bytes / sizeof(float);
    p->col = buffer;
    p->rows_per_tile = rows;
    p->slot_floats = slot_bytes / sizeof(float);
    return BLASCONV_OK;
}

/* Parallel slots run one-thread GEMMs on the library's kept workers (parallel.c),
 * each lowering its own tiles. The BLAS's own threads would share each tile's small
 * GEMM while the lowering stays serial, and OpenBLAS's idle workers spin for about
 * 0.1 s after each threaded call, taking a core from whatever runs next (measured:
 * two one-thread sgemms on two threads then ran no faster than one after the other).
 * So a large call splits its work itself:
 * - a batch of at least one image per slot into whole images;
 * - a smaller forward batch into output rows, if every slot keeps SLOT_MIN_POSITIONS
 *   GEMM columns (fewer, and each slot's GEMM reads the whole filter for little work);
 * - or into output channels, each slot lowering the same tiles (cheap next to the
 *   GEMM of a layer with many channels), if every slot keeps SLOT_MIN_CHANNELS GEMM
 *   rows; preferred when there are at least as many channels as a slot's positions.
 * Backward data on fewer images than slots splits input channels: col2im adds into
 * input rows that neighbouring tiles share, but each channel's planes belong to one
 * slot, which computes their rows of the column matrix (at least SLOT_MIN_CHANNELS);
 * or, when few channels would split unevenly, input rows, each slot computing the
 * columns of every dy row that reaches its rows and adding into its rows only.
 * Backward filter always splits the input channels' kernel rows: its sums over the
 * batch keep their order, each slot lowering only its kernel rows for its columns of
 * dw (kernel rows, not whole channels: r50_conv1's 3 channels went two to one, its 21
 * kernel rows go 11 and 10, 1.44-1.49 -> 1.37-1.39 ms at 2 threads).
 * NHWC forward splits the batch's output rows (its tiles cross images anyway), and so
 * does NHWC backward data on a 1x1 layer (no col2im); other NHWC backward data splits
 * whole images, or on fewer images than slots input rows as NCHW's (it had run one
 * slot on the BLAS's threads: vgg_3x3_224 no faster on two threads than on one);
 * NHWC backward filter splits dw's columns in blocks of 16 (of
 * KH*KW*C/g, each slot lowering only its columns: its GEMMs on the BLAS's threads
 * with a serial lowering ran r50_3x3_56 no faster on two threads than on one). */
enum {
    SLOT_MIN_POSITIONS = 96,
    SLOT_MIN_CHANNELS = 32,
    SLOT_MIN_INPUT_ROWS = 8
};

/* Below BC_SLOT_MIN_FLOPS a call runs on one thread, BLAS included. OpenBLAS's threads
 * made small calls slower than one thread, and slots pay off well below 5e7 flops
 * (3x3 layers on 14x14 maps, GFLOP/s of the median of 2001 calls, three runs: 32
 * channels, 3.6e6 flops: one thread 94-95, OpenBLAS's two 48-49, two slots 177-182;
 * 64 channels, 1.4e7 flops: 136, 91-93, 205-208). */
static double pass_flops(const conv_shape *s)
{
    return 2.0 * (double)s->y_elems * (double)s->col_rows;
}

/* What SPLIT_CHANNELS shares out, per group: output channels forward, input
 * channels for backward data, kernel rows of the input channels for backward filter
 * (NHWC: blocks of dw's columns). */
static int split_units(const conv_shape *s, conv_pass pass)
{
    if (pass == PASS_BACKWARD_FILTER && s->layout == BLASCONV_NHWC)
        return (int)((bc_dw_columns(s) + BC_DW_COLUMN_BLOCK - 1) / BC_DW_COLUMN_BLOCK);
    return pass == PASS_FORWARD         ? s->k_per_group
           : pass == PASS_BACKWARD_DATA ? s->c_per_group
                                        : s->c_per_group * s->kh;
}

/* Backward data split by input rows (each slot running the dy rows that reach its
 * own): at least SLOT_MIN_INPUT_ROWS input rows a slot, else the images. */
static int input_row_slots(const conv_shape *s, int threads, slot_split *split)
{
    int64_t by_rows = threads;
    if (by_rows > (int64_t)s->n * s->h / SLOT_MIN_INPUT_ROWS)
        by_rows = (int64_t)s->n * s->h / SLOT_MIN_INPUT_ROWS;
    if (by_rows > (int64_t)s->n * s->oh)
        by_rows = (int64_t)s->n * s->oh;
    if (by_rows < 2)
        return s->n;
    *split = SPLIT_ROWS;
    return (int)by_rows;
}

static int parallel_slots(const blasconv_context *ctx, const conv_shape *s, conv_pass pass,
                          slot_split *split)
{
    *split = SPLIT_IMAGES;
    if (!bc_blas_parallel_callable(ctx))
        return 1;
    const int threads = bc_thread_count(ctx);
    if (threads < 2 || pass_flops(s) < BC_SLOT_MIN_FLOPS)
        return 1;
    if (s->layout == BLASCONV_NHWC && pass == PASS_BACKWARD_FILTER) {
        /* columns of dw: every slot sums each of its columns over all positions, in
         * the tiles one thread would use */
        int64_t slots = threads;
        if (slots > split_units(s, pass) / 2) /* at least 32 columns a slot */
            slots = split_units(s, pass) / 2;
        *split = SPLIT_CHANNELS;
        return slots >= 2 ? (int)slots : 1;
    }
    if (s->layout == BLASCONV_NHWC && pass == PASS_BACKWARD_DATA && !s->direct_1x1) {
        if (s->n >= threads)
            return threads; /* whole images: col2im stays inside */
        /* input rows, each slot running the dy rows that reach its own (as NCHW) */
        return input_row_slots(s, threads, split);
    }
    if (s->layout == BLASCONV_NHWC) { /* rows of the batch, tiles may cross images */
        const int64_t rows = (int64_t)s->n * s->oh;
        int64_t slots = threads < rows ? threads : rows;
        if (slots > (int64_t)s->n * s->positions / SLOT_MIN_POSITIONS)
            slots = (int64_t)s->n * s->positions / SLOT_MIN_POSITIONS;
        *split = SPLIT_ROWS;
        return slots >= 2 ? (int)slots : 1;
    }
    if (s->n >= threads && pass != PASS_BACKWARD_FILTER)
        return threads;
    if (pass != PASS_FORWARD) { /* input channels: each slot owns its dx planes or dw
                                   columns, and sums over the batch in one order */
        const int64_t taps = (int64_t)s->kh * s->kw;
        int64_t slots = threads;
        if (slots > s->c_per_group * taps / SLOT_MIN_CHANNELS)
            slots = s->c_per_group * taps / SLOT_MIN_CHANNELS;
        if (slots > split_units(s, pass))
            slots = split_units(s, pass);
        /* Few channels split unevenly (r50_conv1's 3 over 2 slots ran 1.45x one
         * thread): backward data then splits input rows, each slot computing the dy
         * rows that reach its own (a kernel's reach more). */
        const int uneven = s->c_per_group % threads != 0 && s->c_per_group < 4 * threads;
        if (slots >= 2 && !(pass == PASS_BACKWARD_DATA && uneven)) {
            *split = SPLIT_CHANNELS;
            return (int)slots;
        }
        if (pass == PASS_BACKWARD_FILTER)
            return 1;
        return input_row_slots(s, threads, split);
    }
    const int64_t positions = (int64_t)s->n * s->positions;
    const int64_t rows = (int64_t)s->n * s->oh;
    int64_t by_rows = threads < rows ? threads : rows;
    if (by_rows > positions / SLOT_MIN_POSITIONS)
        by_rows = positions / SLOT_MIN_POSITIONS;
    int64_t by_channels = threads;
    if (by_channels > s->k_per_group / SLOT_MIN_CHANNELS)
        by_channels = s->k_per_group / SLOT_MIN_CHANNELS;
    /* Measured at 2 threads: r50_1x1_s2 (512 channels, 392 positions a slot) runs
     * 1.8x faster split by channels, r50_3x3_28 (128, 392) 1.3x faster by rows. */
    const int channels_first = by_channels >= threads && s->k_per_group >= positions / threads;
    if (by_rows >= 2 && !channels_first) {
        *split = SPLIT_ROWS;
        return (int)by_rows;
    }
    if (by_channels >= 2) {
        *split = SPLIT_CHANNELS;
        return (int)by_channels;
    }
    return s->n;
}

/* Units of p->unit_rows output rows: runs of the batch's rows (p->unit_spans), else
 * each image's rows in tiles; without unit_rows, one unit per slot, its share. */
static int64_t unit_count(const conv_plan *p)
{
    const int64_t rows = (int64_t)p->s.n * p->s.oh, r = p->unit_rows;
    if (!r)
        return p->slots;
    return p->unit_spans ? (rows + r - 1) / r : p->s.n * ((p->s.oh + r - 1) / r);
}

/* The batch row where unit u starts (u = unit_count: the end), given unit_rows. */
static int unit_row(const conv_plan *p, int64_t u)
{
    const int64_t oh = p->s.oh, rows = (int64_t)p->s.n * oh, r = p->unit_rows;
    if (p->unit_spans)
        return (int)(u * r < rows ? u * r : rows);
    const int64_t per_image = (oh + r - 1) / r, in_image = u % per_image * r;
    return (int)(u / per_image * oh + (in_image < oh ? in_image : oh));
}

/* Slots share out units of work (bc_for_slots): a forward pass split by rows or images
 * in single tiles (NHWC's, which cross images unless lowered by kernel columns, or each
 * image's) or groups of images lowered side by side; the direct 1x1 path and backward
 * data split by images in whole images; every other split one unit per slot, its
 * share (unit_rows 0), as where there would be no more units than slots. Slot j owns
 * a run of units and runs them in order (with cores of one speed, the split it always
 * had); a thread that runs out takes units one at a time from the back of another
 * slot's run (bc_parallel_shares): with one range a slot, the call had waited for its
 * slowest core. A test program, two threads, a busy loop on the second core, two runs
 * alternating the library before and after, medians of 11-21 calls, ms: vgg_3x3_224
 * NCHW 25.2-25.4 -> 17.4-17.8 (one thread alone: 25.5), NHWC 23.3-24.0 -> 16.9-17.5,
 * r50_3x3_56_b8 12.1-14.3 -> 8.5-8.6, r50_1x1_56_b8 6.9-7.0 -> 4.3-4.7, r50_3x3_56_b8's
 * backward data 11.0-13.8 -> 8.3-8.4; without it the same (three runs: vgg_3x3_224
 * 12.0-12.6 against 12.5-12.6). Pieces dealt in turn from the start, rather than runs,
 * lost 1-9% without the busy loop (r50_3x3_56_b8 6.5 -> 7.1 ms in single tiles, NHWC
 * vgg_3x3_224 11.8 -> 12.8 in four uneven pieces a slot): a tile's neighbour, which
 * shares its input rows, went to the other core, and the last piece ran alone. */
static void plan_units(conv_plan *p, conv_pass pass)
{
    const conv_shape *s = &p->s;
    if (p->slots < 2 || p->split == SPLIT_CHANNELS || pass == PASS_BACKWARD_FILTER)
        return;
    if (pass == PASS_BACKWARD_DATA || s->direct_1x1) { /* whole images */
        if (p->split != SPLIT_IMAGES)
            return;
        p->unit_rows = s->oh, p->unit_spans = 1;
    } else if (p->images_per_tile > 1) {
        p->unit_rows = p->images_per_tile * s->oh, p->unit_spans = 1;
    } else {
        p->unit_rows = p->rows_per_tile;
        p->unit_spans = s->layout == BLASCONV_NHWC && !p->row_shift;
    }
    if (unit_count(p) <= p->slots)
        p->unit_rows = 0;
}

/* Unit u: slot u's share where the units are the slots, else a tile or images. */
static slot_range unit_range(const conv_plan *p, int64_t u)
{
    const int64_t n = p->s.n, oh = p->s.oh, slots = p->slots;
    const int64_t ks = p->channels; /* what SPLIT_CHANNELS splits */
    slot_range r = {0, (int)(n * oh), 0, (int)ks};
    if (p->unit_rows)
        r.row_begin = unit_row(p, u), r.row_end = unit_row(p, u + 1);
    else if (p->split == SPLIT_IMAGES)
        r.row_begin = (int)(n * u / slots * oh), r.row_end = (int)(n * (u + 1) / slots * oh);
    else if (p->split == SPLIT_ROWS)
        r.row_begin = (int)(n * oh * u / slots), r.row_end = (int)(n * oh * (u + 1) / slots);
    else /* output channels forward, input channels backward */
        r.k_begin = (int)(ks * u / slots), r.k_end = (int)(ks * (u + 1) / slots);
    return r;
}

struct slot_job {
    const conv_plan *plan;
    bc_slot_fn fn;
    void *arg;
};

/* Unit u into slot `slot`'s tile of scratch (bc_parallel_shares). */
static void run_unit(void *arg, int slot, int64_t u)
{
    const struct slot_job *job = arg;
    const conv_plan *p = job->plan;
    job->fn(job->arg, p->col ? p->col + (size_t)slot * p->slot_floats : NULL, unit_range(p, u));
}

void bc_for_slots(const conv_plan *p, bc_slot_fn fn, void *arg)
{
    if (p->slots <= 1) { /* n*OH < y_elems < 2^31 */
        fn(arg, p->col, (slot_range){0, p->s.n * p->s.oh, 0, p->channels});
        return;
    }
    struct slot_job job = {p, fn, arg};
    bc_parallel_shares(p->slots, unit_count(p), run_unit, &job);
}

blasconv_status bc_conv_plan(blasconv_context *ctx, const char *fn, const blasconv_conv2d *d,
                             conv_pass pass, conv_plan *p)
{
    p->col = NULL;
    p->rows_per_tile = 0;
    p->images_per_tile = 1;
    p->channels_per_tile = 0;
    p->row_shift = 0;
    p->shifted_filter = NULL;
    p->dw_transposed = NULL;
    p->depthwise = 0;
    p->slots = 1;
    p->split = SPLIT_IMAGES;
    p->channels = 0;
    p->slot_floats = 0;
    p->unit_rows = 0;
    p->unit_spans = 0;
    blasconv_status st = bc_conv_shape(ctx, fn, d, &p->s);
    if (st != BLASCONV_OK)
        return st;
    p->channels = split_units(&p->s, pass);
    p->depthwise = bc_depthwise_applies(&p->s);
    p->winograd = (winograd_plan){0};
    if (pass == PASS_FORWARD && !p->depthwise)
        st = bc_winograd_plan(ctx, fn, &p->s, &p->winograd);
    else if (pass == PASS_BACKWARD_DATA && !p->depthwise)
        st = bc_winograd_plan_backward_data(ctx, fn, &p->s, &p->dx_forward, &p->winograd);
    if (st == BLASCONV_OK && !p->depthwise && !p->winograd.m)
        p->slots = parallel_slots(ctx, &p->s, pass, &p->split);
    if (st == BLASCONV_OK && !p->depthwise && !p->winograd.m)
        st = p->s.direct_1x1 ? plan_direct(ctx, pass, p) : plan_col_tiles(ctx, fn, pass, p);
    if (st == BLASCONV_OK)
        plan_units(p, pass);
    /* The depthwise loops call no BLAS: leave its thread count alone (raising it
     * wakes OpenBLAS's workers, which then spin beside the loops' threads). */
    if (st == BLASCONV_OK && p->depthwise)
        return st;
    if (st == BLASCONV_OK &&
        (p->slots > 1 || p->winograd.threads > 1 || pass_flops(&p->s) < BC_SLOT_MIN_FLOPS))
        bc_blas_use_threads(ctx, 1);
    else if (st == BLASCONV_OK)
        bc_blas_apply_threads(ctx);
    return st;
}
