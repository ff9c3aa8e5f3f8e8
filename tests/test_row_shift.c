/* Lowering by kernel columns (vertical stride 1, KH > 1): one GEMM per kernel row on
 * a buffer shifted down by the kernel row. Forward in NCHW (with a filter copy) and
 * NHWC (maps of 512+ positions, tiles kept inside an image), and backward data in
 * both (tiles of dx rows, each kernel row's GEMM reading dy shifted). Checked against the
 * oracle on layers that take the path, untiled, in tiles of a few rows (tiles
 * crossing no image border, halos at both ends of the map), with and without bias,
 * on one and two threads. */
#include "testutil.h"

#include <stdlib.h>

/* Each takes the path in both layouts (OH*OW >= 512, 2K <= N*OH*OW, not depthwise),
 * with over 2e6 flops, so that two threads split it. */
static const blasconv_conv2d layers[] = {
    TEST_CONV_3X3_SAME(2, 16, 24, 23, 16),
    /* dilation (2, 3), uneven pads, horizontal stride 2: 29x22 outputs */
    {.batch = 1,
     .in_channels = 16,
     .in_height = 30,
     .in_width = 44,
     .out_channels = 24,
     .kernel_height = 3,
     .kernel_width = 2,
     .stride_width = 2,
     .pad_top = 2,
     .pad_bottom = 1,
     .pad_left = 3,
     .dilation_height = 2,
     .dilation_width = 3},
    /* groups, a 5x3 kernel, pads wider than the kernel's reach at the top */
    {.batch = 2,
     .in_channels = 12,
     .in_height = 26,
     .in_width = 24,
     .out_channels = 16,
     .kernel_height = 5,
     .kernel_width = 3,
     .pad_top = 5,
     .pad_bottom = 1,
     .pad_left = 1,
     .pad_right = 1,
     .groups = 2},
};

enum {
    LAYER_COUNT = sizeof layers / sizeof layers[0]
};

START_TEST(kernel_column_lowering_matches_oracle)
{
    blasconv_conv2d d = layers[_i % LAYER_COUNT];
    d.layout = _i < LAYER_COUNT ? BLASCONV_NCHW : BLASCONV_NHWC;
    size_t lowered_row;
    const size_t minimum = test_conv_row_shift_bytes(&d, BLASCONV_PASS_FORWARD, &lowered_row);
    ck_assert_msg(minimum > 0, "not on the path: %s", test_conv_describe(&d));
    ck_assert_msg(test_conv_row_shift_bytes(&d, BLASCONV_PASS_BACKWARD_DATA, &lowered_row) > 0,
                  "backward data not on the path: %s", test_conv_describe(&d));
    test_rng r = test_rng_seeded(300 + (uint64_t)_i);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *want = test_alloc_poisoned(p.ny);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, p.bias, want),
                     BLASCONV_OK);
    float *want_dx = test_alloc_poisoned(p.nx);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, p.dy, p.w, want_dx),
                     BLASCONV_OK);
    /* untiled; tiles of one and of three output rows (two threads get a tile each);
     * backward data's tiles of input rows are then about one and three rows */
    const size_t limits[] = {0, minimum, minimum + 2 * lowered_row,
                             minimum + 2 * (minimum + 2 * lowered_row)};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++)
        for (int threads = 1; threads <= 2; threads++) {
            blasconv_context *ctx;
            ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
            ck_assert_int_eq(blasconv_context_set_threads(ctx, threads), BLASCONV_OK);
            ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, limits[l]), BLASCONV_OK);
            float *got = test_alloc_poisoned(p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, got), BLASCONV_OK);
            test_assert_conv_close(got, want, p.ny, &d, BLASCONV_PASS_FORWARD,
                                   test_conv_describe(&d));
            /* without bias: the first kernel row's GEMM starts the sum (beta 0) */
            float *plain = test_alloc_poisoned(p.ny);
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, NULL, plain), BLASCONV_OK);
            const size_t k = (size_t)d.out_channels, positions = p.ny / k / (size_t)d.batch;
            for (size_t i = 0; i < p.ny; i++)
                plain[i] += p.bias[d.layout == BLASCONV_NHWC ? i % k : i / positions % k];
            test_assert_conv_close(plain, want, p.ny, &d, BLASCONV_PASS_FORWARD, "no bias");
            float *dx = test_alloc_poisoned(p.nx); /* tiles of input rows, dy read shifted */
            ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, p.dy, p.w, dx), BLASCONV_OK);
            test_assert_conv_close(dx, want_dx, p.nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                                   test_conv_describe(&d));
            free(dx);
            free(got), free(plain);
            blasconv_context_destroy(ctx);
        }
    free(want), free(want_dx);
    test_conv_problem_free(&p);
}
END_TEST

/* A random descriptor with maps of 16-40 rows and columns (NHWC's 512 positions in
 * reach), either layout, stride 1 down and 1-3 across, dilations 1-3, uneven pads. */
static blasconv_conv2d random_layer(test_rng *r)
{
    for (;;) {
        const int groups = test_rng_int(r, 1, 2);
        blasconv_conv2d d = {
            .batch = test_rng_int(r, 1, 2),
            .in_channels = groups * test_rng_int(r, 2, 6),
            .in_height = test_rng_int(r, 16, 40),
            .in_width = test_rng_int(r, 16, 40),
            .out_channels = groups * test_rng_int(r, 1, 6),
            .kernel_height = test_rng_int(r, 2, 5),
            .kernel_width = test_rng_int(r, 1, 4),
            .stride_height = 1,
            .stride_width = test_rng_int(r, 1, 3),
            .pad_top = test_rng_int(r, 0, 4),
            .pad_bottom = test_rng_int(r, 0, 4),
            .pad_left = test_rng_int(r, 0, 4),
            .pad_right = test_rng_int(r, 0, 4),
            .dilation_height = test_rng_int(r, 1, 3),
            .dilation_width = test_rng_int(r, 1, 3),
            .groups = groups,
            .layout = test_rng_int(r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW,
        };
        int oh, ow;
        if (blasconv_conv2d_output_size(&d, &oh, &ow) == BLASCONV_OK)
            return d;
    }
}

/* Random layers that take the path in at least one pass, each run once on a context
 * of 1 or 2 threads under no cap, the pass's minimum, or a few rows more. */
START_TEST(random_layers_match_oracle)
{
    test_rng r = test_rng_seeded(400);
    int forward_checked = 0, data_checked = 0;
    for (int t = 0; t < 300; t++) {
        const blasconv_conv2d d = random_layer(&r);
        size_t lowered_row;
        const size_t forward_min =
            test_conv_row_shift_bytes(&d, BLASCONV_PASS_FORWARD, &lowered_row);
        const size_t data_min =
            test_conv_row_shift_bytes(&d, BLASCONV_PASS_BACKWARD_DATA, &lowered_row);
        if (!forward_min && !data_min)
            continue;
        const size_t row = test_conv_row_bytes(&d); /* below it: WORKSPACE (the API) */
        size_t floor = forward_min > data_min ? forward_min : data_min;
        floor = floor > row ? floor : row;
        const size_t limits[] = {0, floor, floor + 3 * lowered_row};
        blasconv_context *ctx;
        ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_threads(ctx, 1 + t % 2), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, limits[t % 3]), BLASCONV_OK);
        test_conv_problem p = test_conv_problem_make(&r, d);
        test_assert_forward_and_data_match_oracle(ctx, &p);
        forward_checked += forward_min > 0;
        data_checked += data_min > 0;
        test_conv_problem_free(&p);
        blasconv_context_destroy(ctx);
    }
    ck_assert_int_ge(forward_checked, 100);
    ck_assert_int_ge(data_checked, 100);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("row_shift");
    TCase *tc = tcase_create("row_shift");
    tcase_add_loop_test(tc, kernel_column_lowering_matches_oracle, 0, 2 * LAYER_COUNT);
    tcase_add_test(tc, random_layers_match_oracle);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
