/* libFuzzer harness: the three convolution passes (bias and dbias present or NULL)
 * against the reference on small descriptors and data decoded from the input, on
 * ctx NULL, a default context, a workspace limit or a caller buffer of fuzzed size,
 * each context on GEMM or FAST (Winograd for 3x3 stride-1 layers, which the layout
 * byte can force; weights constant or not, then forward runs twice on the same w).
 * Aborts on a mismatch beyond float tolerance, on a status that disagrees with the
 * reference or with the restated rules (WORKSPACE only below one output row),
 * and on any write to an output after a failed call. */
#include "fuzz_conv_rules.h"

static blasconv_conv2d decode(fuzz_input *in)
{
    blasconv_conv2d d = {0};
    d.groups = fuzz_int(in, 0, 4);
    const int g = d.groups ? d.groups : 1;
    d.batch = fuzz_int(in, 1, 3);
    d.in_channels = g * fuzz_int(in, 1, 4);
    d.out_channels = g * fuzz_int(in, 1, 4);
    if (fuzz_byte(in) % 16 == 0) /* now and then a group count that does not divide */
        d.in_channels += 1;
    d.in_height = fuzz_int(in, 1, 14);
    d.in_width = fuzz_int(in, 1, 14);
    d.kernel_height = fuzz_int(in, 1, 6);
    d.kernel_width = fuzz_int(in, 1, 6);
    d.stride_height = fuzz_int(in, 0, 4);
    d.stride_width = fuzz_int(in, 0, 4);
    d.pad_top = fuzz_int(in, 0, 5);
    d.pad_bottom = fuzz_int(in, 0, 5);
    d.pad_left = fuzz_int(in, 0, 5);
    d.pad_right = fuzz_int(in, 0, 5);
    d.dilation_height = fuzz_int(in, 0, 3);
    d.dilation_width = fuzz_int(in, 0, 3);
    const unsigned layout = fuzz_byte(in);
    d.layout = (blasconv_layout)(layout % 4 == 0 ? BLASCONV_NHWC : BLASCONV_NCHW);
    if (layout / 4 % 4 == 1) { /* a layer FAST runs as Winograd */
        d.kernel_height = d.kernel_width = 3;
        d.stride_height = d.stride_width = d.dilation_height = d.dilation_width = 0;
        d.groups = 1;
    }
    return d;
}

typedef struct setup {
    blasconv_context *ctx;
    void *buffer;
    uint64_t capacity; /* scratch bytes the fast passes may use; UINT64_MAX: no bound */
    int fast;          /* BLASCONV_ALGO_FAST */
} setup;

static setup make_setup(fuzz_input *in, const conv_expect *e)
{
    setup s = {NULL, NULL, UINT64_MAX, 0};
    const unsigned kind_byte = fuzz_byte(in), kind = kind_byte % 4;
    if (kind == 0)
        return s;
    if (blasconv_context_create(&s.ctx) != BLASCONV_OK)
        abort();
    if (kind_byte / 4 % 2) {
        s.fast = 1;
        if (blasconv_context_set_algorithm(s.ctx, BLASCONV_ALGO_FAST) != BLASCONV_OK ||
            blasconv_context_set_weights_constant(s.ctx, (int)(kind_byte / 8 % 2)) != BLASCONV_OK)
            fuzz_fail("set_algorithm(FAST) or set_weights_constant refused");
    }
    blasconv_context_set_threads(s.ctx, fuzz_int(in, 0, 2));
    /* A size around one output row: below it, exactly it, or a few rows. */
    const uint64_t row = e->one_row_bytes ? e->one_row_bytes : 64;
    const int64_t wanted = (int64_t)(row * fuzz_int(in, 0, 8) / 4) + fuzz_int(in, 0, 3) * 4 -
                           (int64_t)(fuzz_byte(in) & 1);
    const uint64_t bytes = wanted > 0 ? (uint64_t)wanted : 0;
    if (kind == 2) {
        s.capacity = bytes ? bytes : UINT64_MAX; /* a limit of 0 means none */
        blasconv_context_set_workspace_limit(s.ctx, bytes);
    } else if (kind == 3) {
        const unsigned skew = fuzz_int(in, 0, 3);
        s.buffer = malloc(bytes + skew ? bytes + skew : 1); /* exact: ASan sees overruns */
        if (!s.buffer)
            abort();
        const uint64_t lost = skew ? 4 - skew : 0; /* to reach float alignment */
        s.capacity = bytes > lost ? bytes - lost : 0;
        blasconv_context_set_workspace(s.ctx, (char *)s.buffer + skew, bytes);
    }
    return s;
}

/* The status the fast pass owes, given what the reference said. */
static void check_fast_status(const char *pass, blasconv_status fast, blasconv_status ref,
                              const blasconv_conv2d *d, const conv_expect *e, const setup *s)
{
    if (ref != e->status)
        fuzz_fail("reference %s returned %d, rules say %d", pass, ref, e->status);
    if (ref != BLASCONV_OK) {
        if (fast != ref)
            fuzz_fail("%s returned %d, reference %d", pass, fast, ref);
        return;
    }
    if (d->layout == BLASCONV_NHWC && fast == BLASCONV_ERR_UNSUPPORTED)
        return; /* NHWC is its own issue; until it lands UNSUPPORTED is the answer */
    const int short_of_scratch = d->layout == BLASCONV_NCHW ? s->capacity < e->one_row_bytes
                                                            : s->capacity < e->untiled_bytes;
    if (fast == BLASCONV_ERR_WORKSPACE && (short_of_scratch || d->layout == BLASCONV_NHWC))
        return;
    if (fast != BLASCONV_OK)
        fuzz_fail("%s returned %d (%s) where the reference succeeded; scratch %llu bytes, one row "
                  "%llu",
                  pass, fast, blasconv_context_last_error(s->ctx), (unsigned long long)s->capacity,
                  (unsigned long long)e->one_row_bytes);
    /* Success below one row is fine: a path may need less (depthwise, direct kernels).
     * The contract is only that one row always suffices. */
}

static void check_outputs(const char *pass, blasconv_status fast, const float *got,
                          const float *want, size_t n, double terms)
{
    if (fast == BLASCONV_OK)
        fuzz_compare(pass, got, want, n, fuzz_tolerance(terms));
    else if (!fuzz_canary_intact(got, n))
        fuzz_fail("%s failed with %d but wrote its output", pass, fast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size, 0};
    const blasconv_conv2d d = decode(&in);
    const conv_expect e = fuzz_conv_expect(&d);
    setup s = make_setup(&in, &e);
    const int with_bias = fuzz_byte(&in) & 1;
    const int valid = e.status == BLASCONV_OK;
    /* Buffers of the exact sizes (a few floats when the descriptor is invalid). */
    const size_t nx = valid ? (size_t)d.batch * d.in_channels * d.in_height * d.in_width : 4;
    const size_t nw = valid ? (size_t)d.out_channels * e.cg * d.kernel_height * d.kernel_width : 4;
    const size_t ny = valid ? (size_t)d.batch * d.out_channels * e.oh * e.ow : 4;
    const size_t nk = valid ? (size_t)d.out_channels : 4;
    float *x = fuzz_floats(&in, nx), *w = fuzz_floats(&in, nw), *dy = fuzz_floats(&in, ny);
    float *bias = fuzz_floats(&in, nk);

    /* Outputs start canary-filled: a failed call must leave them so, and a
     * successful one must overwrite every element (the canary never matches). */
    float *got = fuzz_canary(ny), *want = fuzz_canary(ny);
    blasconv_status ref =
        blasconv_reference_conv2d_forward(NULL, &d, x, w, with_bias ? bias : NULL, want);
    blasconv_status fast = blasconv_conv2d_forward(s.ctx, &d, x, w, with_bias ? bias : NULL, got);
    check_fast_status("forward", fast, ref, &d, &e, &s);
    /* FAST may add its documented error: 1e-6 * 9(C+1) * max|x| * max|w|, here 8 * 8. */
    const double fast_extra = s.fast ? 1e-6 * 9.0 * (d.in_channels + 1.0) * 64.0 : 0.0;
    const double forward_terms = (double)e.cg * d.kernel_height * d.kernel_width;
    if (fast == BLASCONV_OK)
        fuzz_compare("forward", got, want, ny, fuzz_tolerance(forward_terms) + fast_extra);
    else
        check_outputs("forward", fast, got, want, ny, forward_terms);
    if (s.fast && fast == BLASCONV_OK) { /* again on the same w: a kept transform */
        free(got);
        got = fuzz_canary(ny);
        fast = blasconv_conv2d_forward(s.ctx, &d, x, w, with_bias ? bias : NULL, got);
        if (fast != BLASCONV_OK)
            fuzz_fail("FAST forward failed with %d on its second call", fast);
        fuzz_compare("forward again", got, want, ny, fuzz_tolerance(forward_terms) + fast_extra);
    }
    free(got), free(want);

    /* backward data */
    got = fuzz_canary(nx);
    want = fuzz_canary(nx);
    ref = blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want);
    fast = blasconv_conv2d_backward_data(s.ctx, &d, dy, w, got);
    check_fast_status("backward_data", fast, ref, &d, &e, &s);
    /* FAST's backward data (3x3 stride-1): 1e-6 * 9(K+1) * max|dy| * max|w|, 8 * 8 */
    const double data_terms = (double)e.kg * d.kernel_height * d.kernel_width;
    if (fast == BLASCONV_OK)
        fuzz_compare("backward_data", got, want, nx,
                     fuzz_tolerance(data_terms) +
                         (s.fast ? 1e-6 * 9.0 * (d.out_channels + 1.0) * 64.0 : 0.0));
    else
        check_outputs("backward_data", fast, got, want, nx, data_terms);
    free(got), free(want);

    /* backward filter, dbias or none */
    got = fuzz_canary(nw);
    want = fuzz_canary(nw);
    float *db = fuzz_canary(nk), *want_db = fuzz_canary(nk);
    ref = blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, want_db);
    fast = blasconv_conv2d_backward_filter(s.ctx, &d, x, dy, got, with_bias ? db : NULL);
    check_fast_status("backward_filter", fast, ref, &d, &e, &s);
    const double positions = valid ? (double)d.batch * (double)(e.oh * e.ow) : 1;
    check_outputs("backward_filter", fast, got, want, nw, positions);
    if (with_bias)
        check_outputs("bias gradient", fast, db, want_db, nk, positions);
    else if (!fuzz_canary_intact(db, nk))
        fuzz_fail("dbias NULL, yet the canary buffer changed");
    free(got), free(want), free(db), free(want_db);

    blasconv_context_destroy(s.ctx);
    free(s.buffer);
    free(x), free(w), free(dy), free(bias);
    return 0;
}
