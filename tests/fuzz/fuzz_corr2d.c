/* libFuzzer harness: blasconv_corr2d against the reference convolution of the
 * same one-channel problem, with sizes that are now and then wild (zero, negative,
 * kernel larger than the image, products past 2^31), statuses restated from the
 * chapter's rules, and canaries on failure. */
#include "fuzz_conv_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size, 0};
    const int h = fuzz_wild_int(&in, 1, 24), w = fuzz_wild_int(&in, 1, 24);
    const int kh = fuzz_wild_int(&in, 1, 8), kw = fuzz_wild_int(&in, 1, 8);
    const unsigned null_choice = fuzz_byte(&in); /* < 3: one pointer NULL */
    blasconv_status want = BLASCONV_OK;
    if (null_choice < 3)
        want = BLASCONV_ERR_NULL_POINTER;
    else if (h <= 0 || w <= 0 || kh <= 0 || kw <= 0 || kh > h || kw > w)
        want = BLASCONV_ERR_BAD_SHAPE;
    else if (fuzz_count_at_least_2_31(h, w, 1, 1))
        want = BLASCONV_ERR_OVERFLOW;
    const int valid = want == BLASCONV_OK;
    if (valid &&
        ((int64_t)h * w > 1 << 16 || (int64_t)(h - kh + 1) * (w - kw + 1) * kh * kw > 1 << 20))
        return 0; /* valid but too big to run many times a second */
    const size_t nx = valid ? (size_t)h * w : 4, nk = valid ? (size_t)kh * kw : 4;
    const size_t ny = valid ? (size_t)(h - kh + 1) * (size_t)(w - kw + 1) : 4;
    float *x = fuzz_floats(&in, nx), *k = fuzz_floats(&in, nk);
    float *y = fuzz_canary(ny), *ref = fuzz_canary(ny);
    blasconv_context *ctx = NULL;
    if (fuzz_byte(&in) & 1 && blasconv_context_create(&ctx) != BLASCONV_OK)
        abort();
    blasconv_status st =
        blasconv_corr2d(ctx, null_choice == 0 ? NULL : x, h, w, null_choice == 1 ? NULL : k, kh,
                        kw, null_choice == 2 ? NULL : y);
    if (st != want)
        fuzz_fail("corr2d %dx%d kernel %dx%d returned %d, rules say %d", h, w, kh, kw, st, want);
    if (valid) {
        const blasconv_conv2d d = {.batch = 1,
                                   .in_channels = 1,
                                   .in_height = h,
                                   .in_width = w,
                                   .out_channels = 1,
                                   .kernel_height = kh,
                                   .kernel_width = kw};
        if (blasconv_reference_conv2d_forward(NULL, &d, x, k, NULL, ref) != BLASCONV_OK)
            fuzz_fail("reference refused corr2d's problem %dx%d kernel %dx%d", h, w, kh, kw);
        fuzz_compare("corr2d", y, ref, ny, fuzz_tolerance((double)kh * kw));
    } else if (!fuzz_canary_intact(y, ny) || !fuzz_canary_intact(x, 0)) {
        fuzz_fail("corr2d failed with %d but wrote y", st);
    }
    if (ctx && !valid && blasconv_context_last_error(ctx)[0] == '\0')
        fuzz_fail("corr2d failed with %d and left no last error", st);
    blasconv_context_destroy(ctx);
    free(x), free(k), free(y), free(ref);
    return 0;
}
