/* A small fork-join parallel for on pthreads: split a range, run the chunks, join.
 * Threads are started per call, so callers give it only work that dwarfs the
 * cost of starting a thread (tens of microseconds). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <pthread.h>
#include <unistd.h>

#define MAX_THREADS 64

struct chunk {
    bc_parallel_fn fn;
    void *arg;
    int64_t begin, end;
};

static void *run_chunk(void *p)
{
    const struct chunk *c = p;
    c->fn(c->arg, c->begin, c->end);
    return NULL;
}

int bc_thread_count(const blasconv_context *ctx)
{
    if (ctx && ctx->threads > 0)
        return ctx->threads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
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
    if (n == 1) {
        fn(arg, 0, count);
        return;
    }
    struct chunk chunks[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int64_t t = 0; t < n; t++) {
        chunks[t] = (struct chunk){fn, arg, count * t / n, count * (t + 1) / n};
        /* Chunk 0 is the caller's own; a chunk whose thread cannot start runs inline. */
        if (t > 0)
            started[t] = pthread_create(&ids[t], NULL, run_chunk, &chunks[t]) == 0;
    }
    run_chunk(&chunks[0]);
    for (int64_t t = 1; t < n; t++) {
        if (started[t])
            pthread_join(ids[t], NULL);
        else
            run_chunk(&chunks[t]);
    }
}
