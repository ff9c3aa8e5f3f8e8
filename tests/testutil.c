#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

test_rng test_rng_seeded(uint64_t seed)
{
    test_rng r = {seed * 0x9E3779B97F4A7C15ull + 1};
    return r;
}

uint64_t test_rng_next(test_rng *r)
{
    /* splitmix64: small, fast, good enough for test data */
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int test_rng_int(test_rng *r, int lo, int hi)
{
    return lo + (int)(test_rng_next(r) % (uint64_t)(hi - lo + 1));
}

float test_rng_float(test_rng *r)
{
    return (float)((double)(test_rng_next(r) >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *alloc_floats(size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    ck_assert_msg(a != NULL, "malloc of %zu floats failed", n);
    return a;
}

float *test_alloc_random(test_rng *r, size_t n)
{
    float *a = alloc_floats(n);
    for (size_t i = 0; i < n; i++)
        a[i] = test_rng_float(r);
    return a;
}

void test_poison(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = NAN;
}

float *test_alloc_poisoned(size_t n)
{
    float *a = alloc_floats(n);
    test_poison(a, n);
    return a;
}

float *test_alloc_copy(const float *src, size_t n)
{
    float *a = alloc_floats(n);
    memcpy(a, src, n * sizeof(float));
    return a;
}

size_t test_conv_x_elems(const blasconv_conv2d *d)
{
    return (size_t)d->batch * d->in_channels * d->in_height * d->in_width;
}

size_t test_conv_w_elems(const blasconv_conv2d *d)
{
    int g = d->groups ? d->groups : 1;
    return (size_t)d->out_channels * (d->in_channels / g) * d->kernel_height * d->kernel_width;
}

size_t test_conv_y_elems(const blasconv_conv2d *d)
{
    int oh = 0, ow = 0;
    ck_assert_int_eq(blasconv_conv2d_output_size(d, &oh, &ow), BLASCONV_OK);
    return (size_t)d->batch * d->out_channels * oh * ow;
}

blasconv_conv2d test_random_conv(test_rng *r)
{
    for (;;) {
        blasconv_conv2d d = {0};
        int kind = test_rng_int(r, 0, 9);
        d.groups = kind == 0 ? test_rng_int(r, 2, 4) : kind == 1 ? 0 : 1;
        int cg = test_rng_int(r, 1, 4), kg = test_rng_int(r, 1, 4);
        if (kind == 2) { /* depthwise */
            d.groups = test_rng_int(r, 1, 6);
            cg = 1;
            kg = test_rng_int(r, 1, 2);
        }
        int g = d.groups ? d.groups : 1;
        d.batch = test_rng_int(r, 1, 3);
        d.in_channels = g * cg;
        d.out_channels = g * kg;
        d.in_height = test_rng_int(r, 1, 12);
        d.in_width = test_rng_int(r, 1, 12);
        d.kernel_height = test_rng_int(r, 1, 5);
        d.kernel_width = test_rng_int(r, 1, 5);
        d.stride_height = test_rng_int(r, 0, 3);
        d.stride_width = test_rng_int(r, 0, 3);
        d.dilation_height = test_rng_int(r, 0, 3);
        d.dilation_width = test_rng_int(r, 0, 3);
        d.pad_top = test_rng_int(r, 0, 4);
        d.pad_bottom = test_rng_int(r, 0, 4);
        d.pad_left = test_rng_int(r, 0, 4);
        d.pad_right = test_rng_int(r, 0, 4);
        if (kind == 3) { /* the direct 1x1 path */
            d.kernel_height = d.kernel_width = 1;
            d.stride_height = d.stride_width = 1;
            d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 0;
        }
        int oh, ow;
        if (blasconv_conv2d_output_size(&d, &oh, &ow) == BLASCONV_OK)
            return d;
    }
}

test_conv_problem test_conv_problem_make(test_rng *r, blasconv_conv2d d)
{
    test_conv_problem p = {.d = d};
    p.nx = test_conv_x_elems(&d);
    p.nw = test_conv_w_elems(&d);
    p.ny = test_conv_y_elems(&d);
    p.x = test_alloc_random(r, p.nx);
    p.w = test_alloc_random(r, p.nw);
    p.bias = test_alloc_random(r, (size_t)d.out_channels);
    p.dy = test_alloc_random(r, p.ny);
    return p;
}

void test_conv_problem_free(test_conv_problem *p)
{
    free(p->x), free(p->w), free(p->bias), free(p->dy);
}

size_t test_conv_row_bytes(const blasconv_conv2d *d)
{
    int oh, ow, g = d->groups ? d->groups : 1;
    ck_assert_int_eq(blasconv_conv2d_output_size(d, &oh, &ow), BLASCONV_OK);
    return (size_t)(d->in_channels / g) * d->kernel_height * d->kernel_width * ow * sizeof(float);
}

size_t test_conv_row_shift_bytes(const blasconv_conv2d *d, blasconv_conv2d_pass pass,
                                 size_t *lowered_row)
{
    int oh, ow, g = d->groups ? d->groups : 1;
    ck_assert_int_eq(blasconv_conv2d_output_size(d, &oh, &ow), BLASCONV_OK);
    const int cg = d->in_channels / g, kg = d->out_channels / g;
    const int stride_h = d->stride_height ? d->stride_height : 1;
    const int dil_h = d->dilation_height ? d->dilation_height : 1;
    const int nhwc = d->layout == BLASCONV_NHWC;
    const int kernel_weights = d->kernel_height * d->kernel_width * d->out_channels;
    const int depthwise = cg == 1 && (nhwc ? kg == 1 && kernel_weights <= 4096 : kg <= 4);
    const int small_filter = 2 * d->out_channels <= d->batch * oh * ow;
    *lowered_row = (size_t)cg * d->kernel_width * ow * sizeof(float);
    /* one image's lowering by kernel columns stays under 2^31 floats */
    const int64_t lowered_rows = pass == BLASCONV_PASS_BACKWARD_DATA
                                     ? d->in_height
                                     : oh + (int64_t)(d->kernel_height - 1) * dil_h;
    if (stride_h != 1 || d->kernel_height < 2 ||
        lowered_rows * (int64_t)(*lowered_row / sizeof(float)) >= ((int64_t)1 << 31))
        return 0;
    const size_t filter =
        nhwc ? 0
             : (size_t)d->out_channels * cg * d->kernel_height * d->kernel_width * sizeof(float);
    if (pass == BLASCONV_PASS_BACKWARD_DATA) /* tiles of input rows: no halo */
        return cg > 1 && (nhwc ? oh * ow >= 512 : small_filter)
                   ? (filter + 63) / 64 * 64 + *lowered_row
                   : 0;
    if (pass != BLASCONV_PASS_FORWARD || depthwise)
        return 0;
    if (nhwc ? oh * ow < 512 : !small_filter || (d->batch > 1 && oh * ow < 192))
        return 0;
    return (filter + 63) / 64 * 64 + (size_t)(1 + (d->kernel_height - 1) * dil_h) * *lowered_row;
}

void test_assert_forward_and_data_match_oracle(blasconv_context *ctx, const test_conv_problem *p)
{
    const blasconv_conv2d *d = &p->d;
    float *y = test_alloc_poisoned(p->ny), *want_y = test_alloc_poisoned(p->ny);
    float *dx = test_alloc_poisoned(p->nx), *want_dx = test_alloc_poisoned(p->nx);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, d, p->x, p->w, p->bias, y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, d, p->x, p->w, p->bias, want_y),
                     BLASCONV_OK);
    test_assert_conv_close(y, want_y, p->ny, d, BLASCONV_PASS_FORWARD, test_conv_describe(d));
    ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, d, p->dy, p->w, dx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, d, p->dy, p->w, want_dx),
                     BLASCONV_OK);
    test_assert_conv_close(dx, want_dx, p->nx, d, BLASCONV_PASS_BACKWARD_DATA,
                           test_conv_describe(d));
    free(y), free(want_y), free(dx), free(want_dx);
}

void test_assert_filter_matches_oracle(blasconv_context *ctx, const test_conv_problem *p)
{
    const blasconv_conv2d *d = &p->d;
    float *dw = test_alloc_poisoned(p->nw), *want = test_alloc_poisoned(p->nw);
    ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, d, p->x, p->dy, dw, NULL), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, d, p->x, p->dy, want, NULL),
                     BLASCONV_OK);
    test_assert_conv_close(dw, want, p->nw, d, BLASCONV_PASS_BACKWARD_FILTER,
                           test_conv_describe(d));
    free(dw), free(want);
}

const char *test_conv_describe(const blasconv_conv2d *d)
{
    static char text[256];
    snprintf(text, sizeof text,
             "N=%d C=%d H=%d W=%d K=%d k=%dx%d s=%d,%d pad=%d,%d,%d,%d dil=%d,%d g=%d layout=%d",
             d->batch, d->in_channels, d->in_height, d->in_width, d->out_channels,
             d->kernel_height, d->kernel_width, d->stride_height, d->stride_width, d->pad_top,
             d->pad_bottom, d->pad_left, d->pad_right, d->dilation_height, d->dilation_width,
             d->groups, (int)d->layout);
    return text;
}

blasconv_compare_report test_compare(const float *got, const float *want, size_t n, double atol,
                                     double rtol)
{
    blasconv_compare_report r;
    ck_assert_int_eq(blasconv_compare(got, want, n, atol, rtol, &r), BLASCONV_OK);
    return r;
}

const char *test_compare_describe(const blasconv_compare_report *r, const float *got,
                                  const float *want)
{
    static char text[256];
    size_t i = r->worst_index;
    snprintf(text, sizeof text,
             "element %zu of %zu: got %.9g want %.9g (%.3gx the tolerance); %zu failures, "
             "%zu NaN and %zu Inf mismatches, max abs error %.3g",
             i, r->elements, r->elements ? (double)got[i] : 0.0,
             r->elements ? (double)want[i] : 0.0, r->worst_ratio, r->failures, r->nan_mismatches,
             r->inf_mismatches, r->max_abs_error);
    return text;
}

void test_conv_tolerance(const blasconv_conv2d *d, blasconv_conv2d_pass pass, double *atol,
                         double *rtol)
{
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(d, pass, BLASCONV_TOLERANCE_RANDOM_DATA, 1.0, atol, rtol),
        BLASCONV_OK);
}

void test_gemm_tolerance(int k, double *atol, double *rtol)
{
    const blasconv_conv2d sum = {.batch = 1,
                                 .in_channels = k > 0 ? k : 1,
                                 .in_height = 1,
                                 .in_width = 1,
                                 .out_channels = 1,
                                 .kernel_height = 1,
                                 .kernel_width = 1};
    ck_assert_int_eq(blasconv_conv2d_tolerance(&sum, BLASCONV_PASS_FORWARD,
                                               BLASCONV_TOLERANCE_RANDOM_DATA, 2.0, atol, rtol),
                     BLASCONV_OK);
    *atol *= 2;
    *rtol *= 2;
}

int test_run_suite(Suite *s)
{
    SRunner *runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed;
}

int test_naive_sgemm_calls;

void test_naive_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc)
{
    if (layout != 101) /* CblasRowMajor; no ck_assert here: Check allocates */
        abort();
    __atomic_add_fetch(&test_naive_sgemm_calls, 1, __ATOMIC_RELAXED); /* slots may call at once */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int p = 0; p < k; p++) {
                float av = trans_a == 112 ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b == 112 ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += (double)av * bv;
            }
            float *out = &c[(size_t)i * ldc + j];
            *out = alpha * (float)sum + (beta == 0.0f ? 0.0f : beta * *out);
        }
}
