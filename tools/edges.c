#define _POSIX_C_SOURCE 200809L /* mkdir, stat */

#include "edges.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

const char *const edges_map_file[EDGES_MAP_COUNT] = {"diff-x.png", "diff-y.png", "sobel-x.png",
                                                     "sobel-y.png", "sobel-magnitude.png"};

void edges_image_free(edges_image *image)
{
    free(image->pixels);
    image->pixels = NULL;
    image->height = image->width = 0;
}

/*
 * libpng's simplified API (png_image) does the setjmp/longjmp error handling
 * inside libpng and frees its own state on every failure; we only have to call
 * png_image_free when we give up between begin_read and finish_read.
 */
int edges_read_png(const char *path, edges_image *out, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* the signature, then IHDR's length, type, width and height */
    unsigned char head[24];
    size_t got = fread(head, 1, sizeof head, f);
    if (got == 0) {
        snprintf(err, err_size, "%s: empty file, not a PNG image", path);
        fclose(f);
        return -1;
    }
    if (got < 8 || png_sig_cmp(head, 0, 8) != 0) {
        snprintf(err, err_size, "%s: not a PNG file (bad signature)", path);
        fclose(f);
        return -1;
    }
    /* libpng would only say "Invalid IHDR data": name the empty image ourselves */
    if (got == sizeof head && memcmp(head + 12, "IHDR", 4) == 0 &&
        (png_get_uint_32(head + 16) == 0 || png_get_uint_32(head + 20) == 0)) {
        snprintf(err, err_size, "%s: empty image (%ux%u in its PNG header)", path,
                 (unsigned)png_get_uint_32(head + 16), (unsigned)png_get_uint_32(head + 20));
        fclose(f);
        return -1;
    }
    rewind(f);

    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&image, f)) {
        snprintf(err, err_size, "%s: truncated or corrupt PNG header: %s", path, image.message);
        fclose(f);
        return -1;
    }
    /* a valid IHDR has width, height >= 1; bound the pixel count before allocating */
    if (image.width == 0 || image.height == 0 ||
        (unsigned long long)image.width * image.height > EDGES_MAX_PIXELS) {
        snprintf(err, err_size, "%s: a %ux%u image is empty or larger than %d pixels", path,
                 (unsigned)image.width, (unsigned)image.height, (int)EDGES_MAX_PIXELS);
        png_image_free(&image);
        fclose(f);
        return -1;
    }
    image.format = PNG_FORMAT_GRAY; /* 8-bit sRGB grey: libpng converts and composites */
    size_t bytes = (size_t)image.width * image.height;
    unsigned char *pixels = malloc(bytes);
    if (!pixels) {
        snprintf(err, err_size, "%s: out of memory for %zu pixels", path, bytes);
        png_image_free(&image);
        fclose(f);
        return -1;
    }
    const png_color white = {255, 255, 255};
    int ok = png_image_finish_read(&image, &white, pixels, 0, NULL);
    fclose(f);
    if (!ok) {
        snprintf(err, err_size, "%s: truncated or corrupt PNG data: %s", path, image.message);
        free(pixels);
        return -1;
    }
    out->height = (int)image.height;
    out->width = (int)image.width;
    out->pixels = pixels;
    return 0;
}

int edges_write_png(const char *path, const edges_image *im, char *err, size_t err_size)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)im->width;
    image.height = (png_uint_32)im->height;
    image.format = PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&image, path, 0, im->pixels, 0, NULL)) {
        snprintf(err, err_size, "%s: cannot write: %s", path, image.message);
        return -1;
    }
    return 0;
}

typedef struct map_layer {
    int kernel_height, kernel_width, out_channels;
    const float *weights; /* weights[out_channels][1][kh][kw] */
} map_layer;

static const float diff_x[2] = {1, -1};
static const float diff_y[2] = {1, -1};
static const float sobel_xy[2 * 9] = {-1, 0,  1,  -2, 0, 2, -1, 0, 1,  /* x */
                                      -1, -2, -1, 0,  0, 0, 1,  2, 1}; /* y */

static unsigned char to_byte(double v)
{
    double p = floor(v + 0.5);
    return (unsigned char)(p < 0.0 ? 0.0 : p > 255.0 ? 255.0 : p);
}

static double max_abs(const float *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* The gain that maps this map's responses: the option's, or the stretch. */
static double map_gain(const edges_options *o, double largest, double full_scale)
{
    if (o->stretch)
        return largest > 0.0 ? full_scale / largest : 1.0;
    return o->gain > 0.0 ? o->gain : 1.0;
}

static void scale_signed(const float *v, size_t n, double v_max, const edges_options *o,
                         unsigned char *out)
{
    double gain = map_gain(o, max_abs(v, n), v_max);
    for (size_t i = 0; i < n; i++)
        out[i] = to_byte(127.5 + 127.5 * gain * (double)v[i] / v_max);
}

int edges_compute(blasconv_context *ctx, const edges_image *in, const edges_options *options,
                  edges_image maps[EDGES_MAP_COUNT], char *err, size_t err_size)
{
    const int h = in->height, w = in->width;
    if (h < 3 || w < 3 || (size_t)h * (size_t)w > EDGES_MAX_PIXELS) {
        snprintf(err, err_size,
                 "a %dx%d image: the edge kernels need at least 3x3 pixels and "
                 "at most %d",
                 w, h, (int)EDGES_MAX_PIXELS);
        return -1;
    }
    const size_t n = (size_t)h * (size_t)w;
    const map_layer layers[3] = {{1, 2, 1, diff_x}, {2, 1, 1, diff_y}, {3, 3, 2, sobel_xy}};
    /* x, then every layer's output (at most 2 * n floats each), then the bytes */
    float *x = malloc(n * sizeof(float));
    float *y = malloc(2 * n * sizeof(float));
    edges_image out[EDGES_MAP_COUNT] = {{0}};
    int failed = !x || !y;
    for (int m = 0; m < EDGES_MAP_COUNT && !failed; m++) {
        out[m].pixels = malloc(n);
        failed = !out[m].pixels;
    }
    if (failed) {
        snprintf(err, err_size, "out of memory for a %dx%d image", w, h);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)in->pixels[i] / 255.0f;

    const edges_options defaults = {0};
    const edges_options *o = options ? options : &defaults;
    for (int l = 0; l < 3; l++) {
        const map_layer *L = &layers[l];
        const blasconv_conv2d d = {.batch = 1,
                                   .in_channels = 1,
                                   .in_height = h,
                                   .in_width = w,
                                   .out_channels = L->out_channels,
                                   .kernel_height = L->kernel_height,
                                   .kernel_width = L->kernel_width,
                                   .layout = BLASCONV_NCHW};
        int oh = h - L->kernel_height + 1, ow = w - L->kernel_width + 1;
        blasconv_status st = blasconv_conv2d_forward(ctx, &d, x, L->weights, NULL, y);
        if (st != BLASCONV_OK) {
            snprintf(err, err_size, "blasconv_conv2d_forward (%dx%d kernel): %s (%s)",
                     L->kernel_height, L->kernel_width, blasconv_status_string(st),
                     blasconv_context_last_error(ctx));
            goto fail;
        }
        const size_t plane = (size_t)oh * (size_t)ow;
        for (int k = 0; k < L->out_channels; k++) {
            edges_image *map = &out[l == 2 ? EDGES_SOBEL_X + k : l];
            map->height = oh;
            map->width = ow;
            scale_signed(y + (size_t)k * plane, plane, l == 2 ? 4.0 : 1.0, o, map->pixels);
        }
        if (l == 2) {
            const double full = 4.0 * sqrt(2.0);
            double largest = 0.0;
            for (size_t i = 0; i < plane; i++) /* reuse the x plane for the magnitude */
                largest = fmax(largest, x[i] = (float)hypot(y[i], y[plane + i]));
            double gain = map_gain(o, largest, full);
            edges_image *mag = &out[EDGES_SOBEL_MAG];
            mag->height = oh;
            mag->width = ow;
            for (size_t i = 0; i < plane; i++)
                mag->pixels[i] = to_byte(255.0 * gain * (double)x[i] / full);
        }
    }
    free(x);
    free(y);
    memcpy(maps, out, sizeof out);
    return 0;
fail:
    free(x);
    free(y);
    for (int m = 0; m < EDGES_MAP_COUNT; m++)
        free(out[m].pixels);
    return -1;
}

/* mkdir -p: every missing component of dir, each with mode 0777 (umask applies). */
static int make_directories(const char *dir, char *err, size_t err_size)
{
    size_t len = strlen(dir);
    char *path = malloc(len + 1);
    if (!path) {
        snprintf(err, err_size, "%s: out of memory", dir);
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        struct stat sb;
        if (mkdir(path, 0777) != 0 &&
            (errno != EEXIST || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
            snprintf(err, err_size, "cannot create the output folder %s: %s", path,
                     errno == EEXIST ? "it exists and is not a folder" : strerror(errno));
            free(path);
            return -1;
        }
        path[i] = saved;
    }
    free(path);
    return 0;
}

static int write_into(const char *dir, const char *file, const edges_image *im, char *err,
                      size_t err_size)
{
    size_t len = strlen(dir) + 1 + strlen(file) + 1;
    char *path = malloc(len);
    if (!path) {
        snprintf(err, err_size, "%s: out of memory", dir);
        return -1;
    }
    snprintf(path, len, "%s/%s", dir, file);
    int rc = edges_write_png(path, im, err, err_size);
    free(path);
    return rc;
}

int edges_run(blasconv_context *ctx, const char *input_path, const char *out_dir,
              const edges_options *options, char *err, size_t err_size)
{
    edges_image input = {0};
    if (edges_read_png(input_path, &input, err, err_size) != 0)
        return -1;
    edges_image maps[EDGES_MAP_COUNT];
    int rc = edges_compute(ctx, &input, options, maps, err, err_size);
    if (rc != 0) {
        size_t used = strlen(err);
        if (used + 2 < err_size) /* name the file the image came from */
            snprintf(err + used, err_size - used, " (%s)", input_path);
        edges_image_free(&input);
        return -1;
    }
    rc = make_directories(out_dir, err, err_size);
    if (rc == 0)
        rc = write_into(out_dir, "input-grey.png", &input, err, err_size);
    for (int m = 0; m < EDGES_MAP_COUNT; m++) {
        if (rc == 0)
            rc = write_into(out_dir, edges_map_file[m], &maps[m], err, err_size);
        edges_image_free(&maps[m]);
    }
    edges_image_free(&input);
    return rc;
}
