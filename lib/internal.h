/* Private types and helpers shared by the files of lib/. Never installed. */
#ifndef BLASCONV_INTERNAL_H
#define BLASCONV_INTERNAL_H

#include "blasconv.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Every tensor and scratch buffer holds fewer than this many elements, so every
 * GEMM dimension and leading dimension fits BLAS's int. */
#define BLASCONV_MAX_ELEMENTS ((int64_t)1 << 31)

/* Scratch a call uses by default (no limit set): big enough for GEMMs that run
 * at full speed, small enough that the column tile stays in L2 cache. */
#define BLASCONV_DEFAULT_TILE_BYTES ((size_t)1 << 20)

/* NHWC tiles hold at least this many output positions by default (the GEMM's M),
 * crossing image borders if need be: every tile's GEMM packs all of w_g again, so
 * layers with few positions and many weights (7x7 maps, batch 8: 1.6x) need a
 * larger tile to amortise that, even past L2. */
#define BLASCONV_NHWC_MIN_TILE_POSITIONS 512

#define BLASCONV_ERROR_CAPACITY 256

/* Hot loops are compiled once per x86 vector ISA and one is picked when the
 * library loads (GCC target_clones, an ifunc): the x86-64 baseline the library
 * is built for would leave most of an AVX-512 core idle. Not under ASan or TSan,
 * whose instrumentation must be set up before any ifunc resolver runs (TSan
 * binaries crash at load otherwise). flatten inlines every helper into each clone: a
 * static inline helper GCC left out of line is compiled once, for the baseline, and
 * every clone calls that (the depthwise tap loop, shared by two callers, ran its
 * 64-byte vectors as SSE: 1.4 ms for a 0.2 ms pass). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) &&      \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define BC_MULTI_ISA __attribute__((target_clones("avx512f", "avx2", "default"), flatten))
#else
#define BC_MULTI_ISA
#endif

/* 64-byte vectors of floats and of lane masks (GCC's and clang's vector extensions):
 * each clone of a BC_MULTI_ISA function compiles their arithmetic and shuffles for its
 * own ISA. Not their compares: GCC 12 lowers those before it clones, so a vec16 `>`
 * comes out as 16 scalar compares in every clone. Compare in a loop over float
 * arrays instead, which the vectoriser compiles per clone. */
typedef float vec16 __attribute__((vector_size(64)));
typedef int ivec16 __attribute__((vector_size(64)));

/* Helpers pass these vectors by value; they are static and inlined into each clone,
 * so no call ever crosses the ABI GCC warns about. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

static inline vec16 bc_load16(const float *p)
{
    vec16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void bc_store16(float *p, vec16 v)
{
    memcpy(p, &v, sizeof v);
}

/* Lane masks: 16 zeros then 16 all-ones, so that the 16 words from index r keep the
 * last r lanes of a vector (ANDed with it: a dropped lane becomes +0, even from an
 * infinity, where multiplying by 0 would give NaN). */
static const int bc_keep_last[32] = {0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
                                     0,  0,  0,  0,  0,  -1, -1, -1, -1, -1, -1,
                                     -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

/* Two-vector shuffles of 64-byte vectors with constant lane indices (lane i of the
 * result is element idx[i] of concat(lo, hi)), in GCC's and clang's spellings. */
#if defined(__clang__)
#define BC_SHUFFLE(lo, hi, ...) __builtin_shufflevector(lo, hi, __VA_ARGS__)
#else
typedef int bc_lanes16 __attribute__((vector_size(64)));
#define BC_SHUFFLE(lo, hi, ...) __builtin_shuffle(lo, hi, (bc_lanes16){__VA_ARGS__})
#endif
/* Lane l takes element 2l + f: the even (f = 0) or odd (f = 1) floats of 32. */
#define BC_EVERY_2ND(f)                                                                           \
    (f), (f) + 2, (f) + 4, (f) + 6, (f) + 8, (f) + 10, (f) + 12, (f) + 14, (f) + 16, (f) + 18,    \
        (f) + 20, (f) + 22, (f) + 24, (f) + 26, (f) + 28, (f) + 30
/* Their inverse: lo[f], hi[f], lo[f + 1], hi[f + 1], ... for f = 0 and f = 8. */
#define BC_ALTERNATE(f)                                                                           \
    (f), (f) + 16, (f) + 1, (f) + 17, (f) + 2, (f) + 18, (f) + 3, (f) + 19, (f) + 4, (f) + 20,    \
        (f) + 5, (f) + 21, (f) + 6, (f) + 22, (f) + 7, (f) + 23

/* 16 x 16 transposes of vectors (the bias gradient's sums, NHWC's Winograd filter).
 * One step: rows r and r + b (r & b == 0) swap their b x b blocks off the diagonal
 * (b = 8, 4, 2, 1); lo and hi are the two rows' new lanes. */
#define BC_TRANSPOSE_STEP(t, b, lo, hi)                                                           \
    for (int r = 0; r < 16; r++)                                                                  \
        if (!(r & (b))) {                                                                         \
            const vec16 top = t[r], bottom = t[r + (b)];                                          \
            t[r] = BC_SHUFFLE(top, bottom, lo);                                                   \
            t[r + (b)] = BC_SHUFFLE(top, bottom, hi);                                             \
        }
#define BC_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define BC_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define BC_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define BC_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define BC_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define BC_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define BC_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define BC_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31

static inline void bc_transpose16(vec16 t[16])
{
    BC_TRANSPOSE_STEP(t, 8, BC_LO8, BC_HI8)
    BC_TRANSPOSE_STEP(t, 4, BC_LO4, BC_HI4)
    BC_TRANSPOSE_STEP(t, 2, BC_LO2, BC_HI2)
    BC_TRANSPOSE_STEP(t, 1, BC_LO1, BC_HI1)
}

/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols (transpose.c). */
void bc_transpose(const float *src, int rows, int cols, size_t lds, float *dst, size_t ldd);

/* CBLAS enum values (the ABI every CBLAS shares). */
enum {
    CBLAS_ROW_MAJOR = 101,
    CBLAS_NO_TRANS = 111,
    CBLAS_TRANS = 112
};

struct blasconv_context {
    blasconv_sgemm_fn user_sgemm; /* set_sgemm; wins over everything */
    int user_sgemm_concurrent;    /* set_sgemm_concurrent: slots may call it at once */
    struct bc_blas *loaded_blas;  /* load_blas; NULL = the linked BLAS (blas.c) */
    size_t workspace_limit;       /* 0 = none */
    void *user_workspace;         /* caller-owned; used when has_user_workspace */
    size_t user_workspace_bytes;
    int has_user_workspace;
    void *scratch; /* library-owned, 64-byte aligned, kept between calls */
    size_t scratch_bytes;
    int threads; /* 0 = all */
    blasconv_algorithm algorithm;
    int weights_constant; /* set_weights_constant: FAST may keep a transformed filter */
    struct bc_winograd_cache {
        float *u; /* transformed filter of `weights`, malloc'd; NULL = empty */
        size_t bytes;
        const float *weights;
        int m, k, c;
        blasconv_layout layout;
    } winograd_cache;
    char last_error[BLASCONV_ERROR_CAPACITY];
};

/* --- status.c: the last-error sentence --------------------------------- */

/* Writes "fn: <message>" into ctx->last_error (ctx may be NULL) and returns st. */
blasconv_status bc_fail(blasconv_context *ctx, blasconv_status st, const char *fn, const char *fmt,
                        ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void bc_clear_error(blasconv_context *ctx);

/* --- context.c: the call's context and its scratch --------------------- */

/* The context a call runs on: the caller's, or `tmp` set to the defaults when the
 * caller passed NULL. bc_call_end frees what a temporary context allocated. */
blasconv_context *bc_call_begin(blasconv_context *ctx, blasconv_context *tmp);
void bc_call_end(blasconv_context *ctx, blasconv_context *tmp);

/* Bytes of scratch a call may use: the caller's buffer, the limit, or SIZE_MAX. */
size_t bc_scratch_capacity(const blasconv_context *ctx);

/* Returns float-aligned scratch of at least `bytes` bytes (bytes <= capacity), or
 * NULL when the allocation fails. Never allocates with a caller-owned buffer. */
float *bc_scratch(blasconv_context *ctx, size_t bytes);
/* bytes rounded up to whole 64-byte cache lines: pieces of one scratch buffer laid
 * end to end stay aligned. */
static inline size_t bc_align64(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

/* Prefetches the cache lines of p[0, bytes) for reading. */
static inline void bc_prefetch_bytes(const void *p, size_t bytes)
{
    for (size_t b = 0; b < bytes; b += 64)
        __builtin_prefetch((const char *)p + b);
}

/* --- gemm_small_blocks.c: GEMMs as blocks a BLAS runs unpacked ---------- */

/* Whether an m x n x k GEMM, op(A) B, ran faster as small blocks. */
int bc_small_blocks_pay(int trans_a, int m, int n, int k);
/* Row-major C = alpha op(A) B + beta C as GEMMs of at most 64 x 64 x 128 through
 * sgemm, each output summed over its depth in the same order whatever m and n are. */
void bc_sgemm_small_blocks(blasconv_sgemm_fn sgemm, int trans_a, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c,
                           int ldc);

/* --- blas.c: the one seam every GEMM goes through ----------------------- */

/* Row-major C[m][n] = alpha * op(A) op(B) + beta * C via the context's sgemm. */
void bc_sgemm(const blasconv_context *ctx, int trans_a, int trans_b, int m, int n, int k,
              float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
              int ldc);
/* The lowering's C = op(A) B + beta C (alpha 1; forward A, backward data A^T): as
 * bc_sgemm, or in blocks for the BLAS's small-matrix kernels where those were
 * measured to be faster. */
void bc_sgemm_lowered(const blasconv_context *ctx, int trans_a, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);
/* Applies the context's thread count to its BLAS before a call's GEMMs; at more than
 * one, sends the library's idle workers to sleep first (bc_parallel_rest). */
void bc_blas_apply_threads(const blasconv_context *ctx);
/* Sets the BLAS behind ctx to `threads` (when it has a thread setter). */
void bc_blas_use_threads(const blasconv_context *ctx, int threads);
/* Whether blasconv may call this context's GEMM from several threads at once, each
 * with a one-thread BLAS: not a user's function, and only a BLAS whose thread count
 * blasconv can set (or the BLAS threads would multiply). */
int bc_blas_parallel_callable(const blasconv_context *ctx);
/* A BLAS loaded by path in its own link-map namespace, shared (refcounted) by every
 * context that loads the same file. On failure, err says why (BLASCONV_ERR_BLAS). */
blasconv_status bc_blas_acquire(const char *path, struct bc_blas **out, char *err,
                                size_t err_bytes);
void bc_blas_release(struct bc_blas *blas); /* NULL is a no-op */

/* --- shape.c: validated, normalised descriptors ------------------------- */

/* A convolution descriptor after validation: defaults applied, output size known,
 * and every element count checked to fit. Counts are per the whole tensor. */
typedef struct conv_shape {
    int n, c, h, w, k, kh, kw;
    int stride_h, stride_w, pad_t, pad_b, pad_l, pad_r, dil_h, dil_w;
    int groups;
    int c_per_group, k_per_group;
    int oh, ow;
    blasconv_layout layout;
    int64_t x_elems, w_elems, y_elems;
    int64_t col_rows;  /* C/g * KH * KW: rows of the im2col matrix */
    int64_t positions; /* OH * OW */
    int64_t col_elems; /* col_rows * positions: one untiled im2col buffer */
    int direct_1x1;    /* 1x1, stride 1, unpadded: GEMM straight on x, no scratch */
    int strided_1x1;   /* 1x1, a stride above 1, unpadded: windows never overlap */
} conv_shape;

/* A 3x3 kernel, stride 1 and dilation 1 both ways (MobileNet's depthwise layers,
 * Winograd's F(m x m, 3 x 3)). */
static inline int bc_3x3_stride1(const conv_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->stride_h == 1 && s->stride_w == 1 && s->dil_h == 1 &&
           s->dil_w == 1;
}

/* NCHW forward on maps of fewer positions than this lowers several whole images side
 * by side into one tile, so that each GEMM has about this many columns: OpenBLAS
 * packs the whole filter for every GEMM, which a thin one cannot amortise (a
 * 512x4608 filter: 147 GFLOP/s at 49 columns, 182 at 196, medians of 15). */
#define BLASCONV_GROUP_COLUMNS 192

/* Images that NCHW forward would like per GEMM on s's map (before the batch, the
 * slots and the workspace have their say): 1 on maps of BLASCONV_GROUP_COLUMNS
 * positions or more. */
static inline int64_t bc_images_per_gemm(const conv_shape *s)
{
    return s->positions < BLASCONV_GROUP_COLUMNS
               ? (BLASCONV_GROUP_COLUMNS + s->positions - 1) / s->positions
               : 1;
}

/* floor(num / den) for den > 0, also for negative num (PyTorch's div_rtn). */
int64_t bc_floor_div(int64_t num, int64_t den);

/* A descriptor field by name, so a failed check can say which one it was. */
typedef struct bc_named_int {
    const char *name;
    int value;
} bc_named_int;

#define BC_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* BAD_SHAPE naming the first field that is not positive, then the first of the
 * others that is negative, in the order given. */
blasconv_status bc_check_fields(blasconv_context *ctx, const char *fn,
                                const bc_named_int *positive, size_t positive_count,
                                const bc_named_int *non_negative, size_t non_negative_count);

/* *out = a*b*c*d; false when the product reaches BLASCONV_MAX_ELEMENTS. */
int bc_count_elements(int64_t *out, int64_t a, int64_t b, int64_t c, int64_t d);

/* Validates d (not NULL) and fills s; on failure says why in ctx's last error. */
blasconv_status bc_conv_shape(blasconv_context *ctx, const char *fn, const blasconv_conv2d *d,
                              conv_shape *s);

/* --- im2col.c: lowering (NCHW) of whole output rows ---------------------- */

/* Output columns [*lo, *hi) whose input column ow*stride_w + offset lies in
 * [0, W) (offset = kj*dilation_w - pad_left); the rest of the row reads padding. */
void bc_valid_columns(const conv_shape *s, int64_t offset, int *lo, int *hi);

/* Those ranges for the first BC_COLUMN_CACHE kernel columns, kept per call by the
 * passes that walk every tap of every row (the divisions in bc_valid_columns cost
 * more than copying or adding a short row: on r50_3x3_7's 7-wide rows im2col's
 * per-tap divisions took 0.75% of the forward call); wider kernels compute the rest
 * per use (bc_kernel_columns_at). */
#define BC_COLUMN_CACHE 32
typedef struct bc_kernel_columns {
    int lo[BC_COLUMN_CACHE], hi[BC_COLUMN_CACHE];
} bc_kernel_columns;
void bc_kernel_columns_init(const conv_shape *s, bc_kernel_columns *columns);
static inline void bc_kernel_columns_at(const conv_shape *s, const bc_kernel_columns *columns,
                                        int kj, int *lo, int *hi)
{
    if (kj < BC_COLUMN_CACHE)
        *lo = columns->lo[kj], *hi = columns->hi[kj];
    else
        bc_valid_columns(s, (int64_t)kj * s->dil_w - s->pad_l, lo, hi);
}

/* col[col_rows][(oh_end-oh_begin)*OW] for one image and group, rows ld floats apart
 * (ld > the row's length leaves room for other images' columns beside it):
 * x_group points at channel (group * C/g) of the image. */
void bc_im2col_nchw(const conv_shape *s, const float *x_group, int oh_begin, int oh_end,
                    float *col, size_t ld);
/* The same for kernel rows [first, end) of the group only (kernel row c*KH + ki:
 * channel c's taps (ki, 0..KW-1)), from col's row 0. */
void bc_im2col_nchw_kernel_rows(const conv_shape *s, const float *x_group, int first, int end,
                                int oh_begin, int oh_end, float *col, size_t ld);
/* Adds col (the layout bc_im2col_nchw writes) back into dx_group's input rows
 * [ih_begin, ih_end) (col2im; 0 and H for all of them). Each dx element gets its
 * sums in output-row order, so the result does not depend on how the rows are
 * tiled. May zero col's entries that read padding. */
void bc_col2im_nchw(const conv_shape *s, float *col, int oh_begin, int oh_end, int ih_begin,
                    int ih_end, float *dx_group);

/* For a strided_1x1 layer: writes dx_group's input rows [ih_begin, ih_end) that output
 * rows [oh_begin, oh_end) reach (rows oh*SH up to the next output row's) whole, each
 * element from its one entry of col (plus +0, as if added to a zeroed dx) or zero. */
void bc_col2im_1x1_strided(const conv_shape *s, const float *col, int oh_begin, int oh_end,
                           int ih_begin, int ih_end, float *dx_group);

/* The three passes: planning differs. */
typedef enum conv_pass {
    PASS_FORWARD,
    PASS_BACKWARD_DATA,
    PASS_BACKWARD_FILTER
} conv_pass;

/* --- row_shift.c: forward and backward data lowered by kernel columns ----- */

/* Whether the pass takes this path (forward and backward data only; plan.c may still
 * fall back to im2col tiles when the workspace cannot hold the filter copy and one
 * tile row). Backward data tiles are rows of dx: each row's lowered gradient is summed
 * over the kernel rows by KH GEMMs reading dy shifted, then added into dx by kernel
 * columns only. */
int bc_row_shift_applies(const conv_shape *s, conv_pass pass);
/* Rows a tile lowers: forward's tile_rows output rows plus the halo the lower kernel
 * rows reach; backward data's tile_rows input rows, no more. */
int64_t bc_row_shift_lowered_rows(const conv_shape *s, conv_pass pass, int64_t tile_rows);
/* Tile rows of a whole image: OH (forward) or H (backward data). */
int bc_row_shift_image_rows(const conv_shape *s, conv_pass pass);
/* Scratch of one lowered row (C/g*KW*OW floats), of a tile of tile_rows rows, and of
 * the filter copy (NCHW only; a whole number of cache lines, so the tiles after it
 * stay aligned). */
size_t bc_row_shift_row_bytes(const conv_shape *s);
size_t bc_row_shift_tile_bytes(const conv_shape *s, conv_pass pass, int tile_rows);
size_t bc_row_shift_filter_bytes(const conv_shape *s);
/* shifted[ki][K][C/g*KW] = w[K][C/g][ki][KW]: kernel row ki's filter columns, so that
 * each kernel row's GEMM reads its A with one leading dimension, C/g*KW. Output
 * channels split over up to `threads` threads. */
void bc_row_shift_filter(const conv_shape *s, const float *w, float *shifted, int threads);
/* rows[(c, kj)][lowered rows of the tile * OW]: input row
 * oh - pad_t (zero outside the input) at kernel column kj, for oh from oh_begin on;
 * one image and group, x_group as for bc_im2col_nchw. */
void bc_row_shift_lower(const conv_shape *s, const float *x_group, int oh_begin, int oh_end,
                        float *rows);
/* Adds rows[(c, kj)][(ih_end - ih_begin) * OW] (the layout bc_row_shift_lower writes,
 * without its halo: row i is input row ih_begin + i) into dx_group; may zero entries
 * that read padding. */
void bc_row_shift_col2im(const conv_shape *s, float *rows, int ih_begin, int ih_end,
                         float *dx_group);
/* NHWC: adds rows[(ih_end - ih_begin) * OW][KW*C/g] (row i: input row ih_begin + i
 * of image n, the layout bc_row_shift_lower_nhwc writes without its halo) into dx. */
void bc_row_shift_col2im_nhwc(const conv_shape *s, const float *rows, int group, int n,
                              int ih_begin, int ih_end, float *dx);
/* NHWC: rows[lowered rows of the tile * OW][KW*C/g] for image n and one
 * group: output position (oh, ow)'s taps at input row oh - pad_t, from oh_begin on. */
void bc_row_shift_lower_nhwc(const conv_shape *s, const float *x, int group, int n, int oh_begin,
                             int oh_end, float *rows);

/* --- depthwise.c: the direct path for one input channel per group -------- */

/* One input channel per group: NCHW with up to 4 output channels per group, NHWC
 * with one and K*KH*KW up to BC_DEPTHWISE_NHWC_MAX_WEIGHTS (NHWC weights are
 * transposed to [tap][K] on the stack, so that a tap scales a channel vector). */
int bc_depthwise_applies(const conv_shape *s);
#define BC_DEPTHWISE_NHWC_MAX_WEIGHTS 4096
/* w_by_tap[t][K] = w[K][t], or w[K][taps - 1 - t] (the kernels rotated 180 degrees). */
void bc_depthwise_weights_by_tap(const conv_shape *s, const float *w, int rotated,
                                 float *w_by_tap);
/* Forward on the direct path, either layout (bc_depthwise_applies must hold), over
 * the context's thread count. */
void bc_depthwise_forward(const blasconv_context *ctx, const conv_shape *s, const float *x,
                          const float *w, const float *bias, float *y);
/* Where phase p of a row split by phases starts: columns p, p + S, p + 2S, ... (S the
 * stride) lie contiguously from there, phase p of a row of width W = a*S + r holding
 * a + (p < r) columns. */
static inline int64_t bc_phase_start(int64_t width, int stride, int64_t p)
{
    const int64_t a = width / stride, r = width % stride;
    return p * a + (p < r ? p : r);
}
/* Column offset = q*S + p of a row is column q of phase p (0 <= p < S): returns p, sets
 * *q (floored, also for a negative offset). */
static inline int bc_phase_of(int64_t offset, int stride, int64_t *q)
{
    const int64_t p = (offset % stride + stride) % stride;
    *q = (offset - p) / stride;
    return (int)p;
}
/* Where the run of a tap at column `offset` starts in a row of `width` split by
 * phases: column o*S + offset = (o + q)*S + p is column o + q of phase p, so output
 * column o reads the split row at the returned bc_phase_start(p) + q, plus o. */
static inline int64_t bc_phase_run_start(int64_t width, int stride, int64_t offset)
{
    int64_t q;
    const int p = bc_phase_of(offset, stride, &q);
    return bc_phase_start(width, stride, p) + q;
}
/* Floats of rows split by phases the depthwise passes hold on the stack. */
#define BC_PHASE_FLOATS 4096
/* phases[0..width) = row split by phases. */
void bc_split_phases(const float *row, int64_t width, int stride, float *phases);
/* row[0..width) from the row split by phases (the inverse of the split). */
void bc_interleave_phases(const float *phases, int64_t width, int stride, float *row);
/* A kernel tap that lands inside the input for an output row: in the register-blocked
 * sum, output column o reads row[o + offset] (a row split by phases for a stride
 * across) for o in [lo, hi), times weight. */
typedef struct bc_live_tap {
    const float *row;
    int64_t offset;
    float weight;
    int lo, hi;
} bc_live_tap;
#define BC_MAX_LIVE_TAPS 64
/* out[0..width) = the sum of the taps (at most BC_MAX_LIVE_TAPS), in their order, over
 * the columns each covers (0 where none does), the columns all of them cover 16 at a
 * time in registers. */
void bc_depthwise_tap_row(const bc_live_tap *taps, int count, int width, float *out);
/* Kernels an NCHW call of bc_depthwise_forward_rotated may have (they are copied to
 * the stack). */
#define BC_DEPTHWISE_MAX_ROTATED_TAPS 64
/* The same with every kernel rotated 180 degrees and no bias: backward data of a
 * stride-1 layer is this forward pass over dy (depthwise_backward_data.c). */
void bc_depthwise_forward_rotated(const blasconv_context *ctx, const conv_shape *s, const float *x,
                                  const float *w, float *y);
/* Backward data and backward filter on the direct path (bc_depthwise_applies must
 * hold; no scratch), split over the context's threads bitwise as one thread. */
void bc_depthwise_backward_data(const blasconv_context *ctx, const conv_shape *s, const float *dy,
                                const float *w, float *dx);
void bc_depthwise_backward_filter(const blasconv_context *ctx, const conv_shape *s, const float *x,
                                  const float *dy, float *dw);

/* --- im2col_nhwc.c: lowering (NHWC) of whole output rows ---------------- */

/* col[(row_end-row_begin)*OW][KH*KW*C/g] for one group, rows numbered across the
 * batch (row = n*OH + oh); x is the whole input. Each col row is laid out like one
 * filter, [KH][KW][C/g]. */
void bc_im2col_nhwc(const conv_shape *s, const float *x, int group, int row_begin, int row_end,
                    float *col);
/* The same restricted to the columns [j0, j1) of each col row (rows j1 - j0 floats
 * long): backward filter's slots each lower the columns of dw they own. */
void bc_im2col_nhwc_columns(const conv_shape *s, const float *x, int group, int row_begin,
                            int row_end, int64_t j0, int64_t j1, float *col);
/* Adds col (the layout bc_im2col_nhwc writes) back into the whole dx (col2im).
 * Iterates output positions outermost, so the order of the sums a dx element
 * receives does not depend on how the rows are tiled. */
void bc_col2im_nhwc(const conv_shape *s, const float *col, int group, int row_begin, int row_end,
                    float *dx);
/* The same adding only into input rows [ih_begin, ih_end) of each image (what a
 * slot owning those rows of dx takes from the dy rows that reach them). */
void bc_col2im_nhwc_window(const conv_shape *s, const float *col, int group, int row_begin,
                           int row_end, int ih_begin, int ih_end, float *dx);

/* --- winograd_transform.c: F(m x m, 3 x 3) transforms, m in {2, 4} --------- */

/* Each transforms `lanes` independent problems whose values are contiguous (lane l
 * at +l). Input: d[i][j] at src + i*rs + j*cs -> (B^T d B)[xi] at dst + xi*ds.
 * Filter: g[i][j] at src + (3i+j)*ts, lane l at + l*ls -> (G g G^T)[xi] at dst + xi*ds.
 * Output: v[xi] at src + xi*ss -> (A^T v A)[i][j] + bias[l] (bias NULL = 0) at
 * dst + i*rs + j*cs. xi = row * (m+2) + column. */
void bc_winograd_input(int m, const float *src, ptrdiff_t rs, ptrdiff_t cs, int lanes, float *dst,
                       ptrdiff_t ds);
/* One row of 16 side-by-side input patches, their origins m apart: dst[j*ds + l] =
 * src[l*m + j] for the row's m + 2 columns j and all 16 lanes l (reads 17m floats
 * of src: whole vectors). */
void bc_winograd_spread_row(int m, const float *src, float *dst, ptrdiff_t ds);
/* The inverse for output rows: m rows of 16 side-by-side output tiles, the tile of
 * lane l at src[(i*m + j)*16 + l], to dst[i*16m + l*m + j] (each row as it lies in
 * the output plane). */
void bc_winograd_join_rows(int m, const float *src, float *dst);
void bc_winograd_filter(int m, const float *src, ptrdiff_t ts, ptrdiff_t ls, int lanes, float *dst,
                        ptrdiff_t ds);
/* 16 filters (filter f at src + f*fs) of 16 contiguous lanes each (tap t at + t*ts)
 * -> dst[xi*ds + l*ls + f]: transposed so that the filters sit side by side (NHWC's
 * U^T[xi][c][k] from w[k][3][3][c]). */
void bc_winograd_filter_16x16(int m, const float *src, ptrdiff_t fs, ptrdiff_t ts, float *dst,
                              ptrdiff_t ds, ptrdiff_t ls);
/* The same from w[k][c][3][3]: 16 filters (filter f at src + f*fs) of 16 channels 9
 * floats apart (NCHW's U^T[xi][c][k] for the GEMMs with the tiles as rows). */
void bc_winograd_filter_16x16_kcrs(int m, const float *src, ptrdiff_t fs, float *dst, ptrdiff_t ds,
                                   ptrdiff_t ls);
/* The same with each filter's taps backwards: NCHW's turned filter (backward data),
 * where 16 channels of w (rows fs apart) each hold 16 filters side by side, 9 floats
 * apart, become the lanes: dst[xi*ds + f*ls + c] for filter f of channel c. */
void bc_winograd_filter_16x16_turned(int m, const float *src, ptrdiff_t fs, float *dst,
                                     ptrdiff_t ds, ptrdiff_t ls);
void bc_winograd_output(int m, const float *src, ptrdiff_t ss, int lanes, const float *bias,
                        float *dst, ptrdiff_t rs, ptrdiff_t cs);

/* --- winograd.c: FAST forward for 3x3 stride-1 layers ------------------- */

typedef struct winograd_plan {
    int m; /* output tile side; 0 = not this path */
    int tiles_h, tiles_w;
    int tiles;           /* N * tiles_h * tiles_w */
    int tiles_per_batch; /* tiles transformed and multiplied together */
    float *u;            /* transformed filter [a*a][K][C]: scratch or the context's cache */
    float *v;            /* transformed input: [a*a][C][T] (NCHW), [a*a][T][C] (NHWC) */
    float *product;      /* U*V: [a*a][K][T] (NCHW), [a*a][T][K] (NHWC) */
    int cached;          /* u is the context's cache */
    int threads;         /* the call's threads, splitting the filter transform (and each
                            batch's stages when batch_threads is 1); >1: GEMMs on a
                            one-thread BLAS */
    int batch_threads;   /* threads each running whole batches in V and M of their own,
                            slot_floats apart from v on; 1: batches one after another */
    size_t slot_floats;
    int stream_filter; /* write U with streaming stores (see winograd.c) */
    int k_block;       /* >0: one batch, and U transformed this many output channels at a
                          time into a block per thread (k_threads of them, u_block_floats
                          apart from u on), each block's GEMMs right after it
                          (see winograd.c) */
    int k_threads;
    size_t u_block_floats;
    size_t v_copy_floats; /* >0: each block buffer's thread transforms all the input
                             into a V of its own, v + t * v_copy_floats */
    int turned;           /* the filter is the turned view of w (bc_winograd_plan_turned) */
} winograd_plan;

/* Under FAST, picks m for a forward pass of s and gets its buffers. Leaves wp->m
 * at 0 (the GEMM lowering) when the layer is not 3x3/stride 1/dilation 1/groups 1,
 * when no m is expected to be faster, or when even one tile does not fit the
 * workspace. NO_MEMORY when the cache or the scratch cannot grow. */
blasconv_status bc_winograd_plan(blasconv_context *ctx, const char *fn, const conv_shape *s,
                                 winograd_plan *wp);
/* The same for a layer whose filter k of channel c is the filter c of channel k,
 * turned 180 degrees, of the weights it is then given: w [C][K][3][3] (NCHW) or
 * [C][3][3][K] (NHWC) in s's terms, as backward data's forward of dy reads the
 * layer's own w. Its transformed filter is never kept in the context. */
blasconv_status bc_winograd_plan_turned(blasconv_context *ctx, const char *fn, const conv_shape *s,
                                        winograd_plan *wp);
void bc_winograd_forward(blasconv_context *ctx, const conv_shape *s, const winograd_plan *wp,
                         const float *x, const float *w, const float *bias, float *y);
/* Frees the context's transformed-filter cache. */
void bc_winograd_cache_clear(blasconv_context *ctx);

/* --- winograd_backward_data.c: FAST backward data as a forward of dy ------ */

/* Under FAST, for backward data of s: where it runs as Winograd, *as_forward is the
 * forward layer of dy whose output is dx, and wp its plan (a turned filter):
 * bc_winograd_forward(ctx, as_forward, wp, dy, w, NULL, dx) with the layer's own w
 * then gives dx; else wp->m is 0 (the lowering). NO_MEMORY as bc_winograd_plan. */
blasconv_status bc_winograd_plan_backward_data(blasconv_context *ctx, const char *fn,
                                               const conv_shape *s, conv_shape *as_forward,
                                               winograd_plan *wp);

/* --- bias_gradient.c ------------------------------------------------------ */

/* dbias[K] = dy summed over the batch and positions, in double, in that order. */
void bc_bias_gradient(const blasconv_context *ctx, const conv_shape *s, const float *dy,
                      float *dbias);

/* --- plan.c: validated shape + path + tiles + scratch -------------------- */

/* How parallel slots share a pass (plan.c says when each applies). */
typedef enum slot_split {
    SPLIT_IMAGES,  /* whole images */
    SPLIT_ROWS,    /* output rows of the batch */
    SPLIT_CHANNELS /* channels of each group (output channels forward, input channels
                      backward; NHWC backward filter: blocks of dw's columns), every
                      slot over all rows */
} slot_split;

typedef struct conv_plan {
    conv_shape s;
    int depthwise;          /* the direct depthwise path: no GEMM, no scratch */
    float *col;             /* scratch for one tile; NULL on the direct 1x1 path */
    int rows_per_tile;      /* output rows lowered per tile (backward data lowered by
                               kernel columns: input rows) */
    int images_per_tile;    /* NCHW forward on small maps: whole images lowered side by
                               side into one tile (then rows_per_tile = OH); else 1 */
    int channels_per_tile;  /* NCHW backward data (and forward that the lowering by
                               kernel columns does not fit) on im2col tiles: input
                               channels of all OH rows per tile, where a tile of every
                               channel would hold only some rows (then rows_per_tile =
                               OH; see plan.c); else 0 */
    int row_shift;          /* forward or backward data lowered by kernel columns
                               (row_shift.c) */
    float *shifted_filter;  /* its NCHW filter copy, ahead of the slots' tiles; else NULL */
    float *dw_transposed;   /* NCHW backward filter: dw^T ([C/g*KH*KW][K/g] per group),
                               ahead of the tiles, summed there and transposed into dw
                               (plan.c says where); else NULL */
    winograd_plan winograd; /* forward and backward data under FAST: winograd.m > 0
                               takes this path */
    conv_shape dx_forward;  /* backward data under FAST: the forward of dy that gives dx */
    int slots;              /* parallel slots, each with its own tile of scratch and a
                               one-thread BLAS (with 2+ threads); 1 = serial */
    slot_split split;       /* how the slots share the work */
    int channels;           /* per group, what SPLIT_CHANNELS shares: K/g forward,
                               C/g backward data, C/g*KH backward filter (NHWC:
                               16-column blocks of dw) */
    size_t slot_floats;     /* scratch floats from one slot's tile to the next's */
    int unit_rows;          /* what the slots share out (plan.c's plan_units): units
                               of this many output rows (tiles, groups of images or
                               whole images), or 0: one unit per slot, its share */
    int unit_spans;         /* units run over the batch's rows (else per image) */
} conv_plan;

/* NHWC backward filter's slots own blocks of this many columns of dw. */
#define BC_DW_COLUMN_BLOCK 16
/* Columns of dw per group that those blocks share: C/g for a 1x1 layer on x itself,
 * else KH*KW*C/g. */
static inline int64_t bc_dw_columns(const conv_shape *s)
{
    return s->direct_1x1 ? s->c_per_group : s->col_rows;
}

/* One slot's share: output rows [row_begin, row_end) of the whole batch (row n*OH + oh
 * is image n's row oh) and channels [k_begin, k_end) of every group (conv_plan's
 * `channels`: output channels forward, input channels backward data, kernel rows of
 * the input channels backward filter, NHWC backward filter's 16-column blocks of dw). */
typedef struct slot_range {
    int row_begin, row_end;
    int k_begin, k_end;
} slot_range;

/* What a pass does for its share, with one slot's tile of scratch. */
typedef void (*bc_slot_fn)(void *arg, float *col, slot_range r);

/* Runs fn over the whole pass: in one call, or spread over p->slots threads. */
void bc_for_slots(const conv_plan *p, bc_slot_fn fn, void *arg);

/* End of the tile of rows_per_tile output rows that starts at `begin`, clipped at
 * `limit` (the end of the image, or of a slot's rows). */
static inline int bc_tile_end(int begin, int rows_per_tile, int limit)
{
    return begin + rows_per_tile < limit ? begin + rows_per_tile : limit;
}

/* Everything a pass needs before it may write an output: validation, the path,
 * the tile height (the default tile, or less under the context's limit) and its
 * scratch. WORKSPACE below one output row; NO_MEMORY if the scratch cannot grow. */
blasconv_status bc_conv_plan(blasconv_context *ctx, const char *fn, const blasconv_conv2d *d,
                             conv_pass pass, conv_plan *p);

/* --- pool_shape.c: validated, normalised pooling descriptors ------------- */

/* A pooling descriptor after validation: defaults applied (stride 0 = window,
 * dilation 0 = 1), output size known, element counts checked to fit. */
typedef struct pool_shape {
    blasconv_pool_mode mode;
    int n, c, h, w;
    int kh, kw, stride_h, stride_w, pad_t, pad_b, pad_l, pad_r, dil_h, dil_w;
    int exclude_pad; /* AVG only; normalised to 0 for MAX */
    int oh, ow;
    blasconv_layout layout;
    int64_t x_elems, y_elems;
} pool_shape;

/* Validates d (not NULL) and fills s; on failure says why in ctx's last error. */
blasconv_status bc_pool_shape(blasconv_context *ctx, const char *fn, const blasconv_pool2d *d,
                              pool_shape *s);

/* The taps [*first, *last) of one window axis that land inside the input:
 * the window starts at `start` and tap t reads start + t*dilation. */
void bc_pool_taps(int64_t start, int taps, int dilation, int extent, int *first, int *last);

/* AVG divisor of the window starting at (h_start, w_start), PyTorch's rule:
 * count_include_pad counts the window clipped at in + pad_after per axis;
 * exclude_pad counts only its in-input elements. */
int64_t bc_pool_divisor(const pool_shape *s, int64_t h_start, int64_t w_start);

/* Output columns [*lo, *hi) whose whole window lies inside the input. */
void bc_pool_interior_columns(const pool_shape *s, int *lo, int *hi);

/* PyTorch's MAX step: v replaces best when greater or NaN (ties keep the first).
 * The result of a chain is the last NaN, else the first maximum: any grouping that
 * keeps the elements' order gives the same bits. */
static inline float bc_max_step(float best, float v)
{
    /* A max (maxss/maxps: exactly "v > best ? v : best") and a NaN select: no branch
     * on the data's order, which scalar code mispredicted at borders. */
    const float larger = v > best ? v : best;
    return v != v ? v : larger;
}

/* --- pool_max3x3.c: separable 3x3 stride-2 MAX pooling ------------------ */

/* MAX with a 3x3 window, stride 2 and dilation 1 across (any stride and dilation
 * down; NHWC up to 1024 channels): what bc_pool_max3x3_stride2_rows computes. */
int bc_pool_max3x3_stride2_applies(const pool_shape *s);

/* Output rows [oh_begin, oh_end) of y from x: one plane (OH x OW from H x W) in
 * NCHW, one image (OH x OW x C from H x W x C) in NHWC. */
void bc_pool_max3x3_stride2_rows(const pool_shape *s, const float *x, float *y, int oh_begin,
                                 int oh_end);

/* --- parallel.c: a small fork-join parallel for ------------------------- */

/* Runs fn(arg, begin, end) over disjoint chunks covering [0, count). */
typedef void (*bc_parallel_fn)(void *arg, int64_t begin, int64_t end);

/* Items per chunk of bc_parallel_for so that a chunk holds at least 65536 units of
 * work (elements, multiply-adds), given the work of one item. */
int64_t bc_parallel_grain(int64_t work_per_item);

/* Threads a call of ctx may use: ctx->threads, or every online core when 0. */
int bc_thread_count(const blasconv_context *ctx);

/* Splits [0, count) into at most `threads` contiguous chunks of at least `grain`
 * items and runs them on that many threads (the caller's among them), then joins:
 * on the process's team of kept workers, or, while another thread's call holds it,
 * on threads started for the call. Chunks whose thread cannot start run on the
 * caller. */
void bc_parallel_for(int threads, int64_t count, int64_t grain, bc_parallel_fn fn, void *arg);

/* What a share does with one unit of work (bc_parallel_shares). */
typedef void (*bc_unit_fn)(void *arg, int share, int64_t unit);

/* Units [0, units) (under 2^32) over `shares` threads: share s owns the run
 * [units*s/shares, units*(s+1)/shares) and calls fn(arg, s, u) on it in order, then takes
 * units one at a time from the back of the other shares' runs, so that a core that runs
 * slower holds the call up by a unit at most. fn's result for a unit must not depend on
 * the share that runs it (a share may own scratch of its own). Over BC_SHARES_MAX
 * shares, each runs its own units only. */
#define BC_SHARES_MAX 64
void bc_parallel_shares(int shares, int64_t units, bc_unit_fn fn, void *arg);

/* Sends the team's idle workers, spinning after a job (up to 1 ms), to sleep now: for
 * a call about to run the BLAS's own threads, which would share the cores with them
 * (NHWC backward data of r50_3x3_14 at two threads, one slot: 0.96 ms a call alone,
 * 1.88 right after a FAST call, whose workers were still spinning). */
void bc_parallel_rest(void);

/* Below this many flops a call runs on one thread, BLAS included (plan.c says why). */
#define BC_SLOT_MIN_FLOPS 2000000.0

#endif
