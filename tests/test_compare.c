/* blasconv_compare's report on constructed cases, and blasconv_conv2d_tolerance's
 * arguments. (Whether the tolerance fits real results is test_tolerance.c.) */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RANDOM BLASCONV_TOLERANCE_RANDOM_DATA

static blasconv_compare_report compare(const float *got, const float *want, size_t n, double atol,
                                       double rtol)
{
    blasconv_compare_report r;
    memset(&r, 0xA5, sizeof r); /* every field must be written */
    ck_assert_int_eq(blasconv_compare(got, want, n, atol, rtol, &r), BLASCONV_OK);
    ck_assert_uint_eq(r.elements, n);
    return r;
}

START_TEST(exact_match_passes_with_zero_errors)
{
    const float v[5] = {1.5f, -2.0f, 0.0f, 3e-30f, -7.25f};
    blasconv_compare_report r = compare(v, v, 5, 0.0, 0.0); /* zero tolerance too */
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_uint_eq(r.nan_mismatches, 0);
    ck_assert_uint_eq(r.inf_mismatches, 0);
    ck_assert(r.max_abs_error == 0.0 && r.max_rel_error == 0.0 && r.rel_l2_error == 0.0);
    ck_assert(r.worst_ratio == 0.0);
    ck_assert_uint_eq(r.worst_index, 0);
}
END_TEST

START_TEST(one_bad_element_is_found_and_measured)
{
    float want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float got[8];
    memcpy(got, want, sizeof got);
    got[5] = 6.5f;            /* off by 0.5 against 6 */
    got[2] = 3.0f + 0x1p-20f; /* tiny, within tolerance */
    blasconv_compare_report r = compare(got, want, 8, 1e-3, 1e-3);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.failures, 1);
    ck_assert_uint_eq(r.worst_index, 5);
    ck_assert_double_eq_tol(r.max_abs_error, 0.5, 1e-12);
    ck_assert_double_eq_tol(r.max_rel_error, 0.5 / 6.0, 1e-12);
    ck_assert_double_eq_tol(r.worst_ratio, 0.5 / (1e-3 + 1e-3 * 6.0), 1e-9);
    double diff_sq = 0.25 + 0x1p-40, want_sq = 0;
    for (int i = 0; i < 8; i++)
        want_sq += (double)want[i] * want[i];
    ck_assert_double_eq_tol(r.rel_l2_error, sqrt(diff_sq / want_sq), 1e-12);
    ck_assert_uint_eq(r.nan_mismatches + r.inf_mismatches, 0);
    /* A looser tolerance lets it pass, and the ratio says by how much. */
    r = compare(got, want, 8, 0.5, 0.0);
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_eq(r.worst_index, 5);
    ck_assert_double_eq_tol(r.worst_ratio, 1.0, 1e-12);
    /* The boundary itself passes: |got - want| <= atol + rtol*|want|. */
    const float w1 = 4.0f, g1 = 5.0f;
    ck_assert_int_eq(compare(&g1, &w1, 1, 0.5, 0.125).passed, 1);
    ck_assert_int_eq(compare(&g1, &w1, 1, 0.5, 0.124).passed, 0);
}
END_TEST

START_TEST(nan_must_match_nan)
{
    const float want[4] = {1, 2, NAN, 4};
    const float got_only[4] = {1, NAN, NAN, 4};
    blasconv_compare_report r = compare(got_only, want, 4, 1.0, 1.0);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.nan_mismatches, 1);
    ck_assert_uint_eq(r.failures, 1);
    ck_assert_uint_eq(r.worst_index, 1);
    ck_assert(isinf(r.worst_ratio));
    ck_assert(r.max_abs_error == 0.0); /* NaN positions stay out of the errors */
    ck_assert(r.rel_l2_error == 0.0);

    const float want_only_got[4] = {1, 2, 3, 4}; /* NaN in want only, at 2 */
    r = compare(want_only_got, want, 4, 1e9, 1e9);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.nan_mismatches, 1);
    ck_assert_uint_eq(r.worst_index, 2);

    const float both[4] = {1, 2, NAN, 4}; /* NaN in both, same place: a match */
    r = compare(both, want, 4, 0.0, 0.0);
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_eq(r.nan_mismatches, 0);

    const float nan_vs_inf = NAN, inf = INFINITY; /* NaN against Inf is a NaN mismatch */
    r = compare(&nan_vs_inf, &inf, 1, 0.0, 0.0);
    ck_assert_uint_eq(r.nan_mismatches, 1);
    ck_assert_uint_eq(r.inf_mismatches, 0);
}
END_TEST

START_TEST(inf_must_match_sign_and_position)
{
    const float want[3] = {INFINITY, -INFINITY, 1.0f};
    const float same[3] = {INFINITY, -INFINITY, 1.0f};
    blasconv_compare_report r = compare(same, want, 3, 0.0, 0.0);
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_eq(r.inf_mismatches, 0);

    const float flipped[3] = {INFINITY, INFINITY, 1.0f}; /* -Inf became +Inf */
    r = compare(flipped, want, 3, INFINITY, INFINITY);   /* no tolerance excuses it */
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.inf_mismatches, 1);
    ck_assert_uint_eq(r.worst_index, 1);

    const float finite_for_inf[3] = {3e38f, -INFINITY, INFINITY};
    r = compare(finite_for_inf, want, 3, 1.0, 0.0);
    ck_assert_uint_eq(r.inf_mismatches, 2);
    ck_assert_uint_eq(r.failures, 2);
    ck_assert_uint_eq(r.worst_index, 0);
    ck_assert(r.max_abs_error == 0.0); /* no finite pair differs */
}
END_TEST

START_TEST(all_zero_want_is_defined)
{
    const float zero[4] = {0, 0, -0.0f, 0};
    const float small[4] = {0, 1e-6f, 0, 0};
    blasconv_compare_report r = compare(zero, zero, 4, 0.0, 0.0);
    ck_assert_int_eq(r.passed, 1);
    ck_assert(r.rel_l2_error == 0.0 && r.max_rel_error == 0.0);

    r = compare(small, zero, 4, 1e-5, 1e-5);
    ck_assert_int_eq(r.passed, 1); /* atol carries it */
    ck_assert(isinf(r.rel_l2_error) && isinf(r.max_rel_error));
    ck_assert_double_eq_tol(r.max_abs_error, 1e-6, 1e-12);
    ck_assert_uint_eq(r.worst_index, 1);

    r = compare(small, zero, 4, 0.0, INFINITY); /* rtol cannot help against zero */
    ck_assert_int_eq(r.passed, 0);
    ck_assert(isinf(r.worst_ratio));
}
END_TEST

START_TEST(empty_comparison_passes)
{
    const float one = 1.0f;
    blasconv_compare_report r = compare(&one, &one, 0, 0.0, 0.0);
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_uint_eq(r.worst_index, 0);
    ck_assert(r.max_abs_error == 0.0 && r.rel_l2_error == 0.0 && r.worst_ratio == 0.0);
}
END_TEST

START_TEST(errors_leave_the_report_untouched)
{
    const float v[2] = {1, 2};
    blasconv_compare_report r, before;
    memset(&r, 0x5A, sizeof r);
    before = r;
    ck_assert_int_eq(blasconv_compare(NULL, v, 2, 0, 0, &r), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_compare(v, NULL, 2, 0, 0, &r), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_compare(v, v, 2, 0, 0, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_compare(NULL, NULL, 0, 0, 0, &r), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_compare(v, v, 2, -1e-9, 0, &r), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_compare(v, v, 2, 0, -1e-9, &r), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_compare(v, v, 2, NAN, 0, &r), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_compare(v, v, 2, 0, NAN, &r), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_compare(v, v, 2, -INFINITY, 0, &r), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(memcmp(&r, &before, sizeof r), 0);
}
END_TEST

START_TEST(tolerance_arguments_are_checked)
{
    const blasconv_conv2d d = {.batch = 2,
                               .in_channels = 4,
                               .in_height = 8,
                               .in_width = 8,
                               .out_channels = 6,
                               .kernel_height = 3,
                               .kernel_width = 3,
                               .pad_top = 1,
                               .pad_bottom = 1,
                               .pad_left = 1,
                               .pad_right = 1};
    double atol = -1, rtol = -1;
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(NULL, BLASCONV_PASS_FORWARD, RANDOM, 1, &atol, &rtol),
        BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, 1, NULL, &rtol),
                     BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, 1, &atol, NULL),
                     BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, (blasconv_conv2d_pass)4, RANDOM, 1, &atol, &rtol),
        BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, (blasconv_conv2d_pass)-1, RANDOM, 1, &atol, &rtol),
        BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, -1, &atol, &rtol),
        BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, NAN, &atol, &rtol),
        BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, INFINITY, &atol, &rtol),
        BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD,
                                               (blasconv_tolerance_model)2, 1, &atol, &rtol),
                     BLASCONV_ERR_BAD_SHAPE);
    blasconv_conv2d bad = d;
    bad.groups = 3; /* does not divide 4 */
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&bad, BLASCONV_PASS_FORWARD, RANDOM, 1, &atol, &rtol),
        BLASCONV_ERR_BAD_SHAPE);
    ck_assert(atol == -1 && rtol == -1); /* untouched */

    /* Values: rtol is 2u; atol grows with the accumulation length and with M^2. */
    double a_fwd, a_data, a_filter, a_bias, a_half;
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, 1, &a_fwd, &rtol),
        BLASCONV_OK);
    ck_assert(rtol == 0x1p-23);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_DATA, RANDOM, 1, &a_data, &rtol),
        BLASCONV_OK);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_FILTER, RANDOM, 1, &a_filter, &rtol),
        BLASCONV_OK);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_BIAS, RANDOM, 1, &a_bias, &rtol),
        BLASCONV_OK);
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_FILTER, RANDOM, 0.5, &a_half, &rtol),
        BLASCONV_OK);
    /* forward: L = 4*9 = 36 products, n = 37 roundings: the worst case gamma_37 is the
     * larger one (6*sqrt(37) = 36.5 < 37), S = 36 + 1 (the bias). */
    const double u = 0x1p-24;
    double n = 37, gamma = n * u / (1 - n * u), typical = BLASCONV_TOLERANCE_LAMBDA * sqrt(n) * u;
    double expect_fwd = (gamma < typical ? gamma : typical) * 37.0;
    ck_assert_double_eq_tol(a_fwd, expect_fwd, expect_fwd * 1e-6);
    /* backward data: stride 1, so every tap can hit: L = 6*9 = 54 */
    n = 55;
    gamma = n * u / (1 - n * u), typical = BLASCONV_TOLERANCE_LAMBDA * sqrt(n) * u;
    double expect_data = (gamma < typical ? gamma : typical) * 54.0;
    ck_assert_double_eq_tol(a_data, expect_data, expect_data * 1e-6);
    /* filter: L = N*OH*OW = 128 terms; halving M quarters it; the bias sum is in M */
    ck_assert(a_filter > a_data);
    ck_assert_double_eq_tol(a_half, a_filter / 4, a_filter * 1e-6);
    ck_assert_double_eq_tol(a_bias, a_filter, a_filter * 1e-6); /* M = 1: same S */
    /* ANY_DATA is the worst case gamma_n * S whatever n is. */
    double any;
    ck_assert_int_eq(blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD,
                                               BLASCONV_TOLERANCE_ANY_DATA, 1, &any, &rtol),
                     BLASCONV_OK);
    ck_assert_double_eq_tol(any, 37 * u / (1 - 37 * u) * 37.0, 1e-12);
    ck_assert(any > a_fwd);
    /* zero inputs: exact results, only the subnormal slack remains */
    ck_assert_int_eq(blasconv_conv2d_tolerance(&d, BLASCONV_PASS_FORWARD, RANDOM, 0, &atol, &rtol),
                     BLASCONV_OK);
    ck_assert(atol >= 0 && atol < 1e-35);
}
END_TEST

START_TEST(strided_backward_data_counts_only_taps_that_hit)
{
    blasconv_conv2d d = {.batch = 1,
                         .in_channels = 2,
                         .in_height = 16,
                         .in_width = 16,
                         .out_channels = 4,
                         .kernel_height = 4,
                         .kernel_width = 4,
                         .stride_height = 2,
                         .stride_width = 2};
    double strided, dense, rtol;
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_DATA, RANDOM, 1, &strided, &rtol),
        BLASCONV_OK);
    d.stride_height = d.stride_width = 1;
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_DATA, RANDOM, 1, &dense, &rtol),
        BLASCONV_OK);
    /* stride 2: at most 2x2 of the 4x4 taps land on one input, so L = K/g*taps drops from 4*16 to 4*4 */
    const double u = 0x1p-24;
    ck_assert_double_eq_tol(strided, 17 * u / (1 - 17 * u) * 16, 1e-12);
    ck_assert_double_eq_tol(dense,
                            65 * u / (1 - 65 * u) < BLASCONV_TOLERANCE_LAMBDA * sqrt(65) * u
                                ? 65 * u / (1 - 65 * u) * 64
                                : BLASCONV_TOLERANCE_LAMBDA * sqrt(65) * u * 64,
                            1e-12);
    /* stride 2 with dilation 2: every tap lands on the same parity, all 16 hit */
    d.stride_height = d.stride_width = 2;
    d.dilation_height = d.dilation_width = 2;
    double dilated;
    ck_assert_int_eq(
        blasconv_conv2d_tolerance(&d, BLASCONV_PASS_BACKWARD_DATA, RANDOM, 1, &dilated, &rtol),
        BLASCONV_OK);
    ck_assert_double_eq_tol(dilated, dense, dense * 1e-9);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, exact_match_passes_with_zero_errors);
    tcase_add_test(tc, one_bad_element_is_found_and_measured);
    tcase_add_test(tc, nan_must_match_nan);
    tcase_add_test(tc, inf_must_match_sign_and_position);
    tcase_add_test(tc, all_zero_want_is_defined);
    tcase_add_test(tc, empty_comparison_passes);
    tcase_add_test(tc, errors_leave_the_report_untouched);
    tcase_add_test(tc, tolerance_arguments_are_checked);
    tcase_add_test(tc, strided_backward_data_counts_only_taps_that_hit);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
