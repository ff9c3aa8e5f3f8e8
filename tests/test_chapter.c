/* The d2l "convolutional layer" chapter's examples, exactly as printed there. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

static void assert_equal_floats(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "element %zu: got %g want %g", i, got[i], want[i]);
}

START_TEST(corr2d_three_by_three)
{
    const float x[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    const float k[4] = {0, 1, 2, 3};
    const float want[4] = {19, 25, 37, 43};
    float y[4] = {NAN, NAN, NAN, NAN};
    ck_assert_int_eq(blasconv_corr2d(NULL, x, 3, 3, k, 2, 2, y), BLASCONV_OK);
    assert_equal_floats(y, want, 4);
}
END_TEST

START_TEST(edge_detection)
{
    float x[6 * 8], y[6 * 7], want[6 * 7];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++)
            x[i * 8 + j] = (j >= 2 && j < 6) ? 0.0f : 1.0f;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 7; j++)
            want[i * 7 + j] = j == 1 ? 1.0f : j == 5 ? -1.0f : 0.0f;
    const float k[2] = {1, -1};
    test_poison(y, 42);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_corr2d(ctx, x, 6, 8, k, 1, 2, y), BLASCONV_OK);
    ck_assert_str_eq(blasconv_context_last_error(ctx), "");
    blasconv_context_destroy(ctx);
    assert_equal_floats(y, want, 42);
}
END_TEST

static const float chapter_x[2 * 9] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const float chapter_k[2 * 4] = {0, 1, 2, 3, 1, 2, 3, 4};

START_TEST(multi_input_channels)
{
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = 2,
                               .in_height = 3,
                               .in_width = 3,
                               .out_channels = 1,
                               .kernel_height = 2,
                               .kernel_width = 2};
    const float want[4] = {56, 72, 104, 120};
    float y[4];
    test_poison(y, 4);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, chapter_x, chapter_k, NULL, y),
                     BLASCONV_OK);
    assert_equal_floats(y, want, 4);
}
END_TEST

START_TEST(multi_input_output_channels)
{
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = 2,
                               .in_height = 3,
                               .in_width = 3,
                               .out_channels = 3,
                               .kernel_height = 2,
                               .kernel_width = 2};
    float k[3 * 8]; /* torch.stack([K, K+1, K+2]) */
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 8; i++)
            k[o * 8 + i] = chapter_k[i] + (float)o;
    const float want[12] = {56, 72, 104, 120, 76, 100, 148, 172, 96, 128, 192, 224};
    float y[12];
    test_poison(y, 12);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, chapter_x, k, NULL, y), BLASCONV_OK);
    assert_equal_floats(y, want, 12);
}
END_TEST

START_TEST(padding_and_stride_shapes)
{
    const struct {
        int kh, kw, ph, pw, sh, sw, want_h, want_w;
    } cases[] = {
        {3, 3, 1, 1, 1, 1, 8, 8}, /* kernel_size=3, padding=1 */
        {5, 3, 2, 1, 1, 1, 8, 8}, /* kernel_size=(5,3), padding=(2,1) */
        {3, 3, 1, 1, 2, 2, 4, 4}, /* kernel_size=3, padding=1, stride=2 */
        {3, 5, 0, 1, 3, 4, 2, 2}, /* kernel_size=(3,5), padding=(0,1), stride=(3,4) */
    };
    test_rng r = test_rng_seeded(17);
    float *x = test_alloc_random(&r, 64);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const blasconv_conv2d d = {.batch = 1,
                                   .in_channels = 1,
                                   .in_height = 8,
                                   .in_width = 8,
                                   .out_channels = 1,
                                   .kernel_height = cases[i].kh,
                                   .kernel_width = cases[i].kw,
                                   .stride_height = cases[i].sh,
                                   .stride_width = cases[i].sw,
                                   .pad_top = cases[i].ph,
                                   .pad_bottom = cases[i].ph,
                                   .pad_left = cases[i].pw,
                                   .pad_right = cases[i].pw};
        int oh = 0, ow = 0;
        ck_assert_int_eq(blasconv_conv2d_output_size(&d, &oh, &ow), BLASCONV_OK);
        ck_assert_int_eq(oh, cases[i].want_h);
        ck_assert_int_eq(ow, cases[i].want_w);
        /* ... and the convolution of that shape runs and matches the oracle. */
        float *w = test_alloc_random(&r, (size_t)cases[i].kh * cases[i].kw);
        float bias = 0.25f;
        float *y = test_alloc_poisoned((size_t)oh * ow),
              *want = test_alloc_poisoned((size_t)oh * ow);
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x, w, &bias, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, &bias, want),
                         BLASCONV_OK);
        test_assert_close(y, want, (size_t)oh * ow, 1e-5, 1e-6, test_conv_describe(&d));
        free(w);
        free(y);
        free(want);
    }
    free(x);
}
END_TEST

/* The 1x1 convolution is a fully connected layer over channels: the direct GEMM
 * path must agree with the same weights run through im2col (a 3x3 kernel that is
 * zero but for its centre, padding 1) and with the oracle. */
START_TEST(one_by_one_is_a_matrix_product)
{
    test_rng r = test_rng_seeded(43);
    float *x = test_alloc_random(&r, 27); /* X = torch.rand(3,3,3) */
    float *k1 = test_alloc_random(&r, 6); /* K = torch.rand(2,3,1,1) */
    float k3[2 * 3 * 9] = {0};
    for (int i = 0; i < 6; i++)
        k3[i * 9 + 4] = k1[i];
    const blasconv_conv2d d1 = {.batch = 1,
                                .in_channels = 3,
                                .in_height = 3,
                                .in_width = 3,
                                .out_channels = 2,
                                .kernel_height = 1,
                                .kernel_width = 1};
    blasconv_conv2d d3 = d1;
    d3.kernel_height = d3.kernel_width = 3;
    d3.pad_top = d3.pad_bottom = d3.pad_left = d3.pad_right = 1;
    size_t ws[3];
    ck_assert_int_eq(blasconv_conv2d_workspace_size(&d1, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
    ck_assert_uint_eq(ws[0], 0); /* direct: no im2col, no scratch */
    float y1[18], y3[18], want[18];
    test_poison(y1, 18);
    test_poison(y3, 18);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d1, x, k1, NULL, y1), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d3, x, k3, NULL, y3), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d1, x, k1, NULL, want), BLASCONV_OK);
    double norm = 0;
    for (int i = 0; i < 18; i++)
        norm += ((double)y1[i] - y3[i]) * ((double)y1[i] - y3[i]);
    ck_assert_msg(sqrt(norm) < 1e-6, "(Y1-Y2).norm() = %g", sqrt(norm));
    test_assert_close(y1, want, 18, 1e-6, 1e-6, "1x1 direct vs oracle");
    free(x);
    free(k1);
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("chapter");
    TCase *tc = tcase_create("examples");
    tcase_add_test(tc, corr2d_three_by_three);
    tcase_add_test(tc, edge_detection);
    tcase_add_test(tc, multi_input_channels);
    tcase_add_test(tc, multi_input_output_channels);
    tcase_add_test(tc, padding_and_stride_shapes);
    tcase_add_test(tc, one_by_one_is_a_matrix_product);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(chapter_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
