/* Several threads at once, each with its own context (one with a workspace limit,
 * one with a caller buffer and one BLAS thread, one running a BLAS it loaded by
 * path) or with ctx NULL, running random calls of every entry-point family
 * (convolution NCHW and NHWC, pooling, FAST with per-thread constant weights)
 * against the oracle. The contract: different
 * contexts, and ctx NULL, may run concurrently. Run it under ThreadSanitizer too
 * (README: the tsan configuration).
 *
 * Default run: about 2 seconds. BLASCONV_CONCURRENCY_SECONDS=N runs longer. */
#include "random_calls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 7

enum context_kind {
    OWN_DEFAULT,
    OWN_LIMITED,
    OWN_CALLER_BUFFER,
    NO_CONTEXT,
    OWN_LOADED_BLAS
};

/* BLAS libraries a context may load by path (Debian's reference BLAS first: small
 * and thread-free); the first that loads is used. */
static const char *const loadable_blas[] = {
    "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3",
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
};

typedef struct worker {
    int id;
    enum context_kind kind;
    double seconds;
    long calls, failures;
    char why[512];
    char note[256]; /* what the loaded-BLAS thread ran */
} worker;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *worker_main(void *arg)
{
    worker *me = arg;
    blasconv_context *ctx = NULL;
    void *buffer = NULL;
    if (me->kind != NO_CONTEXT && blasconv_context_create(&ctx) != BLASCONV_OK) {
        snprintf(me->why, sizeof me->why, "context_create failed");
        me->failures++;
        return NULL;
    }
    if (me->kind == OWN_LOADED_BLAS) {
        const int count = (int)(sizeof loadable_blas / sizeof loadable_blas[0]);
        int loaded = 0;
        for (int i = 0; i < count && !loaded; i++)
            loaded = blasconv_context_load_blas(ctx, loadable_blas[i]) == BLASCONV_OK;
        snprintf(me->note, sizeof me->note, "%s",
                 loaded ? blasconv_context_blas_info(ctx)
                        : "skipped loading a BLAS by path: none of the known paths loads");
    }
    /* Tight enough to tile the random problems, never below one output row of them
     * (C/g <= 4, kernel <= 5x5, OW <= 20: 2000 floats). */
    const size_t scratch_bytes = 3000 * sizeof(float);
    if (me->kind == OWN_LIMITED)
        blasconv_context_set_workspace_limit(ctx, scratch_bytes);
    if (me->kind == OWN_CALLER_BUFFER) {
        buffer = malloc(scratch_bytes + 1);
        blasconv_context_set_workspace(ctx, (char *)buffer + 1, scratch_bytes);
        blasconv_context_set_threads(ctx, 1);
    }
    test_rng r = test_rng_seeded(0xC0FFEEu + (uint64_t)me->id);
    const double deadline = now_seconds() + me->seconds;
    for (int i = 0; now_seconds() < deadline && me->failures == 0; i++) {
        const test_random_call_kind *kind =
            &test_random_call_kinds[(i + me->id) % test_random_call_kind_count];
        if (kind->run(&r, ctx, &me->calls, me->why, sizeof me->why))
            me->failures++;
    }
    blasconv_context_destroy(ctx);
    free(buffer);
    return NULL;
}

START_TEST(threads_agree_with_the_oracle)
{
    const char *env = getenv("BLASCONV_CONCURRENCY_SECONDS");
    double seconds = env ? atof(env) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    worker workers[THREADS];
    pthread_t threads[THREADS];
    static const enum context_kind kinds[THREADS] = {
        OWN_DEFAULT, OWN_LIMITED, OWN_CALLER_BUFFER, NO_CONTEXT,
        NO_CONTEXT,  OWN_DEFAULT, OWN_LOADED_BLAS};
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){.id = t, .kind = kinds[t], .seconds = seconds};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
    }
    long calls = 0;
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
        calls += workers[t].calls;
    }
    for (int t = 0; t < THREADS; t++)
        if (workers[t].kind == OWN_LOADED_BLAS)
            printf("concurrency: thread %d loaded by path: %s\n", t, workers[t].note);
    printf("concurrency: %d threads, %.1f s, %ld library calls checked against the oracle\n",
           THREADS, seconds, calls);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_msg(workers[t].failures == 0, "thread %d (context kind %d): %s", t,
                      (int)workers[t].kind, workers[t].why);
        ck_assert_msg(workers[t].calls > 0, "thread %d made no call", t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 0); /* the run length is the test's own */
    tcase_add_test(tc, threads_agree_with_the_oracle);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
