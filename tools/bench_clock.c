/* Clocks and medians shared by the benchmark tools. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_clock.h"

#include <math.h>
#include <stdlib.h>

double bench_clock_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_settle_seconds_for(int threads)
{
    return threads > 1 ? 0.3 : 0.0;
}

void bench_sleep(double seconds)
{
    if (seconds > 0) {
        const double whole = floor(seconds);
        nanosleep(&(struct timespec){(time_t)whole, (long)((seconds - whole) * 1e9)}, NULL);
    }
}
