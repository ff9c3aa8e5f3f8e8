/* Invalid pooling calls: the documented status, a last-error sentence naming the
 * field, and every output left exactly as it was (fast and reference alike). */
#include "pooltest.h"

#include <stdlib.h>
#include <string.h>

#define BUF 64

static blasconv_pool2d valid(void)
{
    return (blasconv_pool2d){.mode = BLASCONV_POOL_MAX,
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
}

/* Every entry point on d returns want, mentions `field` and touches no output. */
static void expect_rejected(const blasconv_pool2d *d, blasconv_status want, const char *field)
{
    float x[BUF], dy[BUF], y[BUF], dx[BUF];
    pool_fill(x, BUF, 1), pool_fill(dy, BUF, 1);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    int oh = -7, ow = -9;
    ck_assert_int_eq(blasconv_pool2d_output_size(d, &oh, &ow), want);
    ck_assert_int_eq(oh, -7);
    ck_assert_int_eq(ow, -9);
    for (int pass = 0; pass < 4; pass++) {
        pool_fill(y, BUF, POOL_POISON), pool_fill(dx, BUF, POOL_POISON);
        blasconv_status st = pass == 0   ? blasconv_pool2d_forward(ctx, d, x, y)
                             : pass == 1 ? blasconv_pool2d_backward(ctx, d, x, dy, dx)
                             : pass == 2 ? blasconv_reference_pool2d_forward(ctx, d, x, y)
                                         : blasconv_reference_pool2d_backward(ctx, d, x, dy, dx);
        ck_assert_int_eq(st, want);
        ck_assert_msg(strstr(blasconv_context_last_error(ctx), field) != NULL,
                      "pass %d: '%s' does not name %s", pass, blasconv_context_last_error(ctx),
                      field);
        for (int i = 0; i < BUF; i++) {
            ck_assert_float_eq(y[i], POOL_POISON);
            ck_assert_float_eq(dx[i], POOL_POISON);
        }
    }
    /* And with no context at all. */
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, d, x, y), want);
    blasconv_context_destroy(ctx);
}

START_TEST(null_pointers_first)
{
    blasconv_pool2d bad = valid();
    bad.batch = -1; /* the NULL is reported before the descriptor is looked at */
    float x[BUF], y[BUF], dy[BUF], dx[BUF];
    int oh, ow;
    ck_assert_int_eq(blasconv_pool2d_output_size(NULL, &oh, &ow), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_output_size(&bad, NULL, &ow), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_output_size(&bad, &oh, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, NULL, x, y), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &bad, NULL, y), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, &bad, x, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_backward(NULL, &bad, NULL, dy, dx),
                     BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_backward(NULL, &bad, x, NULL, dx), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_pool2d_backward(NULL, &bad, x, dy, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, &bad, x, NULL),
                     BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_reference_pool2d_backward(NULL, &bad, x, NULL, dx),
                     BLASCONV_ERR_NULL_POINTER);
}
END_TEST

START_TEST(bad_fields)
{
    blasconv_pool2d d;
#define REJECT(field_expr, status, name)                                                          \
    do {                                                                                          \
        d = valid();                                                                              \
        field_expr;                                                                               \
        expect_rejected(&d, status, name);                                                        \
    } while (0)
    REJECT(d.batch = 0, BLASCONV_ERR_BAD_SHAPE, "batch");
    REJECT(d.channels = -2, BLASCONV_ERR_BAD_SHAPE, "channels");
    REJECT(d.in_height = 0, BLASCONV_ERR_BAD_SHAPE, "in_height");
    REJECT(d.in_width = -1, BLASCONV_ERR_BAD_SHAPE, "in_width");
    REJECT(d.window_height = 0, BLASCONV_ERR_BAD_SHAPE, "window_height");
    REJECT(d.window_width = -3, BLASCONV_ERR_BAD_SHAPE, "window_width");
    REJECT(d.stride_height = -1, BLASCONV_ERR_BAD_SHAPE, "stride_height");
    REJECT(d.stride_width = -2, BLASCONV_ERR_BAD_SHAPE, "stride_width");
    REJECT(d.pad_top = -1, BLASCONV_ERR_BAD_SHAPE, "pad_top");
    REJECT(d.dilation_width = -1, BLASCONV_ERR_BAD_SHAPE, "dilation_width");
    /* More than half the window (PyTorch rejects it). */
    REJECT(d.pad_bottom = 2, BLASCONV_ERR_BAD_SHAPE, "pad_bottom");
    REJECT(d.pad_left = 2, BLASCONV_ERR_BAD_SHAPE, "pad_left");
    REJECT((d.window_width = 2, d.pad_right = 2), BLASCONV_ERR_BAD_SHAPE, "pad_right");
    /* Half of the undilated window even when dilation makes it wider. */
    REJECT((d.dilation_height = 3, d.pad_top = 2), BLASCONV_ERR_BAD_SHAPE, "pad_top");
    REJECT(d.mode = (blasconv_pool_mode)7, BLASCONV_ERR_BAD_SHAPE, "mode");
    REJECT(d.layout = (blasconv_layout)3, BLASCONV_ERR_BAD_SHAPE, "layout");
    /* AVG takes no dilation, even where it would not change the size. */
    REJECT((d.mode = BLASCONV_POOL_AVG, d.dilation_height = 2), BLASCONV_ERR_BAD_SHAPE,
           "dilation");
    /* Empty outputs: a window larger than the padded input. */
    REJECT((d.window_height = 7, d.pad_top = d.pad_bottom = 0), BLASCONV_ERR_BAD_SHAPE,
           "output height");
    REJECT((d.dilation_width = 3, d.pad_left = d.pad_right = 0), BLASCONV_ERR_BAD_SHAPE,
           "output width");
    /* 2^31 elements or more. */
    REJECT((d.batch = 65536, d.channels = 32768, d.in_height = d.in_width = 1,
            d.window_height = d.window_width = 1, d.pad_top = d.pad_bottom = 0,
            d.pad_left = d.pad_right = 0),
           BLASCONV_ERR_OVERFLOW, "input");
    REJECT((d.in_height = 1 << 20, d.in_width = 1 << 12, d.window_height = d.window_width = 1,
            d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 0),
           BLASCONV_ERR_OVERFLOW, "2^31");
#undef REJECT
}
END_TEST

/* MAX ignores exclude_pad; valid edge descriptors are accepted. */
START_TEST(valid_edges_accepted)
{
    blasconv_pool2d d = valid();
    d.exclude_pad = 1;
    int oh, ow;
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(oh, 2);
    ck_assert_int_eq(ow, 2);
    d.stride_height = d.stride_width = 0; /* window size: 3 */
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(oh, 2); /* (4 + 2 - 3) / 3 + 1 */
    d = valid();
    d.window_height = d.window_width = 1; /* pad 1 > 1/2 */
    ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_ERR_BAD_SHAPE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, null_pointers_first);
    tcase_add_test(tc, bad_fields);
    tcase_add_test(tc, valid_edges_accepted);
    suite_add_tcase(s, tc);
    return test_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
