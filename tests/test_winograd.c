/* BLASCONV_ALGO_FAST: Winograd for 3x3 stride-1 forward layers.
 *
 * - agrees with the oracle on hundreds of random eligible descriptors, in both
 *   layouts: F(2x2) (forced by a workspace limit that F(4x4) does not fit) within
 *   the project's default tolerance (test_conv_tolerance: the public RANDOM_DATA
 *   bound for values in [-1, 1]); the default choice (mostly F(4x4)) within FAST's
 *   documented bound, that tolerance plus 1e-6 * 9(C+1) * max|x| * max|w| (F(4x4)
 *   exceeds the plain tolerance by up to ~1.3x at C = 1, where it is tightest);
 *   also on a few layers of 17-257 channels, past the filter transform's blocks;
 * - everything else, backward filter, and backward data off 3x3 stride-1 layers
 *   (test_winograd_backward_data has those), is bitwise the GEMM context's result;
 * - one sgemm per transformed tap position and tile batch;
 * - tight limits change only the batching: bitwise identical through a GEMM whose
 *   elements depend only on their row and column (test_naive_sgemm); a caller
 *   buffer is used without any allocation (malloc is wrapped, as in test_workspace);
 * - the transformed filter is kept only when the caller promises constant weights.
 */
#include "alloc_count.h"
#include "fast_testutil.h"

#include <stdlib.h>
#include <string.h>

/* _i = 0: default choice of m; _i = 1: F(2x2) forced by a limit F(4x4) misses. */
START_TEST(fast_matches_oracle)
{
    const int force_m2 = _i == 1;
    test_rng r = test_rng_seeded(9100 + (uint64_t)_i);
    blasconv_context *ctx = test_fast_context();
    for (int t = 0; t < 300; t++) {
        /* F(2x2)'s filter plus 8 tiles stays below F(4x4)'s filter plus one tile
         * once C and K are at least 10. */
        blasconv_conv2d d = test_fast_random_eligible(&r, force_m2 ? 10 : 1);
        test_conv_problem p = test_conv_problem_make(&r, d);
        if (force_m2) {
            size_t limit = test_fast_limit_for(&d, 2, 8);
            ck_assert_uint_lt(limit, test_fast_limit_for(&d, 4, 1) - 192);
            blasconv_context_set_workspace_limit(ctx, limit);
        }
        const float *bias = t % 2 ? p.bias : NULL;
        float *y = test_alloc_poisoned(p.ny), *want = test_alloc_poisoned(p.ny);
        test_naive_sgemm_calls = 0;
        blasconv_context_set_sgemm(ctx, t % 4 == 0 ? test_naive_sgemm : NULL);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, bias, y), BLASCONV_OK);
        /* one batch of F(4x4) or F(2x2): 36 or 16 GEMMs (one input channel takes the
         * direct depthwise path, exact and faster, before FAST is considered) */
        if (t % 4 == 0 && !force_m2 && d.in_channels > 1)
            ck_assert_msg(test_naive_sgemm_calls == 36 || test_naive_sgemm_calls == 16,
                          "%d GEMMs: %s", test_naive_sgemm_calls, test_conv_describe(&d));
        if (t % 4 == 0 && force_m2) { /* batches of at most 8 tiles, 16 GEMMs each */
            int oh, ow;
            blasconv_conv2d_output_size(&d, &oh, &ow);
            int tiles = d.batch * ((oh + 1) / 2) * ((ow + 1) / 2);
            ck_assert_int_eq(test_naive_sgemm_calls, 16 * ((tiles + 7) / 8));
        }
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, bias, want),
                         BLASCONV_OK);
        if (force_m2)
            test_assert_conv_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD,
                                   test_conv_describe(&d));
        else
            test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD,
                                   test_conv_describe(&d));
        free(y), free(want), test_conv_problem_free(&p);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* Channel counts past the filter transform's blocks of lanes (NCHW's lanes are the
 * K*C filters, NHWC's one filter's C channels, 128 at a time in 16-lane vectors):
 * small maps, so FAST runs whatever the model says (one batch: 36 or 16 GEMMs). */
START_TEST(wide_channels_match_oracle)
{
    const int shapes[][5] = {/* batch, C, H, W, K */
                             {1, 130, 5, 7, 20},
                             {2, 17, 6, 6, 150},
                             {1, 257, 4, 9, 9}};
    const int *shape = shapes[_i % 3];
    blasconv_conv2d d = TEST_CONV_3X3_SAME(shape[0], shape[1], shape[2], shape[3], shape[4]);
    d.layout = _i < 3 ? BLASCONV_NCHW : BLASCONV_NHWC;
    test_rng r = test_rng_seeded(9700 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *y = test_alloc_poisoned(p.ny), *want = test_alloc_poisoned(p.ny);
    blasconv_context *ctx = test_naive_fast_context(1);
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
    ck_assert_msg(test_naive_sgemm_calls == 36 || test_naive_sgemm_calls == 16, "%d GEMMs: %s",
                  test_naive_sgemm_calls, test_conv_describe(&d));
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, p.bias, want),
                     BLASCONV_OK);
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
    blasconv_context_destroy(ctx);
    free(y), free(want), test_conv_problem_free(&p);
}
END_TEST

/* Maps wide enough for tile rows of more than 16 tiles (NCHW gathers a row's tiles 16
 * at a time into blocks of 128) and batches whose runs cross those blocks; widths
 * that are not a multiple of the tile side clip the last tile of each row. */
START_TEST(wide_rows_match_oracle)
{
    const int widths[] = {149, 66, 200};
    blasconv_conv2d d = TEST_CONV_3X3_SAME(2, 3, 9, widths[_i % 3], 5);
    d.layout = _i < 3 ? BLASCONV_NCHW : BLASCONV_NHWC;
    test_rng r = test_rng_seeded(9750 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *y = test_alloc_poisoned(p.ny), *want = test_alloc_poisoned(p.ny);
    float *lowered = test_alloc_poisoned(p.ny);
    blasconv_context *ctx = test_fast_context();
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, p.x, p.w, p.bias, lowered), BLASCONV_OK);
    ck_assert_msg(memcmp(y, lowered, p.ny * sizeof(float)) != 0, "FAST did not run: %s",
                  test_conv_describe(&d));
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, p.bias, want),
                     BLASCONV_OK);
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
    blasconv_context_destroy(ctx);
    free(y), free(want), free(lowered), test_conv_problem_free(&p);
}
END_TEST

/* The reference forward of p (malloc'd). */
static float *oracle(const blasconv_conv2d *d, const test_conv_problem *p)
{
    float *want = test_alloc_poisoned(p->ny);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, d, p->x, p->w, p->bias, want),
                     BLASCONV_OK);
    return want;
}

/* FAST forward of p into y on a new test_naive_fast_context(threads), left in *ctx: the
 * GEMMs it made. */
static int counted_fast_forward(const blasconv_conv2d *d, const test_conv_problem *p, float *y,
                                int threads, blasconv_context **ctx)
{
    *ctx = test_naive_fast_context(threads);
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(*ctx, d, p->x, p->w, p->bias, y), BLASCONV_OK);
    return test_naive_sgemm_calls;
}

/* The same at two threads, the context destroyed. */
static int two_thread_fast_forward(const blasconv_conv2d *d, const test_conv_problem *p, float *y)
{
    blasconv_context *ctx;
    const int gemms = counted_fast_forward(d, p, y, 2, &ctx);
    blasconv_context_destroy(ctx);
    return gemms;
}

/* A transformed filter of 4 MiB or more (NHWC on two or more threads and 64 tiles or
 * more: 16 MiB), with all tiles in one batch and no more V and M than U, is
 * transformed a block of output channels at a time, each block's GEMMs right after
 * it: blocks of at most 1 MiB in a multiple of 16 channels, or of at most 4 MiB where
 * 16 channels take more. F(4x4)
 * here, each block's 36 GEMMs through a user's sgemm (which runs on the caller alone,
 * so NHWC goes block by block from 4 MiB too):
 *   256 -> 272 channels, 10 MiB of U, 16 channels 0.6 MB: 17 blocks of 16;
 *   512 -> 112, 8 MiB, 16 channels 1.2 MB: blocks of 48, 48 and 16 (NHWC: on 32
 *   tiles narrowed to 32, 32, 32 and 16 to keep U as rows, WINOGRAD_U_ROWS_MAX_PRODUCT);
 *   128 -> 240, 4.2 MiB, 48 channels 0.9 MB: five blocks of 48;
 *   the same on 8 images: V and M (6.8 MB) would outweigh U, which is transformed
 *   whole, the tiles taking two batches of about 4 MiB;
 *   128 -> 128, 2.4 MiB of U: whole, one batch;
 *   512 -> 256, 18 MiB, 16 channels 1.2 MB: five blocks of 48 and one of 16 (NHWC:
 *   eight of 32, as rows).
 * Two and seven threads on the linked BLAS even the blocks out over them, one
 * buffer per thread. With the weights promised constant, U under 8 MiB (NHWC: under
 * 16 MiB) is kept whole (one set of GEMMs a batch, called twice: the second call
 * reuses it); larger ones still go block by block. */
static const struct {
    blasconv_conv2d d;
    int nchw_sets, nhwc_sets;           /* sets of 36 GEMMs: blocks or batches */
    int kept_nchw_sets, kept_nhwc_sets; /* the same with constant weights */
} block_cases[] = {
    {TEST_CONV_3X3_SAME(4, 256, 16, 16, 272), 17, 17, 17, 1},
    {TEST_CONV_3X3_SAME(2, 512, 16, 16, 112), 3, 4, 1, 1},
    {TEST_CONV_3X3_SAME(4, 128, 16, 16, 240), 5, 5, 1, 1},
    {TEST_CONV_3X3_SAME(8, 128, 16, 16, 240), 2, 2, 2, 2},
    {TEST_CONV_3X3_SAME(4, 128, 16, 16, 128), 1, 1, 1, 1},
    {TEST_CONV_3X3_SAME(2, 512, 16, 16, 256), 6, 8, 6, 8},
};

START_TEST(large_filters_block_by_block)
{
    blasconv_conv2d d = block_cases[_i / 2].d;
    d.layout = (blasconv_layout)(_i % 2);
    test_rng r = test_rng_seeded(9760 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = oracle(&d, &p), *y = test_alloc_poisoned(p.ny);
    blasconv_context *ctx;
    ck_assert_int_eq(counted_fast_forward(&d, &p, y, 1, &ctx),
                     36 * (d.layout == BLASCONV_NCHW ? block_cases[_i / 2].nchw_sets
                                                     : block_cases[_i / 2].nhwc_sets));
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, "blocks of U");
    ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, 1), BLASCONV_OK);
    for (int call = 0; call < 2; call++) {
        test_naive_sgemm_calls = 0;
        test_poison(y, p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
        ck_assert_int_eq(test_naive_sgemm_calls,
                         36 * (d.layout == BLASCONV_NCHW ? block_cases[_i / 2].kept_nchw_sets
                                                         : block_cases[_i / 2].kept_nhwc_sets));
        test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, "constant weights");
    }
    blasconv_context_destroy(ctx);
    const int thread_counts[] = {1, 2, 7};
    for (int i = 0; i < 3; i++) {
        ctx = test_fast_context();
        blasconv_context_set_threads(ctx, thread_counts[i]);
        test_poison(y, p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
        test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, "linked BLAS");
        blasconv_context_destroy(ctx);
    }
    free(want), free(y), test_conv_problem_free(&p);
}
END_TEST

/* NCHW F(2x2) in blocks, with the channels in sixteens, runs its GEMMs with the tiles
 * as rows (U^T and M^T) and writes y 16 channels of a tile at a time: 256 -> 256 on
 * 14x14 (four blocks of 64), and 256 -> 260 on 14x13 with a bias, whose edge tiles
 * are clipped at the right and whose last block (of 4 channels at one
 * thread, 20 at two) is not in sixteens: at one thread it goes the other way (M, not
 * M^T), at two, where the blocks share M at once, so does every block. */
START_TEST(nchw_blocks_with_tiles_as_rows)
{
    static const struct {
        blasconv_conv2d d;
        int blocks[2]; /* at one and two threads */
    } cases[] = {
        {TEST_CONV_3X3_SAME(1, 256, 14, 14, 256), {4, 4}},
        {TEST_CONV_3X3_SAME(1, 256, 14, 13, 260), {5, 6}},
    };
    const blasconv_conv2d d = cases[_i / 2].d;
    const int threads = 1 + _i % 2;
    test_rng r = test_rng_seeded(9790 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = oracle(&d, &p), *y = test_alloc_poisoned(p.ny);
    blasconv_context *ctx;
    ck_assert_int_eq(counted_fast_forward(&d, &p, y, threads, &ctx),
                     16 * cases[_i / 2].blocks[threads - 1]); /* F(2x2) */
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
    blasconv_context_destroy(ctx);
    free(want), free(y), test_conv_problem_free(&p);
}
END_TEST

/* A workspace limit that cannot hold U whole still runs FAST where blocks of U fit,
 * narrower ones (down to 16 channels) if need be: r50_3x3_14 (F(2x2), 4 MiB of U,
 * blocks of 64 channels: 1 MiB, and 1.6 MB of V and M) under 3 MiB in four blocks and
 * under 2 MiB in sixteen of 16 channels (0.25 MiB), both bitwise the unlimited call;
 * under 1.8 MB F(4x4) in sixteen blocks of 16 channels (0.56 MiB, and 1.1 MiB of V
 * and M); under 1 MiB the lowering, bitwise a GEMM context's under the same limit.
 * The same with the weights promised constant (but unlimited, where U is kept
 * whole): a U that does not fit is not kept, and its blocks run. */
START_TEST(blocks_fit_where_the_whole_filter_does_not)
{
    static const struct {
        size_t limit;
        int m, gemms; /* m 0: the lowering */
    } caps[] = {{0, 2, 16 * 4},
                {(size_t)3 << 20, 2, 16 * 4},
                {(size_t)2 << 20, 2, 16 * 16},
                {1800000, 4, 36 * 16},
                {1 << 20, 0, 0}};
    enum {
        LIMITS = sizeof caps / sizeof caps[0]
    };
    blasconv_conv2d d = TEST_CONV_3X3_SAME(1, 256, 14, 14, 256);
    d.layout = (blasconv_layout)_i;
    test_rng r = test_rng_seeded(9798 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = oracle(&d, &p), *unlimited = test_alloc_poisoned(p.ny);
    for (int i = 0; i < 2 * LIMITS; i++) { /* each limit twice: the second promising
                                              constant weights, which a U that does not
                                              fit is not kept for */
        const int c = i % LIMITS, constant = i >= LIMITS && caps[c].limit > 0;
        blasconv_context *ctx = test_naive_fast_context(1);
        ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, constant), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, caps[c].limit), BLASCONV_OK);
        float *y = i ? test_alloc_poisoned(p.ny) : unlimited;
        test_naive_sgemm_calls = 0;
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
        blasconv_context_destroy(ctx);
        if (caps[c].m) {
            ck_assert_int_eq(test_naive_sgemm_calls, caps[c].gemms);
            test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD,
                                   "blocks under a limit");
        }
        if (caps[c].m == caps[0].m)
            ck_assert_msg(!memcmp(y, unlimited, p.ny * sizeof(float)), "limit %zu", caps[c].limit);
        if (!caps[c].m) { /* the lowering */
            blasconv_context *gemm = test_naive_gemm_context();
            blasconv_context_set_workspace_limit(gemm, caps[c].limit);
            float *lowered = test_alloc_poisoned(p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(gemm, &d, p.x, p.w, p.bias, lowered),
                             BLASCONV_OK);
            ck_assert(!memcmp(y, lowered, p.ny * sizeof(float)));
            free(lowered);
            blasconv_context_destroy(gemm);
        }
        if (i)
            free(y);
    }
    free(want), free(unlimited), test_conv_problem_free(&p);
}
END_TEST

/* Large filters on random shapes (128-320 channels, odd counts too, maps of 5-17,
 * padding 0-2, batch 1-2, either layout) under random limits of 1-6 MiB, one and two
 * threads (a user sgemm promised concurrent): FAST whole, in blocks (narrowed or not)
 * or the lowering, whatever fits, within FAST's bound of the oracle. */
START_TEST(large_filters_under_random_limits)
{
    test_rng r = test_rng_seeded(9799);
    for (int t = 0; t < 12; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 1);
        d.in_channels = test_rng_int(&r, 128, 320);
        d.out_channels = test_rng_int(&r, 8, 20) * 16 + test_rng_int(&r, 0, 1) * 5;
        d.in_height = test_rng_int(&r, 5, 17);
        d.in_width = test_rng_int(&r, 5, 17);
        d.batch = test_rng_int(&r, 1, 2);
        test_conv_problem p = test_conv_problem_make(&r, d);
        float *want = oracle(&d, &p), *y = test_alloc_poisoned(p.ny);
        blasconv_context *ctx = test_naive_fast_context(1 + t % 2);
        const size_t limit = (size_t)test_rng_int(&r, 1 << 10, 6 << 10) << 10;
        ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, limit), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
        test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
        blasconv_context_destroy(ctx);
        free(want), free(y), test_conv_problem_free(&p);
    }
}
END_TEST

/* NHWC at two threads (a user sgemm promised concurrent) takes blocks of U from 4 MiB
 * only on fewer than 64 tiles: r50_3x3_14 at batch 1 (49 F(2x2) tiles) in four blocks
 * of 64 channels, each thread transforming the input into a V of its own; at batch 4
 * (64 F(4x4) tiles) U whole and one batch of stages split over the threads. */
START_TEST(nhwc_two_threads_block_few_tiles)
{
    static const struct {
        int batch, gemms;
    } cases[] = {{1, 16 * 4}, {4, 36}};
    blasconv_conv2d d = TEST_CONV_3X3_SAME(cases[_i].batch, 256, 14, 14, 256);
    d.layout = BLASCONV_NHWC;
    test_rng r = test_rng_seeded(9795 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = oracle(&d, &p), *y = test_alloc_poisoned(p.ny);
    ck_assert_int_eq(two_thread_fast_forward(&d, &p, y), cases[_i].gemms);
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
    free(want), free(y), test_conv_problem_free(&p);
}
END_TEST

/* Two threads (a user sgemm promised concurrent) on fewer than 64 tiles take U in one
 * block of output channels per thread even where U is small (here 0.6-2.4 MiB), each
 * thread transforming the input into a V of its own: twice the tap positions' GEMMs
 * in both layouts: 128 channels on 14x14 (F(2x2), 49 tiles, 64 + 64 channels), 160 ->
 * 136 on 16x15 (F(4x4), 16 tiles, 80 + 56, the right edge tiles clipped). On the
 * linked BLAS at 2 and 3 threads too. */
START_TEST(few_tiles_block_per_thread)
{
    static const struct {
        blasconv_conv2d d;
        int taps;
    } cases[] = {
        {TEST_CONV_3X3_SAME(1, 128, 14, 14, 128), 16},
        {TEST_CONV_3X3_SAME(1, 160, 16, 15, 136), 36},
    };
    blasconv_conv2d d = cases[_i / 2].d;
    d.layout = (blasconv_layout)(_i % 2);
    test_rng r = test_rng_seeded(9797 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = oracle(&d, &p), *y = test_alloc_poisoned(p.ny);
    ck_assert_int_eq(two_thread_fast_forward(&d, &p, y), 2 * cases[_i / 2].taps);
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
    for (int threads = 2; threads <= 3; threads++) {
        blasconv_context *ctx = test_fast_context();
        blasconv_context_set_threads(ctx, threads);
        test_poison(y, p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
        test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, "linked BLAS");
        blasconv_context_destroy(ctx);
    }
    free(want), free(y), test_conv_problem_free(&p);
}
END_TEST

/* NHWC's blocks of U whose tiles times channels stay within 1200 keep U as [xi][k][c]
 * and take it transposed in every GEMM (WINOGRAD_U_ROWS_MAX_PRODUCT), the blocks
 * narrowed to fit where 32 channels do: under F(2x2) 256 channels on 7x7 (16 tiles,
 * four blocks of 64, as wide as the cache's measure gives), 256 -> 264 on 7x6 at
 * batch 2 with a bias (24 tiles, the right edge tiles clipped, blocks of 64 narrowed
 * to 48, the last of 24); under F(4x4) 256 on 14x14 at batch 2 (32 tiles, sixteen
 * blocks of 16). 256 on 14x14 at batch 1 (49 F(2x2) tiles, which 32 channels
 * overflow) keeps U^T in four blocks of 64, no GEMM transposed. At one and two
 * threads. */
static int transposed_b_calls;

static void transposed_b_counting_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k,
                                        float alpha, const float *a, int lda, const float *b,
                                        int ldb, float beta, float *c, int ldc)
{
    if (trans_b == 112) /* CblasTrans */
        __atomic_add_fetch(&transposed_b_calls, 1, __ATOMIC_RELAXED);
    test_naive_sgemm(layout, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

START_TEST(nhwc_few_tiles_take_u_as_rows)
{
    static const struct {
        blasconv_conv2d d;
        int taps, blocks[2], transposed; /* blocks at one and two threads */
    } cases[] = {
        {TEST_CONV_3X3_SAME(1, 256, 7, 7, 256), 16, {4, 4}, 1},
        {TEST_CONV_3X3_SAME(2, 256, 7, 6, 264), 16, {6, 6}, 1},
        {TEST_CONV_3X3_SAME(2, 256, 14, 14, 256), 36, {16, 16}, 1},
        {TEST_CONV_3X3_SAME(1, 256, 14, 14, 256), 16, {4, 4}, 0},
    };
    blasconv_conv2d d = cases[_i / 2].d;
    d.layout = BLASCONV_NHWC;
    const int threads = 1 + _i % 2;
    test_rng r = test_rng_seeded(9799 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = oracle(&d, &p), *y = test_alloc_poisoned(p.ny);
    blasconv_context *ctx = test_naive_fast_context(threads);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, transposed_b_counting_sgemm), BLASCONV_OK);
    if (threads > 1)
        ck_assert_int_eq(blasconv_context_set_sgemm_concurrent(ctx, 1), BLASCONV_OK);
    test_naive_sgemm_calls = 0, transposed_b_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
    const int gemms = cases[_i / 2].taps * cases[_i / 2].blocks[threads - 1];
    ck_assert_int_eq(test_naive_sgemm_calls, gemms);
    ck_assert_int_eq(transposed_b_calls, cases[_i / 2].transposed ? gemms : 0);
    test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
    blasconv_context_destroy(ctx);
    free(want), free(y), test_conv_problem_free(&p);
}
END_TEST

/* A layer whose large U goes block by block under the promise of constant weights
 * leaves the kept U of another layer alone: that layer's next call reuses it and
 * gives bitwise its first result. (Block buffers placed in the kept U's memory
 * would overwrite it.) */
START_TEST(kept_filter_survives_blocked_layers)
{
    test_rng r = test_rng_seeded(9780);
    const blasconv_conv2d kept = block_cases[4].d, blocked = block_cases[0].d;
    test_conv_problem a = test_conv_problem_make(&r, kept),
                      b = test_conv_problem_make(&r, blocked);
    float *first = test_alloc_poisoned(a.ny), *again = test_alloc_poisoned(a.ny);
    float *yb = test_alloc_poisoned(b.ny);
    blasconv_context *ctx = test_fast_context();
    ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, 1), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &kept, a.x, a.w, a.bias, first), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &blocked, b.x, b.w, b.bias, yb), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &kept, a.x, a.w, a.bias, again), BLASCONV_OK);
    ck_assert(!memcmp(first, again, a.ny * sizeof(float)));
    blasconv_context_destroy(ctx);
    free(first), free(again), free(yb), test_conv_problem_free(&a), test_conv_problem_free(&b);
}
END_TEST

/* With two threads FAST runs each thread's own batches (a share of the tiles each),
 * so its GEMMs are narrower than one thread's: results agree with one thread's
 * within FAST's bound (unlimited, and under a limit that shrinks the batches), and
 * with the oracle. A result bitwise equal to the lowering's would mean FAST did not
 * run. */
START_TEST(two_threads_agree_with_one)
{
    const blasconv_conv2d layers[] = {
        TEST_CONV_3X3_SAME(2, 32, 40, 37, 40),
        {.batch = 1,
         .in_channels = 8,
         .in_height = 12,
         .in_width = 11,
         .out_channels = 8,
         .kernel_height = 3,
         .kernel_width = 3},
    };
    const blasconv_conv2d d = layers[_i];
    test_rng r = test_rng_seeded(9800 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = test_alloc_poisoned(p.ny), *lowered = test_alloc_poisoned(p.ny);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, p.bias, want),
                     BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, p.x, p.w, p.bias, lowered), BLASCONV_OK);
    const size_t limits[] = {0, test_fast_limit_for(&d, 4, 40)};
    float *one = NULL;
    for (size_t l = 0; l < 2; l++)
        for (int threads = 1; threads <= 2; threads++) {
            blasconv_context *ctx = test_fast_context();
            blasconv_context_set_threads(ctx, threads);
            blasconv_context_set_workspace_limit(ctx, limits[l]);
            float *y = test_alloc_poisoned(p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
            blasconv_context_destroy(ctx);
            ck_assert_msg(memcmp(y, lowered, p.ny * sizeof(float)) != 0,
                          "FAST did not run (limit %zu, %d threads)", limits[l], threads);
            test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD,
                                   test_conv_describe(&d));
            if (threads == 2)
                test_assert_fast_close(y, one, p.ny, &d, BLASCONV_PASS_FORWARD,
                                       "2 threads against 1");
            else if (one)
                test_assert_conv_agree(one, y, p.ny, &d, BLASCONV_PASS_FORWARD, "limits");
            free(one);
            one = y;
        }
    free(one), free(want), free(lowered), test_conv_problem_free(&p);
}
END_TEST

/* FAST's error grows with the magnitude of x and w like the lowering's does:
 * relative to max|x| * max|w|, the tolerance holds for any scale. */
START_TEST(error_scales_with_magnitude)
{
    test_rng r = test_rng_seeded(9200);
    blasconv_context *ctx = test_fast_context();
    const float scales[] = {1e-3f, 1.0f, 1e3f};
    for (int t = 0; t < 60; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 1);
        test_conv_problem p = test_conv_problem_make(&r, d);
        const float sx = scales[t % 3], sw = scales[(t / 3) % 3];
        for (size_t i = 0; i < p.nx; i++)
            p.x[i] *= sx;
        for (size_t i = 0; i < p.nw; i++)
            p.w[i] *= sw;
        float *y = test_alloc_poisoned(p.ny), *want = test_alloc_poisoned(p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, NULL, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, NULL, want),
                         BLASCONV_OK);
        test_assert_close(y, want, p.ny, test_fast_extra(d.in_channels, sx, sw), 1e-6,
                          test_conv_describe(&d));
        free(y), free(want), test_conv_problem_free(&p);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* Runs forward, backward data and backward filter; returns the first error. */
static blasconv_status all_passes(blasconv_context *ctx, const test_conv_problem *p,
                                  const float *dy, float *y, float *dx, float *dw, float *db)
{
    blasconv_status st = blasconv_conv2d_forward(ctx, &p->d, p->x, p->w, p->bias, y);
    if (st == BLASCONV_OK)
        st = blasconv_conv2d_backward_data(ctx, &p->d, dy, p->w, dx);
    if (st == BLASCONV_OK)
        st = blasconv_conv2d_backward_filter(ctx, &p->d, p->x, dy, dw, db);
    return st;
}

START_TEST(everything_else_is_gemm)
{
    test_rng r = test_rng_seeded(9300);
    blasconv_context *fast = test_fast_context(), *gemm;
    ck_assert_int_eq(blasconv_context_create(&gemm), BLASCONV_OK);
    int fallbacks = 0;
    for (int t = 0; t < 300; t++) {
        blasconv_conv2d d = t % 3 ? test_random_conv(&r) : test_fast_random_eligible(&r, 1);
        if (t % 3)
            d.layout = test_rng_int(&r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW;
        test_conv_problem p = test_conv_problem_make(&r, d);
        float *dy = test_alloc_random(&r, p.ny);
        float *out[2][4];
        for (int c = 0; c < 2; c++) {
            out[c][0] = test_alloc_poisoned(p.ny), out[c][1] = test_alloc_poisoned(p.nx);
            out[c][2] = test_alloc_poisoned(p.nw);
            out[c][3] = test_alloc_poisoned((size_t)d.out_channels);
            ck_assert_int_eq(
                all_passes(c ? fast : gemm, &p, dy, out[c][0], out[c][1], out[c][2], out[c][3]),
                BLASCONV_OK);
        }
        const char *what = test_conv_describe(&d);
        if (!test_fast_eligible(&d)) {
            fallbacks++;
            ck_assert_msg(!memcmp(out[0][0], out[1][0], p.ny * sizeof(float)), "forward: %s",
                          what);
        }
        if (!test_fast_eligible(&d)) /* eligible dx: test_winograd_backward_data */
            ck_assert_msg(!memcmp(out[0][1], out[1][1], p.nx * sizeof(float)), "dx: %s", what);
        ck_assert_msg(!memcmp(out[0][2], out[1][2], p.nw * sizeof(float)), "dw: %s", what);
        ck_assert_msg(!memcmp(out[0][3], out[1][3], (size_t)d.out_channels * sizeof(float)),
                      "db: %s", what);
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 4; i++)
                free(out[c][i]);
        free(dy), test_conv_problem_free(&p);
    }
    ck_assert_int_ge(fallbacks, 150);
    blasconv_context_destroy(fast);
    blasconv_context_destroy(gemm);
}
END_TEST

START_TEST(tight_limits_are_bitwise_identical)
{
    test_rng r = test_rng_seeded(9400);
    blasconv_context *unlimited = test_naive_fast_context(1), *tight = test_naive_fast_context(1);
    for (int t = 0; t < 120; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 1);
        test_conv_problem p = test_conv_problem_make(&r, d);
        /* F(4x4) with 1, 3 or 17 tiles a batch (or F(2x2) if that is the choice) */
        const int tiles[] = {1, 3, 17};
        blasconv_context_set_workspace_limit(tight, test_fast_limit_for(&d, 4, tiles[t % 3]));
        float *a = test_alloc_poisoned(p.ny), *b = test_alloc_poisoned(p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(unlimited, &d, p.x, p.w, p.bias, a), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_forward(tight, &d, p.x, p.w, p.bias, b), BLASCONV_OK);
        ck_assert_msg(!memcmp(a, b, p.ny * sizeof(float)), "%s", test_conv_describe(&d));
        free(a), free(b), test_conv_problem_free(&p);
    }
    blasconv_context_destroy(unlimited);
    blasconv_context_destroy(tight);
}
END_TEST

/* Below FAST's minimum the call takes the lowering (bitwise the GEMM context's
 * result under the same limit); below the lowering's too it is WORKSPACE. */
START_TEST(below_minimum_falls_back_then_fails)
{
    test_rng r = test_rng_seeded(9500);
    blasconv_conv2d d = {.batch = 2,
                         .in_channels = 8,
                         .in_height = 9,
                         .in_width = 11,
                         .out_channels = 16,
                         .kernel_height = 3,
                         .kernel_width = 3,
                         .pad_top = 1,
                         .pad_bottom = 1,
                         .pad_left = 1,
                         .pad_right = 1};
    test_conv_problem p = test_conv_problem_make(&r, d);
    const size_t gemm_row = (size_t)8 * 9 * 11 * sizeof(float); /* one output row's im2col */
    ck_assert_uint_lt(gemm_row * 2, test_fast_limit_for(&d, 2, 1));
    blasconv_context *fast = test_fast_context(), *gemm;
    ck_assert_int_eq(blasconv_context_create(&gemm), BLASCONV_OK);
    blasconv_context_set_workspace_limit(fast, gemm_row * 2);
    blasconv_context_set_workspace_limit(gemm, gemm_row * 2);
    float *a = test_alloc_poisoned(p.ny), *b = test_alloc_poisoned(p.ny);
    ck_assert_int_eq(blasconv_conv2d_forward(fast, &d, p.x, p.w, p.bias, a), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(gemm, &d, p.x, p.w, p.bias, b), BLASCONV_OK);
    ck_assert(!memcmp(a, b, p.ny * sizeof(float)));
    blasconv_context_set_workspace_limit(fast, gemm_row - 4);
    test_poison(a, p.ny);
    ck_assert_int_eq(blasconv_conv2d_forward(fast, &d, p.x, p.w, p.bias, a),
                     BLASCONV_ERR_WORKSPACE);
    for (size_t i = 0; i < p.ny; i++)
        ck_assert(a[i] != a[i]); /* untouched: still NaN */
    free(a), free(b), test_conv_problem_free(&p);
    blasconv_context_destroy(fast);
    blasconv_context_destroy(gemm);
}
END_TEST

START_TEST(caller_buffer_never_allocates)
{
    test_rng r = test_rng_seeded(9600);
    blasconv_context *mine = test_naive_fast_context(1), *lib = test_naive_fast_context(1);
    /* the promise of constant weights must not make a caller-buffer context allocate */
    blasconv_context_set_weights_constant(mine, 1);
    for (int t = 0; t < 60; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 1);
        test_conv_problem p = test_conv_problem_make(&r, d);
        size_t bytes = test_fast_limit_for(&d, 4, 1 + t % 20) + (size_t)(t % 2) * 3;
        unsigned char *buffer = malloc(bytes + 1);
        ck_assert_int_eq(blasconv_context_set_workspace(mine, buffer + t % 2, bytes), BLASCONV_OK);
        float *a = test_alloc_poisoned(p.ny), *b = test_alloc_poisoned(p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(lib, &d, p.x, p.w, p.bias, a), BLASCONV_OK);
        allocations = 0;
        blasconv_status st = blasconv_conv2d_forward(mine, &d, p.x, p.w, p.bias, b);
        long allocated = allocations;
        ck_assert_int_eq(allocated, 0);
        ck_assert_int_eq(st, BLASCONV_OK);
        ck_assert_msg(!memcmp(a, b, p.ny * sizeof(float)), "%s", test_conv_describe(&d));
        free(a), free(b), free(buffer), test_conv_problem_free(&p);
    }
    blasconv_context_destroy(mine);
    blasconv_context_destroy(lib);
}
END_TEST

/* With the promise, a second call with the same pointer reuses the transformed
 * filter: weights changed in place behind the promise's back do not show (that is
 * how reuse is observed); a new pointer, or renewing the promise, does show them.
 * Without the promise every call sees the current weights. */
START_TEST(weights_cache_only_when_promised)
{
    test_rng r = test_rng_seeded(9700);
    blasconv_conv2d d = {.batch = 2,
                         .in_channels = 5,
                         .in_height = 13,
                         .in_width = 10,
                         .out_channels = 7,
                         .kernel_height = 3,
                         .kernel_width = 3,
                         .pad_top = 1,
                         .pad_bottom = 2,
                         .pad_left = 0,
                         .pad_right = 1,
                         .layout = (blasconv_layout)_i};
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *w2 = test_alloc_random(&r, p.nw);
    float *first = test_alloc_poisoned(p.ny), *y = test_alloc_poisoned(p.ny);
    float *want = test_alloc_poisoned(p.ny);
    for (int promise = 0; promise < 2; promise++) {
        blasconv_context *ctx = test_fast_context();
        ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, promise), BLASCONV_OK);
        float *w = test_alloc_copy(p.w, p.nw);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, w, p.bias, first), BLASCONV_OK);
        memcpy(w, w2, p.nw * sizeof(float)); /* same pointer, new contents */
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, w2, p.bias, want),
                         BLASCONV_OK);
        test_poison(y, p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, w, p.bias, y), BLASCONV_OK);
        if (promise) {
            ck_assert(!memcmp(y, first, p.ny * sizeof(float)));
            ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, 1), BLASCONV_OK);
            test_poison(y, p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, w, p.bias, y), BLASCONV_OK);
        }
        test_assert_fast_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, "changed weights");
        if (promise) { /* another pointer with the first weights: transformed again */
            test_poison(y, p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
            ck_assert(!memcmp(y, first, p.ny * sizeof(float)));
        }
        free(w);
        blasconv_context_destroy(ctx);
    }
    ck_assert_int_eq(blasconv_context_set_weights_constant(NULL, 1), BLASCONV_ERR_NULL_POINTER);
    free(w2), free(first), free(y), free(want), test_conv_problem_free(&p);
}
END_TEST

static Suite *winograd_suite(void)
{
    Suite *s = suite_create("winograd");
    TCase *tc = tcase_create("fast");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, fast_matches_oracle, 0, 2);
    tcase_add_loop_test(tc, wide_channels_match_oracle, 0, 6);
    tcase_add_loop_test(tc, wide_rows_match_oracle, 0, 6);
    tcase_add_loop_test(tc, large_filters_block_by_block, 0,
                        2 * (int)(sizeof block_cases / sizeof block_cases[0]));
    tcase_add_loop_test(tc, nchw_blocks_with_tiles_as_rows, 0, 4);
    tcase_add_loop_test(tc, nhwc_two_threads_block_few_tiles, 0, 2);
    tcase_add_loop_test(tc, blocks_fit_where_the_whole_filter_does_not, 0, 2);
    tcase_add_test(tc, large_filters_under_random_limits);
    tcase_add_loop_test(tc, few_tiles_block_per_thread, 0, 4);
    tcase_add_loop_test(tc, nhwc_few_tiles_take_u_as_rows, 0, 8);
    tcase_add_test(tc, kept_filter_survives_blocked_layers);
    tcase_add_test(tc, error_scales_with_magnitude);
    tcase_add_loop_test(tc, two_threads_agree_with_one, 0, 2);
    tcase_add_test(tc, everything_else_is_gemm);
    tcase_add_test(tc, tight_limits_are_bitwise_identical);
    tcase_add_test(tc, below_minimum_falls_back_then_fails);
    tcase_add_test(tc, caller_buffer_never_allocates);
    tcase_add_loop_test(tc, weights_cache_only_when_promised, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(winograd_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
