/*
 * Learning a convolution kernel from data: the d2l chapter's "learn the kernel
 * array" experiment, with the forward pass and the weight and bias gradients
 * computed by blasconv (im2col + sgemm). Shared by blasconv-learn-kernel and
 * its test, so both run exactly the same training code.
 */
#ifndef BLASCONV_LEARN_KERNEL_H
#define BLASCONV_LEARN_KERNEL_H

#include "blasconv.h"

#include <stddef.h>
#include <stdint.h>

/* A small seeded generator (splitmix64): the same seed gives the same run on
 * every machine. */
typedef struct lk_rng {
    uint64_t state;
} lk_rng;

lk_rng lk_rng_seeded(uint64_t seed);
/* Uniform in the open interval (0, 1). */
double lk_rng_uniform(lk_rng *r);
/* Standard normal (Box-Muller), the counterpart of torch.randn. */
double lk_rng_normal(lk_rng *r);

/*
 * One training problem: a conv layer (NCHW) learning to reproduce `target`
 * from `x`. The loss is loss_scale * sum((y_hat - target)^2) over every output
 * element; loss_scale is 1 in the chapter (the plain sum) and 1/(N*OH*OW) in
 * the random mode, so one learning rate suits any image size there.
 */
typedef struct learn_kernel {
    blasconv_conv2d layer;
    int out_height, out_width;
    double loss_scale;
    size_t x_elems, w_elems, y_elems;
    float *x;           /* x[N][C][H][W], the training images */
    float *target;      /* target[N][K][OH][OW] = conv(x, true_weight) + true_bias */
    float *true_weight; /* true_weight[K][C][KH][KW], the kernel to recover */
    float *true_bias;   /* true_bias[K] */
    float *weight;      /* weight[K][C][KH][KW], learned, starts from N(0, 1) */
    float *bias;        /* bias[K], learned, starts from N(0, 1) */
    float *y_hat, *dy, *dweight, *dbias; /* per-step buffers, allocated once */
} learn_kernel;

/*
 * The chapter's problem: X is the 6x8 image of ones with a dark vertical bar in
 * columns 2..5, and the target comes from the kernel [[1, -1]] with bias 0.
 * A kernel of kh x kw (kw >= 2, at most 6x8) learns the [1, -1] pair in its top
 * left corner and zeros elsewhere (for 1x2, exactly the chapter's Y). The
 * weight, then the bias, are drawn from N(0, 1) with `seed`.
 * BAD_SHAPE for a kernel that does not fit or has kw < 2; NO_MEMORY.
 * On failure *lk holds nothing to free.
 */
blasconv_status learn_kernel_init_chapter(learn_kernel *lk, int kernel_height, int kernel_width,
                                          uint64_t seed);

/* A multi-channel layer (batch images of channels x height x width, out_channels
 * outputs, kh x kw kernels, no padding) learning a random known kernel and bias
 * (both N(0, 1)) from random images (uniform in [-1, 1)). */
typedef struct learn_kernel_random_shape {
    int batch, channels, out_channels, height, width, kernel_height, kernel_width;
} learn_kernel_random_shape;
blasconv_status learn_kernel_init_random(learn_kernel *lk, const learn_kernel_random_shape *shape,
                                         uint64_t seed);

void learn_kernel_free(learn_kernel *lk);

/* The loss of the current weight and bias (forward pass through ctx). */
blasconv_status learn_kernel_loss(blasconv_context *ctx, learn_kernel *lk, double *loss);

/* One step of plain gradient descent: forward, dy = 2*loss_scale*(y_hat - target),
 * dweight and dbias from blasconv_conv2d_backward_filter, then
 * weight -= lr*dweight and bias -= lr*dbias. *loss_before gets the loss of the
 * parameters the step started from (what the chapter prints). */
blasconv_status learn_kernel_step(blasconv_context *ctx, learn_kernel *lk, float learning_rate,
                                  double *loss_before);

/* max |weight - true_weight| and max |bias - true_bias|. */
double learn_kernel_weight_error(const learn_kernel *lk);
double learn_kernel_bias_error(const learn_kernel *lk);

#endif
