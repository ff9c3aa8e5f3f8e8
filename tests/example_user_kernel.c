/*
 * An example to copy: checking your own kernels against blasconv's oracle in a
 * Check unit test. It uses only <blasconv.h> and <check.h>.
 *
 * 1. A user's naive 3x3 convolution (stride 1, padding 1, NCHW) is checked against
 *    blasconv_reference_conv2d_forward with blasconv_compare and the tolerance
 *    blasconv_conv2d_tolerance suggests. A deliberately broken variant (it drops
 *    the last input row at the bottom border) must be caught, which shows the
 *    check can fail.
 * 2. The recipe "test your GEMM on the GEMM shapes of real CNN layers": a user's
 *    sgemm is routed through blasconv_context_set_sgemm, the workspace limit varies
 *    the GEMMs' column count, and every result is compared with the reference.
 *
 * Build: cc example_user_kernel.c $(pkg-config --cflags --libs check) -lblasconv -lm
 */
#include <blasconv.h>

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the code under test: what a user would bring ----------------------- */

/* y[n][k][h][w] = sum over c, i, j of x[n][c][h+i-1][w+j-1] * w[k][c][i][j] + bias[k]
 * (zero outside the image). drop_last_row = 1 is the broken variant. */
static void user_conv3x3(int n_images, int channels, int height, int width, int out_channels,
                         const float *x, const float *w, const float *bias, float *y,
                         int drop_last_row)
{
    int rows = drop_last_row ? height - 1 : height;
    for (int n = 0; n < n_images; n++)
        for (int k = 0; k < out_channels; k++)
            for (int h = 0; h < height; h++)
                for (int v = 0; v < width; v++) {
                    float sum = bias[k];
                    for (int c = 0; c < channels; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                int ih = h + i - 1, iw = v + j - 1;
                                if (ih < 0 || ih >= rows || iw < 0 || iw >= width)
                                    continue;
                                sum += x[((size_t)(n * channels + c) * height + ih) * width + iw] *
                                       w[((size_t)(k * channels + c) * 3 + i) * 3 + j];
                            }
                    y[((size_t)(n * out_channels + k) * height + h) * width + v] = sum;
                }
}

/* A plain float32 sgemm (row-major only, which is all blasconv asks for). */
static void user_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb, float beta, float *c,
                       int ldc)
{
    if (layout != 101) /* CblasRowMajor */
        abort();
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++)
                sum += (trans_a == 112 ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                       (trans_b == 112 ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            float *out = &c[(size_t)i * ldc + j];
            *out = alpha * sum + (beta == 0.0f ? 0.0f : beta * *out);
        }
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state = 12345;

/* Uniform in [-1, 1): random data, so the RANDOM_DATA tolerance applies with M = 1. */
static float *random_floats(size_t n)
{
    float *a = malloc(n * sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < n; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (float)((double)(rng_state >> 40) / (double)(1ull << 23) - 1.0);
    }
    return a;
}

static float *nan_floats(size_t n) /* outputs start as NaN: an unwritten one fails */
{
    float *a = malloc(n * sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < n; i++)
        a[i] = NAN;
    return a;
}

/* Compares got with the reference's want under the suggested tolerance. */
static blasconv_compare_report check_against_oracle(const blasconv_conv2d *d,
                                                    blasconv_conv2d_pass pass, const float *got,
                                                    const float *want, size_t n)
{
    double atol, rtol;
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(d, pass, BLASCONV_TOLERANCE_RANDOM_DATA, 1.0, &atol, &rtol),
        BLASCONV_OK);
    blasconv_compare_report r;
    ck_assert_int_eq(blasconv_compare(got, want, n, atol, rtol, &r), BLASCONV_OK);
    return r;
}

/* ---- 1. a user kernel against the oracle --------------------------------- */

static blasconv_compare_report run_user_conv3x3(int broken)
{
    const blasconv_conv2d d = {.batch = 2,
                               .in_channels = 3,
                               .in_height = 7,
                               .in_width = 9,
                               .out_channels = 4,
                               .kernel_height = 3,
                               .kernel_width = 3,
                               .pad_top = 1,
                               .pad_bottom = 1,
                               .pad_left = 1,
                               .pad_right = 1};
    const size_t nx = 2 * 3 * 7 * 9, nw = 4 * 3 * 3 * 3, ny = 2 * 4 * 7 * 9;
    float *x = random_floats(nx), *w = random_floats(nw), *bias = random_floats(4);
    float *got = nan_floats(ny), *want = nan_floats(ny);
    user_conv3x3(2, 3, 7, 9, 4, x, w, bias, got, broken);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, bias, want), BLASCONV_OK);
    blasconv_compare_report r = check_against_oracle(&d, BLASCONV_PASS_FORWARD, got, want, ny);
    free(x), free(w), free(bias), free(got), free(want);
    return r;
}

START_TEST(user_conv3x3_matches_the_oracle)
{
    blasconv_compare_report r = run_user_conv3x3(0);
    ck_assert_msg(r.passed, "element %zu off by %g (%g x the tolerance), %zu failures",
                  r.worst_index, r.max_abs_error, r.worst_ratio, r.failures);
}
END_TEST

START_TEST(a_broken_user_conv3x3_is_caught)
{
    blasconv_compare_report r = run_user_conv3x3(1);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_gt(r.failures, 0);
    ck_assert_double_gt(r.worst_ratio, 100.0); /* a missing term is far outside rounding */
}
END_TEST

/* ---- 2. a user sgemm on the GEMM shapes of real CNN layers --------------- */

/* From ResNet-50, VGG and MobileNet (the benchmark's layers.csv), at batch 1. The
 * default run crops the image to MAX_SIDE to stay quick; set it to 224 for the
 * real sizes (each GEMM then has the layer's full rows and depth). */
#define MAX_SIDE 14
static const struct layer {
    const char *name;
    int c, hw, k, kernel, stride, pad, dilation, groups;
} layers[] = {
    {"r50_conv1", 3, 224, 64, 7, 2, 3, 1, 1},    {"r50_3x3_56", 64, 56, 64, 3, 1, 1, 1, 1},
    {"r50_1x1_56", 256, 56, 64, 1, 1, 0, 1, 1},  {"r50_3x3_14", 256, 14, 256, 3, 1, 1, 1, 1},
    {"r50_1x1_s2", 256, 56, 512, 1, 2, 0, 1, 1}, {"r50_3x3_7", 512, 7, 512, 3, 1, 1, 1, 1},
    {"dw_3x3_112", 32, 112, 32, 3, 1, 1, 1, 32}, {"dil_3x3_28", 256, 28, 256, 3, 1, 2, 2, 1},
};

START_TEST(user_sgemm_on_real_layer_shapes)
{
    const struct layer *l = &layers[_i];
    const int side = l->hw < MAX_SIDE ? l->hw : MAX_SIDE;
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = l->c,
                               .in_height = side,
                               .in_width = side,
                               .out_channels = l->k,
                               .kernel_height = l->kernel,
                               .kernel_width = l->kernel,
                               .stride_height = l->stride,
                               .stride_width = l->stride,
                               .pad_top = l->pad,
                               .pad_bottom = l->pad,
                               .pad_left = l->pad,
                               .pad_right = l->pad,
                               .dilation_height = l->dilation,
                               .dilation_width = l->dilation,
                               .groups = l->groups};
    int oh, ow;
    ck_assert_int_eq(blasconv_conv2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    const size_t nx = (size_t)l->c * side * side, ny = (size_t)l->k * oh * ow;
    const size_t nw = (size_t)l->k * (l->c / l->groups) * l->kernel * l->kernel;
    float *x = random_floats(nx), *w = random_floats(nw), *dy = random_floats(ny);
    float *got = nan_floats(nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny));
    float *want_y = nan_floats(ny), *want_dx = nan_floats(nx), *want_dw = nan_floats(nw);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, NULL, want_y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want_dx),
                     BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want_dw, NULL),
                     BLASCONV_OK);

    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, user_sgemm), BLASCONV_OK);
    /* The minimum workspace (one output row per GEMM: narrow GEMMs), a middle
     * one, and none (whole-image GEMMs). */
    const size_t row_bytes = (size_t)(l->c / l->groups) * l->kernel * l->kernel * ow * 4;
    const size_t limits[3] = {row_bytes, 4 * row_bytes, 0};
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, limits[t]), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, got), BLASCONV_OK);
        blasconv_compare_report r =
            check_against_oracle(&d, BLASCONV_PASS_FORWARD, got, want_y, ny);
        ck_assert_msg(r.passed, "%s forward, limit %zu: element %zu, %g x the tolerance", l->name,
                      limits[t], r.worst_index, r.worst_ratio);

        ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, dy, w, got), BLASCONV_OK);
        r = check_against_oracle(&d, BLASCONV_PASS_BACKWARD_DATA, got, want_dx, nx);
        ck_assert_msg(r.passed, "%s backward data, limit %zu: element %zu, %g x the tolerance",
                      l->name, limits[t], r.worst_index, r.worst_ratio);

        ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, x, dy, got, NULL), BLASCONV_OK);
        r = check_against_oracle(&d, BLASCONV_PASS_BACKWARD_FILTER, got, want_dw, nw);
        ck_assert_msg(r.passed, "%s backward filter, limit %zu: element %zu, %g x the tolerance",
                      l->name, limits[t], r.worst_index, r.worst_ratio);
    }
    blasconv_context_destroy(ctx);
    free(x), free(w), free(dy), free(got), free(want_y), free(want_dx), free(want_dw);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("example_user_kernel");
    TCase *tc = tcase_create("oracle");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, user_conv3x3_matches_the_oracle);
    tcase_add_test(tc, a_broken_user_conv3x3_is_caught);
    tcase_add_loop_test(tc, user_sgemm_on_real_layer_shapes, 0,
                        (int)(sizeof layers / sizeof layers[0]));
    suite_add_tcase(s, tc);
    SRunner *runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
