/* The d2l pooling examples exactly, in NCHW and NHWC, and hand-checked edge rules
 * (ties, NaN, empty dilated windows, ceil_mode, the two AVG divisors). */
#include "pooltest.h"

#include <stdlib.h>
#include <string.h>

/* Runs fast and reference forward in `layout` on NCHW data x and compares both
 * with the NCHW answer `want`, bit for bit (the answers are exact). */
static void expect_forward(blasconv_pool2d d, blasconv_layout layout, const float *x,
                           const float *want, size_t ny)
{
    d.layout = layout;
    size_t nx = pool_x_elems(&d);
    int oh, ow;
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_uint_eq((size_t)d.batch * d.channels * oh * ow, ny);
    float *xl = test_alloc_copy(x, nx), *y = test_alloc_poisoned(ny),
          *yl = test_alloc_poisoned(ny);
    if (layout == BLASCONV_NHWC)
        pool_permute(x, xl, d.batch, d.channels, d.in_height, d.in_width, 1);
    for (int reference = 0; reference < 2; reference++) {
        pool_fill(yl, ny, POOL_POISON);
        blasconv_status st = reference ? blasconv_reference_pool2d_forward(NULL, &d, xl, yl)
                                       : blasconv_pool2d_forward(NULL, &d, xl, yl);
        ck_assert_int_eq(st, BLASCONV_OK);
        if (layout == BLASCONV_NHWC)
            pool_permute(yl, y, d.batch, d.channels, oh, ow, 0);
        else
            memcpy(y, yl, ny * sizeof *y);
        for (size_t i = 0; i < ny; i++)
            ck_assert_msg(y[i] == want[i] || (isnan(y[i]) && isnan(want[i])),
                          "%s %s: y[%zu] = %g, want %g", reference ? "reference" : "fast",
                          pool_describe(&d), i, (double)y[i], (double)want[i]);
    }
    free(xl), free(y), free(yl);
}

static void expect_both_layouts(blasconv_pool2d d, const float *x, const float *want, size_t ny)
{
    expect_forward(d, BLASCONV_NCHW, x, want, ny);
    expect_forward(d, BLASCONV_NHWC, x, want, ny);
}

static const float x3x3[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

static void arange(float *x, int n, float offset)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)i + offset;
}

START_TEST(max_2x2_on_3x3)
{
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 3,
                               .in_width = 3,
                               .window_height = 2,
                               .window_width = 2,
                               .stride_height = 1,
                               .stride_width = 1};
    const float want[4] = {4, 5, 7, 8};
    expect_both_layouts(d, x3x3, want, 4);
}
END_TEST

START_TEST(avg_2x2_on_3x3)
{
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_AVG,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 3,
                               .in_width = 3,
                               .window_height = 2,
                               .window_width = 2,
                               .stride_height = 1,
                               .stride_width = 1};
    const float want[4] = {2, 3, 5, 6};
    expect_both_layouts(d, x3x3, want, 4);
}
END_TEST

START_TEST(maxpool_3_default_stride)
{
    float x[16];
    arange(x, 16, 0);
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 4,
                               .in_width = 4,
                               .window_height = 3,
                               .window_width = 3};
    const float want[1] = {10};
    expect_both_layouts(d, x, want, 1);
}
END_TEST

START_TEST(maxpool_3_pad_1_stride_2)
{
    float x[16];
    arange(x, 16, 0);
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 4,
                               .in_width = 4,
                               .window_height = 3,
                               .window_width = 3,
                               .stride_height = 2,
                               .stride_width = 2,
                               .pad_top = 1,
                               .pad_bottom = 1,
                               .pad_left = 1,
                               .pad_right = 1};
    const float want[4] = {5, 7, 13, 15};
    expect_both_layouts(d, x, want, 4);
}
END_TEST

START_TEST(maxpool_2x4_pad_1x2_stride_2x3)
{
    float x[16];
    arange(x, 16, 0);
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 4,
                               .in_width = 4,
                               .window_height = 2,
                               .window_width = 4,
                               .stride_height = 2,
                               .stride_width = 3,
                               .pad_top = 1,
                               .pad_bottom = 1,
                               .pad_left = 2,
                               .pad_right = 2};
    const float want[6] = {1, 3, 9, 11, 13, 15};
    expect_both_layouts(d, x, want, 6);
}
END_TEST

START_TEST(two_channels)
{
    float x[32];
    arange(x, 16, 0);
    arange(x + 16, 16, 1);
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 2,
                               .in_height = 4,
                               .in_width = 4,
                               .window_height = 3,
                               .window_width = 3,
                               .stride_height = 2,
                               .stride_width = 2,
                               .pad_top = 1,
                               .pad_bottom = 1,
                               .pad_left = 1,
                               .pad_right = 1};
    const float want[8] = {5, 7, 13, 15, 6, 8, 14, 16};
    expect_both_layouts(d, x, want, 8);
}
END_TEST

/* Backward of the first example: each window's gradient goes to its maximum. */
START_TEST(max_backward_routes_to_argmax)
{
    const float dy[4] = {1, 10, 100, 1000};
    const float tie_x[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}; /* all ties: first in each window */
    const float want_plain[9] = {0, 0, 0, 0, 1, 10, 0, 100, 1000};
    const float want_ties[9] = {1, 10, 0, 100, 1000, 0, 0, 0, 0};
    for (int layout = 0; layout < 2; layout++) {
        const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                                   .batch = 1,
                                   .channels = 1,
                                   .in_height = 3,
                                   .in_width = 3,
                                   .window_height = 2,
                                   .window_width = 2,
                                   .stride_height = 1,
                                   .stride_width = 1,
                                   .layout = (blasconv_layout)layout};
        float dx[9];
        pool_fill(dx, 9, POOL_POISON);
        ck_assert_int_eq(blasconv_pool2d_backward(NULL, &d, x3x3, dy, dx), BLASCONV_OK);
        for (int i = 0; i < 9; i++)
            ck_assert_float_eq(dx[i], want_plain[i]);
        ck_assert_int_eq(blasconv_pool2d_backward(NULL, &d, tie_x, dy, dx), BLASCONV_OK);
        for (int i = 0; i < 9; i++)
            ck_assert_float_eq(dx[i], want_ties[i]);
    }
}
END_TEST

/* NaN wins over anything, the last NaN of a window wins the gradient, and -0 tied
 * with +0 keeps the first one met. */
START_TEST(max_nan_and_signed_zero)
{
    const float x[4] = {NAN, 5, NAN, 1};
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 2,
                               .in_width = 2,
                               .window_height = 2,
                               .window_width = 2};
    float y = POOL_POISON, dx[4];
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, &y), BLASCONV_OK);
    ck_assert(isnan(y));
    const float dy = 3;
    ck_assert_int_eq(blasconv_pool2d_backward(NULL, &d, x, &dy, dx), BLASCONV_OK);
    ck_assert_float_eq(dx[0], 0);
    ck_assert_float_eq(dx[1], 0);
    ck_assert_float_eq(dx[2], 3);
    ck_assert_float_eq(dx[3], 0);

    const float zeros[4] = {-5, -0.0f, 0.0f, -1};
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, zeros, &y), BLASCONV_OK);
    ck_assert(y == 0 && signbit(y));
}
END_TEST

/* A dilated window that falls wholly in the padding yields -inf and no gradient. */
START_TEST(max_empty_dilated_window)
{
    /* Input 2x1, window 2x1 with dilation 3, one row of padding each side: the
     * padded column has 4 rows, the one window reads rows 0 and 3, both padding. */
    const float x[2] = {4, 7};
    const blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                               .batch = 1,
                               .channels = 1,
                               .in_height = 2,
                               .in_width = 1,
                               .window_height = 2,
                               .window_width = 1,
                               .stride_height = 1,
                               .pad_top = 1,
                               .pad_bottom = 1,
                               .dilation_height = 3};
    int oh, ow;
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(oh, 1);
    ck_assert_int_eq(ow, 1);
    float y = POOL_POISON, dx[2] = {POOL_POISON, POOL_POISON}, dy = 1;
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, &y), BLASCONV_OK);
    ck_assert(isinf(y) && y < 0);
    ck_assert_int_eq(blasconv_pool2d_backward(NULL, &d, x, &dy, dx), BLASCONV_OK);
    ck_assert_float_eq(dx[0], 0);
    ck_assert_float_eq(dx[1], 0);
}
END_TEST

/* ceil_mode sizes (PyTorch: the last window must start inside input or left pad)
 * and the AVG divisors on a window that runs past the padded edge. */
START_TEST(ceil_mode_and_divisors)
{
    blasconv_pool2d d = {.mode = BLASCONV_POOL_AVG,
                         .batch = 1,
                         .channels = 1,
                         .in_height = 1,
                         .in_width = 5,
                         .window_height = 1,
                         .window_width = 2,
                         .stride_width = 2,
                         .ceil_mode = 1};
    int oh, ow;
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(ow, 3); /* floor would give 2 */
    const float x[5] = {1, 2, 3, 4, 6};
    float y[3];
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, y), BLASCONV_OK);
    /* The last window holds only x[4]; it runs past in + pad_right, so even with
     * padding counted its divisor is clipped to 1. */
    ck_assert_float_eq(y[0], 1.5f);
    ck_assert_float_eq(y[1], 3.5f);
    ck_assert_float_eq(y[2], 6);

    /* 3-wide, stride 2, pad 1: windows [-1,2), [1,4), [3,6). */
    d.window_width = 3;
    d.pad_left = d.pad_right = 1;
    d.ceil_mode = 0;
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(ow, 3);
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, y), BLASCONV_OK);
    ck_assert_float_eq(y[0], 1.0f);
    ck_assert_float_eq(y[1], 3.0f);
    ck_assert_float_eq(y[2], 10.0f / 3.0f); /* x[3]+x[4] over 3: padding counted */
    d.exclude_pad = 1;
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, y), BLASCONV_OK);
    ck_assert_float_eq(y[0], 1.5f);
    ck_assert_float_eq(y[1], 3.0f);
    ck_assert_float_eq(y[2], 5);

    /* ceil_mode drops a window that would start in the trailing padding:
     * in 5, window 2, stride 2, pad 1: ceil gives 4 windows, the 4th would start at
     * padded 6 >= in + pad_left, so 3 remain. */
    blasconv_pool2d m = {.mode = BLASCONV_POOL_MAX,
                         .batch = 1,
                         .channels = 1,
                         .in_height = 1,
                         .in_width = 5,
                         .window_height = 1,
                         .window_width = 2,
                         .pad_left = 1,
                         .pad_right = 1,
                         .ceil_mode = 1};
    ck_assert_int_eq(blasconv_pool2d_output_size(&m, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(ow, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool_chapter");
    TCase *tc = tcase_create("chapter");
    tcase_add_test(tc, max_2x2_on_3x3);
    tcase_add_test(tc, avg_2x2_on_3x3);
    tcase_add_test(tc, maxpool_3_default_stride);
    tcase_add_test(tc, maxpool_3_pad_1_stride_2);
    tcase_add_test(tc, maxpool_2x4_pad_1x2_stride_2x3);
    tcase_add_test(tc, two_channels);
    tcase_add_test(tc, max_backward_routes_to_argmax);
    tcase_add_test(tc, max_nan_and_signed_zero);
    tcase_add_test(tc, max_empty_dilated_window);
    tcase_add_test(tc, ceil_mode_and_divisors);
    suite_add_tcase(s, tc);
    return test_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
