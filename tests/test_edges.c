/* blasconv-edges (tools/edges.c): exact maps on synthetic PNGs with known edges,
 * in every PNG flavour libpng has to normalise, and clear failures on bad input. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, posix_spawn */

#include "edges.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum {
    H = 12,
    W = 16
};

/* The scene: black, with a white rectangle in rows 3..8 and columns 4..11. */
static int white(int i, int j)
{
    return i >= 3 && i <= 8 && j >= 4 && j <= 11;
}

static char temp_dir[64];

static void make_temp_dir(void)
{
    strcpy(temp_dir, "/tmp/blasconv-test-edges-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

static void remove_temp_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", temp_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *temp_path(const char *name)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 256, "%s/%s", temp_dir, name);
    return p;
}

/* Writes the scene with libpng itself (not the code under test) in `format`;
 * 16-bit linear formats take uint16 samples. */
static void write_scene(const char *path, png_uint_32 format)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = W;
    image.height = H;
    image.format = format;
    const int channels = (int)PNG_IMAGE_SAMPLE_CHANNELS(format);
    const int linear = (format & PNG_FORMAT_FLAG_LINEAR) != 0;
    const int alpha = (format & PNG_FORMAT_FLAG_ALPHA) != 0;
    const unsigned full = linear ? 65535u : 255u;
    unsigned char bytes[H * W * 4];
    unsigned short words[H * W * 4];
    unsigned char colormap[2 * 3] = {0, 0, 0, 255, 255, 255};
    if (format & PNG_FORMAT_FLAG_COLORMAP) {
        image.colormap_entries = 2;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                bytes[i * W + j] = (unsigned char)white(i, j);
        ck_assert_msg(png_image_write_to_file(&image, path, 0, bytes, 0, colormap), "%s",
                      image.message);
        return;
    }
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            for (int c = 0; c < channels; c++) {
                unsigned v = (alpha && c == channels - 1) ? full : white(i, j) ? full : 0;
                size_t at = ((size_t)i * W + (size_t)j) * (size_t)channels + (size_t)c;
                bytes[at] = (unsigned char)v;
                words[at] = (unsigned short)v;
            }
    ck_assert_msg(
        png_image_write_to_file(&image, path, 0, linear ? (void *)words : (void *)bytes, 0, NULL),
        "%s", image.message);
}

/* Reads an 8-bit grey PNG with libpng; asserts its size. */
static void read_grey(const char *path, int height, int width, unsigned char *pixels)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&image, path), "%s: %s", path, image.message);
    ck_assert_msg((int)image.height == height && (int)image.width == width,
                  "%s: %ux%u, want %dx%d", path, (unsigned)image.width, (unsigned)image.height,
                  width, height);
    image.format = PNG_FORMAT_GRAY;
    ck_assert_msg(png_image_finish_read(&image, NULL, pixels, 0, NULL), "%s", image.message);
}

static unsigned char byte_of(double v)
{
    return (unsigned char)fmin(255.0, fmax(0.0, floor(v + 0.5)));
}

static void check_map(const char *file, int oh, int ow, const unsigned char *want)
{
    unsigned char got[H * W];
    read_grey(temp_path(file), oh, ow, got);
    for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
            ck_assert_msg(got[i * ow + j] == want[i * ow + j], "%s (%d, %d): got %d want %d", file,
                          i, j, got[i * ow + j], want[i * ow + j]);
}

/* The expected files, from the scene by direct loops and the documented scaling. */
static void check_outputs(void)
{
    unsigned char want[H * W];
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            want[i * W + j] = white(i, j) ? 255 : 0;
    check_map("out/input-grey.png", H, W, want);

    /* [1, -1]: 255 where white steps to black going right, 0 where black steps to
     * white, 128 elsewhere. Known edges: columns 3 (rise) and 11 (fall). */
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W - 1; j++) {
            int inside = i >= 3 && i <= 8;
            want[i * (W - 1) + j] = inside && j == 11 ? 255 : inside && j == 3 ? 0 : 128;
        }
    check_map("out/diff-x.png", H, W - 1, want);
    for (int i = 0; i < H - 1; i++)
        for (int j = 0; j < W; j++) {
            int inside = j >= 4 && j <= 11;
            want[i * W + j] = inside && i == 8 ? 255 : inside && i == 2 ? 0 : 128;
        }
    check_map("out/diff-y.png", H - 1, W, want);

    unsigned char want_y[H * W], want_mag[H * W];
    for (int i = 0; i < H - 2; i++)
        for (int j = 0; j < W - 2; j++) {
            int sx = 0, sy = 0;
            for (int a = 0; a < 3; a++) {
                int row_weight = a == 1 ? 2 : 1;
                sx += row_weight * (white(i + a, j + 2) - white(i + a, j));
                sy += row_weight * (white(i + 2, j + a) - white(i, j + a));
            }
            want[i * (W - 2) + j] = byte_of(127.5 + 127.5 * sx / 4.0);
            want_y[i * (W - 2) + j] = byte_of(127.5 + 127.5 * sy / 4.0);
            want_mag[i * (W - 2) + j] = byte_of(255.0 * hypot(sx, sy) / (4.0 * sqrt(2.0)));
        }
    check_map("out/sobel-x.png", H - 2, W - 2, want);
    check_map("out/sobel-y.png", H - 2, W - 2, want_y);
    check_map("out/sobel-magnitude.png", H - 2, W - 2, want_mag);
    /* a spot check that the loops above see the rectangle: its left edge */
    ck_assert_int_eq(want[4 * (W - 2) + 2], 255);
}

static const struct {
    png_uint_32 format;
    const char *name;
} formats[] = {
    {PNG_FORMAT_GRAY, "grey 8-bit"},      {PNG_FORMAT_GA, "grey+alpha 8-bit"},
    {PNG_FORMAT_RGB, "RGB 8-bit"},        {PNG_FORMAT_RGBA, "RGBA 8-bit"},
    {PNG_FORMAT_LINEAR_Y, "grey 16-bit"}, {PNG_FORMAT_LINEAR_RGB_ALPHA, "RGBA 16-bit"},
    {PNG_FORMAT_RGB_COLORMAP, "palette"},
};

START_TEST(known_edges_give_exact_maps)
{
    make_temp_dir();
    const char *input = temp_path("scene.png");
    write_scene(input, formats[_i].format);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    char err[512] = "";
    ck_assert_msg(edges_run(ctx, input, temp_path("out"), NULL, err, sizeof err) == 0, "%s: %s",
                  formats[_i].name, err);
    blasconv_context_destroy(ctx);
    check_outputs();
    remove_temp_dir();
}
END_TEST

/* Transparent pixels are composited onto white: a black rectangle drawn on a
 * fully transparent canvas reads as the negative of the scene. */
START_TEST(transparency_is_composited_onto_white)
{
    make_temp_dir();
    unsigned char ga[H * W * 2];
    for (int i = 0; i < H * W; i++) {
        int on = white(i / W, i % W);
        ga[2 * i] = 0;
        ga[2 * i + 1] = on ? 255 : 0;
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = W;
    image.height = H;
    image.format = PNG_FORMAT_GA;
    ck_assert(png_image_write_to_file(&image, temp_path("ga.png"), 0, ga, 0, NULL));
    edges_image im = {0};
    char err[256];
    ck_assert_msg(edges_read_png(temp_path("ga.png"), &im, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < H * W; i++)
        ck_assert_int_eq(im.pixels[i], white(i / W, i % W) ? 0 : 255);
    edges_image_free(&im);
    remove_temp_dir();
}
END_TEST

START_TEST(stretch_and_gain_scale_as_documented)
{
    /* a step of 51 (0.2): diff-x gives v = 0.2, 127.5 + 127.5*v -> 153 at gain 1,
     * 255 stretched, and 127.5 + 127.5*2*0.2 -> 179 at gain 2 */
    edges_image in = {4, 4, (unsigned char[16]){0}};
    for (int i = 0; i < 16; i++)
        in.pixels[i] = (i % 4) < 2 ? 51 : 0;
    const edges_options opts[3] = {{.gain = 1}, {.stretch = 1}, {.gain = 2}};
    const int want[3] = {153, 255, 179};
    for (int o = 0; o < 3; o++) {
        edges_image maps[EDGES_MAP_COUNT];
        char err[256];
        ck_assert_msg(edges_compute(NULL, &in, &opts[o], maps, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(maps[EDGES_DIFF_X].width, 3);
        ck_assert_int_eq(maps[EDGES_DIFF_X].pixels[1], want[o]);
        ck_assert_int_eq(maps[EDGES_DIFF_X].pixels[0], 128);
        for (int m = 0; m < EDGES_MAP_COUNT; m++)
            edges_image_free(&maps[m]);
    }
}
END_TEST

/* Runs the blasconv-edges binary; returns its exit status and its stderr. */
static int run_tool(const char *const *args, char *stderr_text, size_t size)
{
    const char *err_path = temp_path("stderr.txt");
    posix_spawn_file_actions_t actions;
    ck_assert_int_eq(posix_spawn_file_actions_init(&actions), 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[8] = {(char *)BLASCONV_EDGES_TOOL};
    for (int i = 0; args[i]; i++)
        argv[i + 1] = (char *)args[i];
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, BLASCONV_EDGES_TOOL, &actions, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "blasconv-edges %s died (signal %d)", args[0],
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    FILE *f = fopen(err_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(stderr_text, 1, size - 1, f);
    stderr_text[n] = '\0';
    fclose(f);
    return WEXITSTATUS(status);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static size_t read_bytes(const char *path, unsigned char *data, size_t size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(data, 1, size, f);
    fclose(f);
    return n;
}

static unsigned long crc32_of(const unsigned char *p, size_t n)
{
    unsigned long crc = 0xFFFFFFFFul;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320ul & (0ul - (crc & 1)));
    }
    return crc ^ 0xFFFFFFFFul;
}

static void expect_failure(const char *input, const char *out, const char *message, int status)
{
    const char *args[] = {"--out", out ? out : temp_path("bad-out"), input, NULL};
    char text[1024];
    int got = run_tool(args, text, sizeof text);
    ck_assert_msg(got == status, "%s: exit %d, want %d (stderr: %s)", input, got, status, text);
    ck_assert_msg(strstr(text, "blasconv-edges: ") == text && strstr(text, message),
                  "%s: stderr '%s' does not say '%s'", input, text, message);

    /* the library function says the same, and leaves its output alone */
    if (out == NULL && status == 1) {
        edges_image im = {7, 7, NULL};
        char err[512];
        int rc = edges_read_png(input, &im, err, sizeof err);
        if (rc != 0) {
            ck_assert_int_eq(im.height, 7);
            ck_assert_ptr_null(im.pixels);
        } else {
            edges_image_free(&im);
        }
    }
}

START_TEST(bad_inputs_fail_clearly)
{
    make_temp_dir();
    expect_failure(temp_path("missing.png"), NULL, "cannot open: No such file", 1);
    write_bytes(temp_path("text.png"), "hello, not a picture\n", 21);
    expect_failure(temp_path("text.png"), NULL, "not a PNG file", 1);
    write_bytes(temp_path("empty.png"), "", 0);
    expect_failure(temp_path("empty.png"), NULL, "empty file", 1);

    /* a real PNG cut short, and one whose header says width 0 */
    write_scene(temp_path("good.png"), PNG_FORMAT_RGB);
    unsigned char png[8192];
    size_t n = read_bytes(temp_path("good.png"), png, sizeof png);
    ck_assert_uint_gt(n, 60);
    write_bytes(temp_path("truncated.png"), png, n - 20);
    expect_failure(temp_path("truncated.png"), NULL, "truncated or corrupt PNG", 1);
    write_bytes(temp_path("header-only.png"), png, 33);
    expect_failure(temp_path("header-only.png"), NULL, "truncated or corrupt PNG", 1);
    /* IHDR: 8 signature, 4 length, "IHDR", then width (4 bytes) at offset 16 */
    ck_assert(memcmp(png + 12, "IHDR", 4) == 0);
    memset(png + 16, 0, 4);
    unsigned long crc = crc32_of(png + 12, 17);
    for (int b = 0; b < 4; b++)
        png[29 + b] = (unsigned char)(crc >> (24 - 8 * b));
    write_bytes(temp_path("zero-width.png"), png, n);
    expect_failure(temp_path("zero-width.png"), NULL, "empty image (0x12 in its PNG header)", 1);

    /* an image too small for the 3x3 kernels */
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = 2;
    image.height = 5;
    image.format = PNG_FORMAT_GRAY;
    const unsigned char tiny[10] = {0};
    ck_assert(png_image_write_to_file(&image, temp_path("tiny.png"), 0, tiny, 0, NULL));
    expect_failure(temp_path("tiny.png"), NULL, "at least 3x3", 1);

    /* an output folder that cannot be created (a file is in the way) */
    expect_failure(temp_path("good.png"), temp_path("text.png/sub"),
                   "cannot create the output folder", 1);
    /* bad options */
    char text[512];
    const char *good[] = {"--out", temp_path("good-out"), temp_path("good.png"), NULL};
    ck_assert_int_eq(run_tool(good, text, sizeof text), 0); /* the baseline works */
    ck_assert_str_eq(text, "");
    const char *bad_gain[] = {"--gain", "-1", temp_path("good.png"), NULL};
    ck_assert_int_eq(run_tool(bad_gain, text, sizeof text), 2);
    ck_assert_ptr_nonnull(strstr(text, "--gain"));
    remove_temp_dir();
}
END_TEST

static Suite *edges_suite(void)
{
    Suite *s = suite_create("edges");
    TCase *tc = tcase_create("edges");
    tcase_add_loop_test(tc, known_edges_give_exact_maps, 0,
                        (int)(sizeof formats / sizeof formats[0]));
    tcase_add_test(tc, transparency_is_composited_onto_white);
    tcase_add_test(tc, stretch_and_gain_scale_as_documented);
    tcase_add_test(tc, bad_inputs_fail_clearly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(edges_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
