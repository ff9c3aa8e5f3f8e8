/* FAST forward for 3x3 stride-1 layers: Winograd F(m x m, 3 x 3) feeding sgemm.
 *
 * A batch of T output tiles (m x m each, numbered across images) runs as
 *   V[xi] = B^T d B   for every tile and input channel   (winograd_transform.c)
 *   M[xi] = U[xi] V[xi]  one sgemm per xi < (m+2)^2, K x T x C, through bc_sgemm
 *   y     = A^T M A + bias, clipped at the bottom and right edges
 * with U[xi] = G g G^T the filter, transformed once per call (or kept in the
 * context when the caller promised constant weights). NCHW keeps V as [xi][C][T]
 * and M as [xi][K][T] (the GEMM is U V, tiles as columns); NHWC keeps V as
 * [xi][T][C], U transposed as [xi][C][K] and M as [xi][T][K] (the GEMM is V U^T,
 * tiles as rows), so each layout's transforms run over contiguous lanes: tiles in
 * NCHW, channels in NHWC. (NCHW's blocks of U under F(2x2) at one thread take U^T
 * and M^T as NHWC does, for faster GEMMs: k_block_rows_of_m; NHWC's blocks on few
 * tiles keep U as NCHW does, for a faster filter transform: nhwc_filter_rows.)
 *
 * Choice of m: F(4x4) does 4x fewer multiplications than the lowering against
 * F(2x2)'s 2.25x and its transforms cost less per output, but its filter is 36/16
 * larger, it wastes more on maps that are not a multiple of 4, and its error is
 * 10-20x larger. A cost model (winograd_ns, lowering_ns below, fitted to a grid of
 * shapes) ranks F(4x4), F(2x2) and the lowering per layer: F(4x4) on large maps,
 * F(2x2) on 14x14, the lowering on 7x7 at batch 1 (every GEMM is too thin).
 *
 * Error bound (measured over the suite's 3x3 layers against the lowering, x and w
 * uniform in [-S, S], see the README): |FAST - GEMM| <= 9C * S^2 * 1e-7 for F(2x2)
 * and 9C * S^2 * 1e-6 for F(4x4) (9C terms per output), it scales with S^2 exactly
 * like the lowering's own rounding. F(2x2) stays inside the project's default
 * tolerance (blasconv_conv2d_tolerance, RANDOM_DATA); F(4x4) needs that plus
 * 1e-6 * 9(C+1) * max|x| * max|w|, FAST's documented bound (tests/test_winograd.c). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

/* V and M of one batch of tiles together take about this much: enough tiles for
 * GEMMs that run at full speed, few enough that V and M stay near the L2 cache. */
#define WINOGRAD_BATCH_BYTES ((size_t)4 << 20)
/* The transforms take this many tiles (NCHW) or channels (NHWC) at a time. */
#define LANES 16
#define CHANNEL_CHUNK 64
/* The filter transform's streaming stores (and NHWC's channels outside 16 x 16
 * blocks) go through a block on the stack, this many lanes of each tap position at
 * a time: 16 lanes straight into an unpadded U made 36 streams of 64-byte stores,
 * 256 KB apart on r50_3x3_14_b8, and two threads transformed its filter hardly
 * faster than one (NCHW 1.3-1.7 ms, NHWC 0.9-1.0 ms a call: blasconv-fastbench with
 * and without --constant). 128 and 256 lanes ran the same; 128 keeps the block at
 * 18 KB of the caller's stack. Ordinary NCHW stores go straight into U, whose tap
 * positions are padded apart (WINOGRAD_TAP_PAD). */
#define FILTER_CHUNK 128
/* NCHW's U at least this large is written with streaming stores, which skip reading
 * each line before writing it, and so is U transformed by several threads (NHWC's
 * 16 x 16 blocks store straight into U, see filters_transposed).
 * blasconv-fastbench --reps 9 --only the row, alternating with ordinary stores, NCHW:
 * r50_3x3_7_b8 (U 36 MiB) 11.2-12.6 -> 10.1-10.3 ms at one thread, 6.4-6.5 -> 6.0 at two;
 * r50_3x3_14_b8 (9 MiB) 9.0 -> 7.8-7.9 and 4.9-5.1 -> 4.8; r50_3x3_56 (0.6 MiB) at two
 * threads 0.58-0.60 -> 0.53-0.54 (reps 21). At one thread r50_3x3_14's 4 MiB of U,
 * which the GEMMs then find in the cache, lost: 1.17-1.50 -> 1.39-1.44 ms (reps 31). */
#define WINOGRAD_STREAM_BYTES ((size_t)8 << 20)
/* A transformed filter of at least WINOGRAD_K_BLOCK_MIN_U_BYTES, when one batch holds
 * all the tiles and the filter is not kept, is transformed a block of output channels
 * at a time per thread (all tap positions), each block's GEMMs run while it is in the
 * cache. Whole, U went to memory and came back: OpenBLAS ran 36 GEMMs of 512 x 32 x
 * 512 (r50_3x3_7_b8's F(4x4)) at 82 GFLOP/s with 36 different filters in turn, 106
 * with 9 and 127 with 4 (a test program, medians of 15). A block takes at most
 * WINOGRAD_K_BLOCK_BYTES, the L2 cache, in a multiple of 16 channels; where 16 take
 * more, WINOGRAD_K_BLOCK_WIDE_BYTES (r50_3x3_7_b8: 16 channels, 1.2 MB, made GEMMs of
 * 16 x 32 x 512 that lost to 48). blasconv-fastbench --reps 15 to 31, NCHW, two or
 * three runs alternating these with 4 MiB blocks from 8 MiB of U: r50_3x3_14_b8 (16
 * channels, 0.6 MB) 7.5-8.2 -> 5.6-6.5 ms at one thread, 4.1-4.2 -> 3.5-3.7 at two;
 * r50_3x3_14 (F(2x2), 4 MiB of U, whole before) 1.18-1.70 -> 1.06-1.34 at one. From
 * 2 MiB, r50_3x3_28's 2.4 MiB in blocks ran no faster at one thread and slower at
 * two (0.57-0.60 against 0.50-0.61 ms; a test program, medians of 101, six runs). */
#define WINOGRAD_K_BLOCK_MIN_U_BYTES ((size_t)4 << 20)
/* NHWC's GEMMs have the tiles as rows: a block is columns [k0, k1) of each M[xi],
 * and its output transform reads their tiles' rows 16 channels at a time. That
 * pays only for a U far beyond the caches: blasconv-fastbench --reps 9 to 15
 * --layout nhwc --only the row, two or three runs alternating blocks and whole U
 * (a temporary switch): r50_3x3_7_b8 (36 MiB) 6.3-7.8 ms in blocks against the
 * lowering's 10.0-11.3 at one thread (whole U: 13.0-13.6), 4.5-4.6 against 6.0-6.2
 * at two; r50_3x3_14_b8 (9.4 MB) 6.4-6.9 against 6.8-6.9 whole at one thread but
 * 4.7-4.8 against 3.9 at two. That was before the transforms kept their tiles in
 * registers: now NHWC goes block by block from WINOGRAD_K_BLOCK_MIN_U_BYTES as NCHW
 * does at one thread, or with fewer tiles than WINOGRAD_MIN_BATCH_TILES (blocks_go).
 * A test program, medians of 31-201, two runs alternating, ms, one thread:
 * r50_3x3_14 (4 MiB) 0.98-1.00 -> 0.69-0.70, at batch 2 2.26-2.28 -> 1.74-1.81, at
 * batch 8 (9.4 MB) 6.0-6.3 -> 5.5-5.6, 256 channels on 28x28 2.8-2.9 -> 2.3, 384 on
 * 14x14 2.3-2.4 -> 1.6-1.7; two threads: r50_3x3_14 0.70-0.73 -> 0.54-0.57, 384 on 14x14
 * 1.38-1.41 -> 1.17-1.20, 512 -> 256 on 14x14 1.38-1.42 -> 1.09-1.10, but at batch 2
 * (98 tiles) 1.03-1.07 -> 1.25 and at batch 4 2.0-2.1 -> 2.4. */
#define WINOGRAD_K_BLOCK_MIN_U_BYTES_NHWC ((size_t)16 << 20)
/* NHWC's blocks of U whose tiles times output channels come to at most this many keep
 * U as NCHW does, [xi][k][c] (nhwc_filter_rows), and each GEMM takes it transposed:
 * the transform then reads each filter's 9 rows of channels in order, where U^T's 16 x
 * 16 blocks read 144 lines at a time, more streams than the prefetchers follow (that
 * transform took half of r50_3x3_7's call on an Intel Xeon host, perf). The bound is
 * OpenBLAS's (0.3.21, SkylakeX kernels): it runs such a GEMM (row-major with B
 * transposed, a column-major "TN" call) through its small-matrix kernel only while M*N
 * is at most 1200, and through its packed path, slower here, beyond. On 2026-12-03
 * (blasconv-fastbench --layout nhwc --reps 15, two rounds, FAST ms, one thread pinned)
 * F(2x2) on 49 tiles in blocks of 64 (r50_3x3_14: 2.6-2.8 -> 2.7-3.2), F(4x4) on 32
 * tiles in blocks of 48 (r50_3x3_7_b8: 22-24 -> 26-28) and on 128 (r50_3x3_14_b8:
 * 19-20 -> 26-28) lost, while 16 tiles in blocks of 32 (r50_3x3_7: 4.9-5.3 -> 4.3-4.4
 * ms, 0.92-0.98x -> 1.10-1.11x the lowering; two threads 2.5-2.9 -> 2.0-2.1) gained;
 * so where the blocks go by the cache's measure they narrow to fit the bound when 32
 * output channels do (k_block_rows). The single-layer program, wall ms, medians of
 * 21-201, four or five rounds alternating a temporary switch: r50_3x3_7_b8 (F(4x4), 32
 * tiles, blocks of 48 -> 32 as rows) 15.4-19.8 -> 13.0-18.6 at one thread pinned (one
 * round 26.7), 9.7-10.7 -> 7.9-8.3 at two; 256 channels on 7x7 at batch 4 (F(4x4), 16
 * tiles, blocks of 16) 2.55-3.16 -> 2.00-2.84, 16 wide rather than 64 (2.50-2.99).
 * Narrowed to 16, r50_3x3_14 (F(2x2), 49 tiles, 64 -> 16) was no clear gain (1.82-2.33
 * -> 1.53-2.17 at one thread, 1.31-1.40 -> 1.09-1.41 at two) and keeps U^T. */
#define WINOGRAD_U_ROWS_MAX_PRODUCT 1200

/* The widest block (a multiple of 16 output channels) whose U goes as rows for
 * NHWC's `turned` or plain filter on `tiles` tiles: 0 where none does. */
static size_t u_rows_max_channels(const conv_shape *s, int turned, int tiles)
{
    if (s->layout != BLASCONV_NHWC || turned || tiles <= 0)
        return 0;
    return WINOGRAD_U_ROWS_MAX_PRODUCT / (size_t)tiles / 16 * 16;
}
#define WINOGRAD_K_BLOCK_BYTES ((size_t)1 << 20)
#define WINOGRAD_K_BLOCK_WIDE_BYTES ((size_t)4 << 20)
/* U (whole or a block of output channels) keeps its tap positions' matrices this
 * many floats more than K*C apart: r50_3x3_14's blocks of 64 channels of 256 are
 * 64 KiB, and sixteen rows 64 KiB apart share one L1 set, so NCHW's filter transform
 * had gone through a block on the stack and memcpy. NHWC's, which stores each
 * channel's (m+2)^2 tap positions in turn, ran r50_3x3_7_b8 (blocks of 48 channels,
 * 96 KiB apart) 1.5x slower unpadded. */
#define WINOGRAD_TAP_PAD 16
/* V's and M's tap positions' matrices of a batch, likewise: C (or K) times the tiles
 * floats plus this many apart. The input transform stores a tile block's (m+2)^2 tap
 * positions in turn, and the output transform loads them: with 128 tiles of 256
 * channels (r50_3x3_14_b8) the matrices were 128 KiB apart, one L1 set. ly test
 * program, three rounds alternating a temporary switch, medians in ms, NCHW
 * r50_3x3_14_b8: two threads 3.59-3.67 -> 3.25-3.38 (V padded), 3.43-3.59 -> 3.39-3.57
 * (then M too), one thread 5.21-5.25 -> 4.99-5.18 and 5.31-5.43 -> 5.17-5.24; V and M
 * padded, two threads: NHWC r50_3x3_7_b8 4.63-5.02 -> 4.01-4.39, NCHW 4.13-4.60 ->
 * 3.89-4.38, NHWC r50_3x3_14_b8 4.67-4.75 -> 4.52-4.65, r50_3x3_28 and r50_3x3_56 the
 * same or slightly better; NHWC r50_3x3_56_b8 2.85-2.98 -> 3.03-3.23. */
#define WINOGRAD_TILE_PAD 16
/* ...provided that one batch of V and M for all the tiles takes at most this much, and
 * no more than U: each block's GEMMs read all of V again, as each batch's read all of
 * U. While blocks began at 2 MiB of U (a test program, medians of 21 and 31):
 * r50_3x3_28 at batch 8 (V and M 6x U) ran 6.2-6.3 ms in blocks against 4.8-5.0 whole
 * at one thread, 4.8 against 3.0 at two; at batch 2 (1.5x) 1.15-1.19 against 1.33
 * and 0.97-1.00 against 0.93; r50_3x3_14 at batch 4 (half) 2.7-2.8 against 3.2-3.4
 * and 2.0-2.1 against 2.4-2.6. */
#define WINOGRAD_K_BLOCK_BATCH_BYTES ((size_t)16 << 20)
/* With two or more block buffers, each thread transforms all the tiles' input into a
 * V of its own where that V takes at most this much, and the threads meet once a
 * call instead of twice: split over the threads, V was half written by each core and
 * then read whole by both, and the input stage of r50_3x3_14 (NHWC, 49 tiles, 0.8 MB
 * of V) took 73-79 us at two threads against 42-49 at one (a test build timing the
 * stage, medians of 1004 calls, four runs; NCHW 117-123 against 85-96). A
 * test program at two threads, medians of 51-1001, two or three runs alternating,
 * ms: r50_3x3_14 NHWC 0.58-0.59 -> 0.49-0.50, NCHW 0.60-0.61 -> 0.57-0.58; NCHW at
 * batch 2 1.18 -> 1.10-1.11, 384 channels on 14x14 1.29-1.30 -> 1.22-1.23, 256 on 28x28
 * 1.79 -> 1.70; from 2.4 MB of V the copies lost: NCHW r50_3x3_7_b8 3.46-3.51 ->
 * 3.73-3.74, r50_3x3_14 at batch 4 (3.2 MB) 1.83-1.88 -> 2.05. */
#define WINOGRAD_V_COPY_MAX_BYTES ((size_t)2 << 20)
/* Constant weights keep U whole only below this size where it could be transformed
 * block by block: a larger kept U came back from memory on every call, while the
 * blocks are made from w (4x smaller at F(4x4)) in the cache. blasconv-fastbench
 * --reps 15 --constant --only the row, NCHW, two runs alternating kept and blocks
 * (a temporary switch): r50_3x3_14_b8 (9.4 MB) 7.5 ms kept against 5.7-6.2 in blocks
 * at one thread, 3.8-4.0 against 4.0 at two; r50_3x3_7_b8 (36 MiB) 8.1-8.2 against
 * 6.6-6.9 and 4.2 against 4.1-4.2. r50_3x3_14's 4 MiB (F(2x2)) kept ran 1.2-1.3 ms
 * against 1.1-1.3 at one thread and 0.67-0.71 against 0.95-0.98 at two. */
#define WINOGRAD_KEEP_MAX_BYTES ((size_t)8 << 20)
/* Batches hold at least this many tiles when the workspace allows: thinner GEMMs
 * lose more to their overhead than a batch beyond the L2 cache costs. */
#define WINOGRAD_MIN_BATCH_TILES 64
/* Below this expected lowering time (ns) the model is not consulted (see the plan). */
#define WINOGRAD_ALWAYS_NS 50e3

static int winograd_applies(const conv_shape *s)
{
    return bc_3x3_stride1(s) && s->groups == 1;
}

/* Floats from one tap position's matrix of `rows` output channels of U (all K, or a
 * block's) to the next's (WINOGRAD_TAP_PAD more than the matrix). */
static size_t tap_floats(const conv_shape *s, size_t rows)
{
    return rows * (size_t)s->c + WINOGRAD_TAP_PAD;
}

/* Floats from one tap position's matrix of V (`channels` C) or M (K) for `tiles` tiles
 * to the next's (WINOGRAD_TILE_PAD more than the matrix). */
static size_t tiles_tap_floats(int64_t channels, int tiles)
{
    return (size_t)channels * (size_t)tiles + WINOGRAD_TILE_PAD;
}

/* Bytes of one batch's V (channels C) or M (K) for `tiles` tiles, pads included,
 * rounded up to 64. */
static size_t batch_matrices_bytes(int m, int64_t channels, int tiles)
{
    return bc_align64((size_t)(m + 2) * (m + 2) * tiles_tap_floats(channels, tiles) *
                      sizeof(float));
}

/* Bytes of U, and of V plus M per tile, for tile side m. */
static size_t filter_bytes(const conv_shape *s, int m)
{
    return (size_t)(m + 2) * (m + 2) * tap_floats(s, (size_t)s->k) * sizeof(float);
}

static size_t tile_bytes(const conv_shape *s, int m)
{
    return (size_t)(m + 2) * (m + 2) * ((size_t)s->c + (size_t)s->k) * sizeof(float);
}

/* Whether U is large enough to go block by block (WINOGRAD_K_BLOCK_MIN_U_BYTES*). */
static int blocks_pay(const conv_shape *s, int m)
{
    return filter_bytes(s, m) >= (s->layout == BLASCONV_NCHW ? WINOGRAD_K_BLOCK_MIN_U_BYTES
                                                             : WINOGRAD_K_BLOCK_MIN_U_BYTES_NHWC);
}

/* Whether a call of `tiles` on `threads` transforms U block by block, if the rest
 * allows (see WINOGRAD_K_BLOCK_MIN_U_BYTES_NHWC). */
static int blocks_go(const conv_shape *s, int m, int tiles, int threads)
{
    return blocks_pay(s, m) || (filter_bytes(s, m) >= WINOGRAD_K_BLOCK_MIN_U_BYTES &&
                                (threads == 1 || tiles < WINOGRAD_MIN_BATCH_TILES));
}

/* Whether a context with constant weights keeps U whole between calls: not where U is
 * large enough to go block by block and reaches WINOGRAD_KEEP_MAX_BYTES. */
static int keeps_filter(const conv_shape *s, int m, int cached)
{
    return cached && !(blocks_pay(s, m) && filter_bytes(s, m) >= WINOGRAD_KEEP_MAX_BYTES);
}

static int ceil_div_int(int num, int den)
{
    return (num + den - 1) / den;
}

/* Tiles per batch for side m within `capacity` bytes, with `copies` V and M buffers
 * (one per thread running batches); 0 when not even one tile each fits. */
static int batch_tiles(const conv_shape *s, int m, size_t capacity, int tiles, int copies)
{
    /* per copy: aligning its V and M (128), their pads */
    const size_t fixed =
        bc_align64(filter_bytes(s, m)) +
        (128 + 2 * (size_t)(m + 2) * (m + 2) * WINOGRAD_TILE_PAD * sizeof(float)) * (size_t)copies;
    const size_t per_tile = tile_bytes(s, m) * (size_t)copies;
    if ((int64_t)(m + 2) * (m + 2) * s->k * s->c >= BLASCONV_MAX_ELEMENTS)
        return 0;
    if (capacity < fixed + per_tile)
        return 0;
    size_t fit = (capacity - fixed) / per_tile;
    size_t want = WINOGRAD_BATCH_BYTES / tile_bytes(s, m); /* per copy */
    if (want < WINOGRAD_MIN_BATCH_TILES)
        want = WINOGRAD_MIN_BATCH_TILES;
    if (fit > want)
        fit = want;
    /* V and M each stay under 2^31 elements, like every scratch buffer, pads included. */
    size_t most =
        ((size_t)(BLASCONV_MAX_ELEMENTS - 1) / ((size_t)(m + 2) * (m + 2)) - WINOGRAD_TILE_PAD) /
        (size_t)(s->c > s->k ? s->c : s->k);
    if (fit > most)
        fit = most;
    return fit > (size_t)tiles ? tiles : (int)fit;
}

/* Expected nanoseconds of one forward call: sgemm at ~110 GFLOP/s (NHWC's lowering
 * ~125) times an efficiency that falls with the GEMMs' column count for both; for
 * Winograd, plus the transforms by the float they touch (input and output per tile,
 * the filter per call unless it is kept). Only the ranking matters: m = 4 wins on
 * large maps, m = 2 on small ones (less padding waste, more tiles per GEMM).
 * Fitted 2026-12-02 (OpenBLAS Cooperlake kernels): a test program timed the lowering,
 * F(2x2) and F(4x4) (forced) on 32 shapes (C = K from 32 to 512 on 7x7 to 56x56
 * maps at batch 1, 128-512 channels on 7x7 and 14x14 at batch 8, a few with C != K,
 * 10x10, 20x20, 112x112), both layouts, one and two threads, medians of 5-301
 * calls; the constants came from a random search for the least time lost to the
 * choice (the sum of log(chosen / fastest)), the lowering's two rates held. Refitted
 * the same day, after the filter transform came to read w as rows and NCHW's F(2x2)
 * blocks to take the tiles as rows at two threads, to two new runs of the grid with
 * 12 more shapes (batch 2 and 4, 96-384 channels): the constants before lost 6.1% on
 * average (r50_3x3_7 and other 7x7 maps at batch 1 kept the lowering, which F(2x2)
 * now beats by 1.1-1.5x at one thread and 1.2-1.8x at two), these 2.7%, fitted on
 * one run and checked on the other (2.73% and 2.75%; 0.7% at one thread, 4.8% at
 * two, where NHWC's F(4x4) keeps some layers F(2x2) runs faster). The refit dropped
 * the 15% margin Winograd had to promise over the lowering and the charge for few
 * tiles a thread (fitted to 1.0: such calls now go one block of U per thread). */
#define NS_PER_FLOP 0.0091
#define NS_PER_FLOP_NHWC 0.0079
/* GEMM columns at which the sgemm runs at half rate: the lowering's columns, and
 * FAST's tiles (NCHW's tiles are the GEMM's N; NHWC's are its M, and in blocks of
 * U^T its N). */
#define LOWERING_EFFICIENCY_HALF 16.0
#define TILE_EFFICIENCY_HALF 13.0
#define TILE_EFFICIENCY_HALF_NHWC 12.0
#define NS_PER_IO_FLOAT 0.2
#define NS_PER_IO_FLOAT_NHWC 0.085
#define NS_PER_FILTER_FLOAT 0.025
/* NHWC's turned filter (backward data) reads w across its rows (filters_transposed):
 * r50_3x3_7's FAST backward data (F(2x2)) ran 0.72-0.92x the lowering's speed at one
 * thread and 0.71-0.79x at two where its forward ran 1.05x and 1.25x
 * (blasconv-fastbench --pass bwd-data --layout nhwc, three runs each); charged so that
 * it keeps the lowering. */
#define TURNED_NHWC_COST 4.0
static double lowering_ns(const conv_shape *s)
{
    /* NCHW runs a GEMM per image (N = OH*OW), or per group of images on small maps
     * (plan.c), NHWC one over the batch's positions with a deep K, which OpenBLAS
     * runs faster (~140 against ~110 GFLOP/s). */
    double columns = (double)s->n * (double)s->positions;
    if (s->layout == BLASCONV_NCHW) {
        const int64_t grouped = bc_images_per_gemm(s);
        columns = (double)s->positions * (double)(grouped < s->n ? grouped : s->n);
    }
    const double ns_per_flop = s->layout == BLASCONV_NCHW ? NS_PER_FLOP : NS_PER_FLOP_NHWC;
    return 2.0 * s->k * s->c * 9.0 * (double)s->n * (double)s->positions * ns_per_flop *
           (columns + LOWERING_EFFICIENCY_HALF) / columns;
}

static double winograd_ns(const conv_shape *s, int m, int tiles, int per_batch, int cached,
                          int turned)
{
    const double taps = (m + 2) * (m + 2);
    const double half = s->layout == BLASCONV_NCHW || blocks_pay(s, m) ? TILE_EFFICIENCY_HALF
                                                                       : TILE_EFFICIENCY_HALF_NHWC;
    const double gemm =
        2.0 * s->k * s->c * taps * tiles * NS_PER_FLOP * (per_batch + half) / per_batch;
    const double io_per_float =
        s->layout == BLASCONV_NCHW ? NS_PER_IO_FLOAT : NS_PER_IO_FLOAT_NHWC;
    const double io = io_per_float * ((double)s->c + s->k) * taps * tiles;
    const double filter = cached
                              ? 0.0
                              : NS_PER_FILTER_FLOAT * taps * s->k * s->c *
                                    (turned && s->layout == BLASCONV_NHWC ? TURNED_NHWC_COST : 1);
    return gemm + io + filter;
}

/* One block buffer: `rows` output channels of U at every tap position. */
static size_t k_block_buffer_bytes(const conv_shape *s, int m, size_t rows)
{
    return bc_align64((size_t)(m + 2) * (m + 2) * tap_floats(s, rows) * sizeof(float));
}

/* Output channels per block of U when the filter is transformed block by block
 * (WINOGRAD_K_BLOCK_BYTES above; NHWC's, where they go by the cache's measure,
 * narrowed to keep U as rows where 32 channels can: WINOGRAD_U_ROWS_MAX_PRODUCT), and
 * in *buffers the block buffers (no more than the threads or the blocks): a multiple
 * of 16, sized for a count of blocks that is a multiple of the threads before the
 * rounding to 16; 0 when U is transformed whole
 * (kept and under WINOGRAD_KEEP_MAX_BYTES, small for the layout with one thread or
 * many tiles, too many tiles for one batch or more V and M than U, or not within
 * `capacity` even in blocks of 16 channels: a limit narrows the blocks to fit).
 * Two or more threads sharing under WINOGRAD_MIN_BATCH_TILES tiles had each stage
 * split over them (a barrier a stage, each stage reading what the other core wrote);
 * U too small to go by the cache's measure now goes in one block of output channels
 * per thread, each thread transforming its own V (WINOGRAD_V_COPY_MAX_BYTES). A test
 * program, two threads, medians of 501, two runs alternating, ms, NHWC: 128 channels
 * on 14x14 0.165 -> 0.140-0.147, 192 on 14x14 0.41 -> 0.28-0.33, 128 on 20x20
 * 0.27-0.28 -> 0.206, r50_3x3_28 0.39-0.40 -> 0.33 (0.365-0.367 in blocks of at most
 * 1 MiB, two a thread); NCHW, one run: 128 on 14x14 0.193 -> 0.168, 192 on 14x14
 * 0.467 -> 0.302, 128 on 20x20 0.361 -> 0.305, r50_3x3_28 0.47 either way. */
static int k_block_rows(const conv_shape *s, int m, int cached, int turned, int tiles, int threads,
                        size_t capacity, int *buffers)
{
    const size_t taps = (size_t)(m + 2) * (m + 2);
    const int by_cache = blocks_go(s, m, tiles, threads);
    const int by_threads = threads > 1 && tiles < WINOGRAD_MIN_BATCH_TILES;
    if (!(by_cache || by_threads) || keeps_filter(s, m, cached) ||
        (size_t)tiles > WINOGRAD_K_BLOCK_BATCH_BYTES / tile_bytes(s, m) ||
        (size_t)tiles > filter_bytes(s, m) / tile_bytes(s, m))
        return 0;
    const size_t row_bytes = taps * (size_t)s->c * sizeof(float);
    size_t rows = WINOGRAD_K_BLOCK_BYTES / row_bytes / 16 * 16;
    if (rows < 16)
        rows = WINOGRAD_K_BLOCK_WIDE_BYTES / row_bytes / 16 * 16;
    if (rows < 16)
        rows = 16;
    const size_t rows_fit = u_rows_max_channels(s, turned, tiles);
    if (by_cache && rows_fit >= 32 && rows_fit < rows)
        rows = rows_fit; /* U as rows (WINOGRAD_U_ROWS_MAX_PRODUCT) */
    size_t blocks = by_cache ? ((size_t)s->k + rows - 1) / rows : 1;
    blocks = (blocks + threads - 1) / threads * threads;
    rows = ((size_t)s->k + blocks - 1) / blocks;
    rows = (rows + 15) / 16 * 16;
    if (rows >= (size_t)s->k)
        return 0;
    const size_t tiles_bytes =
        batch_matrices_bytes(m, s->c, tiles) + batch_matrices_bytes(m, s->k, tiles);
    for (;; rows -= 16) { /* under a limit, narrower blocks rather than none */
        blocks = ((size_t)s->k + rows - 1) / rows;
        *buffers = blocks < (size_t)threads ? (int)blocks : threads;
        if (k_block_buffer_bytes(s, m, rows) * (size_t)*buffers + tiles_bytes <= capacity)
            return (int)rows;
        if (rows <= 16)
            return 0;
    }
}

static blasconv_status ensure_cache(blasconv_context *ctx, const char *fn, size_t bytes)
{
    struct bc_winograd_cache *cache = &ctx->winograd_cache;
    if (cache->u && cache->bytes >= bytes)
        return BLASCONV_OK;
    bc_winograd_cache_clear(ctx);
    cache->u = malloc(bytes);
    if (!cache->u)
        return bc_fail(ctx, BLASCONV_ERR_NO_MEMORY, fn,
                       "cannot allocate %zu bytes for the transformed filter", bytes);
    cache->bytes = bytes;
    return BLASCONV_OK;
}

void bc_winograd_cache_clear(blasconv_context *ctx)
{
    free(ctx->winograd_cache.u);
    memset(&ctx->winograd_cache, 0, sizeof ctx->winograd_cache);
}

/* With threads, each runs whole batches through all three stages in V and M of its
 * own, so a batch's data stays on one core: split stage by stage, every stage read
 * what another core had written, and two threads ran r50_3x3_56 (NCHW, F(4x4)) only
 * 1.0-1.2x faster than one, where two one-thread calls side by side each kept one
 * thread's speed. The batches (as large as one thread's would be, if they fit) are
 * evened out to a multiple of the threads; returns the threads that run batches (1
 * when a thread would get under WINOGRAD_MIN_BATCH_TILES tiles or the workspace cannot
 * hold a batch per thread: the stages are split then, and *per_batch is left as it
 * is) and sets *per_batch. */
static int per_thread_batches(const conv_shape *s, int m, size_t capacity, int tiles, int threads,
                              int *per_batch)
{
    if (threads < 2 || tiles / threads < WINOGRAD_MIN_BATCH_TILES)
        return 1; /* thinner GEMMs lost more: r50_3x3_28's 25 tiles a thread ran 0.80x
                     of the lowering, its split stages 1.11-1.19x (blasconv-fastbench) */
    const int fit = batch_tiles(s, m, capacity, tiles, threads);
    if (fit == 0)
        return 1;
    /* as many batches as fit, rounded up to a multiple of the threads, evened out */
    const int64_t batches = ((int64_t)tiles + fit - 1) / fit;
    const int64_t rounds = (batches + threads - 1) / threads;
    *per_batch = (int)(((int64_t)tiles + rounds * threads - 1) / (rounds * threads));
    return threads;
}

/* Picks m and gets the buffers for the forward layer s, whose filter w is turned
 * (turned_tap0) when `turned`; a turned U is never kept. */
static blasconv_status plan(blasconv_context *ctx, const char *fn, const conv_shape *s, int turned,
                            winograd_plan *wp)
{
    memset(wp, 0, sizeof *wp);
    if (ctx->algorithm != BLASCONV_ALGO_FAST || !winograd_applies(s))
        return BLASCONV_OK;
    /* The budget holds U too, cached or not, so FAST's peak stays under the limit. */
    const size_t capacity = bc_scratch_capacity(ctx);
    /* (the cache's key, the weights pointer, would not tell a turned U from a plain one) */
    int cached = ctx->weights_constant && !ctx->has_user_workspace && !turned;
    /* m by the expected time of an unlimited call; the limit then only sets the
     * batch size (results do not depend on it), unless that m's minimum does not
     * fit, then the other m, then the lowering. Small layers take Winograd
     * whatever the model says: microseconds are at stake, and FAST's results then
     * do not switch algorithm with the layer size. */
    const int threads = bc_blas_parallel_callable(ctx) ? bc_thread_count(ctx) : 1;
    const double lowering = lowering_ns(s);
    const double bound_ns = lowering < WINOGRAD_ALWAYS_NS ? HUGE_VAL : lowering;
    int sides[2] = {0, 0}, tiles_of[5] = {0}; /* the candidates, faster first */
    double sides_ns[2] = {HUGE_VAL, HUGE_VAL};
    for (int side = 4; side >= 2; side -= 2) {
        int64_t all = (int64_t)s->n * ceil_div_int(s->oh, side) * ceil_div_int(s->ow, side);
        if (all >= BLASCONV_MAX_ELEMENTS)
            continue;
        tiles_of[side] = (int)all;
        int unlimited = batch_tiles(s, side, SIZE_MAX, (int)all, 1);
        if (unlimited <= 0)
            continue;
        const double ns =
            winograd_ns(s, side, (int)all, unlimited, keeps_filter(s, side, cached), turned);
        if (ns >= bound_ns)
            continue;
        int at = ns < sides_ns[0] ? 0 : 1;
        if (at == 0)
            sides[1] = sides[0], sides_ns[1] = sides_ns[0];
        sides[at] = side, sides_ns[at] = ns;
    }
    int m = 0, per_batch = 0, tiles = 0, k_threads = 0, k_block = 0;
    for (int i = 0; i < 2 && !m; i++) {
        if (!sides[i])
            continue;
        per_batch = batch_tiles(s, sides[i], capacity, tiles_of[sides[i]], 1);
        /* Where U whole does not fit, the blocks it would go in may (U then not kept). */
        k_block = k_block_rows(s, sides[i], per_batch ? cached : 0, turned, tiles_of[sides[i]],
                               threads, capacity, &k_threads);
        if (per_batch > 0 || k_block > 0)
            m = sides[i], tiles = tiles_of[m];
    }
    if (!m)
        return BLASCONV_OK; /* the lowering: faster, or FAST does not fit (then the
                               lowering's own minimum decides) */
    if (k_block)
        per_batch = tiles, cached = 0; /* a large U is not kept (WINOGRAD_KEEP_MAX_BYTES) */
    const int batch_threads =
        k_block ? 1 : per_thread_batches(s, m, capacity, tiles, threads, &per_batch);
    const size_t u_block_bytes = k_block_buffer_bytes(s, m, (size_t)k_block);
    const size_t u_bytes = k_block ? u_block_bytes * k_threads : bc_align64(filter_bytes(s, m));
    const size_t v_bytes = batch_matrices_bytes(m, s->c, per_batch);
    const size_t p_bytes = batch_matrices_bytes(m, s->k, per_batch);
    if (cached) {
        blasconv_status st = ensure_cache(ctx, fn, u_bytes);
        if (st != BLASCONV_OK)
            return st;
    }
    const int v_copies = k_block && k_threads > 1 && v_bytes <= WINOGRAD_V_COPY_MAX_BYTES &&
                                 u_bytes + p_bytes + v_bytes * k_threads <= capacity
                             ? k_threads
                             : 1;
    const size_t scratch_bytes =
        (cached ? 0 : u_bytes) + (v_bytes + p_bytes) * batch_threads + v_bytes * (v_copies - 1);
    char *scratch = (char *)bc_scratch(ctx, scratch_bytes);
    if (!scratch)
        return bc_fail(ctx, BLASCONV_ERR_NO_MEMORY, fn, "cannot allocate %zu bytes of scratch",
                       scratch_bytes);
    wp->turned = turned;
    wp->m = m;
    wp->tiles_h = ceil_div_int(s->oh, m);
    wp->tiles_w = ceil_div_int(s->ow, m);
    wp->tiles = tiles;
    wp->tiles_per_batch = per_batch;
    wp->cached = cached;
    wp->threads = threads; /* a user's sgemm only runs on the caller */
    wp->u = cached ? ctx->winograd_cache.u : (float *)scratch;
    wp->v = (float *)(scratch + (cached ? 0 : u_bytes));
    wp->product = (float *)((char *)wp->v + v_bytes);
    if (v_copies > 1) { /* M, then the copies of V */
        wp->product = wp->v;
        wp->v = (float *)((char *)wp->product + p_bytes);
        wp->v_copy_floats = v_bytes / sizeof(float);
    }
    wp->batch_threads = batch_threads;
    wp->slot_floats = (v_bytes + p_bytes) / sizeof(float);
    wp->stream_filter = s->layout == BLASCONV_NCHW && !k_block &&
                        (threads > 1 || u_bytes >= WINOGRAD_STREAM_BYTES);
    wp->k_block = k_block;
    wp->k_threads = k_threads;
    wp->u_block_floats = u_block_bytes / sizeof(float);
    return BLASCONV_OK;
}

blasconv_status bc_winograd_plan(blasconv_context *ctx, const char *fn, const conv_shape *s,
                                 winograd_plan *wp)
{
    return plan(ctx, fn, s, 0, wp);
}

blasconv_status bc_winograd_plan_turned(blasconv_context *ctx, const char *fn, const conv_shape *s,
                                        winograd_plan *wp)
{
    return plan(ctx, fn, s, 1, wp);
}

/* A turned filter (bc_winograd_plan_turned): filter k of channel c of the layer s
 * is w's filter c of channel k turned 180 degrees, w being [C][K][3][3] (NCHW) or
 * [C][3][3][K] (NHWC) in s's terms. Where its tap 0 lies, and the step to the next
 * tap (backwards through w's taps). */
static const float *turned_tap0(const conv_shape *s, const float *w, int64_t k, int64_t c)
{
    return s->layout == BLASCONV_NCHW ? w + (c * s->k + k) * 9 + 8 : w + (c * 9 + 8) * s->k + k;
}

static ptrdiff_t turned_tap_stride(const conv_shape *s)
{
    return s->layout == BLASCONV_NCHW ? -1 : -(ptrdiff_t)s->k;
}

/* count floats to dst, with streaming stores if asked (and dst allows them). */
static void store_lanes(float *dst, const float *src, int count, int stream)
{
#if defined(__x86_64__)
    if (stream && (uintptr_t)dst % 16 == 0) {
        int i = 0;
        for (; i + 4 <= count; i += 4)
            _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
        memcpy(dst + i, src + i, (size_t)(count - i) * sizeof(float));
        return;
    }
#endif
    (void)stream;
    memcpy(dst, src, (size_t)count * sizeof(float));
}

/* The transform of `lanes` filters (tap t of lane l at src[l * ls + t * ts]) into
 * rows ds apart of dst, FILTER_CHUNK lanes at a time through a block on the stack. */
static void filter_lanes(int m, const float *src, ptrdiff_t ts, ptrdiff_t ls, int64_t lanes,
                         float *dst, ptrdiff_t ds, int stream)
{
    float block[36 * FILTER_CHUNK]; /* (m+2)^2 rows of FILTER_CHUNK lanes */
    const int taps = (m + 2) * (m + 2);
    for (int64_t l = 0; l < lanes; l += FILTER_CHUNK) {
        const int count = lanes - l < FILTER_CHUNK ? (int)(lanes - l) : FILTER_CHUNK;
        bc_winograd_filter(m, src + l * ls, ts, ls, count, block, FILTER_CHUNK);
        for (int xi = 0; xi < taps; xi++)
            store_lanes(dst + xi * ds + l, block + xi * FILTER_CHUNK, count, stream);
    }
}

/* NHWC's turned filter in blocks reads, per channel, a block's width of 9 rows of w
 * that lie 9K floats further on for the next channel: prefetched this many channels
 * ahead. blasconv-fastbench --pass bwd-data --layout nhwc, one thread pinned, two runs
 * alternating a temporary switch, FAST wall ms: r50_3x3_7_b8 11.4-11.5 -> 7.7-8.6,
 * r50_3x3_7 3.1-4.3 -> 2.3-3.2 (one and four channels ahead ran as two; NCHW's turned
 * blocks, 16 filters' taps side by side, ran slower with it: 1.72-1.82 -> 2.13-2.35). */
#define TURNED_PREFETCH_CHANNELS 2

/* NHWC's 16 x 16 blocks of filters [k_begin, k_end) (a multiple of 16) by channels
 * [c_begin, c_end) in sixteens, U^T as in filters_transposed; returns the first
 * channel left for filter_lanes. Sixteen filters at a time over all the channels,
 * while the next sixteen, contiguous in w, are prefetched a share at each block of
 * channels. Each
 * block reads 16 filters' 9 rows, 144 lines 2 KB to 18 KB apart: with the channels
 * outermost, 288 such streams (two sixteens) were more than the prefetchers follow,
 * and on an Intel Xeon host (AVX-512, 2 MiB L2, about 10 GB/s from memory for one
 * core) the transform of r50_3x3_7's 512 x 512 filters took 64% of its NHWC FAST call
 * (perf). A test program (one thread pinned, medians of 101, three rounds alternating a
 * temporary switch): 5.6-6.4 -> 3.4-4.8 ms; blasconv-fastbench --layout nhwc --reps 9,
 * two rounds: r50_3x3_7_b8 16.9-17.0 -> 15.7-15.9 ms, r50_3x3_14_b8 12.8-12.9 ->
 * 13.2, r50_3x3_14, r50_3x3_28, r50_3x3_56 within the noise. NCHW's blocks read 16
 * runs of 9 lines, which the prefetchers follow: no gain there (2.4-3.5 -> 3.0-3.2). */
static int64_t nhwc_filter_groups(const conv_shape *s, int m, const float *w, int k_begin,
                                  int k_end, float *u, ptrdiff_t ld, int64_t c_begin,
                                  int64_t c_end)
{
    const ptrdiff_t fs = (ptrdiff_t)9 * s->c, ds = (ptrdiff_t)tap_floats(s, (size_t)ld);
    const int64_t blocks = (c_end - c_begin) / LANES, c_done = c_begin + blocks * LANES;
    const size_t group = (size_t)LANES * (size_t)fs * sizeof(float); /* bytes of 16 filters */
    const size_t share = blocks ? (group + (size_t)blocks - 1) / (size_t)blocks : 0;
    for (int k = k_begin; k < k_end; k += LANES) {
        const float *filters = w + (size_t)k * fs;
        const int next = k + 2 * LANES <= s->k; /* the next sixteen exist */
        for (int64_t c = c_begin, i = 0; c < c_done; c += LANES, i++) {
            const size_t from = (size_t)i * share;
            if (next && from < group)
                bc_prefetch_bytes((const char *)(filters + LANES * fs) + from,
                                  group - from < share ? group - from : share);
            bc_winograd_filter_16x16(m, filters + c, fs, s->c, u + c * ld + (k - k_begin), ds, ld);
        }
    }
    return c_done;
}

/* U^T[xi][c][k - k_begin] (rows ld floats apart, tap positions tap_floats(ld)
 * apart) for filters [k_begin, k_end) and channels [c_begin, c_end): from w [K][3][3][C]
 * (NHWC) or w [K][C][3][3] (NCHW's blocks with the tiles as rows). Blocks of 16
 * filters by 16 channels transformed over the channels, transposed and stored
 * straight into U (no streaming stores: through a 36 KB block on the stack, which
 * beside the transform's own overflowed the L1 cache, r50_3x3_14_b8's transform took
 * 2 ms); the rest with the K filters as lanes, 9C floats apart.
 * NHWC's U used to be [xi][k][c] like NCHW's, for a GEMM V U^T that OpenBLAS runs
 * slower than V times U^T as it lies: 124 against 145 GFLOP/s for r50_3x3_28's 36
 * GEMMs of 49 x 128 x 128 (tiles as rows), 154 against 210 for 196 x 64 x 64, 134
 * against 143 for 128 x 256 x 256 (a test program, medians of 21). */
static void filters_transposed(const conv_shape *s, int m, const float *w, int turned, int k_begin,
                               int k_end, float *u, ptrdiff_t ld, int64_t c_begin, int64_t c_end)
{
    const int nchw = s->layout == BLASCONV_NCHW;
    const ptrdiff_t fs = (ptrdiff_t)9 * s->c, ds = (ptrdiff_t)tap_floats(s, (size_t)ld);
    if (turned) { /* filter k's taps of channel c at w's [c][k] turned: see turned_tap0 */
        const ptrdiff_t ts = turned_tap_stride(s);
        for (int64_t c = c_begin; c < c_end; c++) {
            if (!nchw && c + TURNED_PREFETCH_CHANNELS < c_end) /* a block's piece of 9 rows */
                for (int t = 0; t < 9; t++)
                    for (int k = k_begin; k < k_end; k += 16)
                        __builtin_prefetch(turned_tap0(s, w, k, c + TURNED_PREFETCH_CHANNELS) +
                                           t * ts);
            bc_winograd_filter(m, turned_tap0(s, w, k_begin, c), ts, nchw ? 9 : 1, k_end - k_begin,
                               u + c * ld, ds);
        }
        return;
    }
    const ptrdiff_t channel = nchw ? 9 : 1, tap = nchw ? 1 : s->c; /* strides in w */
    const int filters = k_end - k_begin;
    const float *wk = w + (size_t)k_begin * fs;
    int64_t c = c_begin;
    if (filters % LANES == 0 && !nchw)
        c = nhwc_filter_groups(s, m, w, k_begin, k_end, u, ld, c_begin, c_end);
    else if (filters % LANES == 0)
        for (; c + LANES <= c_end; c += LANES)
            for (int k = 0; k < filters; k += LANES)
                bc_winograd_filter_16x16_kcrs(m, wk + k * fs + c * channel, fs, u + c * ld + k, ds,
                                              ld);
    for (; c < c_end; c++)
        filter_lanes(m, wk + c * channel, tap, fs, filters, u + c * ld, ds, 0);
}

/* Whether the plan's blocks of U hold U[xi][k][c] rather than U^T (NHWC, few tiles
 * by a block's channels: WINOGRAD_U_ROWS_MAX_PRODUCT). */
static int u_as_rows(const conv_shape *s, const winograd_plan *wp)
{
    return wp->k_block && (size_t)wp->k_block <= u_rows_max_channels(s, wp->turned, wp->tiles);
}

/* U[xi][k - k_begin][c] (tap positions ds floats apart) for NHWC's filters [k_begin,
 * k_end), w [K][3][3][C]: each filter's 9 rows of channels as the lanes, read in order
 * (WINOGRAD_U_ROWS_MAX_PRODUCT). */
static void nhwc_filter_rows(const conv_shape *s, int m, const float *w, int k_begin, int k_end,
                             float *u, ptrdiff_t ds)
{
    const ptrdiff_t fs = (ptrdiff_t)9 * s->c;
    for (int k = k_begin; k < k_end; k++)
        bc_winograd_filter(m, w + k * fs, s->c, 1, (int)s->c, u + (ptrdiff_t)(k - k_begin) * s->c,
                           ds);
}

/* The transform of NCHW's filters [from, to) of the K*C (lane l is filter l / C's
 * channel l % C) into dst + l - from, rows ds apart, in runs of lanes a constant
 * stride apart in w: all of them, 9 apart, or, turned, filter k's channels, 9K apart
 * (turned_tap0). */
static void nchw_filter_runs(const conv_shape *s, int m, const float *w, int turned, int64_t from,
                             int64_t to, float *dst, ptrdiff_t ds, int stream)
{
    for (int64_t l = from; l < to;) {
        const int64_t k = l / s->c, c = l % s->c;
        const int64_t run = !turned || to - l < s->c - c ? to - l : s->c - c;
        const float *src = turned ? turned_tap0(s, w, k, c) : w + l * 9;
        const ptrdiff_t ts = turned ? turned_tap_stride(s) : 1;
        const ptrdiff_t ls = turned ? (ptrdiff_t)9 * s->k : 9;
        if (stream) /* streaming stores go through a block */
            filter_lanes(m, src, ts, ls, run, dst + (l - from), ds, stream);
        else
            bc_winograd_filter(m, src, ts, ls, (int)run, dst + (l - from), ds);
        l += run;
    }
}

/* NCHW's filters [begin, end) into dst + l - begin (nchw_filter_runs). A turned
 * filter's channels lie 9K floats apart, a gather a float at a time; in whole
 * sixteens of filters by 16 channels they go through bc_winograd_filter_16x16_turned
 * instead (stored directly, streaming or not). blasconv-fastbench --only r50_3x3_7_b8
 * --pass bwd-data --reps 9, NCHW, FAST wall ms, two runs alternating the library
 * before and after: one thread (pinned) 9.2-9.3 -> 7.4, two 6.1-6.3 -> 5.2-5.4. */
static void nchw_filter_lanes(const conv_shape *s, int m, const float *w, int turned,
                              int64_t begin, int64_t end, float *dst, ptrdiff_t ds, int stream)
{
    int64_t from = begin; /* the first filter not yet transformed */
    const int64_t k0 = (begin + s->c - 1) / s->c, k_end = end / s->c; /* whole filters */
    if (turned && s->c % LANES == 0 && k_end - k0 >= LANES) {
        nchw_filter_runs(s, m, w, turned, begin, k0 * s->c, dst, ds, stream);
        int64_t k = k0;
        for (; k + LANES <= k_end; k += LANES)
            for (int64_t c = 0; c < s->c; c += LANES)
                bc_winograd_filter_16x16_turned(m, w + (c * s->k + k) * 9, (ptrdiff_t)9 * s->k,
                                                dst + (k * s->c + c - begin), ds, s->c);
        from = k * s->c;
    }
    nchw_filter_runs(s, m, w, turned, from, end, dst + (from - begin), ds, stream);
}

/* U[xi][k][c] from w [K][C][3][3] (NCHW: lanes are the K*C filters, 9 apart), or
 * U^T[xi][c][k] from w [K][3][3][C] (NHWC: over channels); turned, from w read as the
 * turned filter (turned_tap0). */
static void transform_filter(const conv_shape *s, int m, const float *w, int turned, float *u,
                             int64_t begin, int64_t end, int stream)
{
    const ptrdiff_t tap = (ptrdiff_t)tap_floats(s, (size_t)s->k);
    if (s->layout == BLASCONV_NCHW) /* lanes [begin, end) of the K*C filters */
        nchw_filter_lanes(s, m, w, turned, begin, end, u + begin, tap, stream);
    else
        filters_transposed(s, m, w, turned, 0, s->k, u, s->k, begin, end);
#if defined(__x86_64__)
    if (stream)
        _mm_sfence(); /* streaming stores are weakly ordered: publish them before the join */
#endif
}

/* Where tile t starts: image, first output row and column. */
typedef struct tile_origin {
    int n, oh, ow;
} tile_origin;

static tile_origin tile_at(const winograd_plan *wp, int t)
{
    const int per_image = wp->tiles_h * wp->tiles_w;
    const int in_image = t % per_image;
    return (tile_origin){t / per_image, in_image / wp->tiles_w * wp->m,
                         in_image % wp->tiles_w * wp->m};
}

/* The origins of tiles [first, first + lanes) and, for each, the lane after the run
 * of tiles side by side in its tile row. */
static void tile_runs(const winograd_plan *wp, int first, int lanes, tile_origin *at, int *run_end)
{
    for (int l = 0; l < lanes; l++)
        at[l] = tile_at(wp, first + l);
    for (int l = lanes - 1; l >= 0; l--)
        run_end[l] = l + 1 < lanes && at[l + 1].n == at[l].n && at[l + 1].oh == at[l].oh
                         ? run_end[l + 1]
                         : l + 1;
}

/* NCHW's input transform gathers INPUT_CHUNK tiles of a channel into a block, then
 * transforms it 16 lanes at a time. Its rows sit BLOCK_ROW floats apart: a run of
 * tiles spreads a whole vector of LANES lanes from its first lane on, past its own
 * lanes into the next run's (which overwrites them) or unused ones. Gathered 16
 * lanes at a time, a block of 16 tiles that straddled two tile rows spread both
 * runs' rows (r50_3x3_56's rows hold 14 tiles): see input_nchw. 128 tiles keep the
 * block at 21 KB of the caller's stack. */
#define INPUT_CHUNK 128
#define BLOCK_ROW (INPUT_CHUNK + LANES)

/* The (m+2)^2 input patches of `count` tiles side by side in one tile row of a plane
 * (origins m apart from (ih0, iw0)) into lanes [lane, lane + count) of an
 * [a][a][BLOCK_ROW] block; rows and columns outside the input read zero. Each patch
 * row is spread over the lanes straight from the plane, in vectors that read 17m
 * floats from the run's first column on (into the neighbouring rows at the borders;
 * a row whose reads would leave x, `x_elems` floats, is gathered float by float),
 * then the entries of columns outside the input are zeroed. Tile by tile and float
 * by float, the gather had cost more than the transform. The same row of the next
 * channel (`next_plane` floats on, 0 for none) is prefetched: the spreads waited on
 * their loads from x (perf: 17% of r50_3x3_56_b8's time, mostly at the first
 * load), and r50_3x3_56_b8 ran 5.8-5.9 ms against 6.3-6.4, vgg_3x3_224 11.1-11.3
 * against 12.0-12.4 (blasconv-fastbench --reps 15, one thread, two runs alternating;
 * two threads: 3.4-3.5 against 3.8-3.9 ms and 7.6-8.1 against 8.3).
 * Two channels ahead was no better. */
static void gather_run(const conv_shape *s, int m, const float *x, size_t x_elems, size_t plane,
                       int ih0, int iw0, int count, float *block, int lane, ptrdiff_t next_plane)
{
    const int a = m + 2;
    for (int i = 0; i < a; i++) {
        const int64_t ih = (int64_t)ih0 + i, first = (int64_t)plane + ih * s->w + iw0;
        float *dst = block + i * a * BLOCK_ROW + lane;
        if (ih < 0 || ih >= s->h) {
            for (int j = 0; j < a; j++)
                memset(dst + j * BLOCK_ROW, 0, LANES * sizeof(float));
        } else if (first >= 0 && first + (LANES + 1) * m <= (int64_t)x_elems) {
            bc_winograd_spread_row(m, x + first, dst, BLOCK_ROW);
            if (next_plane && first + next_plane + (LANES + 1) * m <= (int64_t)x_elems)
                for (int f = 0; f < (LANES + 1) * m; f += 16)
                    __builtin_prefetch(x + first + next_plane + f);
        } else { /* the columns outside the input are zeroed below */
            for (int j = 0; j < a; j++)
                for (int l = 0; l < count; l++) {
                    const int64_t iw = (int64_t)iw0 + l * m + j;
                    if (iw >= 0 && iw < s->w)
                        dst[j * BLOCK_ROW + l] = x[first + l * m + j];
                }
        }
    }
    for (int l = 0; l < count; l++) { /* the border tiles' columns outside the input */
        const int64_t iw = (int64_t)iw0 + l * m;
        if (iw >= 0 && iw + a <= s->w)
            continue;
        for (int j = 0; j < a; j++)
            if (iw + j < 0 || iw + j >= s->w)
                for (int i = 0; i < a; i++)
                    block[(i * a + j) * BLOCK_ROW + lane + l] = 0.0f;
    }
}

/* Each run of tiles is spread once per channel, in pieces of at most 16 tiles, into a
 * block of INPUT_CHUNK tiles that is then transformed whole. r50_3x3_56_b8, one
 * thread: the gather had cost 1.3-2.1 ms of a 2.3-3.4 ms input transform (that
 * transform with the spreads left out, a test build). */
static void input_nchw(const conv_shape *s, const winograd_plan *wp, const float *x, int first,
                       int count, float *v, int c_begin, int c_end)
{
    const int m = wp->m, a = m + 2;
    const size_t plane = (size_t)s->h * s->w, x_elems = (size_t)s->n * s->c * plane;
    float block[36 * BLOCK_ROW];
    tile_origin at[INPUT_CHUNK];
    int run_end[INPUT_CHUNK]; /* the lane after the run of lane l's tile row */
    for (int b = 0; b < count; b += INPUT_CHUNK) {
        const int lanes = count - b < INPUT_CHUNK ? count - b : INPUT_CHUNK;
        tile_runs(wp, first + b, lanes, at, run_end);
        for (int c = c_begin; c < c_end; c++) {
            for (int l = 0, next; l < lanes; l = next) {
                next = run_end[l] - l < LANES ? run_end[l] : l + LANES;
                gather_run(s, m, x, x_elems, ((size_t)at[l].n * s->c + c) * plane,
                           at[l].oh - s->pad_t, at[l].ow - s->pad_l, next - l, block, l,
                           c + 1 < c_end ? (ptrdiff_t)plane : 0);
            }
            bc_winograd_input(m, block, (ptrdiff_t)a * BLOCK_ROW, BLOCK_ROW, lanes,
                              v + (size_t)c * count + b, (ptrdiff_t)tiles_tap_floats(s->c, count));
        }
    }
}

/* Output tiles in lanes, rows joined as they lie in the plane (bc_winograd_join_rows),
 * each run of tiles side by side in a tile row stored a row at a time: tile by tile
 * and float by float, that scatter took 1.5 ms of r50_3x3_56_b8's 2.3 ms output
 * transform. */
static void output_nchw(const conv_shape *s, const winograd_plan *wp, const float *product,
                        const float *bias, int first, int count, float *y, int k_begin, int k_end)
{
    const int m = wp->m;
    float block[16 * LANES], joined[16 * LANES], bias_lanes[LANES];
    for (int b = 0; b < count; b += LANES) {
        if (b + LANES > count && count >= LANES)
            b = count - LANES; /* a last partial block again overlaps the one before */
        const int lanes = count - b < LANES ? count - b : LANES;
        tile_origin at[LANES];
        int run_end[LANES]; /* the lane after the run of lane l's tile row */
        tile_runs(wp, first + b, lanes, at, run_end);
        for (int k = k_begin; k < k_end; k++) {
            if (bias)
                for (int l = 0; l < LANES; l++)
                    bias_lanes[l] = bias[k];
            bc_winograd_output(m, product + (size_t)k * count + b,
                               (ptrdiff_t)tiles_tap_floats(s->k, count), lanes,
                               bias ? bias_lanes : NULL, block, (ptrdiff_t)m * LANES, LANES);
            bc_winograd_join_rows(m, block, joined);
            for (int l = 0; l < lanes; l = run_end[l]) {
                float *out = y + ((size_t)at[l].n * s->k + k) * s->positions +
                             (size_t)at[l].oh * s->ow + at[l].ow;
                const int rows = s->oh - at[l].oh < m ? s->oh - at[l].oh : m;
                const int run = (run_end[l] - l) * m;
                const int width = s->ow - at[l].ow < run ? s->ow - at[l].ow : run;
                for (int i = 0; i < rows; i++)
                    memcpy(out + (size_t)i * s->ow, joined + i * m * LANES + l * m,
                           (size_t)width * sizeof(float));
            }
        }
    }
}

static void input_nhwc(const conv_shape *s, const winograd_plan *wp, const float *x, int first,
                       int count, float *v, int t_begin, int t_end)
{
    const int m = wp->m, a = m + 2;
    const ptrdiff_t row = (ptrdiff_t)s->w * s->c, ds = (ptrdiff_t)tiles_tap_floats(s->c, count);
    float patch[36 * CHANNEL_CHUNK];
    for (int t = t_begin; t < t_end; t++) {
        const tile_origin at = tile_at(wp, first + t);
        const int ih0 = at.oh - s->pad_t, iw0 = at.ow - s->pad_l;
        const float *image = x + (size_t)at.n * s->h * row;
        float *dst = v + (size_t)t * s->c;
        if (ih0 >= 0 && iw0 >= 0 && ih0 + a <= s->h && iw0 + a <= s->w) {
            bc_winograd_input(m, image + (size_t)ih0 * row + (size_t)iw0 * s->c, row, s->c, s->c,
                              dst, ds);
            continue;
        }
        for (int c0 = 0; c0 < s->c; c0 += CHANNEL_CHUNK) {
            const int chunk = s->c - c0 < CHANNEL_CHUNK ? s->c - c0 : CHANNEL_CHUNK;
            for (int i = 0; i < a; i++) {
                for (int j = 0; j < a; j++) {
                    const int ih = ih0 + i, iw = iw0 + j;
                    float *to = patch + (i * a + j) * CHANNEL_CHUNK;
                    if ((unsigned)ih < (unsigned)s->h && (unsigned)iw < (unsigned)s->w)
                        memcpy(to, image + (size_t)ih * row + (size_t)iw * s->c + c0,
                               (size_t)chunk * sizeof(float));
                    else
                        memset(to, 0, (size_t)chunk * sizeof(float));
                }
            }
            bc_winograd_input(m, patch, (ptrdiff_t)a * CHANNEL_CHUNK, CHANNEL_CHUNK, chunk,
                              dst + c0, ds);
        }
    }
}

/* Tiles [t_begin, t_end), output channels [k_begin, k_end). */
static void output_nhwc(const conv_shape *s, const winograd_plan *wp, const float *product,
                        const float *bias, int first, int count, float *y, int t_begin, int t_end,
                        int k_begin, int k_end)
{
    const int m = wp->m;
    const ptrdiff_t row = (ptrdiff_t)s->ow * s->k, ss = (ptrdiff_t)tiles_tap_floats(s->k, count);
    float block[16 * CHANNEL_CHUNK];
    for (int t = t_begin; t < t_end; t++) {
        const tile_origin at = tile_at(wp, first + t);
        float *out = y + ((size_t)at.n * s->oh + at.oh) * row + (size_t)at.ow * s->k;
        const float *src = product + (size_t)t * s->k;
        if (at.oh + m <= s->oh && at.ow + m <= s->ow) {
            bc_winograd_output(m, src + k_begin, ss, k_end - k_begin, bias ? bias + k_begin : NULL,
                               out + k_begin, row, s->k);
            continue;
        }
        const int rows = s->oh - at.oh < m ? s->oh - at.oh : m;
        const int cols = s->ow - at.ow < m ? s->ow - at.ow : m;
        for (int k0 = k_begin; k0 < k_end; k0 += CHANNEL_CHUNK) {
            const int chunk = k_end - k0 < CHANNEL_CHUNK ? k_end - k0 : CHANNEL_CHUNK;
            bc_winograd_output(m, src + k0, ss, chunk, bias ? bias + k0 : NULL, block,
                               (ptrdiff_t)m * CHANNEL_CHUNK, CHANNEL_CHUNK);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    memcpy(out + i * row + (size_t)j * s->k + k0,
                           block + (i * m + j) * CHANNEL_CHUNK, (size_t)chunk * sizeof(float));
        }
    }
}

static int cache_holds(const blasconv_context *ctx, const conv_shape *s, int m, const float *w)
{
    const struct bc_winograd_cache *cache = &ctx->winograd_cache;
    return cache->weights == w && cache->m == m && cache->k == s->k && cache->c == s->c &&
           cache->layout == s->layout;
}

/* One stage of a batch over a range of its items: the filter transform (over
 * filters), the input transform (over channels in NCHW, tiles in NHWC), the GEMMs
 * (over tap positions xi) and the output transform (over output channels in NCHW,
 * tiles in NHWC). With 2+ threads the filter transform is split over the library's
 * kept workers, then each runs whole batches (per_thread_batches), or, when the
 * workspace cannot hold a batch per thread, each batch's stages are split over
 * them; every GEMM runs on a one-thread BLAS. (An earlier split that left the GEMMs
 * to OpenBLAS's threads ran 2-4x slower in wall time: its idle workers spin after
 * each GEMM and took the cores from the transforms.) */
typedef enum stage_kind {
    STAGE_FILTER,
    STAGE_INPUT,
    STAGE_GEMM,
    STAGE_OUTPUT
} stage_kind;

typedef struct stage {
    stage_kind kind;
    const blasconv_context *ctx;
    const conv_shape *s;
    const winograd_plan *wp;
    const float *x, *w, *bias;
    float *y;
    float *v, *product; /* this batch's V and M */
    int first, count;
    int *next; /* the next K block or batch a thread claims (claim_next) */
} stage;

/* NCHW: rows [k0, k1) of M[xi] = u_rows (those rows of U[xi], C apart) times V[xi]. */
static void product_rows_nchw(const stage *st, int xi, const float *u_rows, int k0, int k1)
{
    const conv_shape *s = st->s;
    bc_sgemm(st->ctx, CBLAS_NO_TRANS, CBLAS_NO_TRANS, k1 - k0, st->count, s->c, 1.0f, u_rows, s->c,
             st->v + (size_t)xi * tiles_tap_floats(s->c, st->count), st->count, 0.0f,
             st->product + (size_t)xi * tiles_tap_floats(s->k, st->count) + (size_t)k0 * st->count,
             st->count);
}

/* Columns [k0, k1) of M^T[xi] ([T][K]) = V^T[xi] times u_cols (those columns of
 * U^T[xi], or if rows, those rows of U[xi] read transposed; rows ld floats apart):
 * NHWC's V is [T][C] as it lies, NCHW's [C][T] read transposed. */
static void product_columns(const stage *st, int xi, const float *u_cols, int ld, int rows, int k0,
                            int k1)
{
    const conv_shape *s = st->s;
    const int nchw = s->layout == BLASCONV_NCHW;
    bc_sgemm(st->ctx, nchw ? CBLAS_TRANS : CBLAS_NO_TRANS, rows ? CBLAS_TRANS : CBLAS_NO_TRANS,
             st->count, k1 - k0, s->c, 1.0f,
             st->v + (size_t)xi * tiles_tap_floats(s->c, st->count), nchw ? st->count : s->c,
             u_cols, ld, 0.0f, st->product + (size_t)xi * tiles_tap_floats(s->k, st->count) + k0,
             s->k);
}

/* U V (NCHW: tiles as columns) or V U^T (NHWC: tiles as rows, U^T as it lies) for xi
 * in [begin, end). */
static void gemms(const stage *st, int begin, int end)
{
    const conv_shape *s = st->s;
    const winograd_plan *wp = st->wp;
    const size_t tap = tap_floats(s, (size_t)s->k);
    for (int xi = begin; xi < end; xi++) {
        if (s->layout == BLASCONV_NCHW)
            product_rows_nchw(st, xi, wp->u + xi * tap, 0, s->k);
        else
            product_columns(st, xi, wp->u + xi * tap, s->k, 0, 0, s->k);
    }
}

/* What a stage of kind `kind` runs over (run_stage's [begin, end)): filters in NCHW
 * and channels in NHWC (the filter transform), channels or tiles (input), tap
 * positions (GEMMs), output channels or tiles (output). */
static int64_t stage_items(const stage *st, stage_kind kind)
{
    const conv_shape *s = st->s;
    const int nchw = s->layout == BLASCONV_NCHW;
    switch (kind) {
    case STAGE_FILTER: return nchw ? (int64_t)s->k * s->c : s->c;
    case STAGE_INPUT: return nchw ? s->c : st->count;
    case STAGE_GEMM: return (int64_t)(st->wp->m + 2) * (st->wp->m + 2);
    default: return nchw ? s->k : st->count;
    }
}

static void run_stage(void *arg, int64_t begin, int64_t end)
{
    const stage *st = arg;
    const conv_shape *s = st->s;
    const winograd_plan *wp = st->wp;
    const int nchw = s->layout == BLASCONV_NCHW;
    if (st->kind == STAGE_FILTER)
        transform_filter(s, wp->m, st->w, wp->turned, wp->u, begin, end, wp->stream_filter);
    else if (st->kind == STAGE_INPUT && nchw)
        input_nchw(s, wp, st->x, st->first, st->count, st->v, (int)begin, (int)end);
    else if (st->kind == STAGE_INPUT)
        input_nhwc(s, wp, st->x, st->first, st->count, st->v, (int)begin, (int)end);
    else if (st->kind == STAGE_GEMM)
        gemms(st, (int)begin, (int)end);
    else if (nchw)
        output_nchw(s, wp, st->product, st->bias, st->first, st->count, st->y, (int)begin,
                    (int)end);
    else
        output_nhwc(s, wp, st->product, st->bias, st->first, st->count, st->y, (int)begin,
                    (int)end, 0, s->k);
}

/* One stage over all its items, split over the threads. */
static void run_stage_all(stage *st, stage_kind kind)
{
    st->kind = kind;
    bc_parallel_for(st->wp->threads, stage_items(st, kind), 1, run_stage, st);
}

/* The three stages of the batch of tiles [first, first + count), each split over the
 * threads (split = 1) or all on this thread. */
static void run_batch(stage *st, int first, int split)
{
    const winograd_plan *wp = st->wp;
    st->first = first;
    st->count = wp->tiles - first < wp->tiles_per_batch ? wp->tiles - first : wp->tiles_per_batch;
    const stage_kind kinds[3] = {STAGE_INPUT, STAGE_GEMM, STAGE_OUTPUT};
    for (int i = 0; i < 3; i++) {
        if (split) {
            run_stage_all(st, kinds[i]);
        } else {
            st->kind = kinds[i];
            run_stage(st, 0, stage_items(st, kinds[i]));
        }
    }
}

/* NCHW's planes of y for output channels [k0, k1) (16 at a time) of the tiles, from
 * M^T ([xi][T][K]): each tile's 16 channels transformed as lanes, then stored to their
 * planes, clipped at the bottom and right edges. */
static void output_nchw_from_columns(const stage *st, int k0, int k1)
{
    const conv_shape *s = st->s;
    const int m = st->wp->m;
    float block[16 * LANES];
    for (int t = 0; t < st->count; t++) {
        const tile_origin at = tile_at(st->wp, st->first + t);
        const int rows = s->oh - at.oh < m ? s->oh - at.oh : m;
        const int cols = s->ow - at.ow < m ? s->ow - at.ow : m;
        for (int k = k0; k < k1; k += LANES) {
            bc_winograd_output(m, st->product + (size_t)t * s->k + k,
                               (ptrdiff_t)tiles_tap_floats(s->k, st->count), LANES,
                               st->bias ? st->bias + k : NULL, block, (ptrdiff_t)m * LANES, LANES);
            for (int l = 0; l < LANES; l++) {
                float *plane = st->y + ((size_t)at.n * s->k + (size_t)(k + l)) * s->positions +
                               (size_t)at.oh * s->ow + at.ow;
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        plane[(size_t)i * s->ow + j] = block[(i * m + j) * LANES + l];
            }
        }
    }
}

/* Output channels [k0, k1) of U, every tap position, into a block of (k1 - k0) * C
 * floats per tap position; then their rows (NCHW) or columns (NHWC) of every M[xi],
 * then their planes or channels of y while those are in this core's cache.
 * NCHW's blocks under F(2x2), in sixteens of channels, take U^T and
 * M^T as NHWC does (V read transposed), the tiles as the GEMMs' rows: OpenBLAS ran
 * r50_3x3_14's 16 GEMMs of 49 tiles by 64 channels by 256 at 183-213 GFLOP/s that
 * way, 134-156 as U V (a test program, medians of 201). A test program, medians of
 * 101-201, two runs alternating, ms, one thread: r50_3x3_14 1.10-1.17 -> 0.94-0.96,
 * 384 channels on 14x14 2.45-2.52 -> 2.11-2.19, 512 -> 256 on 14x14 2.26-2.28 ->
 * 1.97-2.04; F(4x4) lost (r50_3x3_7_b8 6.3-6.5 -> 7.8-7.9, r50_3x3_14_b8 6.5-6.7 ->
 * 7.0-7.5), and still does with the filter transform that reads w as rows
 * (bc_winograd_filter_16x16_kcrs: 5.6-5.7 -> 6.0-6.3 and 5.8-5.9 -> 6.4-6.5). Two
 * threads, which lost before that transform (r50_3x3_14 0.67-0.70 -> 0.72-0.73),
 * gain since: r50_3x3_14 0.58-0.59 -> 0.49-0.50 ms, 384 channels on 14x14 1.25-1.28
 * -> 1.07-1.12, 512 on 7x7 (F(2x2) forced) 0.93-1.13 -> 0.80-0.83 (three runs
 * alternating, a temporary switch). */
static void k_block_rows_of_m(const stage *st, float *u, int k0, int k1)
{
    const conv_shape *s = st->s;
    const int m = st->wp->m, taps = (m + 2) * (m + 2), width = k1 - k0;
    const int nchw = s->layout == BLASCONV_NCHW;
    /* Blocks that run at once share M: every one of them takes it the same way. */
    const int in_sixteens = st->wp->k_threads > 1 ? s->k % LANES == 0 : width % LANES == 0;
    const int columns = !nchw || (m == 2 && s->c % LANES == 0 && in_sixteens);
    const int rows = u_as_rows(s, st->wp);
    const ptrdiff_t tap_stride = (ptrdiff_t)tap_floats(s, (size_t)width);
    if (rows)
        nhwc_filter_rows(s, m, st->w, k0, k1, u, tap_stride);
    else if (columns)
        filters_transposed(s, m, st->w, st->wp->turned, k0, k1, u, width, 0, s->c);
    else
        nchw_filter_lanes(s, m, st->w, st->wp->turned, (int64_t)k0 * s->c, (int64_t)k1 * s->c, u,
                          tap_stride, 0);
    for (int xi = 0; xi < taps; xi++) {
        if (columns)
            product_columns(st, xi, u + xi * tap_stride, rows ? (int)s->c : width, rows, k0, k1);
        else
            product_rows_nchw(st, xi, u + xi * tap_stride, k0, k1);
    }
    if (!nchw)
        output_nhwc(s, st->wp, st->product, st->bias, st->first, st->count, st->y, 0, st->count,
                    k0, k1);
    else if (columns)
        output_nchw_from_columns(st, k0, k1);
    else
        output_nchw(s, st->wp, st->product, st->bias, st->first, st->count, st->y, k0, k1);
}

/* The next of the K blocks or batches that the threads take in turn. Claimed one at a
 * time rather than dealt out in advance, so that a thread whose core runs slower (a
 * vCPU descheduled, another process on it) takes fewer: dealt out, the call waited
 * for the slowest. Any thread's result for a block is the same, bit for bit. (In turn
 * from one counter rather than as bc_parallel_shares' runs: a thread fills its own V
 * before its first block, and neighbouring blocks share no input.) */
static int claim_next(const stage *st)
{
    return __atomic_fetch_add(st->next, 1, __ATOMIC_RELAXED);
}

/* Block buffers [begin, end) of a K-blocked call: each buffer's thread first
 * transforms the input into its own V when the plan gave it one, then takes blocks
 * of output channels until none are left. */
static void run_k_blocks(void *arg, int64_t begin, int64_t end)
{
    const stage *st = arg;
    const winograd_plan *wp = st->wp;
    const int k = st->s->k;
    for (int64_t t = begin; t < end; t++) {
        float *u = wp->u + (size_t)t * wp->u_block_floats;
        stage own = *st;
        if (wp->v_copy_floats) { /* this thread's V */
            own.v = wp->v + (size_t)t * wp->v_copy_floats;
            own.kind = STAGE_INPUT;
            run_stage(&own, 0, stage_items(&own, STAGE_INPUT));
        }
        for (int b; (b = claim_next(st)) < ceil_div_int(k, wp->k_block);) {
            const int k0 = b * wp->k_block;
            k_block_rows_of_m(&own, u, k0, k - k0 < wp->k_block ? k : k0 + wp->k_block);
        }
    }
}

/* Threads [begin, end) of per-thread batches: each takes batches until none are
 * left, in V and M of its own. */
static void run_thread_batches(void *arg, int64_t begin, int64_t end)
{
    const stage *all = arg;
    const winograd_plan *wp = all->wp;
    for (int64_t t = begin; t < end; t++) {
        stage st = *all;
        st.v = wp->v + (size_t)t * wp->slot_floats;
        st.product = wp->product + (size_t)t * wp->slot_floats;
        for (int b; (b = claim_next(all)) < ceil_div_int(wp->tiles, wp->tiles_per_batch);)
            run_batch(&st, b * wp->tiles_per_batch, 0);
    }
}

void bc_winograd_forward(blasconv_context *ctx, const conv_shape *s, const winograd_plan *wp,
                         const float *x, const float *w, const float *bias, float *y)
{
    const int m = wp->m;
    int next = 0;
    stage st = {STAGE_FILTER, ctx, s, wp, x, w, bias, y, wp->v, wp->product, 0, 0, &next};
    if (wp->k_block) { /* one batch: V, then U, M and y block by block */
        st.count = wp->tiles;
        if (!wp->v_copy_floats)
            run_stage_all(&st, STAGE_INPUT);
        bc_parallel_for(wp->threads, wp->k_threads, 1, run_k_blocks, &st);
        return;
    }
    if (!wp->cached || !cache_holds(ctx, s, m, w)) {
        run_stage_all(&st, STAGE_FILTER);
        if (wp->cached)
            ctx->winograd_cache = (struct bc_winograd_cache){
                ctx->winograd_cache.u, ctx->winograd_cache.bytes, w, m, s->k, s->c, s->layout};
    }
    if (wp->batch_threads > 1) {
        bc_parallel_for(wp->batch_threads, wp->batch_threads, 1, run_thread_batches, &st);
        return;
    }
    for (int first = 0; first < wp->tiles; first += wp->tiles_per_batch)
        run_batch(&st, first, 1);
}
