/* A small fork-join parallel for on pthreads: split a range, run the chunks, join;
 * and on it, shares of units that threads take from each other once their own are
 * done (bc_parallel_shares), for work that a slower core should not hold up.
 *
 * The process keeps one team of worker threads between calls: starting and joining a
 * thread costs about 70 us on the machines we measure, a tenth of a 2-thread call on
 * a mid-sized layer. After a job, workers (and a caller waiting for them) spin for
 * TEAM_SPIN_NS before they sleep on a condition variable: a core that went idle is
 * slow to wake in a VM (measured: a 1 ms two-thread call took 3 ms when its worker,
 * done 0.3 ms before the caller, had gone to sleep; with a 1 ms spin back-to-back
 * calls held 230-260 GFLOP/s instead of dropping to 80-130). One millisecond of
 * spinning after a call, unlike OpenBLAS's ~0.1 s, leaves the cores to whatever runs
 * next. The team is shared by every context, so two contexts used in turn do not
 * keep two sets of spinning workers; a call that finds it busy (another thread's
 * call) starts and joins threads of its own. A call about to run the BLAS's own
 * threads sends the spinning workers to sleep first (bc_parallel_rest). */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define TEAM_SPIN_NS 1000000 /* 1 ms */
/* Elements (or multiply-adds) of work below which a chunk is not worth a thread. */
#define PARALLEL_GRAIN_WORK 65536

struct chunk {
    bc_parallel_fn fn;
    void *arg;
    int64_t begin, end;
};

struct bc_team {
    pid_t pid;   /* the process that started the workers: a forked child has none */
    int workers; /* started and waiting; worker i runs chunk i + 1 of a job */
    pthread_t ids[MAX_THREADS - 1];
    pthread_mutex_t lock;
    pthread_cond_t wake; /* workers: a new job, or quit */
    pthread_cond_t done; /* caller: the last busy worker finished */
    unsigned job;        /* bumped per job (under lock; read atomically while spinning) */
    int quit;
    int active;       /* workers with a chunk in the current job */
    unsigned pending; /* of those, still running */
    int caller_cpu;   /* where the caller ran when it posted the job; -1 = unknown */
    struct chunk chunks[MAX_THREADS];
};

struct worker_start {
    struct bc_team *team;
    int index;
    unsigned seen; /* the job before the worker's first; set by its creator, which is
                      the only thread that bumps t->job */
};

static void run_chunk(const struct chunk *c)
{
    c->fn(c->arg, c->begin, c->end);
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Bumped by bc_parallel_rest: idle workers stop spinning when it moves. */
static unsigned team_rest;

/* Spins while *word == value, until the deadline (now_ns()) or, given rest (the
 * value of team_rest when the spin began), until team_rest moves; whether *word
 * changed. */
static int spin_while_equal(const unsigned *word, unsigned value, int64_t deadline,
                            const unsigned *rest)
{
    for (unsigned i = 1; __atomic_load_n(word, __ATOMIC_ACQUIRE) == value; i++) {
        cpu_relax();
        if (i % 256 == 0 && (now_ns() > deadline ||
                             (rest && __atomic_load_n(&team_rest, __ATOMIC_RELAXED) != *rest)))
            return 0;
    }
    return 1;
}

void bc_parallel_rest(void)
{
    __atomic_add_fetch(&team_rest, 1, __ATOMIC_RELAXED);
}

/* A worker woken by the caller may be woken on the caller's CPU: without cache
 * topology (as in our VMs) Linux's wake-up placement looks no further, and the two
 * chunks then share one core while another idles (seen: workers that woke on the
 * caller's CPU; moving them raised the lower quartile of back-to-back 2-thread
 * r50_3x3_56 calls from 191-217 to 226-229 GFLOP/s). Such a worker moves itself to
 * the CPUs it may use other than the caller's. */
static void leave_cpu(int caller_cpu, const cpu_set_t *allowed)
{
    if (caller_cpu < 0 || sched_getcpu() != caller_cpu || !CPU_ISSET(caller_cpu, allowed))
        return;
    cpu_set_t others = *allowed;
    CPU_CLR(caller_cpu, &others);
    if (CPU_COUNT(&others) > 0)
        sched_setaffinity(0, sizeof others, &others);
}

static void *worker_main(void *p)
{
    struct worker_start start = *(struct worker_start *)p;
    free(p);
    struct bc_team *t = start.team;
    unsigned seen = start.seen;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        CPU_ZERO(&allowed);
    for (;;) {
        const unsigned rest = __atomic_load_n(&team_rest, __ATOMIC_RELAXED);
        spin_while_equal(&t->job, seen, now_ns() + TEAM_SPIN_NS, &rest);
        pthread_mutex_lock(&t->lock);
        while (t->job == seen && !t->quit)
            pthread_cond_wait(&t->wake, &t->lock);
        if (t->quit) {
            pthread_mutex_unlock(&t->lock);
            return NULL;
        }
        seen = t->job;
        const int mine = start.index < t->active;
        const int caller_cpu = t->caller_cpu;
        struct chunk c = t->chunks[start.index + 1];
        pthread_mutex_unlock(&t->lock);
        if (!mine)
            continue;
        leave_cpu(caller_cpu, &allowed);
        run_chunk(&c);
        if (__atomic_sub_fetch(&t->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&t->lock);
            pthread_cond_signal(&t->done);
            pthread_mutex_unlock(&t->lock);
        }
    }
}

/* The process's team, and the lock its one user at a time holds. */
static pthread_mutex_t team_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bc_team *team;
static struct bc_team *parents_team; /* a forked child's copy: its workers are not ours */

/* Grows the team to `want` workers (fewer if threads cannot start); NULL when it
 * cannot exist (no memory). Called with team_lock held. */
static struct bc_team *team_with(int want)
{
    struct bc_team *t = team;
    if (t && t->pid != getpid()) {
        parents_team = t; /* kept reachable, never joined */
        t = team = NULL;
    }
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return NULL;
        t->pid = getpid();
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->wake, NULL);
        pthread_cond_init(&t->done, NULL);
        team = t;
    }
    while (t->workers < want) {
        struct worker_start *s = malloc(sizeof *s);
        if (!s)
            break;
        *s = (struct worker_start){t, t->workers, t->job};
        if (pthread_create(&t->ids[t->workers], NULL, worker_main, s) != 0) {
            free(s);
            break;
        }
        t->workers++;
    }
    return t;
}

/* At exit or unload: stop and join the workers, so that no thread runs in an
 * unloaded library and memory checkers see every block freed. */
__attribute__((destructor)) static void team_destroy(void)
{
    pthread_mutex_lock(&team_lock);
    struct bc_team *t = team;
    if (t && t->pid == getpid()) {
        pthread_mutex_lock(&t->lock);
        t->quit = 1;
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->lock);
        for (int i = 0; i < t->workers; i++)
            pthread_join(t->ids[i], NULL);
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->wake);
        pthread_cond_destroy(&t->done);
        free(t);
        team = NULL;
    }
    pthread_mutex_unlock(&team_lock);
}

/* Chunks 1..n-1 on the team's workers, chunk 0 here, then waits for the rest. */
static void run_on_team(struct bc_team *t, const struct chunk *chunks, int n)
{
    pthread_mutex_lock(&t->lock);
    for (int i = 1; i < n; i++)
        t->chunks[i] = chunks[i];
    t->active = n - 1;
    t->caller_cpu = sched_getcpu();
    __atomic_store_n(&t->pending, (unsigned)(n - 1), __ATOMIC_RELEASE);
    __atomic_store_n(&t->job, t->job + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    run_chunk(&chunks[0]);
    /* pending only falls: each time it leaves the value seen, look again */
    const int64_t deadline = now_ns() + TEAM_SPIN_NS;
    unsigned left;
    while ((left = __atomic_load_n(&t->pending, __ATOMIC_ACQUIRE)) > 0) {
        if (spin_while_equal(&t->pending, left, deadline, NULL))
            continue;
        pthread_mutex_lock(&t->lock);
        while (__atomic_load_n(&t->pending, __ATOMIC_ACQUIRE) > 0)
            pthread_cond_wait(&t->done, &t->lock);
        pthread_mutex_unlock(&t->lock);
    }
}

static void *run_started_chunk(void *p)
{
    run_chunk(p);
    return NULL;
}

/* Without a team: a thread per chunk, started and joined here. */
static void run_on_new_threads(const struct chunk *chunks, int n)
{
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int i = 1; i < n; i++)
        started[i] = pthread_create(&ids[i], NULL, run_started_chunk, (void *)&chunks[i]) == 0;
    run_chunk(&chunks[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(ids[i], NULL);
        else /* a chunk whose thread cannot start runs here */
            run_chunk(&chunks[i]);
    }
}

int64_t bc_parallel_grain(int64_t work_per_item)
{
    const int64_t grain = PARALLEL_GRAIN_WORK / (work_per_item > 0 ? work_per_item : 1);
    return grain > 1 ? grain : 1;
}

/* The cores online, read once per process: glibc's sysconf reads a file under /sys
 * each time, and that took 6.6 us of every call with the default thread count (the
 * chapter's 6x8 edge layer: 6.7 us a call against 0.15-0.16 us with threads set). */
static int online_cores(void)
{
    static int cores; /* 0 until read; any thread may store the same value */
    int n = __atomic_load_n(&cores, __ATOMIC_RELAXED);
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
        __atomic_store_n(&cores, n, __ATOMIC_RELAXED);
    }
    return n;
}

int bc_thread_count(const blasconv_context *ctx)
{
    if (ctx && ctx->threads > 0)
        return ctx->threads;
    return online_cores();
}

void bc_parallel_for(int threads, int64_t count, int64_t grain, bc_parallel_fn fn, void *arg)
{
    if (count <= 0)
        return;
    if (grain < 1)
        grain = 1;
    int64_t most = (count + grain - 1) / grain;
    int64_t n = threads < 1 ? 1 : threads;
    if (n > most)
        n = most;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    struct chunk chunks[MAX_THREADS];
    for (int64_t i = 0; i < n; i++)
        chunks[i] = (struct chunk){fn, arg, count * i / n, count * (i + 1) / n};
    if (n == 1) {
        run_chunk(&chunks[0]);
        return;
    }
    if (pthread_mutex_trylock(&team_lock) == 0) {
        struct bc_team *t = team_with((int)n - 1);
        const int ready = t && t->workers >= n - 1;
        if (ready)
            run_on_team(t, chunks, (int)n);
        pthread_mutex_unlock(&team_lock);
        if (ready)
            return;
    }
    run_on_new_threads(chunks, (int)n);
}

struct shares_job {
    bc_unit_fn fn;
    void *arg;
    int shares;
    int64_t units;
    uint64_t left[BC_SHARES_MAX]; /* share s's units not yet taken, first << 32 | end */
};

/* The next unit of share s's run: its first (own) or its last; -1 when none is left. */
static int64_t take_unit(struct shares_job *job, int s, int own)
{
    uint64_t word = __atomic_load_n(&job->left[s], __ATOMIC_RELAXED);
    for (;;) {
        const uint64_t first = word >> 32, end = word & 0xffffffffu;
        if (first >= end)
            return -1;
        const uint64_t next = own ? (first + 1) << 32 | end : first << 32 | (end - 1);
        if (__atomic_compare_exchange_n(&job->left[s], &word, next, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return (int64_t)(own ? first : end - 1);
    }
}

static void run_shares(void *arg, int64_t begin, int64_t end)
{
    struct shares_job *job = arg;
    for (int64_t share = begin; share < end; share++) {
        const int s = (int)share;
        if (job->shares > BC_SHARES_MAX) { /* its own run only */
            for (int64_t u = job->units * s / job->shares; u < job->units * (s + 1) / job->shares;
                 u++)
                job->fn(job->arg, s, u);
            continue;
        }
        for (int i = 0; i < job->shares; i++)
            for (int64_t u; (u = take_unit(job, (s + i) % job->shares, i == 0)) >= 0;)
                job->fn(job->arg, s, u);
    }
}

void bc_parallel_shares(int shares, int64_t units, bc_unit_fn fn, void *arg)
{
    struct shares_job job = {fn, arg, shares, units, {0}};
    for (int s = 0; s < shares && s < BC_SHARES_MAX; s++)
        job.left[s] = (uint64_t)(units * s / shares) << 32 | (uint64_t)(units * (s + 1) / shares);
    bc_parallel_for(shares, shares, 1, run_shares, &job);
}
