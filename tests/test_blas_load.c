/* blasconv_context_load_blas: every installed vendor by path, the error cases, several
 * vendors in one process each running its own code, and blasconv_context_blas_info.
 * A vendor that is not installed is skipped with a printed reason. */
#define _GNU_SOURCE
#include "testutil.h"

#include <gnu/lib-names.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BLASCONV_TEST_LIBDIR
#define BLASCONV_TEST_LIBDIR "/usr/lib/x86_64-linux-gnu"
#endif

typedef struct vendor {
    const char *path;
    const char *info_prefix; /* how blasconv_context_blas_info names it */
    const char *package;
} vendor;

/* Debian's per-vendor folders: every one of them is libblas.so.3. */
static const vendor vendors[] = {
    {BLASCONV_TEST_LIBDIR "/openblas-pthread/libblas.so.3", "OpenBLAS", "libopenblas0-pthread"},
    {BLASCONV_TEST_LIBDIR "/blis-pthread/libblas.so.3", "BLIS", "libblis4-pthread"},
    {BLASCONV_TEST_LIBDIR "/atlas/libblas.so.3", "ATLAS", "libatlas3-base"},
    {BLASCONV_TEST_LIBDIR "/blas/libblas.so.3", "reference BLAS (netlib)", "libblas3"},
};
enum {
    OPENBLAS,
    BLIS,
    ATLAS,
    NETLIB,
    VENDOR_COUNT
};

static int installed(int v)
{
    if (access(vendors[v].path, R_OK) == 0)
        return 1;
    printf("skipped: %s is not installed (Debian package %s)\n", vendors[v].path,
           vendors[v].package);
    return 0;
}

static blasconv_context *context_with(int v)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    blasconv_status st = blasconv_context_load_blas(ctx, vendors[v].path);
    ck_assert_msg(st == BLASCONV_OK, "load %s: %s", vendors[v].path,
                  blasconv_context_last_error(ctx));
    ck_assert_str_eq(blasconv_context_last_error(ctx), "");
    const char *info = blasconv_context_blas_info(ctx);
    ck_assert_msg(strncmp(info, vendors[v].info_prefix, strlen(vendors[v].info_prefix)) == 0,
                  "%s: info '%s' does not name %s", vendors[v].path, info, vendors[v].info_prefix);
    ck_assert_msg(strstr(info, vendors[v].path) != NULL, "info '%s' lacks the path", info);
    return ctx;
}

/* Random descriptors through ctx, forward and both backward passes, against the oracle. */
static void check_passes_match_oracle(blasconv_context *ctx, uint64_t seed)
{
    test_rng r = test_rng_seeded(seed);
    for (int t = 0; t < 40; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
        float *dy = test_alloc_random(&r, ny);
        float *got = test_alloc_poisoned(nx + nw + ny), *want = test_alloc_poisoned(nx + nw + ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, NULL, got), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, NULL, want),
                         BLASCONV_OK);
        test_assert_conv_close(got, want, ny, &d, BLASCONV_PASS_FORWARD, test_conv_describe(&d));
        ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, dy, w, got), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want),
                         BLASCONV_OK);
        test_assert_conv_close(got, want, nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                               test_conv_describe(&d));
        ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, x, dy, got, NULL), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, NULL),
                         BLASCONV_OK);
        test_assert_conv_close(got, want, nw, &d, BLASCONV_PASS_BACKWARD_FILTER,
                               test_conv_describe(&d));
        free(x), free(w), free(dy), free(got), free(want);
    }
}

START_TEST(each_vendor_loads_and_computes)
{
    if (!installed(_i))
        return;
    blasconv_context *ctx = context_with(_i);
    check_passes_match_oracle(ctx, 500 + (uint64_t)_i);
    ck_assert_int_eq(blasconv_context_set_threads(ctx, 1), BLASCONV_OK);
    check_passes_match_oracle(ctx, 600 + (uint64_t)_i);
    blasconv_context_destroy(ctx);
}
END_TEST

/* A failed load returns BLAS, says why, and leaves the context on its previous BLAS. */
static void check_load_fails(blasconv_context *ctx, const char *path, const char *why)
{
    char before[600];
    snprintf(before, sizeof before, "%s", blasconv_context_blas_info(ctx));
    ck_assert_int_eq(blasconv_context_load_blas(ctx, path), BLASCONV_ERR_BLAS);
    const char *err = blasconv_context_last_error(ctx);
    ck_assert_msg(strncmp(err, "context_load_blas: library_path='", 33) == 0 &&
                      strstr(err, path) && strstr(err, why),
                  "last error '%s' should name the path and say '%s'", err, why);
    ck_assert_str_eq(blasconv_context_blas_info(ctx), before);
}

START_TEST(errors_leave_the_context_unchanged)
{
    char text_file[] = "/tmp/blasconv-not-a-library-XXXXXX";
    int fd = mkstemp(text_file);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
    close(fd);

    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int round = 0; round < 2; round++) {
        /* Round 0: on the linked BLAS; round 1: on a loaded one, when installed. */
        if (round == 1) {
            if (!installed(NETLIB))
                break;
            ck_assert_int_eq(blasconv_context_load_blas(ctx, vendors[NETLIB].path), BLASCONV_OK);
        }
        check_load_fails(ctx, "/nonexistent/libblas.so.3", "No such file");
        check_load_fails(ctx, text_file, "cannot be loaded");
        check_load_fails(ctx, LIBM_SO, "has no cblas_sgemm");
        ck_assert_int_eq(blasconv_context_load_blas(ctx, NULL), BLASCONV_ERR_NULL_POINTER);
        if (round == 1)
            ck_assert_ptr_nonnull(strstr(blasconv_context_blas_info(ctx), "netlib"));
        check_passes_match_oracle(ctx, 700 + (uint64_t)round);
    }
    ck_assert_int_eq(blasconv_context_load_blas(NULL, "x"), BLASCONV_ERR_NULL_POINTER);
    blasconv_context_destroy(ctx);
    unlink(text_file);
}
END_TEST

/* y[k][p] = sum over c of w[k][c] * x[c][p] in float, c in order: what the reference
 * BLAS's loops compute, bit for bit (ISO C: no contraction into FMA). */
static void sequential_1x1(const float *x, const float *w, int c, int k, int positions, float *y)
{
    for (int ki = 0; ki < k; ki++)
        for (int p = 0; p < positions; p++) {
            float sum = 0.0f;
            for (int ci = 0; ci < c; ci++)
                sum += w[(size_t)ki * c + ci] * x[(size_t)ci * positions + p];
            y[(size_t)ki * positions + p] = sum;
        }
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double fastest_forward(blasconv_context *ctx, const blasconv_conv2d *d, const float *x,
                              const float *w, float *y)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double start = seconds();
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, d, x, w, NULL, y), BLASCONV_OK);
        double t = seconds() - start;
        best = t < best ? t : best;
    }
    return best;
}

/* Two contexts, two vendors, one process: the same results within float tolerance, but
 * each runs its own code. The reference BLAS's result is the sequential float sum bit
 * for bit (so its sgemm_ was not interposed by an optimised library), OpenBLAS's is not,
 * and the reference BLAS is measurably slower on the same large GEMM. */
START_TEST(two_vendors_in_one_process_run_their_own_code)
{
    if (!installed(OPENBLAS) || !installed(NETLIB))
        return;
    blasconv_context *fast = context_with(OPENBLAS), *reference = context_with(NETLIB);
    ck_assert_str_ne(blasconv_context_blas_info(fast), blasconv_context_blas_info(reference));

    enum {
        C = 1000,
        K = 96,
        HW = 24
    };
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = C,
                               .in_height = HW,
                               .in_width = HW,
                               .out_channels = K,
                               .kernel_height = 1,
                               .kernel_width = 1};
    size_t nx = (size_t)C * HW * HW, nw = (size_t)K * C, ny = (size_t)K * HW * HW;
    test_rng r = test_rng_seeded(42);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *y_fast = test_alloc_poisoned(ny), *y_ref = test_alloc_poisoned(ny);
    float *y_seq = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
    ck_assert_int_eq(blasconv_conv2d_forward(fast, &d, x, w, NULL, y_fast), BLASCONV_OK);
    ck_assert_int_eq(blasconv_conv2d_forward(reference, &d, x, w, NULL, y_ref), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, NULL, want), BLASCONV_OK);
    test_assert_conv_close(y_fast, want, ny, &d, BLASCONV_PASS_FORWARD, "OpenBLAS");
    test_assert_conv_close(y_ref, want, ny, &d, BLASCONV_PASS_FORWARD, "netlib");
    sequential_1x1(x, w, C, K, HW * HW, y_seq);
    ck_assert_msg(memcmp(y_ref, y_seq, ny * sizeof(float)) == 0,
                  "the reference BLAS's result is not its own sequential sum");
    ck_assert_msg(memcmp(y_fast, y_seq, ny * sizeof(float)) != 0,
                  "OpenBLAS gave the reference BLAS's exact sums: the same code ran");
    free(x), free(w), free(y_fast), free(y_ref), free(y_seq), free(want);

    /* 512^3: about 0.3 GFLOP; OpenBLAS is over 10x faster on any x86-64 kernels. */
    enum {
        N = 512
    };
    const blasconv_conv2d big = {.batch = 1,
                                 .in_channels = N,
                                 .in_height = N / 16,
                                 .in_width = 16,
                                 .out_channels = N,
                                 .kernel_height = 1,
                                 .kernel_width = 1};
    float *bx = test_alloc_random(&r, (size_t)N * N), *bw = test_alloc_random(&r, (size_t)N * N);
    float *by = test_alloc_poisoned((size_t)N * N);
    double t_fast = fastest_forward(fast, &big, bx, bw, by);
    double t_ref = fastest_forward(reference, &big, bx, bw, by);
    printf("512^3 GEMM: %s %.2f ms; %s %.2f ms\n", blasconv_context_blas_info(fast), 1e3 * t_fast,
           blasconv_context_blas_info(reference), 1e3 * t_ref);
    ck_assert_msg(t_ref > 2.0 * t_fast, "reference %.3g s is not slower than OpenBLAS %.3g s",
                  t_ref, t_fast);
    free(bx), free(bw), free(by);
    blasconv_context_destroy(fast);
    blasconv_context_destroy(reference);
}
END_TEST

/* Every installed vendor at once, in more contexts than glibc has namespaces (one
 * namespace per file is shared), then loaded and released over and over (released
 * namespaces are given back). glibc gives a namespace's static TLS back only when it is
 * the newest, so contexts are destroyed newest first, as a program's scopes would. */
START_TEST(contexts_share_one_namespace_per_library)
{
    enum {
        CONTEXTS = 24
    };
    blasconv_context *ctx[CONTEXTS];
    int any = 0;
    for (int v = 0; v < VENDOR_COUNT; v++)
        any |= installed(v);
    if (!any)
        return;
    for (int i = 0; i < CONTEXTS; i++) {
        int v = i % VENDOR_COUNT;
        while (access(vendors[v].path, R_OK) != 0)
            v = (v + 1) % VENDOR_COUNT;
        ctx[i] = context_with(v);
    }
    for (int i = 0; i < CONTEXTS; i++)
        check_passes_match_oracle(ctx[i], 800 + (uint64_t)(i % 4));
    for (int i = CONTEXTS - 1; i >= 0; i--)
        blasconv_context_destroy(ctx[i]);

    for (int round = 0; round < 3 * CONTEXTS; round++) {
        int v = round % VENDOR_COUNT;
        if (access(vendors[v].path, R_OK) != 0)
            continue;
        blasconv_context *c = context_with(v);
        check_passes_match_oracle(c, 900);
        blasconv_context_destroy(c);
    }
}
END_TEST

/* Loading another BLAS releases the first: a context cycles through every vendor. */
START_TEST(loading_another_releases_the_first)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int round = 0; round < 2 * VENDOR_COUNT; round++) {
        int v = round % VENDOR_COUNT;
        if (!installed(v))
            continue;
        ck_assert_msg(blasconv_context_load_blas(ctx, vendors[v].path) == BLASCONV_OK,
                      "round %d: %s", round, blasconv_context_last_error(ctx));
        ck_assert_ptr_nonnull(strstr(blasconv_context_blas_info(ctx), vendors[v].info_prefix));
        check_passes_match_oracle(ctx, 1000 + (uint64_t)round);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

static int cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

/* With no environment variable, OpenBLAS runs AVX-512 kernels on an AVX-512 CPU, linked
 * or loaded, whatever its own detection says; the info names the linked vendor. */
START_TEST(info_names_the_blas_and_its_kernels)
{
    const char *linked = blasconv_context_blas_info(NULL);
    ck_assert_ptr_nonnull(linked);
    printf("linked: %s\n", linked);
#ifdef BLASCONV_TEST_LINKED_BLAS
    ck_assert_msg(strncmp(linked, BLASCONV_TEST_LINKED_BLAS, strlen(BLASCONV_TEST_LINKED_BLAS)) ==
                      0,
                  "the build links %s but runs '%s'", BLASCONV_TEST_LINKED_BLAS, linked);
#endif
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_str_eq(blasconv_context_blas_info(ctx), linked);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, test_naive_sgemm), BLASCONV_OK);
    ck_assert_ptr_nonnull(strstr(blasconv_context_blas_info(ctx), "set_sgemm"));
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, NULL), BLASCONV_OK);
    ck_assert_str_eq(blasconv_context_blas_info(ctx), linked);

    if (cpu_has_avx512() && !getenv("OPENBLAS_CORETYPE")) {
        const char *avx512 = " SkylakeX ";
        if (strncmp(linked, "OpenBLAS", 8) == 0)
            ck_assert_msg(strstr(linked, avx512) || strstr(linked, " Cooperlake ") ||
                              strstr(linked, " SapphireRapids "),
                          "linked OpenBLAS runs '%s' on an AVX-512 CPU", linked);
        if (installed(OPENBLAS)) {
            blasconv_context *loaded = context_with(OPENBLAS);
            const char *info = blasconv_context_blas_info(loaded);
            printf("loaded: %s\n", info);
            ck_assert_msg(strstr(info, avx512) || strstr(info, " Cooperlake ") ||
                              strstr(info, " SapphireRapids "),
                          "loaded OpenBLAS runs '%s' on an AVX-512 CPU", info);
            blasconv_context_destroy(loaded);
        }
    }
    blasconv_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blas_load");
    TCase *tc = tcase_create("blas_load");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, each_vendor_loads_and_computes, 0, VENDOR_COUNT);
    tcase_add_test(tc, errors_leave_the_context_unchanged);
    tcase_add_test(tc, two_vendors_in_one_process_run_their_own_code);
    tcase_add_test(tc, contexts_share_one_namespace_per_library);
    tcase_add_test(tc, loading_another_releases_the_first);
    tcase_add_test(tc, info_names_the_blas_and_its_kernels);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
