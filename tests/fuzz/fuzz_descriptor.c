/* libFuzzer harness: descriptor validation. Wild descriptors (every field may take
 * an edge-of-int value) go to output_size, workspace_size and every pass, fast and
 * reference; each must return the status fuzz_conv_rules.h restates from API.md
 * (NULL pointers first), report the restated sizes, and leave canaries alone. */
#include "fuzz_conv_rules.h"

#define CANARY_FLOATS 64

static blasconv_conv2d decode(fuzz_input *in)
{
    blasconv_conv2d d = {0};
    d.batch = fuzz_wild_int(in, 1, 4);
    d.in_channels = fuzz_wild_int(in, 1, 8);
    d.in_height = fuzz_wild_int(in, 1, 16);
    d.in_width = fuzz_wild_int(in, 1, 16);
    d.out_channels = fuzz_wild_int(in, 1, 8);
    d.kernel_height = fuzz_wild_int(in, 1, 6);
    d.kernel_width = fuzz_wild_int(in, 1, 6);
    d.stride_height = fuzz_wild_int(in, 0, 4);
    d.stride_width = fuzz_wild_int(in, 0, 4);
    d.pad_top = fuzz_wild_int(in, 0, 5);
    d.pad_bottom = fuzz_wild_int(in, 0, 5);
    d.pad_left = fuzz_wild_int(in, 0, 5);
    d.pad_right = fuzz_wild_int(in, 0, 5);
    d.dilation_height = fuzz_wild_int(in, 0, 3);
    d.dilation_width = fuzz_wild_int(in, 0, 3);
    d.groups = fuzz_wild_int(in, 0, 4);
    d.layout = (blasconv_layout)fuzz_wild_int(in, 0, 1);
    return d;
}

static void check_status(const char *what, blasconv_status got, blasconv_status want,
                         const blasconv_conv2d *d)
{
    if (got != want)
        fuzz_fail("%s returned %d, rules say %d (N=%d C=%d H=%d W=%d K=%d k=%dx%d s=%d,%d "
                  "pad=%d,%d,%d,%d dil=%d,%d g=%d layout=%d)",
                  what, got, want, d->batch, d->in_channels, d->in_height, d->in_width,
                  d->out_channels, d->kernel_height, d->kernel_width, d->stride_height,
                  d->stride_width, d->pad_top, d->pad_bottom, d->pad_left, d->pad_right,
                  d->dilation_height, d->dilation_width, d->groups, (int)d->layout);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size, 0};
    const blasconv_conv2d d = decode(&in);
    const unsigned null_choice = fuzz_byte(&in); /* < 5 means: one pointer NULL */
    conv_expect e = fuzz_conv_expect(&d);
    const blasconv_status want = null_choice < 5 ? BLASCONV_ERR_NULL_POINTER : e.status;

    int oh = -7, ow = -7;
    blasconv_status st =
        blasconv_conv2d_output_size(null_choice == 0 ? NULL : &d, null_choice == 1 ? NULL : &oh,
                                    null_choice == 2 ? NULL : &ow);
    check_status("conv2d_output_size", st, null_choice < 3 ? BLASCONV_ERR_NULL_POINTER : e.status,
                 &d);
    if (st == BLASCONV_OK && (oh != e.oh || ow != e.ow))
        fuzz_fail("output_size %dx%d, rules say %lldx%lld", oh, ow, (long long)e.oh,
                  (long long)e.ow);
    if (st != BLASCONV_OK && (oh != -7 || ow != -7))
        fuzz_fail("output_size wrote its outputs on status %d", st);

    size_t ws[3] = {7, 7, 7};
    st = blasconv_conv2d_workspace_size(
        null_choice == 0 ? NULL : &d, null_choice == 1 ? NULL : &ws[0],
        null_choice == 2 ? NULL : &ws[1], null_choice == 3 ? NULL : &ws[2]);
    check_status("conv2d_workspace_size", st,
                 null_choice < 4 ? BLASCONV_ERR_NULL_POINTER : e.status, &d);
    /* NCHW: each pass needs the untiled im2col buffer, or nothing where its path
     * lowers nothing (1x1 direct; depthwise forward), or forward and backward data
     * their kernel-column lowering. */
    const uint64_t shifted[3] = {e.shifted_forward_bytes, e.shifted_data_bytes, 0};
    for (int i = 0; st == BLASCONV_OK && d.layout == BLASCONV_NCHW && i < 3; i++)
        if (ws[i] != 0 && ws[i] != e.untiled_bytes && (!shifted[i] || ws[i] != shifted[i]))
            fuzz_fail("workspace_size %zu/%zu/%zu, rules say 0, %llu or %llu/%llu", ws[0], ws[1],
                      ws[2], (unsigned long long)e.untiled_bytes,
                      (unsigned long long)e.shifted_forward_bytes,
                      (unsigned long long)e.shifted_data_bytes);
    if (st != BLASCONV_OK && (ws[0] != 7 || ws[1] != 7 || ws[2] != 7))
        fuzz_fail("workspace_size wrote its outputs on status %d", st);

    /* The passes, when the rules say they fail: tiny canary buffers suffice, since
     * nothing may be read or written. (Valid descriptors are fuzz_conv's job.) */
    if (want == BLASCONV_OK || (null_choice == 4 && e.status == BLASCONV_OK))
        return 0; /* valid: the passes would really run (fuzz_conv covers them) */
    float *a = fuzz_canary(CANARY_FLOATS), *b = fuzz_canary(CANARY_FLOATS);
    float *o = fuzz_canary(CANARY_FLOATS);
    float *o2 = fuzz_canary(CANARY_FLOATS);
    const blasconv_conv2d *dp = null_choice == 0 ? NULL : &d;
    const float *x = null_choice == 1 ? NULL : a, *w = null_choice == 2 ? NULL : b;
    float *out = null_choice == 3 ? NULL : o, *out2 = null_choice == 4 ? NULL : o2;
    blasconv_context *ctx = NULL;
    if (fuzz_byte(&in) & 1 && blasconv_context_create(&ctx) != BLASCONV_OK)
        abort();
    /* out2 (bias / dbias) is optional: NULL there is no error. */
    blasconv_status optional_want = null_choice == 4 ? e.status : want;
    check_status("conv2d_forward", blasconv_conv2d_forward(ctx, dp, x, w, out2, out),
                 optional_want, &d);
    check_status("reference_conv2d_forward",
                 blasconv_reference_conv2d_forward(ctx, dp, x, w, out2, out), optional_want, &d);
    check_status("conv2d_backward_data", blasconv_conv2d_backward_data(ctx, dp, x, w, out),
                 null_choice == 4 ? e.status : want, &d);
    check_status("reference_conv2d_backward_data",
                 blasconv_reference_conv2d_backward_data(ctx, dp, x, w, out),
                 null_choice == 4 ? e.status : want, &d);
    check_status("conv2d_backward_filter",
                 blasconv_conv2d_backward_filter(ctx, dp, x, w, out, out2), optional_want, &d);
    check_status("reference_conv2d_backward_filter",
                 blasconv_reference_conv2d_backward_filter(ctx, dp, x, w, out, out2),
                 optional_want, &d);
    if (!fuzz_canary_intact(a, CANARY_FLOATS) || !fuzz_canary_intact(b, CANARY_FLOATS) ||
        !fuzz_canary_intact(o, CANARY_FLOATS) || !fuzz_canary_intact(o2, CANARY_FLOATS))
        fuzz_fail("a failing call wrote a buffer");
    if (ctx && optional_want != BLASCONV_OK && blasconv_context_last_error(ctx)[0] == '\0')
        fuzz_fail("a failing call left no last error");
    blasconv_context_destroy(ctx);
    free(a), free(b), free(o), free(o2);
    return 0;
}
