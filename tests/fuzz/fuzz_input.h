/* What every libFuzzer harness shares: reading sizes, wild values and data from
 * the fuzz input, canary-filled buffers, and an abort that says why. Header-only:
 * each harness is one file and one program. */
#ifndef BLASCONV_FUZZ_INPUT_H
#define BLASCONV_FUZZ_INPUT_H

#include "blasconv.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fuzz_input {
    const uint8_t *data;
    size_t size, used;
} fuzz_input;

/* The next byte, or 0 once the input is used up (so every input decodes). */
static inline unsigned fuzz_byte(fuzz_input *in)
{
    return in->used < in->size ? in->data[in->used++] : 0u;
}

/* An int in [lo, hi] (small ranges: one byte). */
static inline int fuzz_int(fuzz_input *in, int lo, int hi)
{
    return lo + (int)(fuzz_byte(in) % (unsigned)(hi - lo + 1));
}

/* Mostly an int in [lo, hi]; one time in eight a value from the edges of int
 * (zero, negatives, INT_MAX, values whose products pass 2^31 or 2^63, raw bits). */
static inline int fuzz_wild_int(fuzz_input *in, int lo, int hi)
{
    static const int edges[] = {0,       -1,          1,          2,       INT_MAX,
                                INT_MIN, INT_MAX - 1, 1 << 15,    1 << 16, 46341,
                                1 << 20, 1 << 30,     -(1 << 30), 65535,   32768};
    unsigned selector = fuzz_byte(in);
    if (selector % 8 != 0)
        return lo + (int)((selector / 8) % (unsigned)(hi - lo + 1));
    unsigned pick = selector / 8;
    if (pick < sizeof edges / sizeof edges[0])
        return edges[pick];
    uint32_t raw = 0;
    for (int i = 0; i < 4; i++)
        raw = raw << 8 | fuzz_byte(in);
    int value;
    memcpy(&value, &raw, sizeof value);
    return value;
}

/* Data: multiples of 1/16 in [-8, 8), so sums of products are exact in float
 * for small problems and the tolerance only has to cover large reductions. */
static inline float fuzz_value(fuzz_input *in)
{
    return (float)(int8_t)fuzz_byte(in) / 16.0f;
}

static inline float *fuzz_floats(fuzz_input *in, size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    if (!a)
        abort();
    for (size_t i = 0; i < n; i++)
        a[i] = fuzz_value(in);
    return a;
}

/* A buffer of exactly n floats (ASan sees any write past it), filled with a
 * pattern that a call which fails must leave alone. */
static inline float *fuzz_canary(size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    if (!a)
        abort();
    for (size_t i = 0; i < n; i++)
        a[i] = -1234.5f - (float)(i % 7);
    return a;
}

static inline int fuzz_canary_intact(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != -1234.5f - (float)(i % 7))
            return 0;
    return 1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void
fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FUZZ FINDING: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* |got - want| within atol + 1e-5 |want|, NaN only where the other is NaN. */
static inline void fuzz_compare(const char *what, const float *got, const float *want, size_t n,
                                double atol)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]) || isnan(want[i])) {
            if (isnan(got[i]) != isnan(want[i]))
                fuzz_fail("%s: element %zu: got %.9g want %.9g", what, i, (double)got[i],
                          (double)want[i]);
            continue;
        }
        if (fabs((double)got[i] - (double)want[i]) > atol + 1e-5 * fabs((double)want[i]))
            fuzz_fail("%s: element %zu of %zu: got %.9g want %.9g (atol %g)", what, i, n,
                      (double)got[i], (double)want[i], atol);
    }
}

/* Tolerance for a float32 sum of `terms` products of values in [-8, 8). */
static inline double fuzz_tolerance(double terms)
{
    return 64.0 * terms * 4.0 * 0x1p-24 + 1e-6;
}

/* floor(num / den) for den > 0 (PyTorch's div_rtn), restated for the harnesses. */
static inline int64_t fuzz_floor_div(int64_t num, int64_t den)
{
    int64_t q = num / den;
    return (num % den != 0 && num < 0) ? q - 1 : q;
}

#endif
