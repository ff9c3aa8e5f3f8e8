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
/* A threaded runtime's idle workers spin for a while after a call (OpenBLAS's about
 * 0.13 s after a threaded sgemm, measured here; OpenMP's too) and take a core from
 * whatever is timed next: with no pause, oneDNN's two threads ran the first layer
 * timed after blasconv at 8 ms a call against 0.56. At 2+ threads each block of
 * timings of another runtime starts after this many seconds (0 at one thread). */
double bench_settle_seconds_for(int threads);
/* Sleeps `seconds` (nothing when <= 0). */
void bench_sleep(double seconds);

#endif
