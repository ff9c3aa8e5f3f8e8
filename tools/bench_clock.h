/* Clocks and medians shared by the benchmark tools (blasconv-bench, -poolbench,
 * -fastbench): every figure they print is a median of timed samples. */
#ifndef BLASCONV_BENCH_CLOCK_H
#define BLASCONV_BENCH_CLOCK_H

#include <time.h>

/* Seconds on `clock` (CLOCK_MONOTONIC for wall time, CLOCK_THREAD_CPUTIME_ID for
 * the calling thread's CPU time, which another process's load does not inflate). */
double bench_clock_seconds(clockid_t clock);
/* The median of v[0..n) (n >= 1); sorts v. */
double bench_median(double *v, int n);

#endif
