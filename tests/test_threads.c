/* Contexts with several threads: NCHW forward and backward data spread a batch over
 * parallel slots, each with its own tile and a one-thread BLAS. Split into whole
 * images and unlimited, the results must be bitwise those of one thread (each image
 * runs the same GEMMs); under a workspace limit, or when a forward pass on one image
 * is split by output rows or channels, or backward data by input rows, they must
 * agree with it; they match the oracle; and a user's sgemm is never called from
 * another thread. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "testutil.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Big enough (about 6e7 flops) for the library to spread its images. */
static const blasconv_conv2d batch_layer = TEST_CONV_3X3_SAME(4, 16, 40, 40, 32);

typedef struct passes {
    float *y, *dx;
} passes;

/* A context with these threads and this workspace limit (0: none). */
static blasconv_context *context_with(int threads, size_t workspace_limit)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(ctx, threads), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, workspace_limit), BLASCONV_OK);
    return ctx;
}

static passes run(int threads, size_t workspace_limit, const float *x, const float *w,
                  const float *bias, const float *dy)
{
    const blasconv_conv2d *d = &batch_layer;
    blasconv_context *ctx = context_with(threads, workspace_limit);
    passes out = {test_alloc_poisoned(test_conv_y_elems(d)),
                  test_alloc_poisoned(test_conv_x_elems(d))};
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, d, x, w, bias, out.y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, d, dy, w, out.dx), BLASCONV_OK);
    blasconv_context_destroy(ctx);
    return out;
}

START_TEST(two_threads_match_one_bitwise_and_the_oracle)
{
    const blasconv_conv2d *d = &batch_layer;
    size_t nx = test_conv_x_elems(d), ny = test_conv_y_elems(d), nw = test_conv_w_elems(d);
    test_rng r = test_rng_seeded(91);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *bias = test_alloc_random(&r, (size_t)d->out_channels), *dy = test_alloc_random(&r, ny);
    /* one row of lowering is 16*9*40 floats: limits of 2.5 rows give each of two
     * slots one row; 1.5 rows leave room for one slot only (serial) */
    const size_t row = (size_t)16 * 9 * 40 * sizeof(float);
    const size_t limits[] = {0, row * 5 / 2, row * 3 / 2};
    passes one = run(1, 0, x, w, bias, dy);
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        passes two = run(2, limits[i], x, w, bias, dy);
        if (limits[i] == 0) { /* the same tiles as one thread: bitwise */
            ck_assert_msg(memcmp(one.y, two.y, ny * sizeof(float)) == 0, "forward");
            ck_assert_msg(memcmp(one.dx, two.dx, nx * sizeof(float)) == 0, "backward data");
        } else { /* narrower tiles: the BLAS may pick other edge kernels */
            test_assert_conv_agree(one.y, two.y, ny, d, BLASCONV_PASS_FORWARD, "forward");
            test_assert_conv_agree(one.dx, two.dx, nx, d, BLASCONV_PASS_BACKWARD_DATA,
                                   "backward data");
        }
        free(two.y), free(two.dx);
    }
    float *want_y = test_alloc_poisoned(ny), *want_dx = test_alloc_poisoned(nx);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, d, x, w, bias, want_y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, d, dy, w, want_dx),
                     BLASCONV_OK);
    test_assert_conv_close(one.y, want_y, ny, d, BLASCONV_PASS_FORWARD, "forward");
    test_assert_conv_close(one.dx, want_dx, nx, d, BLASCONV_PASS_BACKWARD_DATA, "backward data");
    free(one.y), free(one.dx), free(want_y), free(want_dx);
    free(x), free(w), free(bias), free(dy);
}
END_TEST

/* Single images big enough to be split (plan.c's rules, 2 threads): by output rows
 * (3x3, and direct 1x1; the last one a small layer of 4e6 flops), and by output
 * channels when the map is too small for rows (also with groups, where each slot
 * takes a share of every group's channels). */
static const blasconv_conv2d single_images[] = {
    TEST_CONV_3X3_SAME(1, 24, 20, 20, 24),
    TEST_CONV_3X3_SAME(1, 32, 64, 61, 32),
    {.batch = 1,
     .in_channels = 128,
     .in_height = 40,
     .in_width = 40,
     .out_channels = 128,
     .kernel_height = 1,
     .kernel_width = 1},
    TEST_CONV_3X3_SAME(1, 512, 7, 7, 130),
    {.batch = 1,
     .in_channels = 512,
     .in_height = 7,
     .in_width = 7,
     .out_channels = 256,
     .kernel_height = 3,
     .kernel_width = 3,
     .pad_top = 1,
     .pad_bottom = 1,
     .pad_left = 1,
     .pad_right = 1,
     .groups = 2},
};

static float *forward_with(int threads, size_t workspace_limit, const blasconv_conv2d *d,
                           const float *x, const float *w, const float *bias)
{
    blasconv_context *ctx = context_with(threads, workspace_limit);
    float *y = test_alloc_poisoned(test_conv_y_elems(d));
    for (int call = 0; call < 2; call++) /* the second call runs on the kept workers */
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, d, x, w, bias, y), BLASCONV_OK);
    blasconv_context_destroy(ctx);
    return y;
}

/* More slots than threads may take units from each other (BC_SHARES_MAX): 70 threads
 * split a 96-row map into 70 slots of rows, each running its own rows only (_i: NCHW,
 * NHWC). */
START_TEST(more_slots_than_shared_agree)
{
    blasconv_conv2d d = TEST_CONV_3X3_SAME(1, 8, 96, 96, 8);
    d.layout = _i ? BLASCONV_NHWC : BLASCONV_NCHW;
    size_t nx = test_conv_x_elems(&d), ny = test_conv_y_elems(&d), nw = test_conv_w_elems(&d);
    test_rng r = test_rng_seeded(71 + (uint64_t)_i);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *bias = test_alloc_random(&r, (size_t)d.out_channels);
    float *want = test_alloc_poisoned(ny);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, bias, want), BLASCONV_OK);
    float *many = forward_with(70, 0, &d, x, w, bias);
    test_assert_conv_close(many, want, ny, &d, BLASCONV_PASS_FORWARD, "70 threads");
    free(many), free(want), free(x), free(w), free(bias);
}
END_TEST

/* _i past the table: the same layers in NHWC, whose forward slots split rows. */
START_TEST(one_image_split_by_rows_or_channels_agrees)
{
    const int count = (int)(sizeof single_images / sizeof single_images[0]);
    blasconv_conv2d layer = single_images[_i % count];
    layer.layout = _i < count ? BLASCONV_NCHW : BLASCONV_NHWC;
    const blasconv_conv2d *d = &layer;
    size_t nx = test_conv_x_elems(d), ny = test_conv_y_elems(d), nw = test_conv_w_elems(d);
    test_rng r = test_rng_seeded(93 + (uint64_t)_i);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *bias = test_alloc_random(&r, (size_t)d->out_channels);
    float *want = test_alloc_poisoned(ny);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, d, x, w, bias, want), BLASCONV_OK);
    float *one = forward_with(1, 0, d, x, w, bias);
    test_assert_conv_close(one, want, ny, d, BLASCONV_PASS_FORWARD, "one thread");
    const size_t limits[] = {0, (size_t)1 << 18};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            float *two = forward_with(2, limits[l], d, x, w, with_bias ? bias : NULL);
            if (with_bias) {
                test_assert_conv_agree(one, two, ny, d, BLASCONV_PASS_FORWARD, "two threads");
                test_assert_conv_close(two, want, ny, d, BLASCONV_PASS_FORWARD, "oracle");
            } else {
                const size_t k = (size_t)d->out_channels, positions = ny / k;
                for (size_t i = 0; i < ny; i++) /* add the bias back to compare */
                    two[i] += bias[d->layout == BLASCONV_NHWC ? i % k : i / positions];
                test_assert_conv_close(two, want, ny, d, BLASCONV_PASS_FORWARD, "no bias");
            }
            free(two);
        }
    free(one), free(want), free(x), free(w), free(bias);
}
END_TEST

static float *backward_data_with(int threads, size_t workspace_limit, const blasconv_conv2d *d,
                                 const float *dy, const float *w)
{
    blasconv_context *ctx = context_with(threads, workspace_limit);
    float *dx = test_alloc_poisoned(test_conv_x_elems(d));
    ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, d, dy, w, dx), BLASCONV_OK);
    blasconv_context_destroy(ctx);
    return dx;
}

/* Backward data of d on `threads` threads, unlimited and under `limit`, against one
 * thread (within the tolerance: the split differs from one thread's tiles) and the
 * oracle, on random dy and w drawn from `seed`. */
static void assert_backward_data_split_agrees(const blasconv_conv2d *d, int threads, size_t limit,
                                              uint64_t seed)
{
    size_t nx = test_conv_x_elems(d), ny = test_conv_y_elems(d), nw = test_conv_w_elems(d);
    test_rng r = test_rng_seeded(seed);
    float *dy = test_alloc_random(&r, ny), *w = test_alloc_random(&r, nw);
    float *want = test_alloc_poisoned(nx);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, d, dy, w, want), BLASCONV_OK);
    float *one = backward_data_with(1, 0, d, dy, w);
    test_assert_conv_close(one, want, nx, d, BLASCONV_PASS_BACKWARD_DATA, "one thread");
    const size_t limits[] = {0, limit};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        float *many = backward_data_with(threads, limits[l], d, dy, w);
        test_assert_conv_agree(one, many, nx, d, BLASCONV_PASS_BACKWARD_DATA, "threads");
        test_assert_conv_close(many, want, nx, d, BLASCONV_PASS_BACKWARD_DATA, "oracle");
        free(many);
    }
    free(one), free(want), free(dy), free(w);
}

/* Backward data on one image splits its input channels over the slots (each slot's
 * col2im writes only its own planes of dx); _i past the table: NHWC, which splits a
 * batch into whole images (the batch layer) and a 1x1 layer into rows. */
START_TEST(backward_data_split_agrees)
{
    const int count = (int)(sizeof single_images / sizeof single_images[0]);
    blasconv_conv2d layer = _i < count    ? single_images[_i]
                            : _i == count ? batch_layer
                                          : single_images[2];
    layer.layout = _i < count ? BLASCONV_NCHW : BLASCONV_NHWC;
    assert_backward_data_split_agrees(&layer, 2, (size_t)1 << 18, 101 + (uint64_t)_i);
}
END_TEST

/* Backward data on fewer images than threads and few input channels (which would
 * split unevenly) splits input rows: each slot runs the dy rows that reach its dx
 * rows and adds only into those. Layers: r50_conv1's shape in small (stride 2, the
 * im2col path), a 3-channel 3x3 (kernel columns), one channel with dilation and
 * uneven pads (col2im by spans), a 2-channel 1x1 (no col2im), and a batch of two on
 * three threads, whose slots' rows cross images. */
static const blasconv_conv2d few_channel_layers[] = {
    {.batch = 1,
     .in_channels = 3,
     .in_height = 64,
     .in_width = 64,
     .out_channels = 32,
     .kernel_height = 7,
     .kernel_width = 7,
     .stride_height = 2,
     .stride_width = 2,
     .pad_top = 3,
     .pad_bottom = 3,
     .pad_left = 3,
     .pad_right = 3},
    TEST_CONV_3X3_SAME(1, 3, 64, 48, 64),
    {.batch = 1,
     .in_channels = 1,
     .in_height = 60,
     .in_width = 50,
     .out_channels = 48,
     .kernel_height = 5,
     .kernel_width = 5,
     .pad_top = 1,
     .pad_bottom = 5,
     .pad_left = 3,
     .pad_right = 5,
     .dilation_height = 2,
     .dilation_width = 2},
    {.batch = 1,
     .in_channels = 2,
     .in_height = 64,
     .in_width = 64,
     .out_channels = 256,
     .kernel_height = 1,
     .kernel_width = 1},
    {.batch = 2,
     .in_channels = 5,
     .in_height = 30,
     .in_width = 34,
     .out_channels = 40,
     .kernel_height = 5,
     .kernel_width = 5,
     .stride_height = 2,
     .stride_width = 2,
     .pad_top = 2,
     .pad_bottom = 2,
     .pad_left = 2,
     .pad_right = 2},
};

START_TEST(backward_data_few_channels_split_by_input_rows_agrees)
{
    const blasconv_conv2d *d = &few_channel_layers[_i];
    assert_backward_data_split_agrees(d, d->batch > 1 ? 3 : 2, (size_t)1 << 16,
                                      211 + (uint64_t)_i);
}
END_TEST

/* NHWC backward data on fewer images than threads splits input rows too (the row
 * shift and im2col paths, each slot's col2im adding only into its rows): the single
 * images and the few-channel layers, on 2 and 3 threads, unlimited and under a
 * 256 KiB limit. */
START_TEST(nhwc_backward_data_split_by_input_rows_agrees)
{
    const int singles = (int)(sizeof single_images / sizeof single_images[0]);
    blasconv_conv2d layer =
        _i < 2 * singles ? single_images[_i % singles] : few_channel_layers[_i - 2 * singles];
    layer.layout = BLASCONV_NHWC;
    assert_backward_data_split_agrees(&layer, 2 + (_i < singles ? 0 : 1), (size_t)1 << 18,
                                      307 + (uint64_t)_i);
}
END_TEST

static float *backward_filter_with(int threads, const blasconv_conv2d *d, const float *x,
                                   const float *dy)
{
    blasconv_context *ctx = context_with(threads, 0);
    float *dw = test_alloc_poisoned(test_conv_w_elems(d));
    ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, d, x, dy, dw, NULL), BLASCONV_OK);
    blasconv_context_destroy(ctx);
    return dw;
}

/* Backward filter of d on `threads` threads against one thread (within the
 * tolerance) and the oracle, on random x and dy drawn from `seed`. */
static void assert_backward_filter_split_agrees(const blasconv_conv2d *d, int threads,
                                                uint64_t seed)
{
    size_t nx = test_conv_x_elems(d), ny = test_conv_y_elems(d), nw = test_conv_w_elems(d);
    test_rng r = test_rng_seeded(seed);
    float *x = test_alloc_random(&r, nx), *dy = test_alloc_random(&r, ny);
    float *want = test_alloc_poisoned(nw);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, d, x, dy, want, NULL),
                     BLASCONV_OK);
    float *one = backward_filter_with(1, d, x, dy),
          *many = backward_filter_with(threads, d, x, dy);
    test_assert_conv_agree(one, many, nw, d, BLASCONV_PASS_BACKWARD_FILTER, "threads");
    test_assert_conv_close(many, want, nw, d, BLASCONV_PASS_BACKWARD_FILTER, "oracle");
    free(one), free(many), free(want), free(x), free(dy);
}

/* Backward filter splits the input channels' kernel rows over the slots, any batch
 * (each slot owns its columns of dw and sums the batch in the one-thread order). */
START_TEST(backward_filter_split_by_kernel_rows_agrees)
{
    const blasconv_conv2d *d = _i == 0 ? &batch_layer : &single_images[_i - 1];
    assert_backward_filter_split_agrees(d, 2, 107 + (uint64_t)_i);
}
END_TEST

/* On few channels the slots' kernel rows start and end inside a channel: r50_conv1's
 * shape in small (21 kernel rows) and the 5-channel 5x5 layer (25), over 2 and 3
 * slots. (The table's other layers have too few kernel rows to split, and run one
 * slot on the BLAS's own threads, whose synchronisation ThreadSanitizer cannot see.) */
START_TEST(backward_filter_few_channels_split_by_kernel_rows_agrees)
{
    const blasconv_conv2d *d = &few_channel_layers[_i % 2 == 0 ? 0 : 4];
    assert_backward_filter_split_agrees(d, 2 + _i / 2, 223 + (uint64_t)_i);
}
END_TEST

/* Depthwise layers run their planes (NCHW) or output rows (NHWC) on the context's
 * threads, backward data its dx planes or rows, backward filter its channels (NHWC:
 * blocks of 16); every output is computed the same way on any thread: bitwise
 * equal. (Stride 1 takes backward data's rotated-kernel forward, stride 2 its own
 * loops.) */
START_TEST(depthwise_on_two_threads_is_bitwise_one_thread)
{
    blasconv_conv2d d = {.batch = 2,
                         .in_channels = 24,
                         .in_height = 57,
                         .in_width = 45,
                         .out_channels = 24,
                         .kernel_height = 3,
                         .kernel_width = 3,
                         .stride_height = 1 + _i / 2,
                         .stride_width = 1 + _i / 2,
                         .pad_top = 1,
                         .pad_bottom = 1,
                         .pad_left = 1,
                         .pad_right = 1,
                         .groups = 24,
                         .layout = _i % 2 ? BLASCONV_NHWC : BLASCONV_NCHW};
    size_t nx = test_conv_x_elems(&d), ny = test_conv_y_elems(&d), nw = test_conv_w_elems(&d);
    test_rng r = test_rng_seeded(97 + (uint64_t)_i);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *bias = test_alloc_random(&r, (size_t)d.out_channels);
    float *one = forward_with(1, 0, &d, x, w, bias), *two = forward_with(2, 0, &d, x, w, bias);
    ck_assert_msg(memcmp(one, two, ny * sizeof(float)) == 0, "depthwise, layout %d",
                  (int)d.layout);
    float *dy = test_alloc_random(&r, ny);
    float *dx_one = backward_data_with(1, 0, &d, dy, w),
          *dx_two = backward_data_with(2, 0, &d, dy, w);
    ck_assert_msg(memcmp(dx_one, dx_two, nx * sizeof(float)) == 0,
                  "depthwise backward data, layout %d", (int)d.layout);
    float *dw_one = backward_filter_with(1, &d, x, dy),
          *dw_two = backward_filter_with(2, &d, x, dy);
    ck_assert_msg(memcmp(dw_one, dw_two, nw * sizeof(float)) == 0,
                  "depthwise backward filter, layout %d", (int)d.layout);
    free(one), free(two), free(x), free(w), free(bias), free(dy);
    free(dx_one), free(dx_two), free(dw_one), free(dw_two);
}
END_TEST

/* NCHW's bias gradient sums blocks of 16 channels on the context's threads (40
 * channels: blocks of 16, 16 and 8), each channel's sum on one thread in one order:
 * bitwise one thread's, and the oracle's within the tolerance. */
START_TEST(bias_gradient_on_threads_is_bitwise_one_thread)
{
    const blasconv_conv2d d = TEST_CONV_3X3_SAME(2, 8, 48, 48, 40);
    size_t nx = test_conv_x_elems(&d), ny = test_conv_y_elems(&d), nw = test_conv_w_elems(&d);
    test_rng r = test_rng_seeded(98);
    float *x = test_alloc_random(&r, nx), *dy = test_alloc_random(&r, ny);
    float *dw = test_alloc_poisoned(nw), *want_dw = test_alloc_poisoned(nw);
    float db[3][40];
    for (int i = 0; i < 3; i++) {
        blasconv_context *ctx = context_with(i == 0 ? 1 : 1 + i, 0);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, x, dy, dw, db[i]), BLASCONV_OK);
        blasconv_context_destroy(ctx);
    }
    ck_assert_msg(memcmp(db[0], db[1], sizeof db[0]) == 0, "two threads");
    ck_assert_msg(memcmp(db[0], db[2], sizeof db[0]) == 0, "three threads");
    float want_db[40];
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want_dw, want_db),
                     BLASCONV_OK);
    test_assert_conv_close(db[0], want_db, 40, &d, BLASCONV_PASS_BACKWARD_BIAS, "dbias");
    free(x), free(dy), free(dw), free(want_dw);
}
END_TEST

/* NHWC backward filter splits dw's columns (blocks of 16 of KH*KW*C/g, or of C/g for
 * a direct 1x1 layer) over the slots, each summing its columns over the tiles one
 * thread uses: 2 and 3 threads agree with one thread and the oracle. (Not bit for
 * bit: OpenBLAS 0.3.21 runs a GEMM under about 1e6 multiply-adds through other
 * kernels, and a slot's GEMM is narrower than one thread's.) The layers: the batch
 * layer, the single images (a 1x1 layer, a grouped one) and two of few channels (147
 * and 125 columns: blocks cut through taps). */
START_TEST(nhwc_backward_filter_split_by_columns_agrees)
{
    blasconv_conv2d d = _i == 0   ? batch_layer
                        : _i <= 5 ? single_images[_i - 1]
                                  : few_channel_layers[_i == 6 ? 0 : 4];
    d.layout = BLASCONV_NHWC;
    size_t nx = test_conv_x_elems(&d), ny = test_conv_y_elems(&d), nw = test_conv_w_elems(&d);
    test_rng r = test_rng_seeded(401 + (uint64_t)_i);
    float *x = test_alloc_random(&r, nx), *dy = test_alloc_random(&r, ny);
    float *want = test_alloc_poisoned(nw);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, NULL),
                     BLASCONV_OK);
    float *one = backward_filter_with(1, &d, x, dy);
    test_assert_conv_close(one, want, nw, &d, BLASCONV_PASS_BACKWARD_FILTER, "oracle");
    for (int threads = 2; threads <= 3; threads++) {
        float *many = backward_filter_with(threads, &d, x, dy);
        test_assert_conv_agree(one, many, nw, &d, BLASCONV_PASS_BACKWARD_FILTER, "threads");
        test_assert_conv_close(many, want, nw, &d, BLASCONV_PASS_BACKWARD_FILTER, "oracle");
        free(many);
    }
    free(one), free(want), free(x), free(dy);
}
END_TEST

/* A depthwise call runs no GEMM, so it leaves OpenBLAS's thread count as it found
 * it: raising it woke OpenBLAS's workers, which spun beside the call's own threads
 * (dw_3x3_112's NHWC filter gradient on two threads took 2.5 ms instead of 0.2 in
 * blasconv-bench). blasconv_sgemm, which hands its GEMM to the BLAS's threads,
 * raises it: the check can fail. Other BLAS vendors: nothing to check. */
START_TEST(depthwise_leaves_the_blas_thread_count_alone)
{
    int (*get_threads)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (!get_threads || !set_threads)
        return;
    blasconv_conv2d d = TEST_CONV_3X3_SAME(1, 32, 64, 64, 32);
    d.layout = BLASCONV_NHWC;
    size_t nx = test_conv_x_elems(&d), ny = test_conv_y_elems(&d), nw = test_conv_w_elems(&d);
    test_rng r = test_rng_seeded(99);
    float *x = test_alloc_random(&r, nx), *dy = test_alloc_random(&r, ny);
    float *w = test_alloc_random(&r, nw), *dw = test_alloc_poisoned(nw);
    float *dx = test_alloc_poisoned(nx), *y = test_alloc_poisoned(ny);
    blasconv_context *ctx = context_with(2, 0);
    d.groups = 32; /* depthwise: w holds more than this layer's 32 * 9 floats */
    set_threads(1);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, dy, w, dx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, x, dy, dw, NULL), BLASCONV_OK);
    ck_assert_int_eq(get_threads(), 1);
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4];
    ck_assert_int_eq(blasconv_sgemm(ctx, 0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2),
                     BLASCONV_OK);
    ck_assert_int_eq(get_threads(), 2);
    blasconv_context_destroy(ctx);
    free(x), free(dy), free(w), free(dw), free(dx), free(y);
}
END_TEST

/* This program's sysconf stands in for libc's (the library calls it through the
 * PLT) and counts the queries of the cores online. Not under ThreadSanitizer, whose
 * runtime calls sysconf while it starts, before instrumented code may run. */
#if defined(__SANITIZE_THREAD__)
#define COUNTS_CORE_QUERIES 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COUNTS_CORE_QUERIES 0
#endif
#endif
#ifndef COUNTS_CORE_QUERIES
#define COUNTS_CORE_QUERIES 1
#endif
static int core_count_queries;
#if COUNTS_CORE_QUERIES
long sysconf(int name)
{
    long (*real)(int) = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    if (name == _SC_NPROCESSORS_ONLN)
        __atomic_add_fetch(&core_count_queries, 1, __ATOMIC_RELAXED);
    return real(name);
}
#endif

/* The default thread count (0, and a NULL context) means the cores online: read once
 * per process, not per call. glibc's sysconf reads a file under /sys each time, which
 * took 6.6 us of every call of the chapter's 6x8 edge layer (0.15 us otherwise). */
START_TEST(default_threads_read_the_core_count_once)
{
    const blasconv_conv2d edge = TEST_CONV_CHAPTER_EDGE;
    const blasconv_pool2d pool = {.mode = BLASCONV_POOL_MAX,
                                  .batch = 1,
                                  .channels = 2,
                                  .in_height = 4,
                                  .in_width = 4,
                                  .window_height = 3,
                                  .window_width = 3};
    float x[48] = {0}, w[2] = {1, -1}, y[42];
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &edge, x, w, NULL, y), BLASCONV_OK);
    const int before = core_count_queries;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &edge, x, w, NULL, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, &edge, x, w, NULL, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_pool2d_forward(ctx, &pool, x, y), BLASCONV_OK);
    }
    if (COUNTS_CORE_QUERIES) {
        ck_assert_int_ge(before, 1); /* the count was asked for, through this sysconf */
        ck_assert_int_eq(core_count_queries, before);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

static pthread_t caller;
static int foreign_calls;
static void same_thread_sgemm(int layout, int ta, int tb, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta,
                              float *c, int ldc)
{
    if (!pthread_equal(pthread_self(), caller))
        __atomic_add_fetch(&foreign_calls, 1, __ATOMIC_RELAXED);
    test_naive_sgemm(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* A user sgemm runs on the calling thread only (0), unless set_sgemm_concurrent
 * promises it may run on several (1: the slots then call it from the workers, and
 * every pass still agrees with the oracle); setting the function again withdraws
 * the promise (2). */
START_TEST(a_user_sgemm_stays_on_the_calling_thread)
{
    const blasconv_conv2d *d = &batch_layer;
    const size_t nx = test_conv_x_elems(d), nw = test_conv_w_elems(d), ny = test_conv_y_elems(d);
    test_rng r = test_rng_seeded(92);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *dy = test_alloc_random(&r, ny), *y = test_alloc_poisoned(ny);
    float *dx = test_alloc_poisoned(nx), *dw = test_alloc_poisoned(nw);
    float *want_y = test_alloc_poisoned(ny), *want_dx = test_alloc_poisoned(nx);
    float *want_dw = test_alloc_poisoned(nw);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, d, x, w, NULL, want_y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, d, dy, w, want_dx),
                     BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, d, x, dy, want_dw, NULL),
                     BLASCONV_OK);
    blasconv_context *ctx = context_with(2, 0);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, same_thread_sgemm), BLASCONV_OK);
    if (_i >= 1)
        ck_assert_int_eq(blasconv_context_set_sgemm_concurrent(ctx, 1), BLASCONV_OK);
    if (_i == 2)
        ck_assert_int_eq(blasconv_context_set_sgemm(ctx, same_thread_sgemm), BLASCONV_OK);
    caller = pthread_self();
    foreign_calls = 0;
    test_naive_sgemm_calls = 0;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, d, x, w, NULL, y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, d, dy, w, dx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, d, x, dy, dw, NULL), BLASCONV_OK);
    ck_assert_int_gt(test_naive_sgemm_calls, 0);
    if (_i == 1)
        ck_assert_int_gt(foreign_calls, 0);
    else
        ck_assert_int_eq(foreign_calls, 0);
    test_assert_conv_close(y, want_y, ny, d, BLASCONV_PASS_FORWARD, "forward");
    test_assert_conv_close(dx, want_dx, nx, d, BLASCONV_PASS_BACKWARD_DATA, "backward data");
    test_assert_conv_close(dw, want_dw, nw, d, BLASCONV_PASS_BACKWARD_FILTER, "backward filter");
    ck_assert_int_eq(blasconv_context_set_sgemm_concurrent(NULL, 1), BLASCONV_ERR_NULL_POINTER);
    blasconv_context_destroy(ctx);
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
    free(want_y), free(want_dx), free(want_dw);
}
END_TEST

/* Caps that leave two slots room for their own tiles keep them, so the GEMMs run on
 * the workers too (through a concurrent user sgemm): forward and backward data where
 * the cap (100 KB) cannot hold the filter copy of the lowering by kernel columns
 * (64 -> 64 3x3: 147 KB) but holds an im2col row per slot (36.8 KB); backward filter
 * where it (60 KB) holds no such row per slot but each slot's share of the kernel
 * rows (18.4 KB a row). The plan had dropped to one slot in both, and each tile's
 * GEMM to the BLAS's threads. */
START_TEST(caps_keep_the_slots_their_tiles_fit)
{
    const blasconv_conv2d d = TEST_CONV_3X3_SAME(2, 64, 16, 16, 64);
    const size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d),
                 ny = test_conv_y_elems(&d);
    test_rng r = test_rng_seeded(93);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *dy = test_alloc_random(&r, ny), *y = test_alloc_poisoned(ny);
    float *dx = test_alloc_poisoned(nx), *dw = test_alloc_poisoned(nw);
    caller = pthread_self();
    for (int pass = 0; pass < 3; pass++) {
        blasconv_context *ctx = context_with(2, pass < 2 ? 100000 : 60000);
        ck_assert_int_eq(blasconv_context_set_sgemm(ctx, same_thread_sgemm), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_sgemm_concurrent(ctx, 1), BLASCONV_OK);
        foreign_calls = 0;
        if (pass == 0)
            ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, y), BLASCONV_OK);
        else if (pass == 1)
            ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, dy, w, dx), BLASCONV_OK);
        else
            ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, x, dy, dw, NULL),
                             BLASCONV_OK);
        ck_assert_msg(foreign_calls > 0, "pass %d", pass);
        blasconv_context_destroy(ctx);
    }
    float *want = test_alloc_poisoned(nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny));
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, NULL, want), BLASCONV_OK);
    test_assert_conv_close(y, want, ny, &d, BLASCONV_PASS_FORWARD, "forward");
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want), BLASCONV_OK);
    test_assert_conv_close(dx, want, nx, &d, BLASCONV_PASS_BACKWARD_DATA, "backward data");
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, NULL),
                     BLASCONV_OK);
    test_assert_conv_close(dw, want, nw, &d, BLASCONV_PASS_BACKWARD_FILTER, "backward filter");
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("parallel slots");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, two_threads_match_one_bitwise_and_the_oracle);
    tcase_add_loop_test(tc, a_user_sgemm_stays_on_the_calling_thread, 0, 3);
    tcase_add_test(tc, default_threads_read_the_core_count_once);
    tcase_add_loop_test(tc, depthwise_on_two_threads_is_bitwise_one_thread, 0, 4);
    tcase_add_test(tc, bias_gradient_on_threads_is_bitwise_one_thread);
    tcase_add_test(tc, depthwise_leaves_the_blas_thread_count_alone);
    tcase_add_loop_test(tc, nhwc_backward_filter_split_by_columns_agrees, 0, 8);
    tcase_add_loop_test(tc, backward_filter_split_by_kernel_rows_agrees, 0,
                        1 + (int)(sizeof single_images / sizeof single_images[0]));
    tcase_add_loop_test(tc, backward_filter_few_channels_split_by_kernel_rows_agrees, 0, 4);
    tcase_add_loop_test(tc, backward_data_split_agrees, 0,
                        2 + (int)(sizeof single_images / sizeof single_images[0]));
    tcase_add_loop_test(tc, nhwc_backward_data_split_by_input_rows_agrees, 0,
                        2 * (int)(sizeof single_images / sizeof single_images[0]) +
                            (int)(sizeof few_channel_layers / sizeof few_channel_layers[0]));
    tcase_add_loop_test(tc, backward_data_few_channels_split_by_input_rows_agrees, 0,
                        (int)(sizeof few_channel_layers / sizeof few_channel_layers[0]));
    tcase_add_loop_test(tc, more_slots_than_shared_agree, 0, 2);
    tcase_add_test(tc, caps_keep_the_slots_their_tiles_fit);
    tcase_add_loop_test(tc, one_image_split_by_rows_or_channels_agrees, 0,
                        2 * (int)(sizeof single_images / sizeof single_images[0]));
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
