/* BLASCONV_ALGO_FAST backward data: Winograd on the forward layer of dy (the filter
 * turned 180 degrees, its channel axes swapped, pads 2 - p).
 *
 * - dx agrees with the oracle on hundreds of random 3x3 stride-1 descriptors (pads
 *   0-2 per side, odd sizes, batch, both layouts) within FAST's documented bound for
 *   this pass: the default tolerance plus 1e-6 * 9(K+1) * max|dy| * max|w|, and
 *   Winograd ran (its GEMM count);
 * - layers of many channels (the filter in blocks, one and two threads) likewise;
 * - a pad above 2 falls back: bitwise the GEMM context's dx;
 * - workspace limits change only the batching (bitwise through test_naive_sgemm),
 *   and below FAST's minimum give the lowering;
 * - the turned filter's transform is never kept: constant weights, forward and
 *   backward data in turn on one context, all stay right.
 */
#include "fast_testutil.h"

#include <stdlib.h>
#include <string.h>

/* The reference dx of p (malloc'd). */
static float *oracle_dx(const test_conv_problem *p)
{
    float *want = test_alloc_poisoned(p->nx);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &p->d, p->dy, p->w, want),
                     BLASCONV_OK);
    return want;
}

/* The forward layer of dy that FAST runs for p's dx: K channels in on OH x OW, C out,
 * pads 2 - p (its budget is test_fast_limit_for's). */
static blasconv_conv2d dy_forward(const blasconv_conv2d *d)
{
    int oh, ow;
    ck_assert_int_eq(blasconv_conv2d_output_size(d, &oh, &ow), BLASCONV_OK);
    blasconv_conv2d f = TEST_CONV_3X3_SAME(d->batch, d->out_channels, oh, ow, d->in_channels);
    f.pad_top = 2 - d->pad_top, f.pad_bottom = 2 - d->pad_bottom;
    f.pad_left = 2 - d->pad_left, f.pad_right = 2 - d->pad_right;
    f.layout = d->layout;
    return f;
}

/* dx of p on ctx (poisoned first); returns the GEMMs it called through
 * test_naive_sgemm (0 with the linked BLAS). */
static int dx_on(blasconv_context *ctx, const test_conv_problem *p, float *dx)
{
    test_poison(dx, p->nx);
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &p->d, p->dy, p->w, dx), BLASCONV_OK);
    return test_naive_sgemm_calls;
}

/* _i = 0: the linked BLAS; _i = 1: the counting naive sgemm, which shows Winograd ran
 * (one batch of 36 or 16 GEMMs). */
START_TEST(dx_matches_oracle)
{
    test_rng r = test_rng_seeded(9900 + (uint64_t)_i);
    blasconv_context *ctx = _i ? test_naive_fast_context(1) : test_fast_context();
    for (int t = 0; t < 300; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 1);
        test_conv_problem p = test_conv_problem_make(&r, d);
        float *dx = test_alloc_poisoned(p.nx), *want = oracle_dx(&p);
        const int gemms = dx_on(ctx, &p, dx);
        /* (one input channel takes the direct depthwise path, exact, before FAST) */
        if (_i && d.in_channels > 1)
            ck_assert_msg(gemms == 36 || gemms == 16, "%d GEMMs: %s", gemms,
                          test_conv_describe(&d));
        test_assert_fast_close(dx, want, p.nx, &p.d, BLASCONV_PASS_BACKWARD_DATA,
                               test_conv_describe(&d));
        free(dx), free(want), test_conv_problem_free(&p);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* Layers of 128-256 channels: the filter goes block by block (and at two threads each
 * thread transforms dy into its own V); both layouts, one and two threads, F(4x4) and
 * (14x14) F(2x2), whose NCHW blocks read the turned filter 16 filters of a channel at a
 * time. And 41 -> 32 channels, U whole: NCHW's turned filter in sixteens of its 41
 * filters and the 9 left over, at two threads split over them mid-filter. Winograd ran:
 * tap positions' GEMMs, and not the lowering's dx through the same sgemm. */
START_TEST(many_channels_match_oracle)
{
    static const int shapes[][5] = {
        /* batch, C, H, K, threads */
        {1, 256, 28, 256, 1}, {1, 256, 28, 256, 2}, {2, 128, 20, 192, 2}, {1, 160, 24, 136, 1},
        {1, 256, 14, 256, 1}, {1, 256, 14, 256, 2}, {1, 41, 28, 32, 1},   {3, 41, 28, 32, 2}};
    const int *sh = shapes[_i / 2];
    blasconv_conv2d d = TEST_CONV_3X3_SAME(sh[0], sh[1], sh[2], sh[2], sh[3]);
    d.layout = _i % 2 ? BLASCONV_NHWC : BLASCONV_NCHW;
    test_rng r = test_rng_seeded(9950 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *dx = test_alloc_poisoned(p.nx), *want = oracle_dx(&p);
    float *lowered = test_alloc_poisoned(p.nx);
    blasconv_context *ctx = test_naive_fast_context(sh[4]), *gemm = test_naive_gemm_context();
    const int gemms = dx_on(ctx, &p, dx);
    ck_assert_msg(gemms % 16 == 0 || gemms % 36 == 0, "%d GEMMs: %s", gemms,
                  test_conv_describe(&d));
    dx_on(gemm, &p, lowered);
    ck_assert_msg(memcmp(dx, lowered, p.nx * sizeof(float)) != 0, "the lowering ran: %s",
                  test_conv_describe(&d));
    test_assert_fast_close(dx, want, p.nx, &p.d, BLASCONV_PASS_BACKWARD_DATA,
                           test_conv_describe(&d));
    blasconv_context_destroy(ctx);
    blasconv_context_destroy(gemm);
    ctx = test_fast_context(); /* the linked BLAS, at the same threads */
    ck_assert_int_eq(blasconv_context_set_threads(ctx, sh[4]), BLASCONV_OK);
    dx_on(ctx, &p, dx);
    test_assert_fast_close(dx, want, p.nx, &p.d, BLASCONV_PASS_BACKWARD_DATA, "linked BLAS");
    blasconv_context_destroy(ctx);
    free(dx), free(want), free(lowered), test_conv_problem_free(&p);
}
END_TEST

/* A pad above 2 on any side: the lowering, bitwise the GEMM context's dx. */
START_TEST(large_pads_fall_back)
{
    test_rng r = test_rng_seeded(9960);
    blasconv_context *fast = test_fast_context(), *gemm;
    ck_assert_int_eq(blasconv_context_create(&gemm), BLASCONV_OK);
    for (int t = 0; t < 40; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 2);
        int *pads[] = {&d.pad_top, &d.pad_bottom, &d.pad_left, &d.pad_right};
        *pads[t % 4] = 3;
        test_conv_problem p = test_conv_problem_make(&r, d);
        float *a = test_alloc_poisoned(p.nx), *b = test_alloc_poisoned(p.nx);
        dx_on(fast, &p, a);
        dx_on(gemm, &p, b);
        ck_assert_msg(!memcmp(a, b, p.nx * sizeof(float)), "%s", test_conv_describe(&d));
        free(a), free(b), test_conv_problem_free(&p);
    }
    blasconv_context_destroy(fast);
    blasconv_context_destroy(gemm);
}
END_TEST

/* Limits holding F(4x4)'s transformed filter and 1, 3 or 17 tiles of dy's forward:
 * bitwise the unlimited dx (the naive sgemm's sums do not depend on the batching).
 * Below FAST's minimum (F(2x2)'s filter alone): bitwise the GEMM context's dx under
 * the same limit. */
START_TEST(limits_change_only_batching)
{
    test_rng r = test_rng_seeded(9970);
    blasconv_context *unlimited = test_naive_fast_context(1), *tight = test_naive_fast_context(1);
    blasconv_context *gemm = test_naive_gemm_context(); /* the same sgemm as tight's */
    int batched = 0, lowered = 0;
    for (int t = 0; t < 120; t++) {
        blasconv_conv2d d = test_fast_random_eligible(&r, 2);
        test_conv_problem p = test_conv_problem_make(&r, d);
        const blasconv_conv2d f = dy_forward(&d);
        const int tiles[] = {1, 3, 17};
        float *a = test_alloc_poisoned(p.nx), *b = test_alloc_poisoned(p.nx);
        const int whole = dx_on(unlimited, &p, a);
        blasconv_context_set_workspace_limit(tight, test_fast_limit_for(&f, 4, tiles[t % 3]));
        batched += dx_on(tight, &p, b) > whole;
        ck_assert_msg(!memcmp(a, b, p.nx * sizeof(float)), "%s", test_conv_describe(&d));
        /* F(2x2)'s filter and no tile: the lowering's own minimum decides (WORKSPACE
         * below it, dx untouched) */
        blasconv_context_set_workspace_limit(tight, test_fast_filter_bytes(&f, 2));
        blasconv_context_set_workspace_limit(gemm, test_fast_filter_bytes(&f, 2));
        test_poison(a, p.nx), test_poison(b, p.nx);
        const blasconv_status st = blasconv_conv2d_backward_data(tight, &d, p.dy, p.w, a);
        ck_assert_int_eq(st, blasconv_conv2d_backward_data(gemm, &d, p.dy, p.w, b));
        lowered += st == BLASCONV_OK;
        ck_assert_msg(!memcmp(a, b, p.nx * sizeof(float)) || st != BLASCONV_OK, "lowering: %s",
                      test_conv_describe(&d));
        if (st != BLASCONV_OK)
            ck_assert(a[0] != a[0] && a[p.nx - 1] != a[p.nx - 1]); /* untouched: NaN */
        free(a), free(b), test_conv_problem_free(&p);
    }
    ck_assert_int_ge(batched, 40);
    ck_assert_int_ge(lowered, 20);
    blasconv_context_destroy(unlimited);
    blasconv_context_destroy(tight);
    blasconv_context_destroy(gemm);
}
END_TEST

/* Constant weights: forward keeps its transformed filter, backward data transforms the
 * turned w on every call; forward, dx, forward again on one context stay right (a
 * square layer's forward of dy has the layer's own shape and weights pointer: a kept
 * U would be taken for the other's), also after the weights change in place (and the
 * promise is renewed), and dx with a second weights array in between. */
START_TEST(constant_weights_keep_forward_only)
{
    test_rng r = test_rng_seeded(9980);
    blasconv_conv2d d = TEST_CONV_3X3_SAME(1, 12, 11, 9, 7);
    d.out_channels = _i / 2 ? 12 : 7; /* 12: square */
    d.layout = _i % 2 ? BLASCONV_NHWC : BLASCONV_NCHW;
    test_conv_problem p = test_conv_problem_make(&r, d);
    blasconv_context *ctx = test_fast_context();
    ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, 1), BLASCONV_OK);
    float *y = test_alloc_poisoned(p.ny), *want_y = test_alloc_poisoned(p.ny);
    float *dx = test_alloc_poisoned(p.nx);
    for (int round = 0; round < 2; round++) {
        float *want_dx = oracle_dx(&p);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, p.bias, want_y),
                         BLASCONV_OK);
        for (int twice = 0; twice < 2; twice++) {
            test_poison(y, p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y), BLASCONV_OK);
            test_assert_fast_close(y, want_y, p.ny, &d, BLASCONV_PASS_FORWARD, "forward");
            dx_on(ctx, &p, dx);
            test_assert_fast_close(dx, want_dx, p.nx, &p.d, BLASCONV_PASS_BACKWARD_DATA, "dx");
            test_conv_problem other = p; /* the same layer, other weights */
            other.w = test_alloc_random(&r, p.nw);
            float *want_other = oracle_dx(&other);
            dx_on(ctx, &other, dx);
            test_assert_fast_close(dx, want_other, other.nx, &other.d, BLASCONV_PASS_BACKWARD_DATA,
                                   "dx, other weights");
            free(other.w), free(want_other);
        }
        free(want_dx);
        for (size_t i = 0; i < p.nw; i++) /* new weights, same pointer */
            p.w[i] = test_rng_float(&r);
        ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, 1), BLASCONV_OK);
    }
    blasconv_context_destroy(ctx);
    free(y), free(want_y), free(dx), test_conv_problem_free(&p);
}
END_TEST

static Suite *winograd_backward_data_suite(void)
{
    Suite *s = suite_create("winograd_backward_data");
    TCase *tc = tcase_create("fast");
    tcase_add_loop_test(tc, dx_matches_oracle, 0, 2);
    tcase_add_loop_test(tc, many_channels_match_oracle, 0, 16);
    tcase_add_test(tc, large_pads_fall_back);
    tcase_add_test(tc, limits_change_only_batching);
    tcase_add_loop_test(tc, constant_weights_keep_forward_only, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(winograd_backward_data_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
