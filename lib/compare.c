/* blasconv_compare: element-wise comparison of a result with the reference, with
 * the statistics a failing test needs to say how and where it failed. */
#include "internal.h"

#include <math.h>

/* How far one finite pair is from failing: error / allowance, with a zero
 * allowance giving 0 (exact) or +Inf (any error). */
static double error_ratio(double error, double allowance)
{
    if (error <= allowance)
        return allowance > 0.0 ? error / allowance : 0.0;
    return allowance > 0.0 ? error / allowance : INFINITY;
}

blasconv_status blasconv_compare(const float *got, const float *want, size_t n, double atol,
                                 double rtol, blasconv_compare_report *out)
{
    if (!got || !want || !out)
        return BLASCONV_ERR_NULL_POINTER;
    if (!(atol >= 0.0) || !(rtol >= 0.0)) /* also rejects NaN */
        return BLASCONV_ERR_BAD_SHAPE;

    blasconv_compare_report r = {0};
    r.elements = n;
    double diff_sq = 0.0, want_sq = 0.0; /* float squares cannot overflow a double */
    for (size_t i = 0; i < n; i++) {
        const double g = got[i], w = want[i];
        double ratio;
        if (isnan(g) || isnan(w)) {
            if (isnan(g) && isnan(w))
                continue;
            r.nan_mismatches++;
            r.failures++;
            ratio = INFINITY;
        } else if (isinf(g) || isinf(w)) {
            if (g == w)
                continue;
            r.inf_mismatches++;
            r.failures++;
            ratio = INFINITY;
        } else {
            const double error = fabs(g - w);
            /* w == 0 adds nothing, also with rtol = +Inf (Inf * 0 would be NaN) */
            const double allowance = atol + (w != 0.0 ? rtol * fabs(w) : 0.0);
            if (error > r.max_abs_error)
                r.max_abs_error = error;
            const double rel = w != 0.0 ? error / fabs(w) : error > 0.0 ? INFINITY : 0.0;
            if (rel > r.max_rel_error)
                r.max_rel_error = rel;
            diff_sq += (g - w) * (g - w);
            want_sq += w * w;
            ratio = error_ratio(error, allowance);
            if (!(error <= allowance))
                r.failures++;
        }
        if (ratio > r.worst_ratio) {
            r.worst_ratio = ratio;
            r.worst_index = i;
        }
    }
    if (want_sq > 0.0)
        r.rel_l2_error = sqrt(diff_sq) / sqrt(want_sq);
    else
        r.rel_l2_error = diff_sq > 0.0 ? INFINITY : 0.0;
    r.passed = r.failures == 0;
    *out = r;
    return BLASCONV_OK;
}
