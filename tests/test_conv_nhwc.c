/* BLASCONV_NHWC: the same convolutions as NCHW with the tensors permuted.
 *
 * Random descriptors run in both layouts (inputs permuted from NCHW to NHWC) and
 * are compared with each other and with the oracle in NHWC; the chapter's examples
 * run in NHWC; the sgemm seam shows a 1x1 layer is one GEMM for the whole batch;
 * tight workspace limits and caller buffers give identical results, allocate
 * nothing (this suite wraps the allocator like test_workspace) and fail cleanly
 * below one output row. */
#include "alloc_count.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RANDOM_CASES 300

/* dst[n][h][w][c] = src[n][c][h][w]; also permutes weights (n = K, c = C/g,
 * h, w = the kernel) and outputs (c = K). */
static float *to_nhwc(const float *src, int n, int c, int h, int w)
{
    float *dst = test_alloc_poisoned((size_t)n * c * h * w);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    dst[(((size_t)i * h + y) * w + x) * c + j] =
                        src[(((size_t)i * c + j) * h + y) * w + x];
    return dst;
}

static int groups_of(const blasconv_conv2d *d)
{
    return d->groups ? d->groups : 1;
}

/* One problem in both layouts: NCHW tensors and their NHWC permutations. */
typedef struct both_layouts {
    blasconv_conv2d nchw, nhwc;
    int oh, ow;
    size_t nx, nw, ny;
    float *x, *w, *dy, *bias; /* NCHW */
    float *x_t, *w_t, *dy_t;  /* NHWC */
} both_layouts;

static both_layouts both_make(test_rng *r, blasconv_conv2d d)
{
    both_layouts b = {.nchw = d, .nhwc = d};
    b.nchw.layout = BLASCONV_NCHW;
    b.nhwc.layout = BLASCONV_NHWC;
    ck_assert_int_eq(blasconv_conv2d_output_size(&d, &b.oh, &b.ow), BLASCONV_OK);
    b.nx = test_conv_x_elems(&d);
    b.nw = test_conv_w_elems(&d);
    b.ny = test_conv_y_elems(&d);
    b.x = test_alloc_random(r, b.nx);
    b.w = test_alloc_random(r, b.nw);
    b.dy = test_alloc_random(r, b.ny);
    b.bias = test_alloc_random(r, (size_t)d.out_channels);
    b.x_t = to_nhwc(b.x, d.batch, d.in_channels, d.in_height, d.in_width);
    b.w_t = to_nhwc(b.w, d.out_channels, d.in_channels / groups_of(&d), d.kernel_height,
                    d.kernel_width);
    b.dy_t = to_nhwc(b.dy, d.batch, d.out_channels, b.oh, b.ow);
    return b;
}

static void both_free(both_layouts *b)
{
    free(b->x), free(b->w), free(b->dy), free(b->bias);
    free(b->x_t), free(b->w_t), free(b->dy_t);
}

START_TEST(layouts_agree_on_random_descriptors)
{
    test_rng r = test_rng_seeded(4000 + (uint64_t)_i);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    int checked = 0;
    for (int t = 0; t < RANDOM_CASES; t++) {
        both_layouts b = both_make(&r, test_random_conv(&r));
        const blasconv_conv2d *d = &b.nhwc;
        const char *what = test_conv_describe(d);
        blasconv_context *use = t % 3 ? ctx : NULL; /* a kept context, and none */
        const float *bias = t % 2 ? b.bias : NULL;
        const int g = groups_of(d);

        /* forward */
        float *y = test_alloc_poisoned(b.ny), *y_t = test_alloc_poisoned(b.ny);
        float *ref_t = test_alloc_poisoned(b.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(use, &b.nchw, b.x, b.w, bias, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_forward(use, d, b.x_t, b.w_t, bias, y_t), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, d, b.x_t, b.w_t, bias, ref_t),
                         BLASCONV_OK);
        float *y_perm = to_nhwc(y, d->batch, d->out_channels, b.oh, b.ow);
        test_assert_conv_agree(y_t, y_perm, b.ny, d, BLASCONV_PASS_FORWARD, what);
        test_assert_conv_close(y_t, ref_t, b.ny, d, BLASCONV_PASS_FORWARD, what);
        free(y), free(y_t), free(ref_t), free(y_perm);

        /* backward data */
        float *dx = test_alloc_poisoned(b.nx), *dx_t = test_alloc_poisoned(b.nx);
        float *ref_dx = test_alloc_poisoned(b.nx);
        ck_assert_int_eq(blasconv_conv2d_backward_data(use, &b.nchw, b.dy, b.w, dx), BLASCONV_OK);
        ck_assert_int_eq(blasconv_conv2d_backward_data(use, d, b.dy_t, b.w_t, dx_t), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, d, b.dy_t, b.w_t, ref_dx),
                         BLASCONV_OK);
        float *dx_perm = to_nhwc(dx, d->batch, d->in_channels, d->in_height, d->in_width);
        test_assert_conv_agree(dx_t, dx_perm, b.nx, d, BLASCONV_PASS_BACKWARD_DATA, what);
        test_assert_conv_close(dx_t, ref_dx, b.nx, d, BLASCONV_PASS_BACKWARD_DATA, what);
        free(dx), free(dx_t), free(ref_dx), free(dx_perm);

        /* backward filter and bias */
        const size_t nk = (size_t)d->out_channels;
        float *dw = test_alloc_poisoned(b.nw), *dw_t = test_alloc_poisoned(b.nw);
        float *ref_dw = test_alloc_poisoned(b.nw);
        float *db = test_alloc_poisoned(nk), *db_t = test_alloc_poisoned(nk);
        float *ref_db = test_alloc_poisoned(nk);
        int with_bias = t % 2;
        ck_assert_int_eq(blasconv_conv2d_backward_filter(use, &b.nchw, b.x, b.dy, dw, db),
                         BLASCONV_OK);
        ck_assert_int_eq(
            blasconv_conv2d_backward_filter(use, d, b.x_t, b.dy_t, dw_t, with_bias ? db_t : NULL),
            BLASCONV_OK);
        ck_assert_int_eq(
            blasconv_reference_conv2d_backward_filter(NULL, d, b.x_t, b.dy_t, ref_dw, ref_db),
            BLASCONV_OK);
        float *dw_perm =
            to_nhwc(dw, d->out_channels, d->in_channels / g, d->kernel_height, d->kernel_width);
        test_assert_conv_agree(dw_t, dw_perm, b.nw, d, BLASCONV_PASS_BACKWARD_FILTER, what);
        test_assert_conv_close(dw_t, ref_dw, b.nw, d, BLASCONV_PASS_BACKWARD_FILTER, what);
        if (with_bias) {
            /* the same double sums in the same order in both layouts */
            ck_assert_msg(memcmp(db_t, db, nk * sizeof(float)) == 0, "dbias differs: %s", what);
            test_assert_conv_close(db_t, ref_db, nk, d, BLASCONV_PASS_BACKWARD_BIAS, what);
        } else {
            for (size_t k = 0; k < nk; k++)
                ck_assert_msg(isnan(db_t[k]), "dbias NULL yet written: %s", what);
        }
        free(dw), free(dw_t), free(ref_dw), free(db), free(db_t), free(ref_db), free(dw_perm);
        both_free(&b);
        checked++;
    }
    ck_assert_int_eq(checked, RANDOM_CASES);
    blasconv_context_destroy(ctx);
}
END_TEST

static void assert_equal_floats(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "element %zu: got %g want %g", i, got[i], want[i]);
}

START_TEST(chapter_examples_in_nhwc)
{
    /* corr2d is single-channel (both layouts have the same bytes) and stays NCHW. */
    const float x1[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, k1[4] = {0, 1, 2, 3};
    const float want1[4] = {19, 25, 37, 43};
    float y[12];
    test_poison(y, 4);
    ck_assert_int_eq(blasconv_corr2d(NULL, x1, 3, 3, k1, 2, 2, y), BLASCONV_OK);
    assert_equal_floats(y, want1, 4);
    blasconv_conv2d d = {.batch = 1,
                         .in_channels = 1,
                         .in_height = 3,
                         .in_width = 3,
                         .out_channels = 1,
                         .kernel_height = 2,
                         .kernel_width = 2,
                         .layout = BLASCONV_NHWC};
    test_poison(y, 4);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x1, k1, NULL, y), BLASCONV_OK);
    assert_equal_floats(y, want1, 4);

    /* Two input channels, interleaved: x[h][w][c], k[kh][kw][c]. */
    const float x2[18] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9};
    const float k2[8] = {0, 1, 1, 2, 2, 3, 3, 4};
    const float want2[4] = {56, 72, 104, 120};
    d.in_channels = 2;
    test_poison(y, 4);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x2, k2, NULL, y), BLASCONV_OK);
    assert_equal_floats(y, want2, 4);

    /* Three outputs (K, K+1, K+2): y[oh][ow][k]. */
    float k3[24];
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 8; i++)
            k3[o * 8 + i] = k2[i] + (float)o;
    const float want3[12] = {56, 76, 96, 72, 100, 128, 104, 148, 192, 120, 172, 224};
    d.out_channels = 3;
    test_poison(y, 12);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &d, x2, k3, NULL, y), BLASCONV_OK);
    assert_equal_floats(y, want3, 12);

    /* The 6x8 edge detector, kernel [1, -1]. */
    float x4[48], y4[42], want4[42];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++)
            x4[i * 8 + j] = (j >= 2 && j < 6) ? 0.0f : 1.0f;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 7; j++)
            want4[i * 7 + j] = j == 1 ? 1.0f : j == 5 ? -1.0f : 0.0f;
    const float k4[2] = {1, -1};
    blasconv_conv2d edge = TEST_CONV_CHAPTER_EDGE;
    edge.layout = BLASCONV_NHWC;
    test_poison(y4, 42);
    ck_assert_int_eq(blasconv_conv2d_forward(NULL, &edge, x4, k4, NULL, y4), BLASCONV_OK);
    assert_equal_floats(y4, want4, 42);
}
END_TEST

/* A 1x1 stride-1 unpadded NHWC layer is one GEMM over the whole batch per group,
 * in every pass, and needs no scratch. */
START_TEST(one_gemm_per_batch_for_1x1)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_sgemm(ctx, test_naive_sgemm), BLASCONV_OK);
    test_rng r = test_rng_seeded(41);
    for (int groups = 1; groups <= 2; groups++) {
        const blasconv_conv2d d = {.batch = 3,
                                   .in_channels = 6,
                                   .in_height = 4,
                                   .in_width = 5,
                                   .out_channels = 4,
                                   .kernel_height = 1,
                                   .kernel_width = 1,
                                   .groups = groups,
                                   .layout = BLASCONV_NHWC};
        size_t ws[3];
        ck_assert_int_eq(blasconv_conv2d_workspace_size(&d, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
        ck_assert_uint_eq(ws[0] + ws[1] + ws[2], 0);
        size_t nx = test_conv_x_elems(&d), nw = test_conv_w_elems(&d), ny = test_conv_y_elems(&d);
        float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
        float *dy = test_alloc_random(&r, ny), *bias = test_alloc_random(&r, 4);
        float *got = test_alloc_poisoned(nx), *want = test_alloc_poisoned(nx);
        float no_scratch[1];
        ck_assert_int_eq(blasconv_context_set_workspace(ctx, no_scratch, 0), BLASCONV_OK);

        test_naive_sgemm_calls = 0;
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, x, w, bias, got), BLASCONV_OK);
        ck_assert_int_eq(test_naive_sgemm_calls, groups);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, x, w, bias, want),
                         BLASCONV_OK);
        test_assert_close(got, want, ny, 1e-5, 1e-5, "1x1 forward");

        test_poison(got, nx);
        test_naive_sgemm_calls = 0;
        ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, dy, w, got), BLASCONV_OK);
        ck_assert_int_eq(test_naive_sgemm_calls, groups);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, dy, w, want),
                         BLASCONV_OK);
        test_assert_close(got, want, nx, 1e-5, 1e-5, "1x1 backward data");

        test_poison(got, nw);
        test_naive_sgemm_calls = 0;
        ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, x, dy, got, NULL), BLASCONV_OK);
        ck_assert_int_eq(test_naive_sgemm_calls, groups);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, &d, x, dy, want, NULL),
                         BLASCONV_OK);
        test_assert_close(got, want, nw, 1e-4, 1e-5, "1x1 backward filter");
        ck_assert_int_eq(blasconv_context_set_workspace(ctx, NULL, 0), BLASCONV_OK);
        free(x), free(w), free(dy), free(bias), free(got), free(want);
    }
    blasconv_context_destroy(ctx);
}
END_TEST

typedef struct pass_result {
    float *y, *dx, *dw, *db;
} pass_result;

/* All three NHWC passes with bias; returns the first non-OK status. Outputs are
 * allocated before the calls, so `allocations` counts only blasconv's. */
static blasconv_status run_nhwc(blasconv_context *ctx, const both_layouts *b, pass_result *out,
                                long *allocated)
{
    out->y = test_alloc_poisoned(b->ny);
    out->dx = test_alloc_poisoned(b->nx);
    out->dw = test_alloc_poisoned(b->nw);
    out->db = test_alloc_poisoned((size_t)b->nhwc.out_channels);
    allocations = 0;
    blasconv_status st = blasconv_conv2d_forward(ctx, &b->nhwc, b->x_t, b->w_t, b->bias, out->y);
    if (st == BLASCONV_OK)
        st = blasconv_conv2d_backward_data(ctx, &b->nhwc, b->dy_t, b->w_t, out->dx);
    if (st == BLASCONV_OK)
        st = blasconv_conv2d_backward_filter(ctx, &b->nhwc, b->x_t, b->dy_t, out->dw, out->db);
    *allocated = allocations;
    return st;
}

static void result_free(pass_result *r)
{
    free(r->y), free(r->dx), free(r->dw), free(r->db);
}

static size_t one_row_bytes(const both_layouts *b)
{
    const blasconv_conv2d *d = &b->nhwc;
    return (size_t)(d->in_channels / groups_of(d)) * d->kernel_height * d->kernel_width * b->ow *
           sizeof(float);
}

/* Forward and backward data bitwise (a deterministic GEMM), dw within float
 * rounding of the sum over tiles, dbias bitwise (it never tiles). */
static void assert_same(const pass_result *a, const pass_result *b, const both_layouts *p)
{
    const char *what = test_conv_describe(&p->nhwc);
    ck_assert_msg(memcmp(a->y, b->y, p->ny * sizeof(float)) == 0, "forward differs: %s", what);
    ck_assert_msg(memcmp(a->dx, b->dx, p->nx * sizeof(float)) == 0, "backward data differs: %s",
                  what);
    test_assert_conv_agree(a->dw, b->dw, p->nw, &p->nhwc, BLASCONV_PASS_BACKWARD_FILTER, what);
    ck_assert_msg(memcmp(a->db, b->db, (size_t)p->nhwc.out_channels * sizeof(float)) == 0,
                  "bias gradient differs: %s", what);
}

/* dbias is each channel's sum over the batch and then the positions, in double, in
 * that order, in both layouts. Here half the terms are 2^60, alternately added and
 * taken away (so they cancel), and the rest random floats in [1, 1000): each of those
 * is rounded to a multiple of 256 while the running sum holds 2^60 and kept exact
 * while it does not, so any other order of the adds shows in the bits. 16 and 19
 * channels (a block of 16 and one of 3), 63 positions (blocks of 16 and 15 left). */
START_TEST(bias_gradient_sums_in_order)
{
    const int channels = _i ? 19 : 16, positions = 7 * 9, batch = 2;
    blasconv_conv2d d = {.batch = batch,
                         .in_channels = 3,
                         .in_height = 7,
                         .in_width = 9,
                         .out_channels = channels,
                         .kernel_height = 1,
                         .kernel_width = 1};
    const size_t ny = (size_t)batch * channels * positions;
    test_rng r = test_rng_seeded(5150 + (uint64_t)_i);
    float *x = test_alloc_random(&r, (size_t)batch * 3 * positions);
    float *dy = test_alloc_poisoned(ny), *want = test_alloc_poisoned((size_t)channels);
    for (int k = 0; k < channels; k++) {
        float *last_big = NULL, next_big = 0x1p60f;
        double sum = 0;
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < positions; i++) {
                float *e = dy + ((size_t)n * channels + k) * positions + i;
                if (test_rng_int(&r, 0, 1)) {
                    *e = next_big, next_big = -next_big, last_big = e;
                } else {
                    *e = 1.0f + 999.0f * (float)test_rng_int(&r, 0, 1 << 20) / (float)(1 << 20);
                }
            }
        if (next_big < 0 && last_big) /* an odd count: the last one becomes small */
            *last_big = 1.0f;
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < positions; i++)
                sum += dy[((size_t)n * channels + k) * positions + i];
        want[k] = (float)sum;
    }
    float *dy_t = to_nhwc(dy, batch, channels, 7, 9), *x_t = to_nhwc(x, batch, 3, 7, 9);
    float *dw = test_alloc_poisoned((size_t)channels * 3), *db = test_alloc_poisoned(channels);
    for (int layout = 0; layout < 2; layout++) {
        d.layout = layout ? BLASCONV_NHWC : BLASCONV_NCHW;
        test_poison(db, (size_t)channels);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(NULL, &d, layout ? x_t : x,
                                                         layout ? dy_t : dy, dw, db),
                         BLASCONV_OK);
        ck_assert_msg(memcmp(db, want, (size_t)channels * sizeof(float)) == 0,
                      "dbias not summed in order (%s, %d channels)", layout ? "NHWC" : "NCHW",
                      channels);
    }
    free(x), free(dy), free(want), free(dy_t), free(x_t), free(dw), free(db);
}
END_TEST

START_TEST(tight_workspace_gives_identical_results)
{
    test_rng r = test_rng_seeded(42);
    blasconv_context *unlimited, *tight, *mine;
    ck_assert_int_eq(blasconv_context_create(&unlimited), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&tight), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&mine), BLASCONV_OK);
    blasconv_context_set_sgemm(unlimited, test_naive_sgemm);
    blasconv_context_set_sgemm(tight, test_naive_sgemm);
    blasconv_context_set_sgemm(mine, test_naive_sgemm);
    for (int t = 0; t < 150; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        d.in_height += 6; /* enough output rows for several tiles */
        both_layouts b = both_make(&r, d);
        size_t row = one_row_bytes(&b);
        /* one row, a row and a half, three rows (tiles then cross image borders) */
        size_t limit = t % 3 == 0 ? row : t % 3 == 1 ? row * 3 / 2 : row * 3;
        ck_assert_int_eq(blasconv_context_set_workspace_limit(tight, limit), BLASCONV_OK);
        /* a caller buffer misaligned by one byte every other case (3 more bytes
         * make up for the skew) */
        unsigned char *buffer = malloc(limit + 4);
        ck_assert_int_eq(
            blasconv_context_set_workspace(mine, buffer + t % 2, limit + (size_t)(t % 2) * 3),
            BLASCONV_OK);
        pass_result a, c, m;
        long allocated;
        ck_assert_int_eq(run_nhwc(unlimited, &b, &a, &allocated), BLASCONV_OK);
        ck_assert_int_eq(run_nhwc(tight, &b, &c, &allocated), BLASCONV_OK);
        ck_assert_int_eq(run_nhwc(mine, &b, &m, &allocated), BLASCONV_OK);
        ck_assert_int_eq(allocated, 0);
        assert_same(&a, &c, &b);
        assert_same(&a, &m, &b);
        result_free(&a), result_free(&c), result_free(&m);
        both_free(&b);
        free(buffer);
    }
    blasconv_context_destroy(unlimited);
    blasconv_context_destroy(tight);
    blasconv_context_destroy(mine);
}
END_TEST

START_TEST(below_one_row_is_workspace_error)
{
    test_rng r = test_rng_seeded(43);
    const blasconv_conv2d d = {.batch = 2,
                               .in_channels = 3,
                               .in_height = 7,
                               .in_width = 9,
                               .out_channels = 4,
                               .kernel_height = 3,
                               .kernel_width = 3,
                               .pad_top = 1,
                               .pad_left = 2,
                               .layout = BLASCONV_NHWC};
    both_layouts b = both_make(&r, d);
    const size_t row = one_row_bytes(&b);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, row - 4), BLASCONV_OK);
    pass_result res;
    long allocated;
    ck_assert_int_eq(run_nhwc(ctx, &b, &res, &allocated), BLASCONV_ERR_WORKSPACE);
    ck_assert_ptr_nonnull(strstr(blasconv_context_last_error(ctx), "workspace"));
    for (size_t i = 0; i < b.ny; i++)
        ck_assert(isnan(res.y[i]));
    result_free(&res);
    ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, row), BLASCONV_OK);
    ck_assert_int_eq(run_nhwc(ctx, &b, &res, &allocated), BLASCONV_OK);
    result_free(&res);
    both_free(&b);
    blasconv_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_nhwc");
    TCase *tc = tcase_create("nhwc");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, layouts_agree_on_random_descriptors, 0, 2);
    tcase_add_test(tc, chapter_examples_in_nhwc);
    tcase_add_test(tc, one_gemm_per_batch_for_1x1);
    tcase_add_test(tc, tight_workspace_gives_identical_results);
    tcase_add_loop_test(tc, bias_gradient_sums_in_order, 0, 2);
    tcase_add_test(tc, below_one_row_is_workspace_error);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
