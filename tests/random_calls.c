#include "random_calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t conv_y_elems(const blasconv_conv2d *d)
{
    int oh = 0, ow = 0;
    if (blasconv_conv2d_output_size(d, &oh, &ow) != BLASCONV_OK)
        return 0;
    return (size_t)d->batch * d->out_channels * oh * ow;
}

static float *random_floats(test_rng *r, size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    if (a)
        for (size_t i = 0; i < n; i++)
            a[i] = test_rng_float(r);
    return a;
}

static float *nan_floats(size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    if (a)
        test_poison(a, n);
    return a;
}

/* Compares one pass's output with the oracle's within the public tolerance
 * (blasconv_conv2d_tolerance, random data in [-1, 1)); both calls are pure. */
static int disagree(const char *name, blasconv_conv2d_pass pass, const blasconv_conv2d *d,
                    const float *got, const float *want, size_t n, char *why, size_t why_size)
{
    double atol, rtol;
    blasconv_compare_report rep;
    if (blasconv_conv2d_tolerance(d, pass, BLASCONV_TOLERANCE_RANDOM_DATA, 1.0, &atol, &rtol) !=
            BLASCONV_OK ||
        blasconv_compare(got, want, n, atol, rtol, &rep) != BLASCONV_OK) {
        snprintf(why, why_size, "%s: tolerance or compare refused the problem", name);
        return 1;
    }
    if (rep.passed)
        return 0;
    size_t bad = rep.worst_index;
    snprintf(why, why_size,
             "%s: element %zu of %zu: got %.9g want %.9g (N=%d C=%d H=%d W=%d K=%d k=%dx%d "
             "s=%d,%d pad=%d,%d,%d,%d dil=%d,%d g=%d layout=%d)",
             name, bad, n, (double)got[bad], (double)want[bad], d->batch, d->in_channels,
             d->in_height, d->in_width, d->out_channels, d->kernel_height, d->kernel_width,
             d->stride_height, d->stride_width, d->pad_top, d->pad_bottom, d->pad_left,
             d->pad_right, d->dilation_height, d->dilation_width, d->groups, (int)d->layout);
    return 1;
}

int test_random_conv_call(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                          size_t why_size)
{
    const blasconv_conv2d d = test_random_conv(r);
    const size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = conv_y_elems(&d);
    const size_t nk = (size_t)d.out_channels;
    const int with_bias = (int)(test_rng_next(r) & 1);
    float *x = random_floats(r, nx), *w = random_floats(r, nw), *bias = random_floats(r, nk);
    float *dy = random_floats(r, ny);
    float *got = nan_floats(nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny));
    float *want = nan_floats(nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny));
    float *db = nan_floats(nk), *want_db = nan_floats(nk);
    int failed = 0;
    blasconv_status st;
    if (!x || !w || !bias || !dy || !got || !want || !db || !want_db) {
        snprintf(why, why_size, "malloc failed");
        failed = 1;
        goto done;
    }
    const float *b = with_bias ? bias : NULL;
    (*calls)++;
    if ((st = blasconv_conv2d_forward(ctx, &d, x, w, b, got)) != BLASCONV_OK ||
        blasconv_reference_conv2d_forward(NULL, &d, x, w, b, want) != BLASCONV_OK) {
        snprintf(why, why_size, "forward returned %d: %s", st, blasconv_context_last_error(ctx));
        failed = 1;
        goto done;
    }
    if ((failed = disagree("forward", BLASCONV_PASS_FORWARD, &d, got, want, ny, why, why_size)))
        goto done;

    test_poison(got, nx);
    (*calls)++;
    if ((st = blasconv_conv2d_backward_data(ctx, &d, dy, w, got)) != BLASCONV_OK ||
        blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want) != BLASCONV_OK) {
        snprintf(why, why_size, "backward_data returned %d: %s", st,
                 blasconv_context_last_error(ctx));
        failed = 1;
        goto done;
    }
    if ((failed = disagree("backward_data", BLASCONV_PASS_BACKWARD_DATA, &d, got, want, nx, why,
                           why_size)))
        goto done;

    test_poison(got, nw);
    (*calls)++;
    if ((st = blasconv_conv2d_backward_filter(ctx, &d, x, dy, got, with_bias ? db : NULL)) !=
            BLASCONV_OK ||
        blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, want_db) != BLASCONV_OK) {
        snprintf(why, why_size, "backward_filter returned %d: %s", st,
                 blasconv_context_last_error(ctx));
        failed = 1;
        goto done;
    }
    if ((failed = disagree("backward_filter", BLASCONV_PASS_BACKWARD_FILTER, &d, got, want, nw,
                           why, why_size)))
        goto done;
    if (with_bias)
        failed = disagree("bias gradient", BLASCONV_PASS_BACKWARD_BIAS, &d, db, want_db, nk, why,
                          why_size);
done:
    free(x), free(w), free(bias), free(dy), free(got), free(want), free(db), free(want_db);
    return failed;
}

const test_random_call_kind test_random_call_kinds[] = {
    {"conv2d", test_random_conv_call},
};
const int test_random_call_kind_count =
    (int)(sizeof test_random_call_kinds / sizeof test_random_call_kinds[0]);
