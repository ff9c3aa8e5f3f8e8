/* Edge detection on a PNG through blasconv: the chapter's [1, -1] kernel, its
 * transpose and the Sobel pair, written as PNG images into a folder. */
#include "blasconv.h"
#include "edges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BLASCONV_EDGES_DEFAULT_IMAGE
#define BLASCONV_EDGES_DEFAULT_IMAGE "tools/data/scene.png"
#endif
#ifndef BLASCONV_EDGES_DEFAULT_OUT
#define BLASCONV_EDGES_DEFAULT_OUT "edges"
#endif

static const char *const program = "blasconv-edges";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blasconv-edges [--out DIR] [--gain G | --stretch] [IMAGE.png]\n"
            "Detects edges in a PNG image with convolutions computed by blasconv (NCHW, one\n"
            "image, one input channel) and writes the results as 8-bit grey PNGs into DIR.\n"
            "Any PNG (grey, grey+alpha, RGB, RGBA, palette; 1-16 bits) is read as 8-bit grey\n"
            "by libpng (transparency composited onto white); it must be at least 3x3.\n"
            "Without IMAGE, the photograph-like scene shipped with blasconv:\n"
            "  %s\n"
            "\n"
            "Files written (H x W input):\n"
            "  input-grey.png       the grey input the kernels see\n"
            "  diff-x.png           [[1, -1]], the chapter's kernel: H x (W-1)\n"
            "  diff-y.png           its transpose [[1], [-1]]: (H-1) x W\n"
            "  sobel-x.png          [[-1,0,1],[-2,0,2],[-1,0,1]]: (H-2) x (W-2)\n"
            "  sobel-y.png          its transpose (Sobel x and y are one 2-output-channel layer)\n"
            "  sobel-magnitude.png  sqrt(sobel_x^2 + sobel_y^2)\n"
            "\n"
            "Scaling: the kernels see pixel/255 in [0, 1]. A signed response v is written as\n"
            "round(127.5 + 127.5*G*v/vmax) clamped to 0..255, vmax = the largest |v| possible\n"
            "(1 for [1, -1], 4 for Sobel): mid-grey 128 is no edge, white and black the\n"
            "strongest edges of either sign. The magnitude m is written as\n"
            "round(255*G*m/(4*sqrt 2)): black is no edge. At G = 1 nothing ever clips.\n"
            "\n"
            "options\n"
            "  --out DIR   output folder, created if missing (default %s)\n"
            "  --gain G    multiply every response by G > 0 before scaling (default 1)\n"
            "  --stretch   per image, the gain that takes its largest response to full scale\n"
            "  --help      this text\n"
            "Prints the output folder and files on stdout. Exit status: 0 done, 1 the image\n"
            "could not be read (missing, not a PNG, truncated, empty or too small) or the\n"
            "results could not be written, 2 bad options.\n",
            BLASCONV_EDGES_DEFAULT_IMAGE, BLASCONV_EDGES_DEFAULT_OUT);
}

int main(int argc, char **argv)
{
    const char *input = NULL, *out_dir = BLASCONV_EDGES_DEFAULT_OUT;
    edges_options options = {.gain = 1.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--stretch") == 0) {
            options.stretch = 1;
        } else if (strcmp(a, "--out") == 0 || strcmp(a, "--gain") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value (see --help)\n", program, a);
                return 2;
            }
            const char *v = argv[++i];
            if (a[2] == 'o') {
                if (!*v) {
                    fprintf(stderr, "%s: --out needs a folder name\n", program);
                    return 2;
                }
                out_dir = v;
            } else {
                char *end;
                options.gain = strtod(v, &end);
                if (end == v || *end || !(options.gain > 0.0 && options.gain < 1e6)) {
                    fprintf(stderr, "%s: --gain '%s': want a number in (0, 1e6)\n", program, v);
                    return 2;
                }
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", program, a);
            return 2;
        } else if (input) {
            fprintf(stderr, "%s: one image at a time ('%s' and '%s')\n", program, input, a);
            return 2;
        } else {
            input = a;
        }
    }
    if (!input)
        input = BLASCONV_EDGES_DEFAULT_IMAGE;

    blasconv_context *ctx = NULL;
    blasconv_status st = blasconv_context_create(&ctx);
    if (st != BLASCONV_OK) {
        fprintf(stderr, "%s: %s\n", program, blasconv_status_string(st));
        return 1;
    }
    char err[1024];
    int rc = edges_run(ctx, input, out_dir, &options, err, sizeof err);
    blasconv_context_destroy(ctx);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", program, err);
        return 1;
    }
    printf("edges of %s written to %s/:\n  input-grey.png", input, out_dir);
    for (int m = 0; m < EDGES_MAP_COUNT; m++)
        printf(" %s", edges_map_file[m]);
    printf("\n");
    return 0;
}
