/* Winograd F(m x m, 3 x 3) transforms for m = 2 and 4, vectorised over "lanes":
 * independent tiles, channels or filters whose values sit next to each other.
 *
 * The matrices come from the Toom-Cook construction (Lavin & Gray): for points
 * p_0..p_{a-2} and infinity (a = m + 2), with V_n the a x n evaluation matrix of
 * polynomials with n coefficients, the 1-D correlation y = g (*) d of m outputs is
 * y = A^T [(G g) . (B^T d)] with A^T = V_m^T, G = V_3, B^T = V_a^-T, up to a
 * diagonal scaling moved between the three. 2-D nests it: Y = A^T [(G g G^T) .
 * (B^T d B)] A.
 *   F(2, 3): points 0, 1, -1, inf (the classic, exact in float for B and A).
 *   F(4, 3): points 0, 1, -1, 1/2, -1/2, inf, scaled so that A^T holds only
 *   powers of two (exact in float). Of the choices tried this measured the lowest
 *   float32 error: max |error| of 256-channel tile sums of values in [-1, 1],
 *   4.0e-4, against 5.5e-4 unscaled and 7.8e-4 for the usual 0, +-1, +-2, inf
 *   (F(2, 3): 2.5e-5). Small points keep the growth of B^T d and A^T m small.
 * The tables, written out as code below (derived with exact fractions):
 *   F(4, 3)  B^T = [ 1  0 -5  0  4  0 ]   G = [  1     0     0   ]
 *                  [ 0 -1 -1  4  4  0 ]       [ 1/6   1/6   1/6  ]
 *                  [ 0  1 -1 -4  4  0 ]       [ 1/6  -1/6   1/6  ]
 *                  [ 0  4  8 -4 -8  0 ]       [ 1/3   1/6   1/12 ]
 *                  [ 0 -4  8  4 -8  0 ]       [ 1/3  -1/6   1/12 ]
 *                  [ 0  1  0 -5  0  4 ]       [  0     0    1/4  ]
 *           A^T = [ 1  1  1  1    1    0 ]
 *                 [ 0  1 -1  1/2 -1/2  0 ]
 *                 [ 0  1  1  1/4  1/4  0 ]
 *                 [ 0  1 -1  1/8 -1/8  1 ]
 *   F(2, 3)  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1]
 *            G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]   A^T = [1 1 1 0; 0 1 -1 1]
 *
 * Compiled for several ISAs like depthwise.c: 16 lanes at a time in a 64-byte
 * vector (one zmm, two ymm or four xmm), each 1-D transform a few vector adds. */
#include "internal.h"

#include <string.h>

#define LANES 16

/* --- 1-D transforms on vectors: in[i * is] -> out[i * os] ------------------ */

static inline void input_1d_m2(const vec16 *in, int is, vec16 *out, int os)
{
    const vec16 d0 = in[0], d1 = in[is], d2 = in[2 * is], d3 = in[3 * is];
    out[0] = d0 - d2;
    out[os] = d1 + d2;
    out[2 * os] = d2 - d1;
    out[3 * os] = d3 - d1;
}

static inline void input_1d_m4(const vec16 *in, int is, vec16 *out, int os)
{
    const vec16 d0 = in[0], d1 = in[is], d2 = in[2 * is], d3 = in[3 * is], d4 = in[4 * is],
                d5 = in[5 * is];
    const vec16 p = 4.0f * d4 - d2, q = 4.0f * d3 - d1;
    const vec16 r = 4.0f * (d1 - d3), s = 8.0f * (d2 - d4);
    out[0] = d0 - 5.0f * d2 + 4.0f * d4;
    out[os] = p + q;
    out[2 * os] = p - q;
    out[3 * os] = s + r;
    out[4 * os] = s - r;
    out[5 * os] = d1 - 5.0f * d3 + 4.0f * d5;
}

static inline void filter_1d_m2(const vec16 *in, int is, vec16 *out, int os)
{
    const vec16 g0 = in[0], g1 = in[is], g2 = in[2 * is];
    const vec16 even = 0.5f * (g0 + g2), odd = 0.5f * g1;
    out[0] = g0;
    out[os] = even + odd;
    out[2 * os] = even - odd;
    out[3 * os] = g2;
}

static inline void filter_1d_m4(const vec16 *in, int is, vec16 *out, int os)
{
    const vec16 g0 = in[0], g1 = in[is], g2 = in[2 * is];
    const vec16 even6 = (g0 + g2) * (1.0f / 6.0f), odd6 = g1 * (1.0f / 6.0f);
    const vec16 even3 = g0 * (1.0f / 3.0f) + g2 * (1.0f / 12.0f);
    out[0] = g0;
    out[os] = even6 + odd6;
    out[2 * os] = even6 - odd6;
    out[3 * os] = even3 + odd6;
    out[4 * os] = even3 - odd6;
    out[5 * os] = g2 * 0.25f;
}

static inline void output_1d_m2(const vec16 *in, int is, vec16 *out, int os)
{
    const vec16 m0 = in[0], m1 = in[is], m2 = in[2 * is], m3 = in[3 * is];
    out[0] = m0 + m1 + m2;
    out[os] = m1 - m2 + m3;
}

static inline void output_1d_m4(const vec16 *in, int is, vec16 *out, int os)
{
    const vec16 m0 = in[0], m1 = in[is], m2 = in[2 * is], m3 = in[3 * is], m4 = in[4 * is],
                m5 = in[5 * is];
    const vec16 sum12 = m1 + m2, dif12 = m1 - m2, sum34 = m3 + m4, dif34 = m3 - m4;
    out[0] = m0 + sum12 + sum34;
    out[os] = dif12 + 0.5f * dif34;
    out[2 * os] = sum12 + 0.25f * sum34;
    out[3 * os] = dif12 + 0.125f * dif34 + m5;
}

/* --- 2-D transforms of one block of 16 lanes ------------------------------ */

/* d[i][j] at src + i*rs + j*cs (16 lanes each) -> v[xi] at dst + xi*ds. */
static inline void input_block(int m, const float *src, ptrdiff_t rs, ptrdiff_t cs, float *dst,
                               ptrdiff_t ds)
{
    vec16 d[36], t[36];
    const int a = m + 2;
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++)
            d[i * a + j] = bc_load16(src + i * rs + j * cs);
    for (int j = 0; j < a; j++) /* columns: B^T d */
        m == 2 ? input_1d_m2(d + j, a, t + j, a) : input_1d_m4(d + j, a, t + j, a);
    for (int i = 0; i < a; i++) /* rows: (B^T d) B */
        m == 2 ? input_1d_m2(t + i * a, 1, d + i * a, 1) : input_1d_m4(t + i * a, 1, d + i * a, 1);
    for (int xi = 0; xi < a * a; xi++)
        bc_store16(dst + xi * ds, d[xi]);
}

/* The taps g[i*3+j] -> u[xi] = (G g G^T)[xi] at dst + xi*ds. */
static inline void filter_tile(int m, const vec16 *g, float *dst, ptrdiff_t ds)
{
    vec16 t[18], u[36];
    const int a = m + 2;
    for (int j = 0; j < 3; j++) /* columns: G g, a x 3 */
        m == 2 ? filter_1d_m2(g + j, 3, t + j, 3) : filter_1d_m4(g + j, 3, t + j, 3);
    for (int i = 0; i < a; i++) /* rows: (G g) G^T, a x a */
        m == 2 ? filter_1d_m2(t + i * 3, 1, u + i * a, 1)
               : filter_1d_m4(t + i * 3, 1, u + i * a, 1);
    for (int xi = 0; xi < a * a; xi++)
        bc_store16(dst + xi * ds, u[xi]);
}

/* g[i][j] at src + (i*3+j)*ts, lane l at + l*ls -> u[xi] at dst + xi*ds. */
static inline void filter_block(int m, const float *src, ptrdiff_t ts, ptrdiff_t ls, float *dst,
                                ptrdiff_t ds)
{
    vec16 g[9];
    for (int tap = 0; tap < 9; tap++) {
        if (ls == 1) {
            g[tap] = bc_load16(src + tap * ts);
        } else {
            for (int l = 0; l < LANES; l++)
                g[tap][l] = src[tap * ts + l * ls];
        }
    }
    filter_tile(m, g, dst, ds);
}

/* v[xi] at src + xi*ss -> y[i][j] = (A^T v A)[i][j] + bias at dst + i*rs + j*cs. */
static inline void output_block(int m, const float *src, ptrdiff_t ss, const float *bias,
                                float *dst, ptrdiff_t rs, ptrdiff_t cs)
{
    vec16 v[36], t[24], y[16];
    const int a = m + 2;
    for (int xi = 0; xi < a * a; xi++)
        v[xi] = bc_load16(src + xi * ss);
    for (int j = 0; j < a; j++) /* columns: A^T v, m x a */
        m == 2 ? output_1d_m2(v + j, a, t + j, a) : output_1d_m4(v + j, a, t + j, a);
    for (int i = 0; i < m; i++) /* rows: (A^T v) A, m x m */
        m == 2 ? output_1d_m2(t + i * a, 1, y + i * m, 1)
               : output_1d_m4(t + i * a, 1, y + i * m, 1);
    const vec16 b = bias ? bc_load16(bias) : (vec16){0};
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            bc_store16(dst + i * rs + j * cs, y[i * m + j] + b);
}

/* --- lane loops: full blocks of 16, then the rest ------------------------- */
/* A rest after at least one full block is the last 16 lanes transformed again:
 * their blocks overlap, and the lanes in both get the same values twice (lanes never
 * mix, and src and dst never overlap). Only fewer than 16 lanes in all go through
 * padded copies: the copies (memcpy calls of a few floats per tap position) and the
 * zeroed block took 6% of r50_3x3_28's time (perf, one thread, its 49 tiles in
 * blocks of 16, 16, 16 and 1). */

/* The lane loops take m as a constant (input_lanes(2, ...) or (4, ...)), so the
 * compiler keeps a tile's vectors in registers; with m a variable they went through
 * the stack. Instructions (callgrind, AVX2 build, three r50_3x3_56 calls, F(4x4)):
 * input 11.7M -> 5.4M (NCHW) and 11.0M -> 5.0M (NHWC), output 8.5M -> 5.2M and 7.6M
 * -> 4.7M. blasconv-fastbench --reps 15 --only the row, one thread, three runs
 * alternating, FAST wall ms: NHWC vgg_3x3_224 11.0-11.5 -> 10.1-10.3, r50_3x3_56_b8
 * 6.1-6.2 -> 5.7-6.0; NCHW r50_3x3_56_b8 6.9-7.0 -> 6.7-6.9. */
static inline void input_lanes(int m, const float *src, ptrdiff_t rs, ptrdiff_t cs, int lanes,
                               float *dst, ptrdiff_t ds)
{
    const int a = m + 2;
    int l = 0;
    for (; l + LANES <= lanes; l += LANES)
        input_block(m, src + l, rs, cs, dst + l, ds);
    if (l == lanes)
        return;
    if (lanes >= LANES) {
        input_block(m, src + lanes - LANES, rs, cs, dst + lanes - LANES, ds);
        return;
    }
    float in[36 * LANES] = {0}, out[36 * LANES];
    const int rest = lanes - l;
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++)
            memcpy(in + (i * a + j) * LANES, src + l + i * rs + j * cs,
                   (size_t)rest * sizeof(float));
    input_block(m, in, (ptrdiff_t)a * LANES, LANES, out, LANES);
    for (int xi = 0; xi < a * a; xi++)
        memcpy(dst + l + xi * ds, out + xi * LANES, (size_t)rest * sizeof(float));
}

BC_MULTI_ISA void bc_winograd_input(int m, const float *src, ptrdiff_t rs, ptrdiff_t cs, int lanes,
                                    float *dst, ptrdiff_t ds)
{
    m == 2 ? input_lanes(2, src, rs, cs, lanes, dst, ds)
           : input_lanes(4, src, rs, cs, lanes, dst, ds);
}

/* Lanes l of concat(lo, hi): element 4l + f for the first 8 lanes. */
#define EVERY_4TH(f)                                                                              \
    (f), (f) + 4, (f) + 8, (f) + 12, (f) + 16, (f) + 20, (f) + 24, (f) + 28, (f), (f) + 4,        \
        (f) + 8, (f) + 12, (f) + 16, (f) + 20, (f) + 24, (f) + 28
/* m = 4: lanes l of src[4l + j] from 64 floats, each half of the lanes from two
 * vectors, then the halves joined. */
#define STRIDE_4(src, j)                                                                          \
    BC_SHUFFLE(BC_SHUFFLE(bc_load16(src), bc_load16((src) + 16), EVERY_4TH(j)),                   \
               BC_SHUFFLE(bc_load16((src) + 32), bc_load16((src) + 48), EVERY_4TH(j)), 0, 1, 2,   \
               3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)

BC_MULTI_ISA void bc_winograd_spread_row(int m, const float *src, float *dst, ptrdiff_t ds)
{
    if (m == 2) { /* columns 2 and 3 are columns 0 and 1 two floats on */
        bc_store16(dst, BC_SHUFFLE(bc_load16(src), bc_load16(src + 16), BC_EVERY_2ND(0)));
        bc_store16(dst + ds, BC_SHUFFLE(bc_load16(src), bc_load16(src + 16), BC_EVERY_2ND(1)));
        bc_store16(dst + 2 * ds,
                   BC_SHUFFLE(bc_load16(src + 2), bc_load16(src + 18), BC_EVERY_2ND(0)));
        bc_store16(dst + 3 * ds,
                   BC_SHUFFLE(bc_load16(src + 2), bc_load16(src + 18), BC_EVERY_2ND(1)));
        return;
    }
    /* columns 4 and 5 are columns 0 and 1 four floats on */
    bc_store16(dst, STRIDE_4(src, 0));
    bc_store16(dst + ds, STRIDE_4(src, 1));
    bc_store16(dst + 2 * ds, STRIDE_4(src, 2));
    bc_store16(dst + 3 * ds, STRIDE_4(src, 3));
    bc_store16(dst + 4 * ds, STRIDE_4(src + 4, 0));
    bc_store16(dst + 5 * ds, STRIDE_4(src + 4, 1));
}

/* Pairs of lanes of concat(lo, hi): lo[2f], lo[2f + 1], hi[2f], hi[2f + 1], ... */
#define ZIP_PAIRS(f)                                                                              \
    2 * (f), 2 * (f) + 1, 2 * (f) + 16, 2 * (f) + 17, 2 * (f) + 2, 2 * (f) + 3, 2 * (f) + 18,     \
        2 * (f) + 19, 2 * (f) + 4, 2 * (f) + 5, 2 * (f) + 20, 2 * (f) + 21, 2 * (f) + 6,          \
        2 * (f) + 7, 2 * (f) + 22, 2 * (f) + 23

BC_MULTI_ISA void bc_winograd_join_rows(int m, const float *src, float *dst)
{
    for (int i = 0; i < m; i++) {
        const float *row = src + i * m * LANES;
        float *out = dst + i * m * LANES;
        if (m == 2) {
            const vec16 c0 = bc_load16(row), c1 = bc_load16(row + LANES);
            bc_store16(out, BC_SHUFFLE(c0, c1, BC_ALTERNATE(0)));
            bc_store16(out + 16, BC_SHUFFLE(c0, c1, BC_ALTERNATE(8)));
            continue;
        }
        const vec16 c0 = bc_load16(row), c1 = bc_load16(row + LANES),
                    c2 = bc_load16(row + 2 * LANES), c3 = bc_load16(row + 3 * LANES);
        /* columns 0 and 1, and 2 and 3, zipped: tiles 0-7 and 8-15 */
        const vec16 lo01 = BC_SHUFFLE(c0, c1, BC_ALTERNATE(0)),
                    hi01 = BC_SHUFFLE(c0, c1, BC_ALTERNATE(8));
        const vec16 lo23 = BC_SHUFFLE(c2, c3, BC_ALTERNATE(0)),
                    hi23 = BC_SHUFFLE(c2, c3, BC_ALTERNATE(8));
        /* then the pairs zipped: four tiles of four columns per vector */
        bc_store16(out, BC_SHUFFLE(lo01, lo23, ZIP_PAIRS(0)));
        bc_store16(out + 16, BC_SHUFFLE(lo01, lo23, ZIP_PAIRS(4)));
        bc_store16(out + 32, BC_SHUFFLE(hi01, hi23, ZIP_PAIRS(0)));
        bc_store16(out + 48, BC_SHUFFLE(hi01, hi23, ZIP_PAIRS(4)));
    }
}

/* NCHW filters are read this many blocks of 16 ahead: the transform had waited on
 * its loads from w. blasconv-fastbench --reps 15, one thread, NCHW, two runs
 * alternating: r50_3x3_7_b8 6.9-7.0 -> 5.8-6.2 ms, r50_3x3_14_b8 7.7 -> 6.8-7.4 (their
 * 9.4 and 2.4 MB filters); 8 blocks ahead ran no better. */
#define FILTER_PREFETCH 4

/* NCHW's filters 9 floats apart, their taps as they lie (ts 1) or turned (ts -1, from
 * tap 8): constant strides let the gather vectorise. Returns the lanes done. The turned
 * ones (backward data) had gone through the variable-stride loop, a float at a time:
 * r50_3x3_7's backward data, F(2x2), NCHW, two threads, 1.85-3.0 ms against the
 * lowering's 1.0-1.5 (blasconv-fastbench --pass bwd-data; that loop took a third of
 * the profile of both), 0.81 against 0.95 after. */
static inline int nchw_filter_blocks(int m, const float *src, int ts, int lanes, float *dst,
                                     ptrdiff_t ds)
{
    int l = 0;
    for (; l + LANES <= lanes; l += LANES) {
        if (l + (FILTER_PREFETCH + 1) * LANES <= lanes)
            for (int f = 0; f < 9 * LANES; f += 16)
                __builtin_prefetch(src + (l + FILTER_PREFETCH * LANES) * 9 + f);
        m == 2 ? filter_block(2, src + l * 9, ts, 9, dst + l, ds)
               : filter_block(4, src + l * 9, ts, 9, dst + l, ds);
    }
    return l;
}

BC_MULTI_ISA void bc_winograd_filter(int m, const float *src, ptrdiff_t ts, ptrdiff_t ls,
                                     int lanes, float *dst, ptrdiff_t ds)
{
    const int a = m + 2;
    int l = 0;
    if (ts == 1 && ls == 9)
        l = nchw_filter_blocks(m, src, 1, lanes, dst, ds);
    else if (ts == -1 && ls == 9)
        l = nchw_filter_blocks(m, src, -1, lanes, dst, ds);
    for (; l + LANES <= lanes; l += LANES) /* m constant: the tile stays in registers */
        m == 2 ? filter_block(2, src + l * ls, ts, ls, dst + l, ds)
               : filter_block(4, src + l * ls, ts, ls, dst + l, ds);
    if (l == lanes)
        return;
    if (lanes >= LANES) {
        filter_block(m, src + (lanes - LANES) * ls, ts, ls, dst + lanes - LANES, ds);
        return;
    }
    float in[9 * LANES] = {0}, out[36 * LANES];
    const int rest = lanes - l;
    for (int tap = 0; tap < 9; tap++)
        for (int r = 0; r < rest; r++)
            in[tap * LANES + r] = src[(l + r) * ls + tap * ts];
    filter_block(m, in, LANES, 1, out, LANES);
    for (int xi = 0; xi < a * a; xi++)
        memcpy(dst + l + xi * ds, out + xi * LANES, (size_t)rest * sizeof(float));
}

/* NHWC's filter rows are read this many floats (two blocks of 16 channels) ahead: its
 * 16 x 9 rows of 16 channels are more streams than the prefetcher follows. A test
 * program transforming 512 x 512 filters in blocks of 32, F(2x2), one thread pinned,
 * medians of 9 loops, two runs: 0.65-0.66 -> 0.47-0.55 ms (16 floats 0.50-0.53, 64
 * floats 0.54-0.56). */
#define FILTER_ROW_PREFETCH 32

/* 16 filters (filter f at src + f*fs) by 16 channels -> dst[xi*ds + c*ls + f]: the
 * filters' taps are transposed 16 x 16 at a time so that the filters become the
 * lanes, then each channel's 9 taps are transformed and stored as they lie in U^T.
 * Piece p of a filter (16 floats at src + p*ps) holds taps (channel, tap) that land
 * at buf[p*pb + i*ib] for its lanes i: NCHW's 144 contiguous floats (channel-major)
 * or NHWC's tap p of the 16 channels. Turned, each channel's taps are taken
 * backwards (bc_winograd_filter_16x16_turned). Transposing the input rather than each tap
 * position's output takes 9 transposes instead of (m+2)^2 and no round trip through
 * a 16 x 36-vector block: a test program transforming 512 x 512 filters in blocks of 32
 * at one thread, medians of 9 loops: NCHW 0.62 -> 0.34 ms at F(2x2), 1.91 -> 0.86 at
 * F(4x4); NHWC 0.73 -> 0.54 and 1.52 -> 0.96. */
static inline void filters_16x16(int m, const float *src, ptrdiff_t fs, ptrdiff_t ps, int pb,
                                 int ib, int prefetch, int turned, float *dst, ptrdiff_t ds,
                                 ptrdiff_t ls)
{
    vec16 buf[9 * LANES]; /* [channel * 9 + tap], the filters as lanes */
    for (int p = 0; p < 9; p++) {
        vec16 r[16];
        for (int f = 0; f < 16; f++) {
            r[f] = bc_load16(src + f * fs + p * ps);
            if (prefetch)
                __builtin_prefetch(src + f * fs + p * ps + FILTER_ROW_PREFETCH);
        }
        bc_transpose16(r);
        for (int i = 0; i < LANES; i++)
            buf[p * pb + i * ib] = r[i];
    }
    for (int c = 0; c < LANES; c++) {
        vec16 g[9];
        for (int tap = 0; tap < 9; tap++)
            g[tap] = buf[c * 9 + (turned ? 8 - tap : tap)];
        filter_tile(m, g, dst + c * ls, ds);
    }
}

/* Two entry points, each passing its layout's strides as constants: one taking the
 * lane stride as a variable ran r50_3x3_14's FAST call 3-6% slower (a test program,
 * one thread pinned, medians of 401, three runs, both layouts). */
BC_MULTI_ISA void bc_winograd_filter_16x16(int m, const float *src, ptrdiff_t fs, ptrdiff_t ts,
                                           float *dst, ptrdiff_t ds, ptrdiff_t ls)
{
    m == 2 ? filters_16x16(2, src, fs, ts, 1, 9, 1, 0, dst, ds, ls)
           : filters_16x16(4, src, fs, ts, 1, 9, 1, 0, dst, ds, ls);
}

BC_MULTI_ISA void bc_winograd_filter_16x16_kcrs(int m, const float *src, ptrdiff_t fs, float *dst,
                                                ptrdiff_t ds, ptrdiff_t ls)
{
    m == 2 ? filters_16x16(2, src, fs, LANES, LANES, 1, 0, 0, dst, ds, ls)
           : filters_16x16(4, src, fs, LANES, LANES, 1, 0, 0, dst, ds, ls);
}

BC_MULTI_ISA void bc_winograd_filter_16x16_turned(int m, const float *src, ptrdiff_t fs,
                                                  float *dst, ptrdiff_t ds, ptrdiff_t ls)
{
    m == 2 ? filters_16x16(2, src, fs, LANES, LANES, 1, 0, 1, dst, ds, ls)
           : filters_16x16(4, src, fs, LANES, LANES, 1, 0, 1, dst, ds, ls);
}

static inline void output_lanes(int m, const float *src, ptrdiff_t ss, int lanes,
                                const float *bias, float *dst, ptrdiff_t rs, ptrdiff_t cs)
{
    const int a = m + 2;
    int l = 0;
    for (; l + LANES <= lanes; l += LANES)
        output_block(m, src + l, ss, bias ? bias + l : NULL, dst + l, rs, cs);
    if (l == lanes)
        return;
    if (lanes >= LANES) {
        l = lanes - LANES;
        output_block(m, src + l, ss, bias ? bias + l : NULL, dst + l, rs, cs);
        return;
    }
    float in[36 * LANES] = {0}, out[16 * LANES], b[LANES] = {0};
    const int rest = lanes - l;
    for (int xi = 0; xi < a * a; xi++)
        memcpy(in + xi * LANES, src + l + xi * ss, (size_t)rest * sizeof(float));
    if (bias)
        memcpy(b, bias + l, (size_t)rest * sizeof(float));
    output_block(m, in, LANES, bias ? b : NULL, out, (ptrdiff_t)m * LANES, LANES);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            memcpy(dst + l + i * rs + j * cs, out + (i * m + j) * LANES,
                   (size_t)rest * sizeof(float));
}

BC_MULTI_ISA void bc_winograd_output(int m, const float *src, ptrdiff_t ss, int lanes,
                                     const float *bias, float *dst, ptrdiff_t rs, ptrdiff_t cs)
{
    m == 2 ? output_lanes(2, src, ss, lanes, bias, dst, rs, cs)
           : output_lanes(4, src, ss, lanes, bias, dst, rs, cs);
}
