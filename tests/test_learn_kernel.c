/* The chapter's "learn the kernel from data" experiment (tools/learn_kernel.c):
 * it converges, and the backward_filter gradients it descends along are the
 * derivatives of its loss. */
#include "learn_kernel.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

/* 20 steps at lr 0.01, as in the chapter; seeds 1..40 all end within 0.21 of
 * [1, -1] (the chapter's own run: [0.8764, -0.8724]), and bias within 0.02. */
START_TEST(chapter_converges_for_several_seeds)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        learn_kernel lk;
        ck_assert_int_eq(learn_kernel_init_chapter(&lk, 1, 2, seed), BLASCONV_OK);
        double previous = INFINITY, loss = NAN, first = NAN;
        for (int step = 0; step < 20; step++) {
            ck_assert_int_eq(learn_kernel_step(NULL, &lk, 0.01f, &loss), BLASCONV_OK);
            ck_assert_msg(loss < previous, "seed %d step %d: loss %g did not go below %g",
                          (int)seed, step + 1, loss, previous);
            if (step == 0)
                first = loss;
            previous = loss;
        }
        ck_assert_msg(loss < 0.25 * first, "seed %d: loss only fell from %g to %g", (int)seed,
                      first, loss);
        ck_assert_msg(fabs(lk.weight[0] - 1.0) < 0.25 && fabs(lk.weight[1] + 1.0) < 0.25,
                      "seed %d: weight [%g, %g]", (int)seed, lk.weight[0], lk.weight[1]);
        ck_assert_msg(fabs(lk.bias[0]) < 0.05, "seed %d: bias %g", (int)seed, lk.bias[0]);
        learn_kernel_free(&lk);
    }
}
END_TEST

/* Long enough, the chapter's problem has one exact answer: [1, -1] and 0. */
START_TEST(chapter_reaches_the_exact_kernel)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (uint64_t seed = 11; seed <= 14; seed++) {
        learn_kernel lk;
        ck_assert_int_eq(learn_kernel_init_chapter(&lk, 1, 2, seed), BLASCONV_OK);
        double loss;
        for (int step = 0; step < 200; step++)
            ck_assert_int_eq(learn_kernel_step(ctx, &lk, 0.01f, &loss), BLASCONV_OK);
        ck_assert_msg(learn_kernel_weight_error(&lk) < 1e-3, "seed %d: weight [%g, %g]", (int)seed,
                      lk.weight[0], lk.weight[1]);
        ck_assert_msg(learn_kernel_bias_error(&lk) < 1e-3, "seed %d: bias %g", (int)seed,
                      lk.bias[0]);
        ck_assert_double_lt(loss, 1e-5);
        learn_kernel_free(&lk);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(random_layer_recovers_its_kernel)
{
    const learn_kernel_random_shape shape = {.batch = 3,
                                             .channels = 3,
                                             .out_channels = 4,
                                             .height = 11,
                                             .width = 9,
                                             .kernel_height = 3,
                                             .kernel_width = 2};
    learn_kernel lk;
    ck_assert_int_eq(learn_kernel_init_random(&lk, &shape, 5), BLASCONV_OK);
    ck_assert_double_gt(learn_kernel_weight_error(&lk), 0.1); /* it starts far away */
    double loss, first = NAN;
    for (int step = 0; step < 60; step++) {
        ck_assert_int_eq(learn_kernel_step(NULL, &lk, 0.5f, &loss), BLASCONV_OK);
        if (step == 0)
            first = loss;
    }
    ck_assert_double_lt(loss, 1e-6 * first);
    ck_assert_double_lt(learn_kernel_weight_error(&lk), 1e-3);
    ck_assert_double_lt(learn_kernel_bias_error(&lk), 1e-3);
    learn_kernel_free(&lk);
}
END_TEST

/* The loss of (weight, bias) in float64 through the oracle's forward pass. */
static double oracle_loss(const learn_kernel *lk)
{
    float *y = test_alloc_poisoned(lk->y_elems);
    ck_assert_int_eq(
        blasconv_reference_conv2d_forward(NULL, &lk->layer, lk->x, lk->weight, lk->bias, y),
        BLASCONV_OK);
    double sum = 0.0;
    for (size_t i = 0; i < lk->y_elems; i++) {
        double e = (double)y[i] - (double)lk->target[i];
        sum += e * e;
    }
    free(y);
    return lk->loss_scale * sum;
}

/* d loss / d p by central differences. The loss is quadratic in every
 * parameter, so a large step has no truncation error, only rounding. */
static double central_difference(learn_kernel *lk, float *p)
{
    const float saved = *p, step = 0.25f;
    *p = saved + step;
    const float up = *p;
    double loss_up = oracle_loss(lk);
    *p = saved - step;
    const float down = *p;
    double loss_down = oracle_loss(lk);
    *p = saved;
    return (loss_up - loss_down) / ((double)up - (double)down);
}

static void check_gradients(learn_kernel *lk, const char *what)
{
    /* learning rate 0: one step fills dweight and dbias and keeps the parameters */
    test_poison(lk->dweight, lk->w_elems);
    test_poison(lk->dbias, (size_t)lk->layer.out_channels);
    double loss;
    ck_assert_int_eq(learn_kernel_step(NULL, lk, 0.0f, &loss), BLASCONV_OK);
    ck_assert_msg(fabs(loss - oracle_loss(lk)) <= 1e-5 * loss, "%s: loss %g vs oracle %g", what,
                  loss, oracle_loss(lk));
    for (size_t i = 0; i < lk->w_elems; i++) {
        double want = central_difference(lk, &lk->weight[i]);
        ck_assert_msg(fabs(lk->dweight[i] - want) <= 1e-4 * (1.0 + fabs(want)),
                      "%s: dweight[%zu] = %.9g, finite differences %.9g", what, i, lk->dweight[i],
                      want);
    }
    for (int k = 0; k < lk->layer.out_channels; k++) {
        double want = central_difference(lk, &lk->bias[k]);
        ck_assert_msg(fabs(lk->dbias[k] - want) <= 1e-4 * (1.0 + fabs(want)),
                      "%s: dbias[%d] = %.9g, finite differences %.9g", what, k, lk->dbias[k],
                      want);
    }
}

START_TEST(gradients_match_finite_differences)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        learn_kernel lk;
        ck_assert_int_eq(learn_kernel_init_chapter(&lk, 1, 2, seed), BLASCONV_OK);
        check_gradients(&lk, "chapter 1x2");
        learn_kernel_free(&lk);
        ck_assert_int_eq(learn_kernel_init_chapter(&lk, 2, 3, seed), BLASCONV_OK);
        check_gradients(&lk, "chapter 2x3");
        learn_kernel_free(&lk);
    }
    const learn_kernel_random_shape shape = {.batch = 2,
                                             .channels = 2,
                                             .out_channels = 3,
                                             .height = 7,
                                             .width = 6,
                                             .kernel_height = 3,
                                             .kernel_width = 3};
    learn_kernel lk;
    ck_assert_int_eq(learn_kernel_init_random(&lk, &shape, 9), BLASCONV_OK);
    check_gradients(&lk, "random 2->3 channels, 3x3");
    /* and after a few steps, away from the N(0, 1) start */
    double loss;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(learn_kernel_step(NULL, &lk, 0.1f, &loss), BLASCONV_OK);
    check_gradients(&lk, "random, after 5 steps");
    learn_kernel_free(&lk);
}
END_TEST

START_TEST(chapter_target_is_the_chapter_y)
{
    learn_kernel lk;
    ck_assert_int_eq(learn_kernel_init_chapter(&lk, 1, 2, 1), BLASCONV_OK);
    ck_assert_int_eq(lk.out_height, 6);
    ck_assert_int_eq(lk.out_width, 7);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 7; j++) {
            float want = j == 1 ? 1.0f : j == 5 ? -1.0f : 0.0f;
            ck_assert_msg(lk.target[i * 7 + j] == want, "Y[%d][%d] = %g", i, j,
                          lk.target[i * 7 + j]);
        }
    /* the same seed gives the same start, another seed another one */
    learn_kernel again, other;
    ck_assert_int_eq(learn_kernel_init_chapter(&again, 1, 2, 1), BLASCONV_OK);
    ck_assert_int_eq(learn_kernel_init_chapter(&other, 1, 2, 2), BLASCONV_OK);
    ck_assert(lk.weight[0] == again.weight[0] && lk.bias[0] == again.bias[0]);
    ck_assert(lk.weight[0] != other.weight[0]);
    learn_kernel_free(&lk);
    learn_kernel_free(&again);
    learn_kernel_free(&other);
}
END_TEST

START_TEST(normal_draws_look_normal)
{
    lk_rng r = lk_rng_seeded(42);
    double sum = 0.0, sum_sq = 0.0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double v = lk_rng_normal(&r);
        ck_assert(isfinite(v));
        sum += v;
        sum_sq += v * v;
    }
    double mean = sum / n, var = sum_sq / n - mean * mean;
    ck_assert_double_lt(fabs(mean), 0.01);
    ck_assert_double_lt(fabs(var - 1.0), 0.02);
}
END_TEST

START_TEST(kernels_that_do_not_fit_are_refused)
{
    learn_kernel lk;
    ck_assert_int_eq(learn_kernel_init_chapter(&lk, 1, 1, 1), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(learn_kernel_init_chapter(&lk, 7, 2, 1), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_int_eq(learn_kernel_init_chapter(&lk, 1, 9, 1), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_ptr_null(lk.x); /* nothing left to free */
    const learn_kernel_random_shape too_big = {.batch = 1,
                                               .channels = 1,
                                               .out_channels = 1,
                                               .height = 2,
                                               .width = 2,
                                               .kernel_height = 3,
                                               .kernel_width = 3};
    ck_assert_int_eq(learn_kernel_init_random(&lk, &too_big, 1), BLASCONV_ERR_BAD_SHAPE);
    ck_assert_ptr_null(lk.weight);
}
END_TEST

static Suite *learn_kernel_suite(void)
{
    Suite *s = suite_create("learn_kernel");
    TCase *tc = tcase_create("training");
    tcase_add_test(tc, chapter_converges_for_several_seeds);
    tcase_add_test(tc, chapter_reaches_the_exact_kernel);
    tcase_add_test(tc, random_layer_recovers_its_kernel);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, chapter_target_is_the_chapter_y);
    tcase_add_test(tc, normal_draws_look_normal);
    tcase_add_test(tc, kernels_that_do_not_fit_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(learn_kernel_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
