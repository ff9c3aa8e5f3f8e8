/* A program outside the project, as a user writes it: only <blasconv.h> and the
 * installed library. It checks that header and library agree, then runs the chapter's
 * example and a grouped, strided, padded convolution with bias against the oracle. */
#include <blasconv.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static int fail(const char *what, blasconv_status st, const blasconv_context *ctx)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, blasconv_status_string(st),
            blasconv_context_last_error(ctx));
    return 1;
}

/* Deterministic values in [-1, 1): the same on every machine. */
static void fill(float *a, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        a[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
}

int main(void)
{
    const char *header_version = STR(BLASCONV_VERSION_MAJOR) "." STR(
        BLASCONV_VERSION_MINOR) "." STR(BLASCONV_VERSION_PATCH);
    if (strcmp(blasconv_version(), header_version) != 0) {
        fprintf(stderr, "consumer: library %s, header %s\n", blasconv_version(), header_version);
        return 1;
    }

    /* The chapter's first example, exact in float32. */
    const float x1[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    const float w1[4] = {0, 1, 2, 3};
    const float want1[4] = {19, 25, 37, 43};
    float y1[4] = {NAN, NAN, NAN, NAN};
    const blasconv_conv2d d1 = {.batch = 1,
                                .in_channels = 1,
                                .in_height = 3,
                                .in_width = 3,
                                .out_channels = 1,
                                .kernel_height = 2,
                                .kernel_width = 2};
    blasconv_status st = blasconv_conv2d_forward(NULL, &d1, x1, w1, NULL, y1);
    if (st != BLASCONV_OK)
        return fail("chapter example", st, NULL);
    if (memcmp(y1, want1, sizeof y1) != 0) {
        fprintf(stderr, "consumer: chapter example gave %g %g %g %g, want 19 25 37 43\n", y1[0],
                y1[1], y1[2], y1[3]);
        return 1;
    }

    /* N=2 C=4 7x6 -> K=6, 3x3 kernel, groups 2, stride 2, pads 1/0/1/2, with bias:
     * y[2][6][3][4] against the direct-loop oracle. */
    enum {
        X_ELEMS = 2 * 4 * 7 * 6,
        W_ELEMS = 6 * 2 * 3 * 3,
        Y_ELEMS = 2 * 6 * 3 * 4
    };
    const blasconv_conv2d d = {.batch = 2,
                               .in_channels = 4,
                               .in_height = 7,
                               .in_width = 6,
                               .out_channels = 6,
                               .kernel_height = 3,
                               .kernel_width = 3,
                               .stride_height = 2,
                               .stride_width = 2,
                               .pad_top = 1,
                               .pad_bottom = 0,
                               .pad_left = 1,
                               .pad_right = 2,
                               .groups = 2};
    float x[X_ELEMS], w[W_ELEMS], bias[6], y[Y_ELEMS], want[Y_ELEMS];
    fill(x, X_ELEMS, 1);
    fill(w, W_ELEMS, 2);
    fill(bias, 6, 3);
    for (int i = 0; i < Y_ELEMS; i++)
        y[i] = want[i] = NAN;
    int oh = 0, ow = 0;
    blasconv_context *ctx = NULL;
    st = blasconv_context_create(&ctx);
    if (st != BLASCONV_OK)
        return fail("context_create", st, NULL);
    if ((st = blasconv_conv2d_output_size(&d, &oh, &ow)) != BLASCONV_OK ||
        (st = blasconv_conv2d_forward(ctx, &d, x, w, bias, y)) != BLASCONV_OK ||
        (st = blasconv_reference_conv2d_forward(ctx, &d, x, w, bias, want)) != BLASCONV_OK) {
        int code = fail("grouped convolution", st, ctx);
        blasconv_context_destroy(ctx);
        return code;
    }
    blasconv_context_destroy(ctx);
    if (oh * ow * 2 * 6 != Y_ELEMS) {
        fprintf(stderr, "consumer: output size %dx%d, want 3x4\n", oh, ow);
        return 1;
    }
    for (int i = 0; i < Y_ELEMS; i++) {
        if (!(fabsf(y[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])))) {
            fprintf(stderr, "consumer: y[%d] = %g, oracle %g\n", i, y[i], want[i]);
            return 1;
        }
    }
    printf("consumer: blasconv %s ok\n", blasconv_version());
    return 0;
}
