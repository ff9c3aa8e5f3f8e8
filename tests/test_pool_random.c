/* Fast pooling agrees with the reference oracle on hundreds of random descriptors
 * (every option, ties, signed zeros, NaN, infinities), in NCHW and NHWC, with one
 * and two threads; and NHWC equals NCHW under the permutation. Outputs start as
 * POOL_POISON, which no pooling produces, so an unwritten element fails. */
#include "pooltest.h"

#include <stdlib.h>
#include <string.h>

#define RANDOM_CASES 500

/* Index of the first element that differs: MAX must match bit for bit (the same
 * first maximum, so even the sign of a zero tie); AVG within rounding, with NaN
 * and infinities matching exactly. n when all agree. */
static size_t pool_mismatch(const float *got, const float *want, size_t n, int exact)
{
    for (size_t i = 0; i < n; i++) {
        float g = got[i], w = want[i];
        if (isnan(g) || isnan(w)) {
            if (isnan(g) != isnan(w))
                return i;
        } else if (exact || isinf(g) || isinf(w)) {
            if (memcmp(&g, &w, sizeof g) != 0 && !(g == w && !exact))
                return i;
        } else if (fabs((double)g - (double)w) > 1e-5 + 1e-5 * fabs((double)w)) {
            return i;
        }
    }
    return n;
}

#define assert_pool_equal(got, want, n, exact, d, what)                                           \
    do {                                                                                          \
        size_t bad_ = pool_mismatch((got), (want), (n), (exact));                                 \
        ck_assert_msg(bad_ == (n), "%s %s: element %zu of %zu: got %.9g want %.9g", (what),       \
                      pool_describe(d), bad_, (size_t)(n),                                        \
                      bad_ < (n) ? (double)(got)[bad_] : 0.0,                                     \
                      bad_ < (n) ? (double)(want)[bad_] : 0.0);                                   \
    } while (0)

/* A context with one or two threads, or none (all cores), in turn. */
static blasconv_context *context_for(int t, blasconv_context *one, blasconv_context *two)
{
    return t % 3 == 0 ? one : t % 3 == 1 ? two : NULL;
}

START_TEST(fast_matches_reference)
{
    test_rng r = test_rng_seeded(4000 + (uint64_t)_i);
    blasconv_context *one, *two;
    ck_assert_int_eq(blasconv_context_create(&one), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&two), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(one, 1), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(two, 2), BLASCONV_OK);
    for (int t = 0; t < RANDOM_CASES; t++) {
        blasconv_pool2d d = pool_random_descriptor(&r);
        d.layout = t % 2 ? BLASCONV_NHWC : BLASCONV_NCHW;
        const int exact = d.mode == BLASCONV_POOL_MAX;
        size_t nx = pool_x_elems(&d), ny = pool_y_elems(&d);
        float *x = pool_random_input(&r, nx), *dy = test_alloc_random(&r, ny);
        float *y = test_alloc_poisoned(ny), *want_y = test_alloc_poisoned(ny);
        float *dx = test_alloc_poisoned(nx), *want_dx = test_alloc_poisoned(nx);
        pool_fill(y, ny, POOL_POISON);
        pool_fill(dx, nx, POOL_POISON);
        blasconv_context *ctx = context_for(t, one, two);
        ck_assert_int_eq(blasconv_pool2d_forward(ctx, &d, x, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, &d, x, want_y), BLASCONV_OK);
        assert_pool_equal(y, want_y, ny, exact, &d, "forward");
        ck_assert_int_eq(blasconv_pool2d_backward(ctx, &d, x, dy, dx), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_pool2d_backward(NULL, &d, x, dy, want_dx),
                         BLASCONV_OK);
        assert_pool_equal(dx, want_dx, nx, 0, &d, "backward");
        free(x), free(dy), free(y), free(want_y), free(dx), free(want_dx);
    }
    blasconv_context_destroy(one);
    blasconv_context_destroy(two);
}
END_TEST

/* NHWC on permuted inputs gives the permuted NCHW results, for fast and reference. */
START_TEST(nhwc_is_permuted_nchw)
{
    test_rng r = test_rng_seeded(5000 + (uint64_t)_i);
    for (int t = 0; t < RANDOM_CASES; t++) {
        blasconv_pool2d d = pool_random_descriptor(&r);
        int oh, ow;
        ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
        const int exact = d.mode == BLASCONV_POOL_MAX;
        size_t nx = pool_x_elems(&d), ny = pool_y_elems(&d);
        float *x = pool_random_input(&r, nx), *dy = test_alloc_random(&r, ny);
        float *x_nhwc = test_alloc_poisoned(nx), *dy_nhwc = test_alloc_poisoned(ny);
        pool_permute(x, x_nhwc, d.batch, d.channels, d.in_height, d.in_width, 1);
        pool_permute(dy, dy_nhwc, d.batch, d.channels, oh, ow, 1);
        float *y = test_alloc_poisoned(ny), *dx = test_alloc_poisoned(nx);
        float *y_nhwc = test_alloc_poisoned(ny), *dx_nhwc = test_alloc_poisoned(nx);
        float *y_back = test_alloc_poisoned(ny), *dx_back = test_alloc_poisoned(nx);
        pool_fill(y_nhwc, ny, POOL_POISON);
        pool_fill(dx_nhwc, nx, POOL_POISON);

        ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_pool2d_backward(NULL, &d, x, dy, dx), BLASCONV_OK);
        blasconv_pool2d dn = d;
        dn.layout = BLASCONV_NHWC;
        ck_assert_int_eq(blasconv_pool2d_forward(NULL, &dn, x_nhwc, y_nhwc), BLASCONV_OK);
        ck_assert_int_eq(blasconv_pool2d_backward(NULL, &dn, x_nhwc, dy_nhwc, dx_nhwc),
                         BLASCONV_OK);
        pool_permute(y_nhwc, y_back, d.batch, d.channels, oh, ow, 0);
        pool_permute(dx_nhwc, dx_back, d.batch, d.channels, d.in_height, d.in_width, 0);
        assert_pool_equal(y_back, y, ny, exact, &dn, "forward NHWC vs NCHW");
        assert_pool_equal(dx_back, dx, nx, 0, &dn, "backward NHWC vs NCHW");

        /* The oracle itself obeys the same permutation. */
        ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, &dn, x_nhwc, y_nhwc),
                         BLASCONV_OK);
        pool_permute(y_nhwc, y_back, d.batch, d.channels, oh, ow, 0);
        assert_pool_equal(y_back, y, ny, exact, &dn, "reference forward NHWC vs NCHW");
        free(x), free(dy), free(x_nhwc), free(dy_nhwc), free(y), free(dx);
        free(y_nhwc), free(dx_nhwc), free(y_back), free(dx_back);
    }
}
END_TEST

/* Sizes where the work is split over threads (batch 1: inside an image): 1 and 2
 * threads give the same bits. */
START_TEST(threads_do_not_change_results)
{
    test_rng r = test_rng_seeded(6000);
    blasconv_context *one, *two;
    ck_assert_int_eq(blasconv_context_create(&one), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&two), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(one, 1), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_threads(two, 2), BLASCONV_OK);
    for (int t = 0; t < 8; t++) {
        blasconv_pool2d d = {.mode = t % 2 ? BLASCONV_POOL_AVG : BLASCONV_POOL_MAX,
                             .batch = t % 3 == 0 ? 1 : 2,
                             .channels = 24,
                             .in_height = 57,
                             .in_width = 61,
                             .window_height = 3,
                             .window_width = 3,
                             .stride_height = 2,
                             .stride_width = 2,
                             .pad_top = 1,
                             .pad_bottom = 1,
                             .pad_left = 1,
                             .pad_right = 1,
                             .ceil_mode = t / 4,
                             .layout = t / 2 % 2 ? BLASCONV_NHWC : BLASCONV_NCHW};
        size_t nx = pool_x_elems(&d), ny = pool_y_elems(&d);
        float *x = pool_random_input(&r, nx), *dy = test_alloc_random(&r, ny);
        float *y1 = test_alloc_poisoned(ny), *y2 = test_alloc_poisoned(ny);
        float *dx1 = test_alloc_poisoned(nx), *dx2 = test_alloc_poisoned(nx);
        ck_assert_int_eq(blasconv_pool2d_forward(one, &d, x, y1), BLASCONV_OK);
        ck_assert_int_eq(blasconv_pool2d_forward(two, &d, x, y2), BLASCONV_OK);
        ck_assert_int_eq(blasconv_pool2d_backward(one, &d, x, dy, dx1), BLASCONV_OK);
        ck_assert_int_eq(blasconv_pool2d_backward(two, &d, x, dy, dx2), BLASCONV_OK);
        assert_pool_equal(y2, y1, ny, 1, &d, "forward, 2 threads vs 1");
        assert_pool_equal(dx2, dx1, nx, 1, &d, "backward, 2 threads vs 1");
        float *want = test_alloc_poisoned(ny);
        ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, &d, x, want), BLASCONV_OK);
        assert_pool_equal(y2, want, ny, d.mode == BLASCONV_POOL_MAX, &d, "forward vs reference");
        free(x), free(dy), free(y1), free(y2), free(dx1), free(dx2), free(want);
    }
    blasconv_context_destroy(one);
    blasconv_context_destroy(two);
}
END_TEST

/* Global average pooling over many NCHW planes (16 summed at a time, the rest one by
 * one) of 9, 16, 25 and 49 floats (no vector, one, a masked tail, ResNet's 7x7): within
 * the tolerance of the reference, and 2 and 3 threads (whose splits fall inside a
 * group of 16) bit for bit one thread. */
START_TEST(global_average_any_split)
{
    static const int sides[][2] = {{3, 3}, {4, 4}, {5, 5}, {7, 7}};
    test_rng r = test_rng_seeded(6500 + (uint64_t)_i);
    blasconv_context *ctx[3];
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(blasconv_context_create(&ctx[t]), BLASCONV_OK);
        ck_assert_int_eq(blasconv_context_set_threads(ctx[t], t + 1), BLASCONV_OK);
    }
    blasconv_pool2d d = {.mode = BLASCONV_POOL_AVG,
                         .batch = 1,
                         .channels = 2003,
                         .in_height = sides[_i][0],
                         .in_width = sides[_i][1],
                         .window_height = sides[_i][0],
                         .window_width = sides[_i][1]};
    size_t nx = pool_x_elems(&d), ny = pool_y_elems(&d);
    float *x = test_alloc_random(&r, nx), *want = test_alloc_poisoned(ny);
    ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, &d, x, want), BLASCONV_OK);
    float *y[3];
    for (int t = 0; t < 3; t++) {
        y[t] = test_alloc_poisoned(ny);
        pool_fill(y[t], ny, POOL_POISON);
        ck_assert_int_eq(blasconv_pool2d_forward(ctx[t], &d, x, y[t]), BLASCONV_OK);
        assert_pool_equal(y[t], want, ny, 0, &d, "global average vs reference");
        if (t > 0)
            assert_pool_equal(y[t], y[0], ny, 1, &d, "global average, threads vs 1");
    }
    for (int t = 0; t < 3; t++) {
        free(y[t]);
        blasconv_context_destroy(ctx[t]);
    }
    free(x), free(want);
}
END_TEST

/* Forward of d on random input (ties, signed zeros, NaN) against the reference: bit for
 * bit when exact, else within the tolerance. Descriptors without an output are skipped. */
static void forward_matches_reference(test_rng *r, const blasconv_pool2d *d, int exact,
                                      const char *what)
{
    int oh, ow;
    if (blasconv_pool2d_output_size(d, &oh, &ow) != BLASCONV_OK)
        return;
    size_t nx = pool_x_elems(d), ny = pool_y_elems(d);
    float *x = pool_random_input(r, nx);
    float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
    ck_assert_int_eq(blasconv_pool2d_forward(NULL, d, x, y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, d, x, want), BLASCONV_OK);
    assert_pool_equal(y, want, ny, exact, d, what);
    free(x), free(y), free(want);
}

/* The separable 3x3 stride-2 MAX path (ResNet's stem pooling) on every width from 1
 * to 200 and on widths past its 1024-float strips, pads 0 and 1, vertical stride 1 to
 * 3 and dilation 1 and 2 (input rows shared by windows, or not), 7 or 57 rows (the
 * flat path's runs of rows), on data with ties, signed zeros and NaN: bit for bit
 * the reference. Loop 0: NCHW planes; loop 1: two NHWC images of 1-7 channels, then
 * of 300 (3-pixel strips) and 1025 (past the path's limit). */
START_TEST(max_3x3_stride2_every_width)
{
    test_rng r = test_rng_seeded(6100 + (unsigned)_i);
    static const int wide[] = {2047, 2048, 2049, 2050, 4097, 4100};
    static const int many_channels[] = {300, 1025};
    const int extra = _i == 0 ? 6 : 8;
    for (int i = 0; i < 200 + extra; i++) {
        const int w = i < 200 ? i + 1 : i < 206 ? wide[i - 200] : 9 + i % 2;
        int channels = _i == 0 ? 1 : 1 + w % 7;
        if (i >= 206)
            channels = many_channels[i - 206];
        blasconv_pool2d d = {.mode = BLASCONV_POOL_MAX,
                             .batch = 1 + _i,
                             .channels = channels,
                             .in_height = w % 4 == 0 ? 57 : 7,
                             .in_width = w,
                             .window_height = 3,
                             .window_width = 3,
                             .stride_height = 1 + w / 3 % 3,
                             .stride_width = 2,
                             .pad_top = w / 2 % 2,
                             .pad_bottom = w / 2 % 2,
                             .pad_left = w / 2 % 2,
                             .pad_right = w / 2 % 2,
                             .dilation_height = 1 + w % 3 / 2,
                             .ceil_mode = w % 5 == 0,
                             .layout = _i == 0 ? BLASCONV_NCHW : BLASCONV_NHWC};
        forward_matches_reference(&r, &d, 1, "3x3 stride-2 forward");
    }
}
END_TEST

/* Two NCHW h x w planes through a 3x3 stride-2 MAX window with these pads. */
static blasconv_pool2d max_3x3_stride2_planes(int h, int w, int pad_t, int pad_b, int pad_l,
                                              int pad_r)
{
    return (blasconv_pool2d){.mode = BLASCONV_POOL_MAX,
                             .batch = 1,
                             .channels = 2,
                             .in_height = h,
                             .in_width = w,
                             .window_height = 3,
                             .window_width = 3,
                             .stride_height = 2,
                             .stride_width = 2,
                             .pad_top = pad_t,
                             .pad_bottom = pad_b,
                             .pad_left = pad_l,
                             .pad_right = pad_r};
}

/* The same path's flat runs (NCHW, W = 2 OW, vertical stride 2) on planes of 1-4 rows
 * and 1-8 columns with every pad of 0 or 1 on each side: planes of under three floats
 * hold no whole window, and every output is a border one (a fuzzed 1x2 plane once
 * had the path read past it). */
START_TEST(max_3x3_stride2_short_planes)
{
    test_rng r = test_rng_seeded(6200);
    int checked = 0;
    for (int h = 1; h <= 4; h++)
        for (int w = 1; w <= 8; w++)
            for (int pads = 0; pads < 16; pads++) {
                blasconv_pool2d d = max_3x3_stride2_planes(h, w, pads & 1, pads >> 1 & 1,
                                                           pads >> 2 & 1, pads >> 3 & 1);
                int oh, ow;
                if (blasconv_pool2d_output_size(&d, &oh, &ow) != BLASCONV_OK)
                    continue;
                forward_matches_reference(&r, &d, 1, "3x3 stride-2 short plane");
                checked++;
            }
    ck_assert_int_ge(checked, 100);
}
END_TEST

/* ResNet's case (W = 2 OW, left pad 1, vertical stride 2) on rows x w inputs of c
 * channels in `layout`, four variants (top pad 0 and 1, ceil mode or not; batch 1
 * and 2), through forward_matches_reference bit for bit. Returns how many of them had
 * W = 2 OW. */
static int resnet_variants_match(test_rng *r, int rows, int w, int c, blasconv_layout layout,
                                 const char *what)
{
    int checked = 0;
    for (int variant = 0; variant < 4; variant++) {
        blasconv_pool2d d = max_3x3_stride2_planes(rows, w, variant & 1, variant & 1, 1, 1);
        d.channels = c;
        d.batch = 1 + variant % 2;
        d.layout = layout;
        d.ceil_mode = variant >> 1;
        int oh, ow;
        if (blasconv_pool2d_output_size(&d, &oh, &ow) != BLASCONV_OK)
            continue;
        forward_matches_reference(r, &d, 1, what);
        checked += 2 * ow == w;
    }
    return checked;
}

/* ResNet's NCHW case (W = 2 OW, left pad 1, vertical stride 2), which has a path of
 * its own (one call per plane): every even width from 2 to 160 and past the
 * 1024-float strips, top pad 0 and 1, ceil mode or not, 1 to 9 rows and 57, on data
 * with ties, signed zeros and NaN: bit for bit the reference. */
START_TEST(max_3x3_stride2_resnet_planes)
{
    test_rng r = test_rng_seeded(6300);
    int checked = 0;
    for (int w = 2; w <= 2052; w += w < 160 ? 2 : 946)
        for (int rows = 1; rows <= 10; rows++)
            checked += resnet_variants_match(&r, rows < 10 ? rows : 57, w, 2, BLASCONV_NCHW,
                                             "3x3 stride-2 ResNet plane");
    ck_assert_int_ge(checked, 1000);
}
END_TEST

/* The same case in NHWC, whose path is compiled for 64 channels and for any
 * multiple of 16: 16 to 256 channels and 1024 (strips of one pixel), widths 2 to 40 and
 * 112 (strips of several pixels, and rows wider than one strip), 1 to 5 rows, top pad 0
 * and 1, ceil mode or not, on data with ties, signed zeros and NaN: bit for bit the
 * reference. */
START_TEST(max_3x3_stride2_resnet_images)
{
    static const int channels[] = {16, 32, 48, 64, 128, 256, 1024};
    test_rng r = test_rng_seeded(6400 + (uint64_t)_i);
    const int c = channels[_i];
    int checked = 0;
    for (int w = 2; w <= 112; w += w < 40 ? 2 : 72)
        for (int rows = 1; rows <= 5; rows++)
            checked += resnet_variants_match(&r, rows, w, c, BLASCONV_NHWC,
                                             "3x3 stride-2 ResNet NHWC image");
    ck_assert_int_ge(checked, 150);
}
END_TEST

/* The fused 2x2 stride-2 rows, MAX and AVG (both divisors), on every width from 1 to
 * 200, pads 0 and 1, vertical dilation 1 and 2 (MAX): MAX bit for bit, AVG within the
 * tolerance, of the reference. */
START_TEST(window_2x2_stride2_every_width)
{
    test_rng r = test_rng_seeded(6200 + (uint64_t)_i);
    const int avg = _i == 1;
    for (int w = 1; w <= 200; w++) {
        blasconv_pool2d d = {.mode = avg ? BLASCONV_POOL_AVG : BLASCONV_POOL_MAX,
                             .batch = 1,
                             .channels = 2,
                             .in_height = 6,
                             .in_width = w,
                             .window_height = 2,
                             .window_width = 2,
                             .stride_height = 2,
                             .stride_width = 2,
                             .pad_top = w % 2,
                             .pad_left = w % 2,
                             .dilation_height = avg ? 1 : 1 + w % 3 / 2,
                             .ceil_mode = w % 5 == 0,
                             .exclude_pad = w % 4 == 1};
        forward_matches_reference(&r, &d, !avg, "2x2 stride-2 forward");
    }
}
END_TEST

/* The row passes (interiors of 4+ outputs) on widths the random descriptors (up to
 * 13) seldom reach: windows 1-4 wide, strides 1-3, pads, dilation (MAX), both AVG
 * divisors, widths 1-90. MAX bit for bit, AVG within the tolerance. */
START_TEST(row_paths_every_width)
{
    test_rng r = test_rng_seeded(6300 + (uint64_t)_i);
    const int avg = _i == 1;
    for (int w = 1; w <= 90; w++) {
        const int kw = 1 + w % 4, kh = 1 + w / 4 % 3, stride = 1 + w / 12 % 3;
        blasconv_pool2d d = {.mode = avg ? BLASCONV_POOL_AVG : BLASCONV_POOL_MAX,
                             .batch = 1,
                             .channels = 2,
                             .in_height = 5 + w % 3,
                             .in_width = w,
                             .window_height = kh,
                             .window_width = kw,
                             .stride_height = stride,
                             .stride_width = stride,
                             .pad_top = kh / 2 * (w % 2),
                             .pad_left = kw / 2 * (w / 2 % 2),
                             .pad_right = kw / 2 * (w / 3 % 2),
                             .dilation_width = avg ? 1 : 1 + w / 5 % 2,
                             .ceil_mode = w % 7 == 0,
                             .exclude_pad = w % 4 == 1};
        forward_matches_reference(&r, &d, !avg, "row path forward");
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool_random");
    TCase *tc = tcase_create("random");
    tcase_add_loop_test(tc, fast_matches_reference, 0, 2);
    tcase_add_loop_test(tc, nhwc_is_permuted_nchw, 0, 2);
    tcase_add_test(tc, threads_do_not_change_results);
    tcase_add_loop_test(tc, global_average_any_split, 0, 4);
    tcase_add_loop_test(tc, max_3x3_stride2_every_width, 0, 2);
    tcase_add_test(tc, max_3x3_stride2_short_planes);
    tcase_add_test(tc, max_3x3_stride2_resnet_planes);
    tcase_add_loop_test(tc, max_3x3_stride2_resnet_images, 0, 7);
    tcase_add_loop_test(tc, window_2x2_stride2_every_width, 0, 2);
    tcase_add_loop_test(tc, row_paths_every_width, 0, 2);
    suite_add_tcase(s, tc);
    return test_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
