/* blasconv-fastbench --seam (bench_seam.c): how much of a context's call is spent in
 * its sgemm calls, through a timing sgemm that runs the linked BLAS on one thread. */
#ifndef BLASCONV_BENCH_SEAM_H
#define BLASCONV_BENCH_SEAM_H

#include <blasconv.h>

/* Gives ctx the timing sgemm (one thread: a set_sgemm function runs on the caller
 * only). 0 with a message on stderr, after "tool: ", when it cannot. */
int bench_seam_attach(const char *tool, blasconv_context *ctx);
/* Zeroes the seconds and flops counted so far. */
void bench_seam_reset(void);
/* Wall seconds spent in sgemm, and its flops (2mnk a call), since the last reset. */
double bench_seam_seconds(void);
double bench_seam_flops(void);
/* Frees what the first attach made. */
void bench_seam_release(void);

#endif
