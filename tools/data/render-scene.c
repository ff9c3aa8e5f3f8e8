/* Renders tools/data/scene.png, the photograph-like test image of blasconv-edges:
 * a landscape (sky, sun, two mountain ranges, a lake, a house, a tree, a fence,
 * grass) with soft edges (4x4 supersampling), shading and a little sensor noise.
 * Written for blasconv; the image is CC0 (public domain).
 *   cmake --build build --target render-scene && ./build/tools/data/render-scene out.png */
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    WIDTH = 256,
    HEIGHT = 176,
    SUPER = 4
};

typedef struct rgb {
    double r, g, b;
} rgb;

static rgb mix(rgb a, rgb b, double t)
{
    return (rgb){a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

static double hash01(int x, int y, int salt)
{
    uint32_t h =
        (uint32_t)x * 374761393u + (uint32_t)y * 668265263u + (uint32_t)salt * 2246822519u;
    h = (h ^ (h >> 13)) * 1274126177u;
    return (double)((h ^ (h >> 16)) & 0xFFFFFF) / 16777216.0;
}

/* Smooth value noise in [0, 1). */
static double value_noise(double x, double y, int salt)
{
    int ix = (int)floor(x), iy = (int)floor(y);
    double fx = x - ix, fy = y - iy;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    double a = hash01(ix, iy, salt), b = hash01(ix + 1, iy, salt);
    double c = hash01(ix, iy + 1, salt), d = hash01(ix + 1, iy + 1, salt);
    return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy;
}

static double ridge(double x, double base, double a1, double f1, double a2, double f2, int salt)
{
    return base + a1 * sin(x * f1 + salt) + a2 * sin(x * f2 + 2.0 * salt) +
           6.0 * value_noise(x / 9.0, 0.5, salt);
}

/* The scene at a point (x right, y down, in pixels). */
static rgb scene(double x, double y)
{
    const double horizon = 112.0;
    const rgb sky_top = {0.33, 0.52, 0.82}, sky_low = {0.85, 0.88, 0.92};
    rgb c = mix(sky_top, sky_low, y / horizon);
    double cloud = value_noise(x / 28.0, y / 9.0, 3) * value_noise(x / 13.0, y / 6.0, 4);
    if (y < 70)
        c = mix(c, (rgb){0.97, 0.97, 0.98}, fmin(1.0, fmax(0.0, (cloud - 0.25) * 3.0)));
    double sun = hypot(x - 200.0, y - 34.0);
    if (sun < 13.0)
        c = (rgb){1.0, 0.96, 0.80};
    double far = ridge(x, 78.0, 9.0, 0.045, 4.0, 0.13, 1);
    if (y > far)
        c = mix((rgb){0.47, 0.53, 0.66}, (rgb){0.55, 0.60, 0.70}, (y - far) / 40.0);
    double near = ridge(x, 96.0, 7.0, 0.031, 3.0, 0.11, 2);
    if (y > near)
        c = mix((rgb){0.22, 0.36, 0.25}, (rgb){0.30, 0.45, 0.28}, (y - near) / 20.0);
    if (y > horizon) {
        /* the lake on the left, grass elsewhere */
        if (x < 120.0 - (y - horizon) * 1.4 && y < 150.0) {
            double wave = value_noise(x / 6.0, y * 1.5, 7);
            c = mix((rgb){0.28, 0.42, 0.62}, (rgb){0.55, 0.68, 0.82}, 0.3 + 0.4 * wave);
        } else {
            double g = value_noise(x / 3.0, y / 2.0, 5);
            c = mix((rgb){0.30, 0.50, 0.20}, (rgb){0.45, 0.62, 0.28}, g);
            c = mix(c, (rgb){0.25, 0.40, 0.16}, (y - horizon) / 90.0);
        }
    }
    /* the house: walls, a darker side, a roof, a door and two windows */
    if (x >= 150 && x < 196 && y >= 100 && y < 136) {
        c = x < 182 ? (rgb){0.86, 0.80, 0.68} : (rgb){0.66, 0.60, 0.50};
        int window = (y >= 108 && y < 118) && ((x >= 155 && x < 165) || (x >= 168 && x < 178));
        if (window)
            c = (x - 155 < 2 || y < 110) ? (rgb){0.25, 0.22, 0.20} : (rgb){0.45, 0.58, 0.70};
        if (x >= 185 && x < 193 && y >= 116)
            c = (rgb){0.42, 0.26, 0.16};
    }
    if (y < 100 && y >= 80 && fabs(x - 173.0) < (y - 80.0) * 1.35 + 1.0)
        c = mix((rgb){0.62, 0.20, 0.15}, (rgb){0.45, 0.14, 0.10}, (x - 150.0) / 46.0);
    /* the tree: trunk and a noisy round crown */
    if (x >= 222 && x < 229 && y >= 110 && y < 140)
        c = (rgb){0.35, 0.24, 0.14};
    double crown = hypot(x - 225.0, (y - 96.0) * 1.15) - 18.0 + 5.0 * value_noise(x / 4, y / 4, 9);
    if (crown < 0) {
        double leaf = value_noise(x / 2.5, y / 2.5, 11);
        c = mix((rgb){0.12, 0.30, 0.10}, (rgb){0.28, 0.50, 0.18}, leaf * (1 - (y - 78) / 50.0));
    }
    /* a fence in front */
    if (y >= 142 && y < 160 && x > 125) {
        int post = fmod(x, 14.0) < 3.0;
        int rail = (y >= 146 && y < 149) || (y >= 153 && y < 156);
        if (post || rail)
            c = mix((rgb){0.92, 0.90, 0.85}, (rgb){0.70, 0.68, 0.62}, (y - 142) / 18.0);
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: render-scene OUT.png\n");
        return 2;
    }
    static unsigned char pixels[HEIGHT][WIDTH][3];
    for (int i = 0; i < HEIGHT; i++)
        for (int j = 0; j < WIDTH; j++) {
            rgb sum = {0, 0, 0};
            for (int si = 0; si < SUPER; si++)
                for (int sj = 0; sj < SUPER; sj++) {
                    rgb s = scene(j + (sj + 0.5) / SUPER, i + (si + 0.5) / SUPER);
                    sum.r += s.r, sum.g += s.g, sum.b += s.b;
                }
            double noise = (hash01(j, i, 99) - 0.5) * 3.0 / 255.0;
            double v[3] = {sum.r, sum.g, sum.b};
            for (int ch = 0; ch < 3; ch++) {
                double p = (v[ch] / (SUPER * SUPER) + noise) * 255.0;
                pixels[i][j][ch] = (unsigned char)(p < 0 ? 0 : p > 255 ? 255 : p + 0.5);
            }
        }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = WIDTH;
    image.height = HEIGHT;
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, argv[1], 0, pixels, 0, NULL)) {
        fprintf(stderr, "render-scene: %s: %s\n", argv[1], image.message);
        return 1;
    }
    return 0;
}
