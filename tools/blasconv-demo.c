/* The chapter's printed examples, computed through blasconv. */
#include "blasconv.h"

#include <stdio.h>
#include <string.h>

static void print_matrix(const char *title, const float *m, int rows, int cols)
{
    printf("%s\n", title);
    for (int i = 0; i < rows; i++) {
        printf("  [");
        for (int j = 0; j < cols; j++)
            printf("%s%6.1f", j ? "," : "", m[i * cols + j]);
        printf("]\n");
    }
}

static int check(blasconv_status st, const char *what)
{
    if (st != BLASCONV_OK)
        fprintf(stderr, "blasconv-demo: %s failed: %s\n", what, blasconv_status_string(st));
    return st == BLASCONV_OK;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: blasconv-demo [--help]\n"
                 "Prints the d2l convolution chapter's examples (2-D cross-correlation, edge\n"
                 "detection, multiple input and output channels), computed by blasconv.\n");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    printf("blasconv %s\n\n", blasconv_version());

    const float x[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, k[4] = {0, 1, 2, 3};
    float y[4];
    if (!check(blasconv_corr2d(NULL, x, 3, 3, k, 2, 2, y), "corr2d"))
        return 1;
    print_matrix("corr2d(X, K), X = 0..8 (3x3), K = 0..3 (2x2):", y, 2, 2);

    float img[6 * 8], edges[6 * 7];
    for (int i = 0; i < 48; i++)
        img[i] = (i % 8 >= 2 && i % 8 < 6) ? 0.0f : 1.0f;
    const float edge_kernel[2] = {1, -1};
    if (!check(blasconv_corr2d(NULL, img, 6, 8, edge_kernel, 1, 2, edges), "edge detection"))
        return 1;
    print_matrix("\nX (6x8, a dark vertical bar):", img, 6, 8);
    print_matrix("\nY = corr2d(X, [[1, -1]]): 1 on the light-to-dark edge, -1 on dark-to-light",
                 edges, 6, 7);

    const float x2[18] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    float k3[24];
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 8; i++)
            k3[o * 8 + i] = (float)((i % 4) + (i / 4)) + (float)o;
    blasconv_conv2d d = {.batch = 1,
                         .in_channels = 2,
                         .in_height = 3,
                         .in_width = 3,
                         .out_channels = 1,
                         .kernel_height = 2,
                         .kernel_width = 2};
    float y3[12];
    if (!check(blasconv_conv2d_forward(NULL, &d, x2, k3, NULL, y3), "multi-input conv"))
        return 1;
    print_matrix("\ncorr2d_multi_in(X, K), 2 input channels:", y3, 2, 2);
    d.out_channels = 3;
    if (!check(blasconv_conv2d_forward(NULL, &d, x2, k3, NULL, y3), "multi-in-out conv"))
        return 1;
    printf("\ncorr2d_multi_in_out(X, stack([K, K+1, K+2])), 3 output channels:\n");
    for (int o = 0; o < 3; o++) {
        char title[32];
        snprintf(title, sizeof title, " channel %d:", o);
        print_matrix(title, y3 + o * 4, 2, 2);
    }
    return 0;
}
