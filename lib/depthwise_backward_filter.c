/* Depthwise backward filter (one input channel per group) as direct loops: as a
 * GEMM it has K/g rows, far too thin for a BLAS (dw_3x3_112 ran at 0.29-0.37 of sgemm
 * that way). No scratch; each thread owns whole dw channels (NHWC: blocks of 16), so
 * results are bitwise those of one thread. */
#include "internal.h"

#include <string.h>

/* Vectors of float lanes a tap's dot products add into: each vector of a row gets
 * a different one where the row allows, so that a row's multiply-adds do not wait
 * on each other. */
#define LANES 8

/* acc += a[o] * b[o] for o in [0, count), count >= 16: 64 at a time into acc[0..3],
 * up to three vectors more into acc[4..6], and a remainder as the last 16 elements,
 * its products already counted masked to +0 (so that an infinite one cannot turn
 * into NaN), into acc[7]. */
static inline void dot_accumulate(vec16 acc[LANES], const float *restrict a,
                                  const float *restrict b, int count)
{
    int o = 0;
    for (; o + 64 <= count; o += 64)
        for (int v = 0; v < 4; v++) {
            vec16 x, y;
            memcpy(&x, a + o + 16 * v, sizeof x);
            memcpy(&y, b + o + 16 * v, sizeof y);
            acc[v] += x * y;
        }
    for (int v = 4; v < 7 && o + 16 <= count; v++, o += 16) {
        vec16 x, y;
        memcpy(&x, a + o, sizeof x);
        memcpy(&y, b + o, sizeof y);
        acc[v] += x * y;
    }
    if (o < count) {
        const int rest = count - o;
        vec16 x, y;
        ivec16 keep;
        memcpy(&x, a + count - 16, sizeof x);
        memcpy(&y, b + count - 16, sizeof y);
        memcpy(&keep, bc_keep_last + rest, sizeof keep);
        acc[7] += (vec16)((ivec16)(x * y) & keep);
    }
}

static double horizontal_sum(const vec16 acc[LANES])
{
    vec16 v = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    double sum = 0.0;
    for (int l = 0; l < 16; l++)
        sum += v[l];
    return sum;
}

/* Input elements a stride-w tap gathers into a contiguous run at a time. */
#define GATHER 256

/* Taps whose float lanes one pass over a block of rows keeps (16 KB). */
#define TAP_GROUP 32
/* Bytes of x and dy rows a block of output rows reads, so that they stay in L1
 * while every tap of the group reads them. */
#define ROW_BLOCK_BYTES 16384

/* One tap's products of dy row g with input row in over output columns [lo, hi),
 * into lanes (fewer than 16 into *narrow). */
static inline void filter_span(vec16 lanes[LANES], float *narrow, const float *g, const float *in,
                               int lo, int hi, int stride, int64_t offset)
{
    for (int o = lo; o < hi; o += GATHER) {
        const int count = hi - o < GATHER ? hi - o : GATHER;
        const float *run = in + (int64_t)o * stride + offset;
        float gathered[GATHER];
        if (stride != 1) { /* rows too wide to split by phases (filter_channel) */
            for (int i = 0; i < count; i++)
                gathered[i] = run[(int64_t)i * stride];
            run = gathered;
        }
        if (count >= 16)
            dot_accumulate(lanes, g + o, run, count);
        else
            for (int i = 0; i < count; i++)
                *narrow += g[o + i] * run[i];
    }
}

/* Taps [t0, t1) of output rows [oh0, oh1) of one plane pair: each tap's products of
 * dy rows with its input rows, added into that tap's lanes acc[t - t0] and
 * narrow[t - t0]. With `split`, the input rows from first_ih on are read there,
 * split by phases (a stride across then reads contiguous runs). */
static inline void filter_rows(const conv_shape *s, const float *x_plane, const float *split,
                               int64_t first_ih, const float *dy_plane, int t0, int t1, int oh0,
                               int oh1, vec16 (*acc)[LANES], float *narrow)
{
    for (int t = t0; t < t1; t++) {
        const int ki = t / s->kw, kj = t % s->kw;
        int64_t offset = (int64_t)kj * s->dil_w - s->pad_l;
        int lo, hi;
        bc_valid_columns(s, offset, &lo, &hi);
        int stride = s->stride_w;
        if (split) /* a contiguous run of the split row */
            offset = bc_phase_run_start(s->w, stride, offset), stride = 1;
        vec16 lanes[LANES];
        memcpy(lanes, acc[t - t0], sizeof lanes);
        for (int oh = oh0; oh < oh1; oh++) {
            const int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
            if (ih < 0 || ih >= s->h)
                continue;
            const float *g = dy_plane + (size_t)oh * s->ow;
            const float *in = split ? split + (ih - first_ih) * s->w : x_plane + ih * s->w;
            filter_span(lanes, &narrow[t - t0], g, in, lo, hi, stride, offset);
        }
        memcpy(acc[t - t0], lanes, sizeof lanes);
    }
}

/* 3x3, stride 1, dilation 1 (MobileNet's): output row g, whose input rows x[0..2] all
 * lie inside the input (column o reads x[ki][o - pad_l + kj]). Columns [lo, hi)
 * (hi - lo >= 16), where every tap lands inside the row, go 16 at a time, each dy
 * vector feeding the nine taps' multiply-adds, one accumulator each (tap by tap over
 * the rows, with a call per row and tap for the border columns, dw_3x3_112 took
 * 0.29-0.45 ms; this way 0.12, a test program's fastest of 50 calls, one thread).
 * The last vector overlaps the one before, its products
 * already counted masked to +0. The few columns outside [lo, hi) add into edge[]. */
static inline __attribute__((always_inline)) void filter_row_3x3(vec16 acc[9], float edge[9],
                                                                 const float *g,
                                                                 const float *const x[3], int lo,
                                                                 int hi, int ow, int w, int pad_l)
{
    int o = lo;
    for (; o + 16 <= hi; o += 16) {
        vec16 gv;
        memcpy(&gv, g + o, sizeof gv);
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
                vec16 xv;
                memcpy(&xv, x[ki] + o - pad_l + kj, sizeof xv);
                acc[ki * 3 + kj] += gv * xv;
            }
    }
    if (o < hi) {
        ivec16 keep;
        memcpy(&keep, bc_keep_last + (hi - o), sizeof keep);
        vec16 gv;
        memcpy(&gv, g + hi - 16, sizeof gv);
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
                vec16 xv;
                memcpy(&xv, x[ki] + hi - 16 - pad_l + kj, sizeof xv);
                acc[ki * 3 + kj] += (vec16)((ivec16)(gv * xv) & keep);
            }
    }
    for (int c = 0; c < ow; c++) {
        if (c == lo)
            c = hi;
        if (c >= ow)
            break;
        for (int kj = 0; kj < 3; kj++) {
            const int64_t col = (int64_t)c - pad_l + kj;
            if (col >= 0 && col < w)
                for (int ki = 0; ki < 3; ki++)
                    edge[ki * 3 + kj] += g[c] * x[ki][col];
        }
    }
}

/* dw of output channel k (its KH*KW taps), summed over the batch: each image's plane
 * in float lanes per tap, each plane's sum added in double. A 3x3 stride-1 layer runs
 * its inner rows and columns through filter_row_3x3; the rest goes in blocks of rows
 * that stay in L1 while each tap of a group reads them. */
BC_MULTI_ISA static void filter_channel(const conv_shape *s, const float *x, const float *dy,
                                        int k, float *dw_k)
{
    const int c = k / s->k_per_group, taps = s->kh * s->kw;
    const int64_t row_bytes = ((int64_t)s->ow + (int64_t)s->w * s->stride_h) * sizeof(float);
    int block = row_bytes >= ROW_BLOCK_BYTES ? 1 : (int)(ROW_BLOCK_BYTES / row_bytes);
    /* A stride across: each block's input rows split by phases once, on the stack, so
     * that the taps read contiguous runs (gathered tap by tap, MobileNet's stride-2
     * layer ran no faster than its GEMM lowering). The block shrinks to rows that fit. */
    float split[BC_PHASE_FLOATS];
    const int64_t reach = (int64_t)(s->kh - 1) * s->dil_h + 1; /* input rows of one output row */
    const int64_t split_rows = s->stride_w > 1 ? BC_PHASE_FLOATS / s->w : 0;
    const int splits = split_rows >= reach;
    if (splits && (block - 1) * (int64_t)s->stride_h + reach > split_rows)
        block = (int)((split_rows - reach) / s->stride_h + 1);
    /* Inner rows [top, bottom) and columns [left, right) of the 3x3 path, if any. */
    int top = 0, bottom = 0, left = 0, right = 0;
    if (bc_3x3_stride1(s)) {
        top = s->pad_t, bottom = s->h - 2 + s->pad_t, left = s->pad_l, right = s->w - 2 + s->pad_l;
        bottom = bottom < s->oh ? bottom : s->oh;
        right = right < s->ow ? right : s->ow;
        if (bottom <= top || right - left < 16)
            top = bottom = left = right = 0;
    }
    for (int t0 = 0; t0 < taps; t0 += TAP_GROUP) {
        const int t1 = taps - t0 < TAP_GROUP ? taps : t0 + TAP_GROUP;
        double total[TAP_GROUP] = {0};
        for (int n = 0; n < s->n; n++) {
            const float *x_plane = x + ((size_t)n * s->c + c) * s->h * s->w;
            const float *dy_plane = dy + ((size_t)n * s->k + k) * s->positions;
            vec16 acc[TAP_GROUP][LANES];
            float narrow[TAP_GROUP];
            memset(acc, 0, (size_t)(t1 - t0) * sizeof acc[0]);
            memset(narrow, 0, (size_t)(t1 - t0) * sizeof narrow[0]);
            if (bottom > top) { /* 9 taps: one group */
                vec16 inner[9] = {{0}};
                for (int oh = top; oh < bottom; oh++) {
                    const float *rows[3];
                    for (int ki = 0; ki < 3; ki++)
                        rows[ki] = x_plane + (size_t)(oh - s->pad_t + ki) * s->w;
                    filter_row_3x3(inner, narrow, dy_plane + (size_t)oh * s->ow, rows, left, right,
                                   s->ow, s->w, s->pad_l);
                }
                for (int t = 0; t < 9; t++)
                    acc[t][0] = inner[t];
            }
            /* The other rows, in blocks. */
            const int ranges[2][2] = {{0, bottom > top ? top : s->oh},
                                      {bottom > top ? bottom : s->oh, s->oh}};
            for (int r = 0; r < 2; r++)
                for (int oh = ranges[r][0]; oh < ranges[r][1]; oh += block) {
                    const int end = ranges[r][1] - oh < block ? ranges[r][1] : oh + block;
                    int64_t first = (int64_t)oh * s->stride_h - s->pad_t;
                    int64_t last = (int64_t)(end - 1) * s->stride_h - s->pad_t + reach;
                    first = first < 0 ? 0 : first;
                    last = last > s->h ? s->h : last;
                    for (int64_t ih = first; splits && ih < last; ih++)
                        bc_split_phases(x_plane + ih * s->w, s->w, s->stride_w,
                                        split + (ih - first) * s->w);
                    filter_rows(s, x_plane, splits ? split : NULL, first, dy_plane, t0, t1, oh,
                                end, acc, narrow);
                }
            for (int t = 0; t < t1 - t0; t++)
                total[t] += horizontal_sum(acc[t]) + narrow[t];
        }
        for (int t = t0; t < t1; t++)
            dw_k[t] = (float)total[t - t0];
    }
}

/* Channel blocks of 16 one NHWC pass keeps the sums of (16 KB of them for 16 taps). */
#define BLOCK_GROUP 8

/* Block b of K NHWC channels: channels [*k0, *k0 + *width) whose dw it stores from
 * channel 16b on. Blocks are 16 wide; a last block past K ends at K, recomputing
 * channels of the block before it; fewer than 16 channels make one narrower block. */
static void channel_block(int k_count, int b, int *k0, int *width)
{
    *width = k_count < 16 ? k_count : 16;
    *k0 = k_count - 16 * b < *width ? k_count - *width : 16 * b;
}

/* NHWC: dw of the channel blocks [b0, b1) (at most BLOCK_GROUP) at taps [t0, t1) (at
 * most 16), over the batch: along each output row tap by tap in four rotating
 * vectors of channel lanes (a narrow block in one, lane by lane), each row's sum
 * added in double. The blocks share each pass over the rows, so each pixel comes
 * from memory once. (Pixel by pixel with the taps' sums in memory, every multiply-add
 * waited on the store before it: dw_3x3_112 took 0.8-0.9 ms; this way 0.21-0.28, one
 * thread.) */
BC_MULTI_ISA static void filter_blocks_nhwc_taps(const conv_shape *s, const float *x,
                                                 const float *dy, int b0, int b1, int t0, int t1,
                                                 float *dw)
{
    const int kc = s->k;
    const size_t pixel_step = (size_t)s->stride_w * kc;
    double total[BLOCK_GROUP][16][16] = {{{0}}};
    int los[16], his[16]; /* each tap's output columns, once per call */
    for (int t = t0; t < t1; t++)
        bc_valid_columns(s, (int64_t)(t % s->kw) * s->dil_w - s->pad_l, &los[t - t0],
                         &his[t - t0]);
    for (int n = 0; n < s->n; n++)
        for (int oh = 0; oh < s->oh; oh++)
            for (int t = t0; t < t1; t++) {
                const int ki = t / s->kw, kj = t % s->kw;
                const int64_t ih = (int64_t)oh * s->stride_h - s->pad_t + (int64_t)ki * s->dil_h;
                if (ih < 0 || ih >= s->h)
                    continue;
                const int64_t offset = (int64_t)kj * s->dil_w - s->pad_l;
                const int lo = los[t - t0], hi = his[t - t0];
                for (int b = b0; b < b1; b++) {
                    int k0, width;
                    channel_block(kc, b, &k0, &width);
                    const float *in = x + ((size_t)n * s->h + (size_t)ih) * s->w * kc +
                                      (int64_t)lo * pixel_step + offset * kc + k0;
                    const float *g = dy + (((size_t)n * s->oh + oh) * s->ow + lo) * kc + k0;
                    vec16 acc[4] = {{0}, {0}, {0}, {0}};
                    int o = lo;
                    if (width < 16) /* a whole vector would read past the pixel */
                        for (; o < hi; o++, g += kc, in += pixel_step)
                            for (int j = 0; j < width; j++)
                                acc[0][j] += g[j] * in[j];
                    for (; o + 4 <= hi; o += 4) {
                        for (int v = 0; v < 4; v++) {
                            vec16 a, c;
                            memcpy(&a, g + (size_t)v * kc, sizeof a);
                            memcpy(&c, in + v * pixel_step, sizeof c);
                            acc[v] += a * c;
                        }
                        g += 4 * (size_t)kc, in += 4 * pixel_step;
                    }
                    for (; o < hi; o++, g += kc, in += pixel_step) {
                        vec16 a, c;
                        memcpy(&a, g, sizeof a);
                        memcpy(&c, in, sizeof c);
                        acc[0] += a * c;
                    }
                    const vec16 row = (acc[0] + acc[1]) + (acc[2] + acc[3]);
                    for (int j = 0; j < width; j++)
                        total[b - b0][t - t0][j] += row[j];
                }
            }
    const int64_t taps = (int64_t)s->kh * s->kw;
    for (int b = b0; b < b1; b++) {
        int k0, width;
        channel_block(kc, b, &k0, &width);
        for (int t = t0; t < t1; t++)
            for (int j = 16 * b - k0; j < width; j++)
                dw[(size_t)(k0 + j) * taps + t] = (float)total[b - b0][t - t0][j];
    }
}

struct filter_job {
    const conv_shape *s;
    const float *x, *dy;
    float *dw;
};

/* Output channels [begin, end) (NCHW). */
static void filter_channels(void *arg, int64_t begin, int64_t end)
{
    const struct filter_job *j = arg;
    const int64_t taps = (int64_t)j->s->kh * j->s->kw;
    for (int64_t k = begin; k < end; k++)
        filter_channel(j->s, j->x, j->dy, (int)k, j->dw + (size_t)k * taps);
}

/* Channel blocks [begin, end) (NHWC, see channel_block), BLOCK_GROUP blocks and 16
 * taps at a time. */
static void filter_blocks_nhwc(void *arg, int64_t begin, int64_t end)
{
    const struct filter_job *j = arg;
    const int taps = j->s->kh * j->s->kw;
    for (int64_t b = begin; b < end; b += BLOCK_GROUP) {
        const int b_end = end - b < BLOCK_GROUP ? (int)end : (int)b + BLOCK_GROUP;
        for (int t0 = 0; t0 < taps; t0 += 16)
            filter_blocks_nhwc_taps(j->s, j->x, j->dy, (int)b, b_end, t0,
                                    taps - t0 < 16 ? taps : t0 + 16, j->dw);
    }
}

void bc_depthwise_backward_filter(const blasconv_context *ctx, const conv_shape *s, const float *x,
                                  const float *dy, float *dw)
{
    const int threads = bc_thread_count(ctx);
    struct filter_job job = {s, x, dy, dw};
    const int64_t per_channel = (int64_t)s->n * s->positions * s->kh * s->kw;
    if (s->layout == BLASCONV_NCHW)
        bc_parallel_for(threads, s->k, bc_parallel_grain(per_channel), filter_channels, &job);
    else
        bc_parallel_for(threads, (s->k + 15) / 16, bc_parallel_grain(16 * per_channel),
                        filter_blocks_nhwc, &job);
}
