/* libFuzzer harness: pooling. Descriptors whose fields now and then take edge-of-int
 * values (both modes and layouts, unknown enums, pads over half the window, AVG with
 * dilation, ceil_mode, exclude_pad) go to output_size, forward and backward, fast and
 * reference, on ctx NULL or a context (a thread count, a workspace limit: pooling uses
 * no scratch, so a limit never matters). Aborts on a status that differs from the
 * pooling rules of API.md ("Edge rules") restated below, on a mismatch with the
 * reference (MAX bit for bit, AVG within rounding), and on any write to an output
 * after a failed call. Data are small multiples of 1/16 with NaN and infinities. */
#include "fuzz_input.h"

/* Above this many elements, or this many window taps (the reference visits every
 * tap of every window, padding included: slow on purpose), a valid descriptor is
 * only sized, not run. */
#define RUN_LIMIT 20000
#define TAP_LIMIT 2000000.0

typedef struct pool_expect {
    blasconv_status status;
    int64_t oh, ow;
} pool_expect;

/* One axis of PyTorch's pooling_output_shape, restated with 128-bit products:
 * floor (or ceil) of the span over the stride, plus one; with ceil_mode the last
 * window must start before in + pad_before, else one fewer. */
static __int128 pool_extent(int64_t in, int64_t pad_before, int64_t pad_after, int64_t window,
                            int64_t stride, int64_t dilation, int ceil_mode)
{
    const __int128 span =
        (__int128)in + pad_before + pad_after - (__int128)dilation * (window - 1) - 1;
    const __int128 num = span + (ceil_mode ? stride - 1 : 0);
    __int128 out = num / stride;
    if (num % stride != 0 && num < 0)
        out -= 1; /* mathematical floor, as div_rtn */
    out += 1;
    if (ceil_mode && (out - 1) * stride >= (__int128)in + pad_before)
        out -= 1;
    return out;
}

static int at_least_2_31(int64_t a, int64_t b, int64_t c, int64_t d)
{
    unsigned __int128 p = (unsigned __int128)a * (unsigned __int128)b;
    p *= (unsigned __int128)c;
    p *= (unsigned __int128)d;
    return p >= ((unsigned __int128)1 << 31);
}

static pool_expect pool_rules(const blasconv_pool2d *d)
{
    pool_expect e = {BLASCONV_ERR_BAD_SHAPE, 0, 0};
    if ((d->layout != BLASCONV_NCHW && d->layout != BLASCONV_NHWC) ||
        (d->mode != BLASCONV_POOL_MAX && d->mode != BLASCONV_POOL_AVG))
        return e;
    if (d->batch < 1 || d->channels < 1 || d->in_height < 1 || d->in_width < 1 ||
        d->window_height < 1 || d->window_width < 1)
        return e;
    if (d->stride_height < 0 || d->stride_width < 0 || d->pad_top < 0 || d->pad_bottom < 0 ||
        d->pad_left < 0 || d->pad_right < 0 || d->dilation_height < 0 || d->dilation_width < 0)
        return e;
    /* pad <= window/2 on the undilated window */
    if (2 * (int64_t)d->pad_top > d->window_height ||
        2 * (int64_t)d->pad_bottom > d->window_height ||
        2 * (int64_t)d->pad_left > d->window_width || 2 * (int64_t)d->pad_right > d->window_width)
        return e;
    const int64_t sh = d->stride_height ? d->stride_height : d->window_height;
    const int64_t sw = d->stride_width ? d->stride_width : d->window_width;
    const int64_t dh = d->dilation_height ? d->dilation_height : 1;
    const int64_t dw = d->dilation_width ? d->dilation_width : 1;
    if (d->mode == BLASCONV_POOL_AVG && (dh != 1 || dw != 1))
        return e;
    const __int128 oh = pool_extent(d->in_height, d->pad_top, d->pad_bottom, d->window_height, sh,
                                    dh, d->ceil_mode != 0);
    const __int128 ow = pool_extent(d->in_width, d->pad_left, d->pad_right, d->window_width, sw,
                                    dw, d->ceil_mode != 0);
    if (oh < 1 || ow < 1)
        return e;
    e.status = BLASCONV_ERR_OVERFLOW;
    if (oh > INT_MAX || ow > INT_MAX)
        return e;
    e.oh = (int64_t)oh;
    e.ow = (int64_t)ow;
    if (at_least_2_31(d->batch, d->channels, d->in_height, d->in_width) ||
        at_least_2_31(d->batch, d->channels, e.oh, e.ow))
        return e;
    e.status = BLASCONV_OK;
    return e;
}

static blasconv_pool2d decode(fuzz_input *in)
{
    blasconv_pool2d d = {0};
    d.mode = (blasconv_pool_mode)fuzz_wild_int(in, 0, 1);
    d.batch = fuzz_wild_int(in, 1, 2);
    d.channels = fuzz_wild_int(in, 1, 4);
    d.in_height = fuzz_wild_int(in, 1, 12);
    d.in_width = fuzz_wild_int(in, 1, 12);
    d.window_height = fuzz_wild_int(in, 1, 6);
    d.window_width = fuzz_wild_int(in, 1, 6);
    d.stride_height = fuzz_wild_int(in, 0, 4);
    d.stride_width = fuzz_wild_int(in, 0, 4);
    d.pad_top = fuzz_wild_int(in, 0, 3);
    d.pad_bottom = fuzz_wild_int(in, 0, 3);
    d.pad_left = fuzz_wild_int(in, 0, 3);
    d.pad_right = fuzz_wild_int(in, 0, 3);
    d.dilation_height = fuzz_wild_int(in, 0, 3);
    d.dilation_width = fuzz_wild_int(in, 0, 3);
    d.ceil_mode = fuzz_int(in, 0, 2) - (fuzz_byte(in) % 16 == 0); /* any nonzero is true */
    d.exclude_pad = fuzz_int(in, 0, 1);
    d.layout = (blasconv_layout)fuzz_wild_int(in, 0, 1);
    return d;
}

static void check_status(const char *what, blasconv_status got, blasconv_status want,
                         const blasconv_pool2d *d, const blasconv_context *ctx)
{
    if (got != want)
        fuzz_fail("%s returned %d (%s), rules say %d (mode=%d N=%d C=%d H=%d W=%d k=%dx%d "
                  "s=%d,%d pad=%d,%d,%d,%d dil=%d,%d ceil=%d exclude_pad=%d layout=%d)",
                  what, got, blasconv_context_last_error(ctx), want, (int)d->mode, d->batch,
                  d->channels, d->in_height, d->in_width, d->window_height, d->window_width,
                  d->stride_height, d->stride_width, d->pad_top, d->pad_bottom, d->pad_left,
                  d->pad_right, d->dilation_height, d->dilation_width, d->ceil_mode,
                  d->exclude_pad, (int)d->layout);
}

/* Data with NaN (byte 0x80) and infinities (0x7F, 0x81) when the flag says so. */
static float *pool_data(fuzz_input *in, size_t n, int specials)
{
    float *a = fuzz_floats(in, n);
    for (size_t i = 0; specials && i < n; i++)
        if (a[i] == -8.0f)
            a[i] = NAN;
        else if (a[i] == 127.0f / 16)
            a[i] = INFINITY;
        else if (a[i] == -127.0f / 16)
            a[i] = -INFINITY;
    return a;
}

/* MAX: bit for bit (the first maximum, so even a signed zero); AVG and gradients:
 * within float rounding of a sum of `terms` values. NaN only against NaN. */
static void compare(const char *what, const float *got, const float *want, size_t n, int exact,
                    double terms)
{
    for (size_t i = 0; exact && i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0 && !(isnan(got[i]) && isnan(want[i])))
            fuzz_fail("%s: element %zu of %zu: got %.9g want %.9g (bit for bit)", what, i, n,
                      (double)got[i], (double)want[i]);
    if (!exact)
        fuzz_compare(what, got, want, n, fuzz_tolerance(terms));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size, 0};
    const blasconv_pool2d d = decode(&in);
    const unsigned null_choice = fuzz_byte(&in); /* < 4: one pointer NULL */
    const unsigned ctx_kind = fuzz_byte(&in) % 4;
    const int specials = fuzz_byte(&in) & 1;
    const pool_expect e = pool_rules(&d);

    blasconv_context *ctx = NULL;
    if (ctx_kind != 0) {
        if (blasconv_context_create(&ctx) != BLASCONV_OK)
            abort();
        blasconv_context_set_threads(ctx, (int)ctx_kind - 1);
        if (ctx_kind == 3)
            blasconv_context_set_workspace_limit(ctx, 1); /* pooling needs no scratch */
    }

    int oh = -7, ow = -7;
    blasconv_status st =
        blasconv_pool2d_output_size(null_choice == 0 ? NULL : &d, null_choice == 1 ? NULL : &oh,
                                    null_choice == 2 ? NULL : &ow);
    check_status("pool2d_output_size", st, null_choice < 3 ? BLASCONV_ERR_NULL_POINTER : e.status,
                 &d, NULL);
    if (st == BLASCONV_OK && (oh != e.oh || ow != e.ow))
        fuzz_fail("pool2d_output_size %dx%d, rules say %lldx%lld", oh, ow, (long long)e.oh,
                  (long long)e.ow);
    if (st != BLASCONV_OK && (oh != -7 || ow != -7))
        fuzz_fail("pool2d_output_size failed with %d but wrote its outputs", st);

    const int valid = e.status == BLASCONV_OK;
    const size_t nx = valid ? (size_t)d.batch * d.channels * d.in_height * d.in_width : 4;
    const size_t ny = valid ? (size_t)d.batch * d.channels * (size_t)e.oh * (size_t)e.ow : 4;
    const double taps = (double)ny * d.window_height * d.window_width;
    if (valid && (nx + ny > RUN_LIMIT || taps > TAP_LIMIT) && null_choice >= 4) {
        blasconv_context_destroy(ctx);
        return 0; /* sized only: running it would take too long */
    }
    /* Invalid or NULL: buffers of 4 floats that no call may touch. */
    const size_t bx = valid && null_choice >= 4 ? nx : 4, by = valid && null_choice >= 4 ? ny : 4;
    float *x = pool_data(&in, bx, specials), *dy = pool_data(&in, by, 0);
    const blasconv_status want = null_choice < 4 ? BLASCONV_ERR_NULL_POINTER : e.status;
    const double window = (double)d.window_height * d.window_width;

    float *y = fuzz_canary(by), *want_y = fuzz_canary(by);
    const blasconv_pool2d *dp = null_choice == 3 ? NULL : &d;
    const float *fx = null_choice == 0 ? NULL : x;
    const int y_null = null_choice == 1 || null_choice == 2;
    st = blasconv_pool2d_forward(ctx, dp, fx, y_null ? NULL : y);
    check_status("pool2d_forward", st, want, &d, ctx);
    blasconv_status ref = blasconv_reference_pool2d_forward(NULL, dp, fx, y_null ? NULL : want_y);
    check_status("reference_pool2d_forward", ref, want, &d, NULL);
    if (st == BLASCONV_OK)
        compare("pool2d_forward", y, want_y, by, d.mode == BLASCONV_POOL_MAX, window);
    else if (!fuzz_canary_intact(y, by) || !fuzz_canary_intact(want_y, by))
        fuzz_fail("pool2d_forward failed with %d but wrote its output", st);

    float *dx = fuzz_canary(bx), *want_dx = fuzz_canary(bx);
    st = blasconv_pool2d_backward(ctx, dp, fx, null_choice == 1 ? NULL : dy,
                                  null_choice == 2 ? NULL : dx);
    check_status("pool2d_backward", st, want, &d, ctx);
    ref = blasconv_reference_pool2d_backward(NULL, dp, fx, null_choice == 1 ? NULL : dy,
                                             null_choice == 2 ? NULL : want_dx);
    check_status("reference_pool2d_backward", ref, want, &d, NULL);
    if (st == BLASCONV_OK)
        compare("pool2d_backward", dx, want_dx, bx, 0, 4 * window);
    else if (!fuzz_canary_intact(dx, bx) || !fuzz_canary_intact(want_dx, bx))
        fuzz_fail("pool2d_backward failed with %d but wrote its output", st);

    blasconv_context_destroy(ctx);
    free(x), free(dy), free(y), free(want_y), free(dx), free(want_dx);
    return 0;
}
