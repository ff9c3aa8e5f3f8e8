/* The d2l chapter's "learn the kernel array from data" experiment, with the
 * forward pass and the gradients computed by blasconv (im2col + sgemm). */
#include "blasconv.h"
#include "learn_kernel.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "blasconv-learn-kernel";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blasconv-learn-kernel [options]\n"
            "Learns a convolution kernel from data by plain gradient descent, as the d2l\n"
            "chapter does: X is the 6x8 image with a dark vertical bar, Y = corr2d(X,\n"
            "[[1, -1]]), and a conv layer with a 1x2 kernel and a bias, both drawn from\n"
            "N(0, 1), is trained on the squared error summed over positions. blasconv\n"
            "computes the forward pass and the gradients dW and dbias\n"
            "(blasconv_conv2d_backward_filter with dy = 2*(Y_hat - Y)).\n"
            "\n"
            "options\n"
            "  --steps N        gradient steps (default 20; 40 with --random)\n"
            "  --lr F           learning rate (default 0.01; 0.5 with --random)\n"
            "  --seed S         seed of the N(0, 1) start and of the random data (default 1)\n"
            "  --kernel HxW     kernel shape (default 1x2; 3x3 with --random). In the chapter\n"
            "                   mode W >= 2 and the target kernel is [1, -1] in the top-left\n"
            "                   corner, zeros elsewhere (with H > 1 the bar image, the same\n"
            "                   down every column, fixes only each column's sum)\n"
            "  --random C,K,H,W the same machinery at scale: a layer with C input and K output\n"
            "                   channels learns a known random kernel and bias from random HxW\n"
            "                   images; the loss is the squared error averaged over the batch\n"
            "                   and positions (summed over channels)\n"
            "  --batch N        images per step with --random (default 8)\n"
            "  --help           this text\n"
            "\n"
            "Prints the loss every steps/4 steps (the chapter: steps 5, 10, 15, 20), then the\n"
            "learned weight and bias (chapter mode) or the largest weight and bias errors\n"
            "(--random). Exit status: 0 done, 1 the library failed, 2 bad options.\n");
}

static int bad_option(const char *option, const char *value, const char *why)
{
    fprintf(stderr, "%s: %s '%s': %s (see --help)\n", program, option, value, why);
    return 2;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

/* "a<sep>b<sep>..." into n ints in [1, hi]. */
static int parse_ints(const char *s, char sep, int n, long hi, int *out)
{
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > hi)
            return 0;
        if (i + 1 < n ? *end != sep : *end != '\0')
            return 0;
        out[i] = (int)v;
        p = end + 1;
    }
    return 1;
}

static void print_weight(const learn_kernel *lk)
{
    const blasconv_conv2d *d = &lk->layer;
    printf("weight: [");
    for (int i = 0; i < d->kernel_height; i++) {
        printf("%s[", i ? ",\n         " : "");
        for (int j = 0; j < d->kernel_width; j++)
            printf("%s%7.4f", j ? ", " : "", lk->weight[i * d->kernel_width + j]);
        printf("]");
    }
    printf("]\nbias: [%.4f]\n", lk->bias[0]);
}

int main(int argc, char **argv)
{
    int steps = -1, kernel[2] = {0, 0}, random_mode = 0, random_shape[4] = {0}, batch = 8;
    double lr = -1.0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unknown or incomplete option '%s' (see --help)\n", program, a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--steps") == 0) {
            if (!parse_int(v, 0, 100000000, &steps))
                return bad_option(a, v, "want an integer in [0, 1e8]");
        } else if (strcmp(a, "--lr") == 0) {
            char *end;
            lr = strtod(v, &end);
            if (end == v || *end || !(lr >= 0.0 && lr < 1e6))
                return bad_option(a, v, "want a number in [0, 1e6)");
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-')
                return bad_option(a, v, "want a non-negative integer");
            seed = (uint64_t)s;
        } else if (strcmp(a, "--kernel") == 0) {
            if (!parse_ints(v, 'x', 2, 1000, kernel))
                return bad_option(a, v, "want HxW, e.g. 1x2");
        } else if (strcmp(a, "--random") == 0) {
            if (!parse_ints(v, ',', 4, 100000, random_shape))
                return bad_option(a, v, "want C,K,H,W, e.g. 3,4,16,16");
            random_mode = 1;
        } else if (strcmp(a, "--batch") == 0) {
            if (!parse_int(v, 1, 100000, &batch))
                return bad_option(a, v, "want an integer in [1, 100000]");
        } else {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", program, a);
            return 2;
        }
    }
    if (steps < 0)
        steps = random_mode ? 40 : 20;
    if (lr < 0.0)
        lr = random_mode ? 0.5 : 0.01;
    if (kernel[0] == 0) {
        kernel[0] = random_mode ? 3 : 1;
        kernel[1] = random_mode ? 3 : 2;
    }

    learn_kernel lk;
    blasconv_status st;
    if (random_mode) {
        const learn_kernel_random_shape shape = {.batch = batch,
                                                 .channels = random_shape[0],
                                                 .out_channels = random_shape[1],
                                                 .height = random_shape[2],
                                                 .width = random_shape[3],
                                                 .kernel_height = kernel[0],
                                                 .kernel_width = kernel[1]};
        st = learn_kernel_init_random(&lk, &shape, seed);
        if (st == BLASCONV_ERR_BAD_SHAPE || st == BLASCONV_ERR_OVERFLOW) {
            fprintf(stderr,
                    "%s: a %dx%d kernel does not fit %dx%d images, or the layer is too "
                    "large: %s\n",
                    program, kernel[0], kernel[1], shape.height, shape.width,
                    blasconv_status_string(st));
            return 2;
        }
        if (st == BLASCONV_OK)
            printf("random mode: %d images of %dx%dx%d, %d output channels, %dx%d kernel, "
                   "%d steps, lr %g, seed %" PRIu64 "\n",
                   batch, shape.channels, shape.height, shape.width, shape.out_channels, kernel[0],
                   kernel[1], steps, lr, seed);
    } else {
        st = learn_kernel_init_chapter(&lk, kernel[0], kernel[1], seed);
        if (st == BLASCONV_ERR_BAD_SHAPE) {
            fprintf(stderr,
                    "%s: --kernel %dx%d: the chapter's 6x8 image needs a kernel of at "
                    "most 6x8 with width >= 2 (to hold [1, -1])\n",
                    program, kernel[0], kernel[1]);
            return 2;
        }
    }
    if (st != BLASCONV_OK) {
        fprintf(stderr, "%s: setting up the problem failed: %s\n", program,
                blasconv_status_string(st));
        return 1;
    }

    blasconv_context *ctx = NULL;
    st = blasconv_context_create(&ctx);
    int every = steps / 4 > 0 ? steps / 4 : 1;
    for (int i = 0; i < steps && st == BLASCONV_OK; i++) {
        double loss;
        st = learn_kernel_step(ctx, &lk, (float)lr, &loss);
        if (st == BLASCONV_OK && ((i + 1) % every == 0 || i + 1 == steps))
            printf(random_mode ? "Step %d, loss %.6g\n" : "Step %d, loss %.3f\n", i + 1, loss);
    }
    if (st != BLASCONV_OK) {
        fprintf(stderr, "%s: training failed: %s (%s)\n", program, blasconv_status_string(st),
                blasconv_context_last_error(ctx));
        blasconv_context_destroy(ctx);
        learn_kernel_free(&lk);
        return 1;
    }
    if (random_mode)
        printf("max |weight - true weight| = %.3g, max |bias - true bias| = %.3g\n",
               learn_kernel_weight_error(&lk), learn_kernel_bias_error(&lk));
    else
        print_weight(&lk);
    blasconv_context_destroy(ctx);
    learn_kernel_free(&lk);
    return 0;
}
