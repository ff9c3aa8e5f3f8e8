/* Helpers of the BLASCONV_ALGO_FAST suites: see fast_testutil.h. */
#include "fast_testutil.h"

blasconv_conv2d test_fast_random_eligible(test_rng *r, int min_channels)
{
    blasconv_conv2d d = {0};
    d.batch = test_rng_int(r, 1, 3);
    d.in_channels = test_rng_int(r, min_channels, 16);
    d.out_channels = test_rng_int(r, min_channels, 16);
    d.kernel_height = d.kernel_width = 3;
    d.pad_top = test_rng_int(r, 0, 2);
    d.pad_bottom = test_rng_int(r, 0, 2);
    d.pad_left = test_rng_int(r, 0, 2);
    d.pad_right = test_rng_int(r, 0, 2);
    d.in_height =
        test_rng_int(r, 3 - d.pad_top - d.pad_bottom > 1 ? 3 - d.pad_top - d.pad_bottom : 1, 19);
    d.in_width =
        test_rng_int(r, 3 - d.pad_left - d.pad_right > 1 ? 3 - d.pad_left - d.pad_right : 1, 23);
    d.stride_height = test_rng_int(r, 0, 1); /* 0 is the default, 1 */
    d.dilation_width = test_rng_int(r, 0, 1);
    d.layout = test_rng_int(r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW;
    return d;
}

int test_fast_eligible(const blasconv_conv2d *d)
{
    int one = 1;
#define DEFAULT1(v) ((v) == 0 || (v) == one)
    return d->kernel_height == 3 && d->kernel_width == 3 && DEFAULT1(d->stride_height) &&
           DEFAULT1(d->stride_width) && DEFAULT1(d->dilation_height) &&
           DEFAULT1(d->dilation_width) && DEFAULT1(d->groups);
#undef DEFAULT1
}

size_t test_fast_filter_bytes(const blasconv_conv2d *d, int m)
{
    return (size_t)(m + 2) * (m + 2) * ((size_t)d->in_channels * d->out_channels + 16) *
           sizeof(float);
}

size_t test_fast_tile_bytes(const blasconv_conv2d *d, int m)
{
    return (size_t)(m + 2) * (m + 2) * (d->in_channels + d->out_channels) * sizeof(float);
}

size_t test_fast_limit_for(const blasconv_conv2d *d, int m, int tiles)
{
    /* + 128 aligning V and M, and their tap positions 16 floats apart */
    return test_fast_filter_bytes(d, m) + 64 + (size_t)tiles * test_fast_tile_bytes(d, m) + 128 +
           2 * (size_t)(m + 2) * (m + 2) * 16 * sizeof(float);
}

double test_fast_extra(int channels, double sa, double sb)
{
    return 1e-6 * 9.0 * (channels + 1) * sa * sb;
}

void test_assert_fast_close(const float *got, const float *want, size_t n,
                            const blasconv_conv2d *d, blasconv_conv2d_pass pass, const char *what)
{
    double atol, rtol;
    test_conv_tolerance(d, pass, &atol, &rtol);
    const int channels = pass == BLASCONV_PASS_FORWARD ? d->in_channels : d->out_channels;
    test_assert_close(got, want, n, atol + test_fast_extra(channels, 1.0, 1.0), rtol, what);
}

blasconv_context *test_fast_context(void)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_FAST), BLASCONV_OK);
    return ctx;
}

blasconv_context *test_naive_gemm_context(void)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, test_naive_sgemm), BLASCONV_OK);
    return ctx;
}

blasconv_context *test_naive_fast_context(int threads)
{
    blasconv_context *ctx = test_naive_gemm_context();
    ck_assert_int_eq(blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_FAST), BLASCONV_OK);
    if (threads > 1) {
        ck_assert_int_eq(blasconv_context_set_sgemm_concurrent(ctx, 1), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_threads(ctx, threads), BLASCONV_OK);
    }
    return ctx;
}
