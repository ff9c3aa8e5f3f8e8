/* Every invalid-input class: the documented status, a sentence naming the field
 * in the context's last error, and every output byte untouched. */
#include "testutil.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const blasconv_conv2d valid = {.batch = 2, .in_channels = 4, .in_height = 5,
                                      .in_width = 6, .out_channels = 6, .kernel_height = 3,
                                      .kernel_width = 2, .groups = 2};

#define CANARY_FLOATS 4096
typedef struct canary {
    float y[CANARY_FLOATS], copy[CANARY_FLOATS];
} canary;

static void canary_fill(canary *c)
{
    for (int i = 0; i < CANARY_FLOATS; i++)
        c->y[i] = c->copy[i] = (float)i * 0.5f - 7.0f;
}

static void canary_assert_intact(const canary *c, const char *what)
{
    ck_assert_msg(memcmp(c->y, c->copy, sizeof c->y) == 0, "%s: an output was written", what);
}

/* Runs all three passes on d and expects `want` from each, outputs untouched. */
static void expect_all_passes(const blasconv_conv2d *d, blasconv_status want, const char *field)
{
    static float in_a[CANARY_FLOATS], in_b[CANARY_FLOATS];
    canary out, out2;
    canary_fill(&out);
    canary_fill(&out2);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    blasconv_status got[5] = {
        blasconv_conv2d_forward(ctx, d, in_a, in_b, in_b, out.y),
        blasconv_conv2d_backward_data(ctx, d, in_a, in_b, out.y),
        blasconv_conv2d_backward_filter(ctx, d, in_a, in_b, out.y, out2.y),
        blasconv_reference_conv2d_forward(ctx, d, in_a, in_b, in_b, out.y),
        blasconv_reference_conv2d_backward_filter(ctx, d, in_a, in_b, out.y, out2.y),
    };
    for (int i = 0; i < 5; i++)
        ck_assert_msg(got[i] == want, "%s: call %d returned %d, want %d", field, i, got[i], want);
    if (field)
        ck_assert_msg(strstr(blasconv_context_last_error(ctx), field) != NULL,
                      "last error '%s' does not name '%s'", blasconv_context_last_error(ctx),
                      field);
    int oh = -5, ow = -5;
    size_t ws[3] = {1, 2, 3};
    ck_assert_int_eq(blasconv_conv2d_output_size(d, &oh, &ow), want);
    ck_assert_int_eq(blasconv_conv2d_workspace_size(d, &ws[0], &ws[1], &ws[2]), want);
    ck_assert(oh == -5 && ow == -5 && ws[0] == 1 && ws[1] == 2 && ws[2] == 3);
    canary_assert_intact(&out, field);
    canary_assert_intact(&out2, field);
    blasconv_context_destroy(ctx);
}

START_TEST(bad_fields_are_bad_shape)
{
    blasconv_conv2d d;
#define EXPECT_FIELD(f, v, status)                                                                 \
    do {                                                                                           \
        d = valid;                                                                                 \
        d.f = (v);                                                                                 \
        expect_all_passes(&d, status, #f);                                                         \
    } while (0)
    EXPECT_FIELD(batch, 0, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(batch, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(in_channels, 0, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(in_channels, -4, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(in_height, 0, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(in_width, -2, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(out_channels, 0, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(kernel_height, 0, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(kernel_width, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(stride_height, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(stride_width, INT_MIN, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(pad_top, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(pad_bottom, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(pad_left, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(pad_right, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(dilation_height, -1, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(dilation_width, -3, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(groups, -2, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(groups, 3, BLASCONV_ERR_BAD_SHAPE);       /* divides neither */
    EXPECT_FIELD(out_channels, 5, BLASCONV_ERR_BAD_SHAPE); /* groups=2 does not divide 5 */
    EXPECT_FIELD(layout, 7, BLASCONV_ERR_BAD_SHAPE);
    EXPECT_FIELD(layout, -1, BLASCONV_ERR_BAD_SHAPE);
    /* Empty outputs: kernel larger than the padded input, or dilated past it. */
    d = valid;
    d.kernel_height = 6;
    expect_all_passes(&d, BLASCONV_ERR_BAD_SHAPE, "output height");
    d = valid;
    d.dilation_width = 6;
    expect_all_passes(&d, BLASCONV_ERR_BAD_SHAPE, "output width");
#undef EXPECT_FIELD
}
END_TEST

START_TEST(the_message_names_field_and_value)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    blasconv_conv2d d = valid;
    d.in_channels = 8;
    d.groups = 3;
    d.out_channels = 6;
    float a[1], b[1], y[1];
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, a, b, NULL, y), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_str_eq(blasconv_context_last_error(ctx),
                     "conv2d_forward: groups=3 does not divide in_channels=8");
    /* A success clears it. */
    d = valid;
    float *x = calloc(test_conv_x_elems(&d), sizeof(float));
    float *w = calloc(test_conv_w_elems(&d), sizeof(float));
    float *yy = calloc(test_conv_y_elems(&d), sizeof(float));
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, yy), BLASCONV_OK);
    ck_assert_str_eq(blasconv_context_last_error(ctx), "");
    ck_assert_str_eq(blasconv_context_last_error(NULL), "");
    free(x), free(w), free(yy);
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(sizes_past_int_are_overflow)
{
    blasconv_conv2d d = valid;
    d.in_height = INT_MAX;
    d.in_width = INT_MAX;
    expect_all_passes(&d, BLASCONV_ERR_OVERFLOW, "input");
    d = valid; /* 2^31 elements exactly: one too many */
    d.batch = 1;
    d.in_channels = 2;
    d.groups = 1;
    d.in_height = 32768;
    d.in_width = 32768;
    expect_all_passes(&d, BLASCONV_ERR_OVERFLOW, "input");
    d = valid; /* output size past INT_MAX: pads of INT_MAX on a 1x1 kernel */
    d.kernel_height = 1;
    d.pad_top = INT_MAX;
    d.pad_bottom = INT_MAX;
    expect_all_passes(&d, BLASCONV_ERR_OVERFLOW, "output size");
    d = valid; /* weights: K * C/g * KH * KW near 2^63 */
    d.groups = 1;
    d.out_channels = 1 << 20;
    d.in_channels = 1 << 20;
    d.kernel_height = 1 << 20;
    d.kernel_width = 1 << 20;
    d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1 << 20;
    expect_all_passes(&d, BLASCONV_ERR_OVERFLOW, NULL);
    d = valid; /* the output: N * K * OH * OW past 2^31 while x and w fit */
    d.groups = 1;
    d.batch = 1;
    d.in_channels = 1;
    d.in_height = 1;
    d.in_width = 1;
    d.kernel_height = d.kernel_width = 1;
    d.out_channels = 2;
    d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 20000;
    expect_all_passes(&d, BLASCONV_ERR_OVERFLOW, "output");
}
END_TEST

START_TEST(null_pointers_come_first)
{
    blasconv_conv2d bad = valid;
    bad.batch = -1; /* NULL is reported before the descriptor is looked at */
    float a[CANARY_FLOATS] = {0}, b[CANARY_FLOATS] = {0};
    canary out;
    canary_fill(&out);
    const blasconv_conv2d *ds[2] = {&valid, &bad};
    for (int i = 0; i < 2; i++) {
        const blasconv_conv2d *d = ds[i];
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, NULL, a, b, NULL, out.y), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, d, NULL, b, NULL, out.y), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, d, a, NULL, NULL, out.y), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_forward(NULL, d, a, b, NULL, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_data(NULL, NULL, a, b, out.y), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_data(NULL, d, NULL, b, out.y), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_data(NULL, d, a, NULL, out.y), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_data(NULL, d, a, b, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, NULL, a, b, out.y, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, d, NULL, b, out.y, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, d, a, NULL, out.y, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, d, a, b, NULL, out.y), BLASCONV_ERR_NULL_POINTER);
        int h, w;
        size_t s1, s2, s3;
        ck_assert_int_eq(blasconv_conv2d_output_size(NULL, &h, &w), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_output_size(d, NULL, &w), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_output_size(d, &h, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_workspace_size(d, NULL, &s2, &s3), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_workspace_size(d, &s1, NULL, &s3), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_workspace_size(d, &s1, &s2, NULL), BLASCONV_ERR_NULL_POINTER);
        ck_assert_int_eq(blasconv_conv2d_workspace_size(NULL, &s1, &s2, &s3), BLASCONV_ERR_NULL_POINTER);
    }
    ck_assert_int_eq(blasconv_corr2d(NULL, NULL, 3, 3, b, 2, 2, out.y), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_corr2d(NULL, a, 3, 3, NULL, 2, 2, out.y), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_corr2d(NULL, a, 3, 3, b, 2, 2, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_corr2d(NULL, a, 0, 3, b, 2, 2, out.y), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_corr2d(NULL, a, 3, 3, b, 4, 2, out.y), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_corr2d(NULL, a, 3, 3, b, 2, -1, out.y), BLASCONV_ERR_BAD_SHAPE);
    canary_assert_intact(&out, "null pointers");
    ck_assert_int_eq(blasconv_context_create(NULL), BLASCONV_ERR_NULL_POINTER);
    blasconv_context_destroy(NULL);
}
END_TEST

START_TEST(context_setters_validate)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(ctx, -1), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_context_set_threads(ctx, 0), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(NULL, 1), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_workspace(ctx, NULL, 16), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_workspace(ctx, NULL, 0), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_workspace(NULL, NULL, 0), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_workspace_limit(NULL, 0), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_sgemm(NULL, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_algorithm(ctx, (blasconv_algorithm)2), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_FAST), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_algorithm(NULL, BLASCONV_ALGO_GEMM), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_load_blas(ctx, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_load_blas(NULL, "x"), BLASCONV_ERR_NULL_POINTER);
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(status_strings_and_version)
{
    for (int s = 0; s <= 8; s++) {
        const char *text = blasconv_status_string((blasconv_status)s);
        ck_assert_ptr_nonnull(text);
        ck_assert_int_gt((int)strlen(text), 0);
    }
    ck_assert_str_eq(blasconv_status_string((blasconv_status)-3), "unknown status");
    ck_assert_str_eq(blasconv_version(), "0.1.0");
    ck_assert_int_eq(BLASCONV_VERSION_MAJOR * 10000 + BLASCONV_VERSION_MINOR * 100 +
                         BLASCONV_VERSION_PATCH, 100);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, bad_fields_are_bad_shape);
    tcase_add_test(tc, the_message_names_field_and_value);
    tcase_add_test(tc, sizes_past_int_are_overflow);
    tcase_add_test(tc, null_pointers_come_first);
    tcase_add_test(tc, context_setters_validate);
    tcase_add_test(tc, status_strings_and_version);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
