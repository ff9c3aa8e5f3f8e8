/* All three passes agree with the direct-loop oracle on hundreds of random
 * descriptors; outputs are NaN-poisoned first so an unwritten element fails. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

#define RANDOM_CASES 400

START_TEST(forward_matches_oracle)
{
    test_rng r = test_rng_seeded(1000 + (uint64_t)_i);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int t = 0; t < RANDOM_CASES; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
        float *bias = test_alloc_random(&r, (size_t)d.out_channels);
        const float *b = t % 2 ? bias : NULL;
        float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
        blasconv_context *use = t % 3 ? ctx : NULL; /* a kept context, and none */
        ck_assert_int_eq(blasconv_conv2d_forward(use, &d, x, w, b, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, b, want), BLASCONV_OK);
        test_assert_conv_close(y, want, ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
        free(x), free(w), free(bias), free(y), free(want);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* Layers whose GEMMs are large enough to go as 64 x 64 x 128 blocks where the BLAS
 * has small-matrix kernels (gemm_small_blocks.c; OpenBLAS's SkylakeX family), forward
 * and backward data against the oracle: output channels, columns and depth each end
 * in a part block (100 = 64 + 36 channels, 1640 and 930 columns, depths 200 and
 * 216 = 128 + 72 and + 88; backward data of a 7x7 map, 49 columns of 360 rows, depth
 * 200), with and without a bias, at one thread and at two (each slot's GEMMs on its
 * own thread). */
START_TEST(medium_gemms_match_oracle)
{
    const blasconv_conv2d layers[] = {
        {1, 200, 40, 41, 100, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, BLASCONV_NCHW}, /* direct 1x1 */
        {1, 24, 61, 63, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, BLASCONV_NCHW},   /* im2col */
        {1, 40, 7, 7, 200, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, BLASCONV_NCHW},    /* 49 columns */
    };
    test_rng r = test_rng_seeded(4500);
    for (int threads = 1; threads <= 2; threads++) {
        blasconv_context *ctx;
        ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_threads(ctx, threads), BLASCONV_OK);
        for (size_t t = 0; t < 2 * sizeof layers / sizeof layers[0]; t++) {
            test_conv_problem p = test_conv_problem_make(&r, layers[t / 2]);
            float *bias = p.bias;
            if (t % 2)
                p.bias = NULL;
            test_assert_forward_and_data_match_oracle(ctx, &p);
            p.bias = bias;
            test_conv_problem_free(&p);
        }
        blasconv_context_destroy(ctx);
    }
}
END_TEST

/* Depthwise layers wide enough for the register-blocked interior (16 and 64
 * outputs at a time, overlapping last block) and its border columns, with strides
 * across of 1-3 (stride 2 splits rows into even and odd columns 32 at a time). */
START_TEST(wide_depthwise_matches_oracle)
{
    test_rng r = test_rng_seeded(4000);
    for (int t = 0; t < 300; t++) {
        blasconv_conv2d d = {0};
        d.groups = d.in_channels = test_rng_int(&r, 1, 3);
        d.out_channels = d.groups * test_rng_int(&r, 1, 2);
        d.batch = test_rng_int(&r, 1, 2);
        d.in_height = test_rng_int(&r, 1, 6);
        d.in_width = test_rng_int(&r, 16, 150);
        d.kernel_height = test_rng_int(&r, 1, 5);
        d.kernel_width = test_rng_int(&r, 1, 9);
        d.dilation_width = test_rng_int(&r, 0, 3);
        d.stride_height = test_rng_int(&r, 0, 2);
        d.stride_width = test_rng_int(&r, 0, 3);
        d.pad_top = test_rng_int(&r, 0, 4);
        d.pad_bottom = test_rng_int(&r, 0, 4);
        d.pad_left = test_rng_int(&r, 0, 9);
        d.pad_right = test_rng_int(&r, 0, 9);
        int oh, ow;
        if (blasconv_conv2d_output_size(&d, &oh, &ow) != BLASCONV_OK)
            continue;
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
        float *bias = test_alloc_random(&r, (size_t)d.out_channels);
        float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x, w, bias, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, bias, want),
                         BLASCONV_OK);
        test_assert_conv_close(y, want, ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
        free(x), free(w), free(bias), free(y), free(want);
    }
}
END_TEST

/* Rows too wide for the stack buffers of rows split by phases (4096 floats), at
 * strides across of 1 and 2, all three passes: stride 2 falls back to the per-tap
 * loops. The plane loop once pointed past that buffer on such rows; clang's
 * bounds sanitizer (the fuzz build's) reports that, GCC's does not. */
START_TEST(depthwise_rows_wider_than_the_phase_buffer_match_oracle)
{
    test_rng r = test_rng_seeded(4500);
    for (int stride = 1; stride <= 2; stride++) {
        const blasconv_conv2d d = {.batch = 1,
                                   .in_channels = 2,
                                   .out_channels = 2,
                                   .groups = 2,
                                   .in_height = 4,
                                   .in_width = 5000,
                                   .kernel_height = 3,
                                   .kernel_width = 3,
                                   .stride_width = stride,
                                   .pad_left = 1,
                                   .pad_right = 1};
        test_conv_problem p = test_conv_problem_make(&r, d);
        test_assert_forward_and_data_match_oracle(NULL, &p);
        test_assert_filter_matches_oracle(NULL, &p);
        test_conv_problem_free(&p);
    }
}
END_TEST

/* The fixed 3x3 stride-1 depthwise kernel (output rows in pairs, 16-column blocks
 * with an overlapping last block, scalar borders) on every width from 1 to 200, odd
 * and even heights, pads 0 to 2 on each side, channel multipliers 1 and 2. */
START_TEST(depthwise_3x3_every_width_matches_oracle)
{
    test_rng r = test_rng_seeded(4100);
    for (int width = 1; width <= 200; width++) {
        blasconv_conv2d d = {0};
        d.groups = d.in_channels = test_rng_int(&r, 1, 2);
        d.out_channels = d.groups * test_rng_int(&r, 1, 2);
        d.batch = 1;
        d.in_height = test_rng_int(&r, 1, 8);
        d.in_width = width;
        d.kernel_height = d.kernel_width = 3;
        d.stride_height = d.stride_width = 1;
        d.dilation_height = d.dilation_width = 1;
        d.pad_top = test_rng_int(&r, 0, 2);
        d.pad_bottom = test_rng_int(&r, 0, 2);
        d.pad_left = width % 3;
        d.pad_right = test_rng_int(&r, 0, 2);
        int oh, ow;
        if (blasconv_conv2d_output_size(&d, &oh, &ow) != BLASCONV_OK)
            continue;
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
        float *bias = test_alloc_random(&r, (size_t)d.out_channels);
        float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
        const float *b = width % 2 ? bias : NULL;
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x, w, b, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, b, want), BLASCONV_OK);
        test_assert_conv_close(y, want, ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
        free(x), free(w), free(bias), free(y), free(want);
    }
}
END_TEST

/* NHWC depthwise with channel counts 1..70: the scalar loop (< 16), 32- and 16-channel
 * register blocks and an overlapping last block, one pixel or four side by side (rows
 * up to 24 wide); random windows, strides, pads, dilations. */
START_TEST(depthwise_nhwc_channel_blocks_match_oracle)
{
    test_rng r = test_rng_seeded(4200);
    for (int channels = 1; channels <= 70; channels++) {
        blasconv_conv2d d = {0};
        d.layout = BLASCONV_NHWC;
        d.groups = d.in_channels = d.out_channels = channels;
        d.batch = test_rng_int(&r, 1, 2);
        d.in_height = test_rng_int(&r, 1, 7);
        d.in_width = test_rng_int(&r, 1, 24);
        d.kernel_height = test_rng_int(&r, 1, 4);
        d.kernel_width = test_rng_int(&r, 1, 4);
        d.stride_height = test_rng_int(&r, 1, 2);
        d.stride_width = test_rng_int(&r, 1, 2);
        d.dilation_height = test_rng_int(&r, 1, 2);
        d.dilation_width = test_rng_int(&r, 1, 2);
        d.pad_top = test_rng_int(&r, 0, 2);
        d.pad_bottom = test_rng_int(&r, 0, 2);
        d.pad_left = test_rng_int(&r, 0, 2);
        d.pad_right = test_rng_int(&r, 0, 2);
        int oh, ow;
        if (blasconv_conv2d_output_size(&d, &oh, &ow) != BLASCONV_OK)
            continue;
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
        float *bias = test_alloc_random(&r, (size_t)d.out_channels);
        float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
        const float *b = channels % 2 ? bias : NULL;
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x, w, b, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, b, want), BLASCONV_OK);
        test_assert_conv_close(y, want, ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
        free(x), free(w), free(bias), free(y), free(want);
    }
}
END_TEST

/* Depthwise backward passes on their direct loops: NCHW with channel multipliers 1-4
 * and NHWC with 1-40 channels (blocks of 16 and narrower), rows from 1 to 150 wide
 * (a dot product's 64- and 16-wide blocks, its masked overlapping remainder, rows
 * under 16), strides 1-3 (stride 1: backward data's rotated-kernel forward, also with
 * pads past the kernel's reach), kernels up to 9x9 (past the rotated path's 64 taps
 * and a tap block of 16); half of them 3x3 stride 1. Forward is checked on the same
 * problems. */
START_TEST(depthwise_backward_matches_oracle)
{
    test_rng r = test_rng_seeded(4300 + (uint64_t)_i);
    for (int t = 0; t < 150; t++) {
        blasconv_conv2d d = {0};
        d.layout = t % 2 ? BLASCONV_NHWC : BLASCONV_NCHW;
        d.groups = d.in_channels = test_rng_int(&r, 1, d.layout == BLASCONV_NHWC ? 40 : 3);
        d.out_channels = d.groups * (d.layout == BLASCONV_NHWC ? 1 : test_rng_int(&r, 1, 4));
        d.batch = test_rng_int(&r, 1, 2);
        d.in_height = test_rng_int(&r, 1, 9);
        d.in_width = test_rng_int(&r, 1, 150);
        d.kernel_height = test_rng_int(&r, 1, t % 5 ? 4 : 9);
        d.kernel_width = test_rng_int(&r, 1, t % 5 ? 4 : 9);
        d.stride_height = t % 3 ? test_rng_int(&r, 1, 3) : 1;
        d.stride_width = t % 3 ? test_rng_int(&r, 1, 3) : 1;
        d.dilation_height = test_rng_int(&r, 1, 2);
        d.dilation_width = test_rng_int(&r, 1, 3);
        d.pad_top = test_rng_int(&r, 0, 5);
        d.pad_bottom = test_rng_int(&r, 0, 5);
        d.pad_left = test_rng_int(&r, 0, 9);
        d.pad_right = test_rng_int(&r, 0, 9);
        if (t % 4 < 2) { /* MobileNet's 3x3 stride 1: the filter gradient's 3x3 rows */
            d.kernel_height = d.kernel_width = 3;
            d.stride_height = d.stride_width = d.dilation_height = d.dilation_width = 1;
            d.pad_top = test_rng_int(&r, 0, 2), d.pad_bottom = test_rng_int(&r, 0, 2);
            d.pad_left = test_rng_int(&r, 0, 2), d.pad_right = test_rng_int(&r, 0, 2);
        }
        int oh, ow;
        if (blasconv_conv2d_output_size(&d, &oh, &ow) != BLASCONV_OK)
            continue;
        test_conv_problem p = test_conv_problem_make(&r, d);
        test_assert_forward_and_data_match_oracle(NULL, &p);
        test_assert_filter_matches_oracle(NULL, &p);
        test_conv_problem_free(&p);
    }
}
END_TEST

/* The filter gradient's dot product ends a row on an overlapping vector whose lanes
 * already counted are masked: an infinite input there must stay +inf, not become
 * NaN (inf * 0). x is one row of 20 with x[5] = inf, dy all ones: all three taps
 * see x[5], each once. */
START_TEST(depthwise_filter_gradient_keeps_an_infinity)
{
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = 1,
                               .out_channels = 1,
                               .groups = 1,
                               .in_height = 1,
                               .in_width = 20,
                               .kernel_height = 1,
                               .kernel_width = 3};
    float x[20], dy[18], dw[3];
    for (int i = 0; i < 20; i++)
        x[i] = (float)i;
    x[5] = INFINITY;
    for (int i = 0; i < 18; i++)
        dy[i] = 1.0f;
    ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, &d, x, dy, dw, NULL), BLASCONV_OK);
    for (int t = 0; t < 3; t++)
        ck_assert_msg(isinf(dw[t]) && dw[t] > 0, "dw[%d] = %g", t, (double)dw[t]);
}
END_TEST

/* A stride-2 row split by phases 32 floats at a time must not read past its last
 * element: here the 1x1, stride-2 layer on one row of 63 ends at x's last float (the
 * sanitizer build would report a read beyond it). */
START_TEST(depthwise_filter_gradient_stride2_stays_in_its_input)
{
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = 1,
                               .out_channels = 1,
                               .groups = 1,
                               .in_height = 1,
                               .in_width = 63,
                               .kernel_height = 1,
                               .kernel_width = 1,
                               .stride_height = 2,
                               .stride_width = 2};
    test_rng r = test_rng_seeded(4400);
    float *x = test_alloc_random(&r, 63), *dy = test_alloc_random(&r, 32);
    float dw = NAN, want = NAN;
    ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, &d, x, dy, &dw, NULL), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, &want, NULL),
                     BLASCONV_OK);
    test_assert_conv_close(&dw, &want, 1, &d, BLASCONV_PASS_BACKWARD_FILTER, "1x63, stride 2");
    free(x), free(dy);
}
END_TEST

START_TEST(backward_data_matches_oracle)
{
    test_rng r = test_rng_seeded(2000 + (uint64_t)_i);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int t = 0; t < RANDOM_CASES; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *dy = test_alloc_random(&r, ny), *w = test_alloc_random(&r, nw);
        float *dx = test_alloc_poisoned(nx), *want = test_alloc_poisoned(nx);
        ck_assert_int_eq(blasconv_conv2d_backward_data(t % 3 ? ctx : NULL, &d, dy, w, dx),
                         BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want),
                         BLASCONV_OK);
        test_assert_conv_close(dx, want, nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                               test_conv_describe(&d));
        free(dy), free(w), free(dx), free(want);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* Stride 2 across, dilation 1, kernels 2-7 wide: col2im adds kernel columns kj and
 * kj + 1 as one interleaved pass, 16 output columns at a time where both reach them
 * (rows up to 60 outputs wide) and one column at a time at the edges (asymmetric
 * pads 0-3) and for the last, odd kernel column. */
START_TEST(stride2_backward_data_pairs_kernel_columns)
{
    test_rng r = test_rng_seeded(2600);
    for (int t = 0; t < 40; t++) {
        blasconv_conv2d d = {.batch = test_rng_int(&r, 1, 2),
                             .in_channels = test_rng_int(&r, 1, 4),
                             .in_height = test_rng_int(&r, 8, 24),
                             .in_width = test_rng_int(&r, 30, 120),
                             .out_channels = test_rng_int(&r, 1, 16),
                             .kernel_height = test_rng_int(&r, 1, 7),
                             .kernel_width = test_rng_int(&r, 2, 7),
                             .stride_height = test_rng_int(&r, 1, 2),
                             .stride_width = 2,
                             .pad_top = test_rng_int(&r, 0, 3),
                             .pad_bottom = test_rng_int(&r, 0, 3),
                             .pad_left = test_rng_int(&r, 0, 3),
                             .pad_right = test_rng_int(&r, 0, 3)};
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *dy = test_alloc_random(&r, ny), *w = test_alloc_random(&r, nw);
        float *dx = test_alloc_poisoned(nx), *want = test_alloc_poisoned(nx);
        ck_assert_int_eq(blasconv_conv2d_backward_data(NULL, &d, dy, w, dx), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want),
                         BLASCONV_OK);
        test_assert_conv_close(dx, want, nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                               test_conv_describe(&d));
        free(dy), free(w), free(dx), free(want);
    }
}
END_TEST

/* Strided 1x1 unpadded layers, whose backward data writes each dx row whole (its
 * one sum or zero) instead of zeroing dx and adding: strides 1-3 each way (stride 1
 * across keeps the general path), odd and even sizes, one to seven threads, and
 * workspace limits that cut an image into tiles of a few output rows. Every fourth
 * layer has a few channels on a large map, which threads split by input rows (whose
 * first row need not be one the stride reaches), every eighth one image of many
 * channels, which threads split by input channels; the others are small, some
 * grouped, some NHWC (whose col2im adds as before). */
START_TEST(strided_1x1_backward_data_matches_oracle)
{
    test_rng r = test_rng_seeded(2500);
    const size_t limits[] = {0, 4096, 20000};
    for (int t = 0; t < 120; t++) {
        const int large = t % 4 == 0;
        blasconv_conv2d d = {
            .batch = large ? 1 : test_rng_int(&r, 1, 3),
            .in_channels = large ? test_rng_int(&r, 1, 6) : test_rng_int(&r, 1, 40),
            .in_height = large ? test_rng_int(&r, 60, 110) : test_rng_int(&r, 1, 23),
            .in_width = large ? test_rng_int(&r, 60, 110) : test_rng_int(&r, 1, 23),
            .out_channels = large ? test_rng_int(&r, 48, 64) : test_rng_int(&r, 1, 24),
            .kernel_height = 1,
            .kernel_width = 1,
            .stride_height = test_rng_int(&r, 1, 3),
            .stride_width = test_rng_int(&r, 1, 3)};
        if (d.stride_height == 1 && d.stride_width == 1)
            d.stride_height = 2;
        if (t % 4 == 1) { /* grouped: each group's channels are a share of their own */
            d.groups = test_rng_int(&r, 2, 3);
            d.in_channels = d.groups * test_rng_int(&r, 1, 13);
            d.out_channels = d.groups * test_rng_int(&r, 1, 8);
        }
        if (t % 4 == 3)
            d.layout = BLASCONV_NHWC;
        if (t % 8 == 2) { /* one image of many channels: threads split input channels */
            d.batch = 1;
            d.in_channels = test_rng_int(&r, 64, 160);
            d.out_channels = test_rng_int(&r, 32, 64);
            d.in_height = test_rng_int(&r, 24, 40);
            d.in_width = test_rng_int(&r, 24, 40);
        }
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *dy = test_alloc_random(&r, ny), *w = test_alloc_random(&r, nw);
        float *dx = test_alloc_poisoned(nx), *want = test_alloc_poisoned(nx);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want),
                         BLASCONV_OK);
        blasconv_context *ctx;
        ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
        blasconv_context_set_threads(ctx, test_rng_int(&r, 1, 7));
        /* (the many channels' output row alone takes more than the small limits) */
        const size_t limit = t % 8 == 2 && limits[t % 3] ? (size_t)1 << 17 : limits[t % 3];
        ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, limit), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, dy, w, dx), BLASCONV_OK);
        test_assert_conv_close(dx, want, nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                               test_conv_describe(&d));
        blasconv_context_destroy(ctx);
        free(dy), free(w), free(dx), free(want);
    }
}
END_TEST

START_TEST(backward_filter_matches_oracle)
{
    test_rng r = test_rng_seeded(3000 + (uint64_t)_i);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int t = 0; t < RANDOM_CASES; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *dy = test_alloc_random(&r, ny);
        float *dw = test_alloc_poisoned(nw), *want = test_alloc_poisoned(nw);
        float *db = test_alloc_poisoned((size_t)d.out_channels);
        float *want_db = test_alloc_poisoned((size_t)d.out_channels);
        int with_bias = t % 2;
        ck_assert_int_eq(blasconv_conv2d_backward_filter(t % 3 ? ctx : NULL, &d, x, dy, dw,
                                                         with_bias ? db : NULL),
                         BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, want_db),
                         BLASCONV_OK);
        test_assert_conv_close(dw, want, nw, &d, BLASCONV_PASS_BACKWARD_FILTER,
                               test_conv_describe(&d));
        if (with_bias)
            test_assert_conv_close(db, want_db, (size_t)d.out_channels, &d,
                                   BLASCONV_PASS_BACKWARD_BIAS, test_conv_describe(&d));
        else
            for (int k = 0; k < d.out_channels; k++)
                ck_assert_msg(db[k] != db[k], "dbias NULL yet written"); /* still NaN */
        free(x), free(dy), free(dw), free(want), free(db), free(want_db);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(every_gemm_goes_through_the_seam)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, test_naive_sgemm), BLASCONV_OK);
    test_rng r = test_rng_seeded(77);
    /* 1x1 stride-1 unpadded: one GEMM per image, straight on x. */
    const blasconv_conv2d d = {.batch = 3,
                               .in_channels = 5,
                               .in_height = 4,
                               .in_width = 6,
                               .out_channels = 7,
                               .kernel_height = 1,
                               .kernel_width = 1};
    size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, y), BLASCONV_OK);
    ck_assert_int_eq(test_naive_sgemm_calls, 3);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, NULL, want), BLASCONV_OK);
    test_assert_conv_close(y, want, ny, &d, BLASCONV_PASS_FORWARD, "1x1 through the seam");
    /* 3x3 on a small map: the batch's three images lowered side by side, one GEMM. */
    blasconv_conv2d small = d;
    small.kernel_height = small.kernel_width = 3;
    small.pad_top = small.pad_bottom = small.pad_left = small.pad_right = 1;
    float *w3 = test_alloc_random(&r, test_conv_w_elems(&small)), *bias = test_alloc_random(&r, 7);
    float *y3 = test_alloc_poisoned(ny), *want3 = test_alloc_poisoned(ny);
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &small, x, w3, bias, y3), BLASCONV_OK);
    ck_assert_int_eq(test_naive_sgemm_calls, 1);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &small, x, w3, bias, want3),
                     BLASCONV_OK);
    test_assert_conv_close(y3, want3, ny, &small, BLASCONV_PASS_FORWARD, "grouped images");
    free(w3), free(bias), free(y3), free(want3);
    /* Random descriptors through the seam agree with the oracle too. */
    for (int t = 0; t < 50; t++) {
        blasconv_conv2d rd = test_random_conv(&r);
        size_t rx = test_conv_x_elems(&rd), rw = test_conv_w_elems(&rd),
               ry = test_conv_y_elems(&rd);
        float *xx = test_alloc_random(&r, rx), *ww = test_alloc_random(&r, rw);
        float *yy = test_alloc_poisoned(ry), *ref = test_alloc_poisoned(ry);
        test_naive_sgemm_calls = 0;
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &rd, xx, ww, NULL, yy), BLASCONV_OK);
        int depthwise =
            rd.in_channels == (rd.groups ? rd.groups : 1) && rd.out_channels <= 4 * rd.in_channels;
        if (depthwise) /* the direct depthwise path runs no GEMM */
            ck_assert_int_eq(test_naive_sgemm_calls, 0);
        else /* at least one per group (small maps group the batch's images) */
            ck_assert_int_ge(test_naive_sgemm_calls, rd.groups ? rd.groups : 1);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &rd, xx, ww, NULL, ref),
                         BLASCONV_OK);
        test_assert_conv_close(yy, ref, ry, &rd, BLASCONV_PASS_FORWARD, test_conv_describe(&rd));
        free(xx), free(ww), free(yy), free(ref);
    }
    /* NULL restores the linked BLAS: the counter stays still. */
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, NULL), BLASCONV_OK);
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, y), BLASCONV_OK);
    ck_assert_int_eq(test_naive_sgemm_calls, 0);
    free(x), free(w), free(y), free(want);
    blasconv_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_random");
    TCase *tc = tcase_create("agreement");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, forward_matches_oracle, 0, 2);
    tcase_add_test(tc, medium_gemms_match_oracle);
    tcase_add_test(tc, wide_depthwise_matches_oracle);
    tcase_add_test(tc, stride2_backward_data_pairs_kernel_columns);
    tcase_add_test(tc, depthwise_3x3_every_width_matches_oracle);
    tcase_add_test(tc, depthwise_rows_wider_than_the_phase_buffer_match_oracle);
    tcase_add_test(tc, depthwise_nhwc_channel_blocks_match_oracle);
    tcase_add_loop_test(tc, depthwise_backward_matches_oracle, 0, 3);
    tcase_add_test(tc, depthwise_filter_gradient_keeps_an_infinity);
    tcase_add_test(tc, depthwise_filter_gradient_stride2_stays_in_its_input);
    tcase_add_loop_test(tc, backward_data_matches_oracle, 0, 2);
    tcase_add_test(tc, strided_1x1_backward_data_matches_oracle);
    tcase_add_loop_test(tc, backward_filter_matches_oracle, 0, 2);
    tcase_add_test(tc, every_gemm_goes_through_the_seam);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
