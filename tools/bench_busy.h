/* --busy-cpu for the benchmark tools (bench_busy.c). */
#ifndef BLASCONV_BENCH_BUSY_H
#define BLASCONV_BENCH_BUSY_H

/* Starts a process spinning on CPU `cpu` until bench_busy_stop (or the caller's end);
 * 0 with a message on stderr, after "tool: ", when it cannot. */
int bench_busy_start(const char *tool, int cpu);
/* --busy-cpu's value as a CPU number, or -1 when it is not a number from 0 to 4095. */
int bench_busy_parse(const char *arg);
void bench_busy_stop(void);

#endif
