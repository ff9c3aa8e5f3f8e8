/* Soak (opt-in: sh tools/reliability.sh soak, or valgrind): BLASCONV_SOAK_CALLS
 * (default 100000) random library calls checked against the oracle, cycling
 * contexts through workspace limits, caller buffers (misaligned too), thread
 * counts, ctx NULL and re-creation, while resident memory must stay flat: after a
 * warm-up tenth, RSS may not grow by more than BLASCONV_SOAK_RSS_SLACK_KIB
 * (default 2048). Prints calls, RSS samples and the verdict; exits 1 on a finding.
 * BLASCONV_SOAK_NO_RSS=1 skips the memory check (under valgrind, whose own memory
 * is what RSS would measure; memcheck's leak report is the check there). */
#include "random_calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long resident_kib(void)
{
    long pages_total = 0, pages_resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    int got = fscanf(f, "%ld %ld", &pages_total, &pages_resident);
    fclose(f);
    return got == 2 ? pages_resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

static long env_long(const char *name, long fallback)
{
    const char *v = getenv(name);
    return v && atol(v) > 0 ? atol(v) : fallback;
}

int main(void)
{
    const long target = env_long("BLASCONV_SOAK_CALLS", 100000);
    const long slack_kib = env_long("BLASCONV_SOAK_RSS_SLACK_KIB", 2048);
    /* Scratch sizes never below one output row of the random problems (2000 floats). */
    enum {
        MIN_SCRATCH = 2000 * sizeof(float),
        BUFFER_BYTES = 1 << 16
    };
    unsigned char *buffer = malloc(BUFFER_BYTES + 4);
    if (!buffer)
        return 1;
    test_rng r = test_rng_seeded(4242);
    blasconv_context *ctx = NULL;
    long calls = 0, iterations = 0, baseline = -1, peak = 0;
    char why[512];
    const clock_t start = clock();
    while (calls < target) {
        if (iterations % 64 == 0) { /* a new context and a new configuration */
            blasconv_context_destroy(ctx);
            ctx = NULL;
            const int kind = test_rng_int(&r, 0, 4);
            if (kind > 0 && blasconv_context_create(&ctx) != BLASCONV_OK)
                return 1;
            size_t bytes = MIN_SCRATCH + (size_t)test_rng_int(&r, 0, BUFFER_BYTES - MIN_SCRATCH);
            if (kind == 2)
                blasconv_context_set_workspace_limit(ctx, bytes);
            if (kind == 3)
                blasconv_context_set_workspace(ctx, buffer + test_rng_int(&r, 0, 3), bytes);
            if (kind > 0)
                blasconv_context_set_threads(ctx, test_rng_int(&r, 0, 2));
        } else if (ctx && iterations % 16 == 0) { /* change the limit on a kept context */
            blasconv_context_set_workspace_limit(
                ctx, test_rng_int(&r, 0, 1) ? 0 : MIN_SCRATCH + (size_t)test_rng_int(&r, 0, 9999));
        }
        const test_random_call_kind *kind =
            &test_random_call_kinds[iterations % test_random_call_kind_count];
        if (kind->run(&r, ctx, &calls, why, sizeof why)) {
            fprintf(stderr, "soak: %s call %ld: %s\n", kind->name, calls, why);
            return 1;
        }
        iterations++;
        if (baseline < 0 && calls >= target / 10)
            baseline = resident_kib();
        long now = resident_kib();
        if (now > peak)
            peak = now;
        if (iterations % 5000 == 0)
            fprintf(stderr, "soak: %ld calls, resident %ld KiB\n", calls, now);
    }
    blasconv_context_destroy(ctx);
    free(buffer);
    const long end = resident_kib();
    const double cpu = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("soak: %ld library calls (%ld problems) in %.1f s CPU; resident KiB: after warm-up "
           "%ld, peak %ld, end %ld (slack %ld)\n",
           calls, iterations, cpu, baseline, peak, end, slack_kib);
    if (baseline < 0 || end < 0) {
        printf("soak: cannot read /proc/self/statm: memory not checked\n");
        return 1;
    }
    if (getenv("BLASCONV_SOAK_NO_RSS")) {
        printf("soak: resident memory not checked (BLASCONV_SOAK_NO_RSS)\n");
        return 0;
    }
    if (peak - baseline > slack_kib) {
        printf("soak: FAIL: resident memory grew by %ld KiB after warm-up\n", peak - baseline);
        return 1;
    }
    printf("soak: resident memory flat (grew %ld KiB after warm-up)\n", peak - baseline);
    return 0;
}
