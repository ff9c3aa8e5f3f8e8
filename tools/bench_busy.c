/* --busy-cpu: a child process that spins on one CPU while a benchmark runs, the load
 * another program puts on a core, to see how a call's threads share their work when
 * one of them runs slower. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "bench_busy.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t busy_child = -1;

int bench_busy_parse(const char *arg)
{
    char *end;
    const long cpu = strtol(arg, &end, 10);
    return end == arg || *end || cpu < 0 || cpu > 4095 ? -1 : (int)cpu;
}

int bench_busy_start(const char *tool, int cpu)
{
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpu < 0 || cpu >= online || cpu >= CPU_SETSIZE) {
        fprintf(stderr, "%s: --busy-cpu %d: not one of the %ld CPUs online (0-%ld)\n", tool, cpu,
                online, online - 1);
        return 0;
    }
    const pid_t parent = getpid();
    fflush(NULL); /* the child must not write the parent's buffered output again */
    const pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "%s: --busy-cpu: cannot start the spinning process\n", tool);
        return 0;
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with the benchmark, however it ends */
        if (getppid() != parent)
            _exit(0);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            _exit(1);
        for (volatile unsigned long spin = 0;; spin++) {
        }
    }
    busy_child = child;
    usleep(100000); /* running before the first timing */
    int status;
    if (waitpid(child, &status, WNOHANG) == child) {
        fprintf(stderr, "%s: --busy-cpu %d: the spinning process could not be pinned there\n",
                tool, cpu);
        busy_child = -1;
        return 0;
    }
    return 1;
}

void bench_busy_stop(void)
{
    if (busy_child <= 0)
        return;
    kill(busy_child, SIGKILL);
    waitpid(busy_child, NULL, 0);
    busy_child = -1;
}
