/*
 * Edge detection on a PNG photograph through blasconv: the chapter's [1, -1]
 * kernel, its transpose, and the Sobel pair, each a convolution layer (NCHW,
 * batch 1, one input channel). Shared by blasconv-edges and its test.
 */
#ifndef BLASCONV_EDGES_H
#define BLASCONV_EDGES_H

#include "blasconv.h"

#include <stddef.h>

/* An 8-bit grey image, rows top to bottom; pixels[height][width]. */
typedef struct edges_image {
    int height, width;
    unsigned char *pixels;
} edges_image;

enum {
    EDGES_MAX_PIXELS = 1 << 26
}; /* 64 Mpixel: far beyond a demo, far below 2^31 floats */

/* Reads any PNG (grey, grey+alpha, RGB, RGBA, palette; 1 to 16 bits) as 8-bit
 * sRGB grey, letting libpng's transforms do the conversion; transparency is
 * composited onto white. 0 on success; otherwise -1 with a sentence in err and
 * *out untouched (missing file, not a PNG, truncated or corrupt data, an image
 * larger than EDGES_MAX_PIXELS). */
int edges_read_png(const char *path, edges_image *out, char *err, size_t err_size);
/* Writes an 8-bit grey PNG. 0 on success, else -1 with a sentence in err. */
int edges_write_png(const char *path, const edges_image *image, char *err, size_t err_size);
void edges_image_free(edges_image *image);

/*
 * The maps, in order: their file names, kernels and scaling.
 * Responses are computed on the input scaled to [0, 1] (pixel / 255). A signed
 * map is written as round(127.5 + 127.5 * gain * v / v_max), clamped to 0..255,
 * where v_max is the largest |v| the kernel can give on [0, 1] inputs (1 for
 * [1, -1], 4 for Sobel): 128 is "no edge", 255 and 0 the strongest edges of
 * either sign at gain 1. The magnitude sqrt(sobel_x^2 + sobel_y^2) is written as
 * round(255 * gain * m / (4 * sqrt(2))), clamped, so 0 is black (no edge).
 */
enum edges_map {
    EDGES_DIFF_X,    /* [[1, -1]] (the chapter's K): (H) x (W-1) */
    EDGES_DIFF_Y,    /* its transpose [[1], [-1]]: (H-1) x (W) */
    EDGES_SOBEL_X,   /* [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]: (H-2) x (W-2) */
    EDGES_SOBEL_Y,   /* its transpose */
    EDGES_SOBEL_MAG, /* gradient magnitude of the two Sobel maps */
    EDGES_MAP_COUNT
};
extern const char *const edges_map_file[EDGES_MAP_COUNT]; /* "diff-x.png", ... */

typedef struct edges_options {
    double gain; /* multiplies every response before scaling; 0 means 1 */
    int stretch; /* nonzero: per map, the gain that takes its largest |v| to full scale */
} edges_options;

/* Computes every map of `input` (at least 3x3) through ctx (may be NULL).
 * 0 on success; -1 with a sentence in err, leaving maps untouched. */
int edges_compute(blasconv_context *ctx, const edges_image *input, const edges_options *options,
                  edges_image maps[EDGES_MAP_COUNT], char *err, size_t err_size);

/* Creates out_dir (and its parents) if needed; writes input-grey.png and each
 * map's file there. 0 on success; -1 with a sentence in err. */
int edges_run(blasconv_context *ctx, const char *input_path, const char *out_dir,
              const edges_options *options, char *err, size_t err_size);

#endif
