/* blasconv_conv2d_tolerance: how far a correct float32 convolution may land from
 * the reference, from the accumulation length of each output (the derivation is
 * in include/blasconv.h and the README's oracle section). */
#include "internal.h"

#include <float.h>
#include <math.h>

static const double unit_roundoff = 0x1p-24;        /* float32, round to nearest */
static const double double_unit_roundoff = 0x1p-53; /* the reference's accumulator */

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The most taps of one kernel axis that land on output positions for a single
 * input coordinate: tap i lands when (in + pad - i*dilation) is a multiple of the
 * stride, which repeats every stride/gcd(stride, dilation) taps. */
static int64_t taps_that_hit(int kernel, int stride, int dilation)
{
    int64_t period = stride / gcd(stride, dilation);
    return (kernel + period - 1) / period;
}

blasconv_status blasconv_conv2d_tolerance(const blasconv_conv2d *d, blasconv_conv2d_pass pass,
                                          blasconv_tolerance_model model, double max_abs_input,
                                          double *atol, double *rtol)
{
    if (!d || !atol || !rtol)
        return BLASCONV_ERR_NULL_POINTER;
    conv_shape s;
    blasconv_status st = bc_conv_shape(NULL, "conv2d_tolerance", d, &s);
    if (st != BLASCONV_OK)
        return st;
    if (!(max_abs_input >= 0.0) || isinf(max_abs_input))
        return BLASCONV_ERR_BAD_SHAPE;
    if (model != BLASCONV_TOLERANCE_RANDOM_DATA && model != BLASCONV_TOLERANCE_ANY_DATA)
        return BLASCONV_ERR_BAD_SHAPE;

    const double m = max_abs_input;
    const double positions = (double)s.n * s.positions;
    double terms, abs_sum; /* L, and S: a bound on the sum of |terms| */
    switch (pass) {
    case BLASCONV_PASS_FORWARD:
        terms = (double)s.col_rows;
        abs_sum = terms * m * m + m; /* + the bias */
        break;
    case BLASCONV_PASS_BACKWARD_DATA:
        terms = (double)s.k_per_group * taps_that_hit(s.kh, s.stride_h, s.dil_h) *
                taps_that_hit(s.kw, s.stride_w, s.dil_w);
        abs_sum = terms * m * m;
        break;
    case BLASCONV_PASS_BACKWARD_FILTER:
        terms = positions;
        abs_sum = terms * m * m;
        break;
    case BLASCONV_PASS_BACKWARD_BIAS:
        terms = positions;
        abs_sum = terms * m;
        break;
    default: return BLASCONV_ERR_BAD_SHAPE;
    }

    const double roundings = terms + 1.0; /* L additions at most, one product */
    const double nu = roundings * unit_roundoff;
    const double worst_case = nu < 1.0 ? nu / (1.0 - nu) : INFINITY;
    const double typical = BLASCONV_TOLERANCE_LAMBDA * sqrt(roundings) * unit_roundoff;
    const double growth =
        model == BLASCONV_TOLERANCE_ANY_DATA || worst_case < typical ? worst_case : typical;
    /* The reference's own double sum, and a subnormal (or flushed) result per
     * rounding: negligible unless the data are tiny, but part of the bound. */
    const double slack = 2.0 * roundings * double_unit_roundoff * abs_sum + roundings * FLT_MIN;
    *atol = growth * abs_sum + slack;
    *rtol = 2.0 * unit_roundoff;
    return BLASCONV_OK;
}
