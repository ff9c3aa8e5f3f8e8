/* blasconv_sgemm: the context's GEMM seam as a public call. Random shapes, both
 * transposes, padded leading dimensions, alpha/beta, against a naive product;
 * the seam really routes through the context; every invalid argument is refused
 * with c untouched. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct gemm_case {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
} gemm_case;

static gemm_case random_case(test_rng *r)
{
    gemm_case g = {.ta = test_rng_int(r, 0, 1),
                   .tb = test_rng_int(r, 0, 1),
                   .m = test_rng_int(r, 1, 70),
                   .n = test_rng_int(r, 1, 70),
                   .k = test_rng_int(r, 1, 70)};
    g.lda = (g.ta ? g.m : g.k) + test_rng_int(r, 0, 3);
    g.ldb = (g.tb ? g.k : g.n) + test_rng_int(r, 0, 3);
    g.ldc = g.n + test_rng_int(r, 0, 3);
    g.alpha = test_rng_int(r, 0, 1) ? 1.0f : test_rng_float(r) * 2.0f;
    g.beta = test_rng_int(r, 0, 2) == 0 ? 0.0f : test_rng_float(r);
    return g;
}

/* Runs g through blasconv_sgemm on ctx and checks it against the naive product. */
static void check_case(blasconv_context *ctx, test_rng *r, const gemm_case *g)
{
    size_t na = (size_t)(g->ta ? g->k : g->m) * g->lda;
    size_t nb = (size_t)(g->tb ? g->n : g->k) * g->ldb;
    size_t nc = (size_t)g->m * g->ldc;
    float *a = test_alloc_random(r, na), *b = test_alloc_random(r, nb);
    float *c = test_alloc_random(r, nc), *want = test_alloc_copy(c, nc);
    if (g->beta == 0.0f)
        test_poison(c, nc);        /* beta = 0 must not read c */
    for (int i = 0; i < g->m; i++) /* the padding columns must survive */
        for (int j = g->n; j < g->ldc; j++)
            c[(size_t)i * g->ldc + j] = want[(size_t)i * g->ldc + j];
    test_naive_sgemm(101, g->ta ? 112 : 111, g->tb ? 112 : 111, g->m, g->n, g->k, g->alpha, a,
                     g->lda, b, g->ldb, g->beta, want, g->ldc);
    ck_assert_int_eq(blasconv_sgemm(ctx, g->ta, g->tb, g->m, g->n, g->k, g->alpha, a, g->lda, b,
                                    g->ldb, g->beta, c, g->ldc),
                     BLASCONV_OK);
    char what[128];
    snprintf(what, sizeof what, "ta=%d tb=%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", g->ta, g->tb,
             g->m, g->n, g->k, g->lda, g->ldb, g->ldc);
    double atol, rtol;
    test_gemm_tolerance(g->k, &atol, &rtol);
    test_assert_close(c, want, nc, atol, rtol, what);
    free(a), free(b), free(c), free(want);
}

START_TEST(random_products_match_naive)
{
    test_rng r = test_rng_seeded(50 + (uint64_t)_i);
    blasconv_context *ctx = NULL;
    if (_i == 1)
        ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int t = 0; t < 60; t++) {
        gemm_case g = random_case(&r);
        check_case(ctx, &r, &g);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

static int seam_calls;

static void counting_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c,
                           int ldc)
{
    seam_calls++;
    test_naive_sgemm(layout, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

START_TEST(runs_the_context_seam)
{
    test_rng r = test_rng_seeded(7);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, counting_sgemm), BLASCONV_OK);
    seam_calls = 0;
    gemm_case g = {.ta = 1,
                   .tb = 0,
                   .m = 5,
                   .n = 6,
                   .k = 7,
                   .lda = 5,
                   .ldb = 6,
                   .ldc = 6,
                   .alpha = 1.0f,
                   .beta = 0.0f};
    check_case(ctx, &r, &g);
    ck_assert_int_eq(seam_calls, 1);
    blasconv_context_destroy(ctx);
}
END_TEST

static int concurrent_calls;

static void concurrent_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k,
                             float alpha, const float *a, int lda, const float *b, int ldb,
                             float beta, float *c, int ldc)
{
    __atomic_add_fetch(&concurrent_calls, 1, __ATOMIC_RELAXED);
    test_naive_sgemm(layout, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* A user function promised concurrent: on two threads a product of 2e6 flops or more
 * goes as two blocks of C's columns (either transpose of b, padded leading
 * dimensions), a smaller or narrower one, or one thread, as one call. */
START_TEST(a_concurrent_user_sgemm_takes_column_blocks)
{
    test_rng r = test_rng_seeded(9 + (uint64_t)_i);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, concurrent_sgemm), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm_concurrent(ctx, 1), BLASCONV_OK);
    const struct {
        int threads, m, n, k, calls;
    } cases[] = {
        {2, 40, 200, 150, 2}, /* 2.4e6 flops */
        {2, 40, 200, 100, 1}, /* 1.6e6 */
        {2, 400, 31, 100, 1}, /* under two blocks of 16 columns */
        {1, 40, 200, 150, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(blasconv_context_set_threads(ctx, cases[i].threads), BLASCONV_OK);
        gemm_case g = {.ta = _i & 1,
                       .tb = _i >> 1,
                       .m = cases[i].m,
                       .n = cases[i].n,
                       .k = cases[i].k,
                       .alpha = 0.5f,
                       .beta = 0.25f};
        g.lda = (g.ta ? g.m : g.k) + 2;
        g.ldb = (g.tb ? g.k : g.n) + 3;
        g.ldc = g.n + 1;
        concurrent_calls = 0;
        check_case(ctx, &r, &g);
        ck_assert_int_eq(concurrent_calls, cases[i].calls);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(runs_a_loaded_blas)
{
    static const char netlib[] = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3";
    if (access(netlib, R_OK) != 0)
        return; /* libblas3 not installed: nothing to load */
    test_rng r = test_rng_seeded(8);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_load_blas(ctx, netlib), BLASCONV_OK);
    for (int t = 0; t < 10; t++) {
        gemm_case g = random_case(&r);
        check_case(ctx, &r, &g);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(empty_products_do_nothing)
{
    float c[4] = {1, 2, 3, 4};
    ck_assert_int_eq(blasconv_sgemm(NULL, 0, 0, 0, 2, 3, 1.0f, NULL, 3, NULL, 2, 0.0f, NULL, 2),
                     BLASCONV_OK);
    /* k = 0: c = beta * c */
    ck_assert_int_eq(blasconv_sgemm(NULL, 0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.5f, c, 2),
                     BLASCONV_OK);
    ck_assert(c[0] == 0.5f && c[1] == 1.0f && c[2] == 1.5f && c[3] == 2.0f);
}
END_TEST

typedef struct bad_case {
    const char *field; /* the name the error sentence must carry */
    blasconv_status want;
    int ta, tb, m, n, k, lda, ldb, ldc;
    int null_a, null_b, null_c;
} bad_case;

static const bad_case bad_cases[] = {
    {"a is NULL", BLASCONV_ERR_NULL_POINTER, 0, 0, 2, 3, 4, 4, 3, 3, 1, 0, 0},
    {"b is NULL", BLASCONV_ERR_NULL_POINTER, 0, 0, 2, 3, 4, 4, 3, 3, 0, 1, 0},
    {"c is NULL", BLASCONV_ERR_NULL_POINTER, 0, 0, 2, 3, 4, 4, 3, 3, 0, 0, 1},
    {"trans_a=2", BLASCONV_ERR_BAD_SHAPE, 2, 0, 2, 3, 4, 4, 3, 3, 0, 0, 0},
    {"trans_b=112", BLASCONV_ERR_BAD_SHAPE, 0, 112, 2, 3, 4, 4, 3, 3, 0, 0, 0},
    {"m=-1", BLASCONV_ERR_BAD_SHAPE, 0, 0, -1, 3, 4, 4, 3, 3, 0, 0, 0},
    {"n=-2", BLASCONV_ERR_BAD_SHAPE, 0, 0, 2, -2, 4, 4, 3, 3, 0, 0, 0},
    {"k=-3", BLASCONV_ERR_BAD_SHAPE, 0, 0, 2, 3, -3, 4, 3, 3, 0, 0, 0},
    {"lda=3", BLASCONV_ERR_BAD_SHAPE, 0, 0, 2, 3, 4, 3, 3, 3, 0, 0, 0},
    {"lda=1", BLASCONV_ERR_BAD_SHAPE, 1, 0, 2, 3, 4, 1, 3, 3, 0, 0, 0},
    {"ldb=2", BLASCONV_ERR_BAD_SHAPE, 0, 0, 2, 3, 4, 4, 2, 3, 0, 0, 0},
    {"ldb=3", BLASCONV_ERR_BAD_SHAPE, 0, 1, 2, 3, 4, 4, 3, 3, 0, 0, 0},
    {"ldc=2", BLASCONV_ERR_BAD_SHAPE, 0, 0, 2, 3, 4, 4, 3, 2, 0, 0, 0},
    {"holds 2^31", BLASCONV_ERR_OVERFLOW, 0, 0, 70000, 3, 40000, 40000, 3, 3, 0, 0, 0},
};

START_TEST(bad_arguments_are_refused)
{
    const bad_case *t = &bad_cases[_i];
    static float a[64], b[64];
    float c[64], copy[64];
    for (int i = 0; i < 64; i++)
        c[i] = copy[i] = (float)i;
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, counting_sgemm), BLASCONV_OK);
    seam_calls = 0;
    blasconv_status st =
        blasconv_sgemm(ctx, t->ta, t->tb, t->m, t->n, t->k, 1.0f, t->null_a ? NULL : a, t->lda,
                       t->null_b ? NULL : b, t->ldb, 0.0f, t->null_c ? NULL : c, t->ldc);
    ck_assert_int_eq(st, t->want);
    ck_assert_int_eq(seam_calls, 0);
    ck_assert_msg(memcmp(c, copy, sizeof c) == 0, "%s: c was written", t->field);
    const char *msg = blasconv_context_last_error(ctx);
    ck_assert_msg(strstr(msg, "sgemm: ") == msg && strstr(msg, t->field),
                  "last error '%s' should name '%s'", msg, t->field);
    ck_assert_int_eq(blasconv_sgemm(NULL, t->ta, t->tb, t->m, t->n, t->k, 1.0f,
                                    t->null_a ? NULL : a, t->lda, t->null_b ? NULL : b, t->ldb,
                                    0.0f, t->null_c ? NULL : c, t->ldc),
                     t->want);
    blasconv_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_add_loop_test(tc, random_products_match_naive, 0, 2);
    tcase_add_test(tc, runs_the_context_seam);
    tcase_add_loop_test(tc, a_concurrent_user_sgemm_takes_column_blocks, 0, 4);
    tcase_add_test(tc, runs_a_loaded_blas);
    tcase_add_test(tc, empty_products_do_nothing);
    tcase_add_loop_test(tc, bad_arguments_are_refused, 0,
                        (int)(sizeof bad_cases / sizeof bad_cases[0]));
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
