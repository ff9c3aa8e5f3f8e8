#include "random_calls.h"

#include "pooltest.h"

#include <math.h>
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
    blasconv_conv2d d = test_random_conv(r);
    d.layout = test_rng_int(r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW;
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

/* A 3x3 stride-1 descriptor FAST takes (Winograd), small: odd sizes, pads 0-2. */
static blasconv_conv2d random_fast_eligible(test_rng *r)
{
    blasconv_conv2d d = {0};
    d.batch = test_rng_int(r, 1, 2);
    d.in_channels = test_rng_int(r, 1, 8);
    d.out_channels = test_rng_int(r, 1, 8);
    d.kernel_height = d.kernel_width = 3;
    d.pad_top = test_rng_int(r, 0, 2);
    d.pad_bottom = test_rng_int(r, 0, 2);
    d.pad_left = test_rng_int(r, 0, 2);
    d.pad_right = test_rng_int(r, 0, 2);
    const int min_h = 3 - d.pad_top - d.pad_bottom, min_w = 3 - d.pad_left - d.pad_right;
    d.in_height = test_rng_int(r, min_h > 1 ? min_h : 1, 14);
    d.in_width = test_rng_int(r, min_w > 1 ? min_w : 1, 14);
    d.stride_width = test_rng_int(r, 0, 1); /* 0 is the default, 1 */
    d.dilation_height = test_rng_int(r, 0, 1);
    d.groups = test_rng_int(r, 0, 1);
    d.layout = test_rng_int(r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW;
    return d;
}

/* FAST's documented bound (README "FAST: Winograd", tests/test_winograd.c): the public
 * RANDOM_DATA tolerance plus 1e-6 * 9(C+1) * max|x| * max|w| for y (9(K+1) * max|dy|
 * * max|w| for dx), data in [-1, 1). */
static int fast_disagrees(const char *name, const blasconv_conv2d *d, blasconv_conv2d_pass pass,
                          const float *got, const float *want, size_t n, char *why,
                          size_t why_size)
{
    double atol, rtol;
    blasconv_compare_report rep;
    const int channels = pass == BLASCONV_PASS_FORWARD ? d->in_channels : d->out_channels;
    if (blasconv_conv2d_tolerance(d, pass, BLASCONV_TOLERANCE_RANDOM_DATA, 1.0, &atol, &rtol) !=
            BLASCONV_OK ||
        blasconv_compare(got, want, n, atol + 1e-6 * 9.0 * (channels + 1), rtol, &rep) !=
            BLASCONV_OK) {
        snprintf(why, why_size, "%s: tolerance or compare refused the problem", name);
        return 1;
    }
    if (rep.passed)
        return 0;
    snprintf(why, why_size, "%s: element %zu of %zu: got %.9g want %.9g (%s)", name,
             rep.worst_index, n, (double)got[rep.worst_index], (double)want[rep.worst_index],
             test_conv_describe(d));
    return 1;
}

int test_random_fast_call(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                          size_t why_size)
{
    blasconv_context *own = NULL;
    if (!ctx) { /* FAST is a context setting: ctx NULL gets a context of its own */
        if (blasconv_context_create(&own) != BLASCONV_OK) {
            snprintf(why, why_size, "context_create failed");
            return 1;
        }
        ctx = own;
    }
    /* Mostly layers FAST takes; now and then any layer, which FAST must leave to GEMM. */
    blasconv_conv2d d = random_fast_eligible(r);
    if (test_rng_int(r, 0, 4) == 0) {
        d = test_random_conv(r);
        d.layout = test_rng_int(r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW;
    }
    const int constant = test_rng_int(r, 0, 1);
    const size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = conv_y_elems(&d);
    float *x = random_floats(r, nx), *w = random_floats(r, nw);
    float *bias = random_floats(r, (size_t)d.out_channels);
    float *got = nan_floats(ny), *want = nan_floats(ny);
    float *dx = nan_floats(nx), *want_dx = nan_floats(nx);
    int failed = 1;
    blasconv_status st = BLASCONV_OK;
    if (!x || !w || !bias || !got || !want || !dx || !want_dx) {
        snprintf(why, why_size, "malloc failed");
        goto done;
    }
    if (blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_FAST) != BLASCONV_OK ||
        blasconv_context_set_weights_constant(ctx, constant) != BLASCONV_OK) {
        snprintf(why, why_size, "set_algorithm or set_weights_constant failed: %s",
                 blasconv_context_last_error(ctx));
        goto done;
    }
    /* Three forwards on this thread's own weights: new x with the same w (a kept
     * transform is reused), then w changed in place after set_weights_constant again
     * (the transform must be forgotten). */
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            for (size_t i = 0; i < nx; i++)
                x[i] = test_rng_float(r);
        if (round == 2) {
            for (size_t i = 0; i < nw; i++)
                w[i] = test_rng_float(r);
            blasconv_context_set_weights_constant(ctx, constant);
        }
        const float *b = round == 1 ? NULL : bias;
        test_poison(got, ny);
        (*calls)++;
        if ((st = blasconv_conv2d_forward(ctx, &d, x, w, b, got)) != BLASCONV_OK ||
            blasconv_reference_conv2d_forward(NULL, &d, x, w, b, want) != BLASCONV_OK) {
            snprintf(why, why_size, "FAST forward (round %d) returned %d: %s", round, st,
                     blasconv_context_last_error(ctx));
            goto done;
        }
        if (fast_disagrees(round == 2 ? "FAST forward, weights changed" : "FAST forward", &d,
                           BLASCONV_PASS_FORWARD, got, want, ny, why, why_size))
            goto done;
    }
    /* Backward data on the same w, y's buffers as dy and the reference dx's. */
    for (size_t i = 0; i < ny; i++)
        got[i] = test_rng_float(r);
    test_poison(dx, nx);
    (*calls)++;
    if ((st = blasconv_conv2d_backward_data(ctx, &d, got, w, dx)) != BLASCONV_OK ||
        blasconv_reference_conv2d_backward_data(NULL, &d, got, w, want_dx) != BLASCONV_OK) {
        snprintf(why, why_size, "FAST backward data returned %d: %s", st,
                 blasconv_context_last_error(ctx));
        goto done;
    }
    if (fast_disagrees("FAST backward data", &d, BLASCONV_PASS_BACKWARD_DATA, dx, want_dx, nx, why,
                       why_size))
        goto done;
    failed = 0;
done:
    /* Back to the defaults, so the caller's context runs GEMM again. */
    blasconv_context_set_weights_constant(ctx, 0);
    blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_GEMM);
    blasconv_context_destroy(own);
    free(x), free(w), free(bias), free(got), free(want), free(dx), free(want_dx);
    return failed;
}

/* MAX must match bit for bit (the same first maximum, NaN where the oracle has NaN);
 * AVG and every backward within rounding, infinities exactly. */
static int pool_disagrees(const char *name, const blasconv_pool2d *d, const float *got,
                          const float *want, size_t n, int exact, char *why, size_t why_size)
{
    for (size_t i = 0; i < n; i++) {
        const float g = got[i], w = want[i];
        int bad;
        if (isnan(g) || isnan(w))
            bad = isnan(g) != isnan(w);
        else if (exact)
            bad = memcmp(&g, &w, sizeof g) != 0;
        else if (isinf(g) || isinf(w))
            bad = g != w;
        else
            bad = fabs((double)g - (double)w) > 1e-5 + 1e-5 * fabs((double)w);
        if (bad) {
            snprintf(why, why_size, "%s: element %zu of %zu: got %.9g want %.9g (%s)", name, i, n,
                     (double)g, (double)w, pool_describe(d));
            return 1;
        }
    }
    return 0;
}

/* pool_random_input's three kinds (small integers with ties and signed zeros, plain
 * floats, floats with NaN and infinities), without its Check asserts: the soak runs
 * outside Check. */
static float *pool_input(test_rng *r, size_t n)
{
    float *x = random_floats(r, n);
    const int kind = test_rng_int(r, 0, 2);
    for (size_t i = 0; x && i < n; i++) {
        if (kind == 0) {
            const int v = test_rng_int(r, -2, 2);
            x[i] = v == 0 && test_rng_int(r, 0, 1) ? -0.0f : (float)v;
        } else if (kind == 2) {
            const int roll = test_rng_int(r, 0, 19);
            x[i] = roll == 0 ? NAN : roll == 1 ? INFINITY : roll == 2 ? -INFINITY : x[i];
        }
    }
    return x;
}

int test_random_pool_call(test_rng *r, blasconv_context *ctx, long *calls, char *why,
                          size_t why_size)
{
    blasconv_pool2d d = pool_random_descriptor(r);
    d.layout = test_rng_int(r, 0, 1) ? BLASCONV_NHWC : BLASCONV_NCHW;
    int oh = 0, ow = 0;
    if (blasconv_pool2d_output_size(&d, &oh, &ow) != BLASCONV_OK) {
        snprintf(why, why_size, "pool2d_output_size refused %s", pool_describe(&d));
        return 1;
    }
    const size_t nx = pool_x_elems(&d), ny = (size_t)d.batch * d.channels * oh * ow;
    float *x = pool_input(r, nx), *dy = random_floats(r, ny);
    float *y = nan_floats(ny), *want_y = nan_floats(ny);
    float *dx = nan_floats(nx), *want_dx = nan_floats(nx);
    int failed = 1;
    blasconv_status st;
    if (!x || !dy || !y || !want_y || !dx || !want_dx) {
        snprintf(why, why_size, "malloc failed");
        goto done;
    }
    pool_fill(y, ny, POOL_POISON); /* no pooling produces it: an unwritten element fails */
    pool_fill(dx, nx, POOL_POISON);
    (*calls)++;
    if ((st = blasconv_pool2d_forward(ctx, &d, x, y)) != BLASCONV_OK ||
        blasconv_reference_pool2d_forward(NULL, &d, x, want_y) != BLASCONV_OK) {
        snprintf(why, why_size, "pool forward returned %d: %s (%s)", st,
                 blasconv_context_last_error(ctx), pool_describe(&d));
        goto done;
    }
    if (pool_disagrees("pool forward", &d, y, want_y, ny, d.mode == BLASCONV_POOL_MAX, why,
                       why_size))
        goto done;
    (*calls)++;
    if ((st = blasconv_pool2d_backward(ctx, &d, x, dy, dx)) != BLASCONV_OK ||
        blasconv_reference_pool2d_backward(NULL, &d, x, dy, want_dx) != BLASCONV_OK) {
        snprintf(why, why_size, "pool backward returned %d: %s (%s)", st,
                 blasconv_context_last_error(ctx), pool_describe(&d));
        goto done;
    }
    failed = pool_disagrees("pool backward", &d, dx, want_dx, nx, 0, why, why_size);
done:
    free(x), free(dy), free(y), free(want_y), free(dx), free(want_dx);
    return failed;
}

const test_random_call_kind test_random_call_kinds[] = {
    {"conv2d", test_random_conv_call},
    {"pool2d", test_random_pool_call},
    {"conv2d FAST", test_random_fast_call},
};
const int test_random_call_kind_count =
    (int)(sizeof test_random_call_kinds / sizeof test_random_call_kinds[0]);
