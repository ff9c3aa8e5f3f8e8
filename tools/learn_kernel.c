#include "learn_kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

lk_rng lk_rng_seeded(uint64_t seed)
{
    lk_rng r = {seed};
    return r;
}

static uint64_t lk_rng_next(lk_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double lk_rng_uniform(lk_rng *r)
{
    /* 53 random bits, shifted by half a step so 0 never comes out (log(0) below) */
    return ((double)(lk_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

double lk_rng_normal(lk_rng *r)
{
    /* Box-Muller, using one of the pair: simple, and the sequence stays easy to follow */
    const double two_pi = 6.283185307179586;
    double u1 = lk_rng_uniform(r), u2 = lk_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

void learn_kernel_free(learn_kernel *lk)
{
    free(lk->x);
    free(lk->target);
    free(lk->true_weight);
    free(lk->true_bias);
    free(lk->weight);
    free(lk->bias);
    free(lk->y_hat);
    free(lk->dy);
    free(lk->dweight);
    free(lk->dbias);
    memset(lk, 0, sizeof *lk);
}

/* Sizes from the layer (already validated by the library), then every buffer. */
static blasconv_status allocate(learn_kernel *lk)
{
    const blasconv_conv2d *d = &lk->layer;
    blasconv_status st = blasconv_conv2d_output_size(d, &lk->out_height, &lk->out_width);
    if (st != BLASCONV_OK)
        return st;
    lk->x_elems =
        (size_t)d->batch * (size_t)d->in_channels * (size_t)d->in_height * (size_t)d->in_width;
    lk->w_elems = (size_t)d->out_channels * (size_t)d->in_channels * (size_t)d->kernel_height *
                  (size_t)d->kernel_width;
    lk->y_elems = (size_t)d->batch * (size_t)d->out_channels * (size_t)lk->out_height *
                  (size_t)lk->out_width;
    size_t k = (size_t)d->out_channels;
    lk->x = malloc(lk->x_elems * sizeof(float));
    lk->target = malloc(lk->y_elems * sizeof(float));
    lk->y_hat = malloc(lk->y_elems * sizeof(float));
    lk->dy = malloc(lk->y_elems * sizeof(float));
    lk->true_weight = calloc(lk->w_elems, sizeof(float));
    lk->weight = malloc(lk->w_elems * sizeof(float));
    lk->dweight = malloc(lk->w_elems * sizeof(float));
    lk->true_bias = calloc(k, sizeof(float));
    lk->bias = malloc(k * sizeof(float));
    lk->dbias = malloc(k * sizeof(float));
    if (!lk->x || !lk->target || !lk->y_hat || !lk->dy || !lk->true_weight || !lk->weight ||
        !lk->dweight || !lk->true_bias || !lk->bias || !lk->dbias) {
        learn_kernel_free(lk);
        return BLASCONV_ERR_NO_MEMORY;
    }
    return BLASCONV_OK;
}

/* Weight then bias from N(0, 1), as the chapter's Conv2D.__init__ does. */
static void init_parameters(learn_kernel *lk, lk_rng *rng)
{
    for (size_t i = 0; i < lk->w_elems; i++)
        lk->weight[i] = (float)lk_rng_normal(rng);
    for (int k = 0; k < lk->layer.out_channels; k++)
        lk->bias[k] = (float)lk_rng_normal(rng);
}

static blasconv_status make_target(learn_kernel *lk)
{
    blasconv_status st = blasconv_conv2d_forward(NULL, &lk->layer, lk->x, lk->true_weight,
                                                 lk->true_bias, lk->target);
    if (st != BLASCONV_OK)
        learn_kernel_free(lk);
    return st;
}

blasconv_status learn_kernel_init_chapter(learn_kernel *lk, int kernel_height, int kernel_width,
                                          uint64_t seed)
{
    memset(lk, 0, sizeof *lk);
    if (kernel_width < 2)
        return BLASCONV_ERR_BAD_SHAPE;
    lk->layer = (blasconv_conv2d){.batch = 1,
                                  .in_channels = 1,
                                  .in_height = 6,
                                  .in_width = 8,
                                  .out_channels = 1,
                                  .kernel_height = kernel_height,
                                  .kernel_width = kernel_width};
    lk->loss_scale = 1.0;
    blasconv_status st = allocate(lk);
    if (st != BLASCONV_OK)
        return st;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++)
            lk->x[i * 8 + j] = (j >= 2 && j < 6) ? 0.0f : 1.0f; /* X[:, 2:6] = 0 */
    lk->true_weight[0] = 1.0f;
    lk->true_weight[1] = -1.0f;
    lk_rng rng = lk_rng_seeded(seed);
    init_parameters(lk, &rng);
    return make_target(lk);
}

blasconv_status learn_kernel_init_random(learn_kernel *lk, const learn_kernel_random_shape *shape,
                                         uint64_t seed)
{
    memset(lk, 0, sizeof *lk);
    lk->layer = (blasconv_conv2d){.batch = shape->batch,
                                  .in_channels = shape->channels,
                                  .in_height = shape->height,
                                  .in_width = shape->width,
                                  .out_channels = shape->out_channels,
                                  .kernel_height = shape->kernel_height,
                                  .kernel_width = shape->kernel_width};
    blasconv_status st = allocate(lk);
    if (st != BLASCONV_OK)
        return st;
    lk->loss_scale = 1.0 / ((double)shape->batch * lk->out_height * lk->out_width);
    lk_rng rng = lk_rng_seeded(seed);
    for (size_t i = 0; i < lk->w_elems; i++)
        lk->true_weight[i] = (float)lk_rng_normal(&rng);
    for (int k = 0; k < shape->out_channels; k++)
        lk->true_bias[k] = (float)lk_rng_normal(&rng);
    for (size_t i = 0; i < lk->x_elems; i++)
        lk->x[i] = (float)(2.0 * lk_rng_uniform(&rng) - 1.0);
    init_parameters(lk, &rng);
    return make_target(lk);
}

blasconv_status learn_kernel_loss(blasconv_context *ctx, learn_kernel *lk, double *loss)
{
    blasconv_status st =
        blasconv_conv2d_forward(ctx, &lk->layer, lk->x, lk->weight, lk->bias, lk->y_hat);
    if (st != BLASCONV_OK)
        return st;
    double sum = 0.0;
    for (size_t i = 0; i < lk->y_elems; i++) {
        double e = (double)lk->y_hat[i] - (double)lk->target[i];
        sum += e * e;
    }
    *loss = lk->loss_scale * sum;
    return BLASCONV_OK;
}

blasconv_status learn_kernel_step(blasconv_context *ctx, learn_kernel *lk, float learning_rate,
                                  double *loss_before)
{
    double loss;
    blasconv_status st = learn_kernel_loss(ctx, lk, &loss);
    if (st != BLASCONV_OK)
        return st;
    const float dy_scale = (float)(2.0 * lk->loss_scale);
    for (size_t i = 0; i < lk->y_elems; i++)
        lk->dy[i] = dy_scale * (lk->y_hat[i] - lk->target[i]);
    st = blasconv_conv2d_backward_filter(ctx, &lk->layer, lk->x, lk->dy, lk->dweight, lk->dbias);
    if (st != BLASCONV_OK)
        return st;
    for (size_t i = 0; i < lk->w_elems; i++)
        lk->weight[i] -= learning_rate * lk->dweight[i];
    for (int k = 0; k < lk->layer.out_channels; k++)
        lk->bias[k] -= learning_rate * lk->dbias[k];
    *loss_before = loss;
    return BLASCONV_OK;
}

static double max_abs_difference(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= worst)) /* NaN wins too */
            worst = e;
    }
    return worst;
}

double learn_kernel_weight_error(const learn_kernel *lk)
{
    return max_abs_difference(lk->weight, lk->true_weight, lk->w_elems);
}

double learn_kernel_bias_error(const learn_kernel *lk)
{
    return max_abs_difference(lk->bias, lk->true_bias, (size_t)lk->layer.out_channels);
}
