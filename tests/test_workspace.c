/* Workspace limits and caller-owned buffers: results identical to the unlimited
 * run, WORKSPACE (outputs untouched) below one output row, and no allocation at
 * all with a caller buffer.
 *
 * "Identical" is checked bitwise through a GEMM whose every element depends only
 * on its row and column (test_naive_sgemm): that isolates the lowering. A vendor
 * BLAS may pick another micro-kernel for a narrower GEMM (OpenBLAS's SSE3 kernels
 * sum edge columns in another order), so through the linked BLAS the check is
 * float tolerance. Backward filter sums positions across tiles, so it is bitwise
 * only while the limit holds the default tile. Linked against the static library with malloc and
 * friends wrapped, so allocations made by blasconv's code are counted. */
#include "alloc_count.h"
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pass_result {
    float *y, *dx, *dw, *db;
} pass_result;

/* Runs all three passes; returns the first non-OK status. */
static blasconv_status run_passes(blasconv_context *ctx, const test_conv_problem *p,
                                  pass_result *out)
{
    out->y = test_alloc_poisoned(p->ny);
    out->dx = test_alloc_poisoned(p->nx);
    out->dw = test_alloc_poisoned(p->nw);
    out->db = test_alloc_poisoned((size_t)p->d.out_channels);
    blasconv_status st = blasconv_conv2d_forward(ctx, &p->d, p->x, p->w, p->bias, out->y);
    if (st == BLASCONV_OK)
        st = blasconv_conv2d_backward_data(ctx, &p->d, p->dy, p->w, out->dx);
    if (st == BLASCONV_OK)
        st = blasconv_conv2d_backward_filter(ctx, &p->d, p->x, p->dy, out->dw, out->db);
    return st;
}

static void result_free(pass_result *r)
{
    free(r->y), free(r->dx), free(r->dw), free(r->db);
}

static void assert_same(const pass_result *a, const pass_result *b, const test_conv_problem *p,
                        int bitwise)
{
    const char *what = test_conv_describe(&p->d);
    if (bitwise) {
        ck_assert_msg(memcmp(a->y, b->y, p->ny * sizeof(float)) == 0, "forward differs: %s", what);
        ck_assert_msg(memcmp(a->dx, b->dx, p->nx * sizeof(float)) == 0,
                      "backward data differs: %s", what);
    } else {
        test_assert_conv_agree(a->y, b->y, p->ny, &p->d, BLASCONV_PASS_FORWARD, what);
        test_assert_conv_agree(a->dx, b->dx, p->nx, &p->d, BLASCONV_PASS_BACKWARD_DATA, what);
    }
    test_assert_conv_agree(a->dw, b->dw, p->nw, &p->d, BLASCONV_PASS_BACKWARD_FILTER, what);
    ck_assert_msg(memcmp(a->db, b->db, (size_t)p->d.out_channels * sizeof(float)) == 0,
                  "bias gradient differs: %s", what);
}

/* Where forward or backward data lowers by kernel columns, the largest of their
 * minimums for that path plus `halves` halves of a lowered row (0 when neither
 * pass takes it): from there on each keeps its path, and its sums. */
static size_t row_shift_floor(const blasconv_conv2d *d, size_t halves)
{
    const blasconv_conv2d_pass passes[] = {BLASCONV_PASS_FORWARD, BLASCONV_PASS_BACKWARD_DATA};
    size_t floor = 0, lowered_row;
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        const size_t minimum = test_conv_row_shift_bytes(d, passes[i], &lowered_row);
        if (minimum && minimum + halves * lowered_row / 2 > floor)
            floor = minimum + halves * lowered_row / 2;
    }
    return floor;
}

START_TEST(tight_limits_give_identical_results)
{
    const int bitwise = _i == 0;
    test_rng r = test_rng_seeded(5);
    blasconv_context *unlimited, *tight;
    ck_assert_int_eq(blasconv_context_create(&unlimited), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&tight), BLASCONV_OK);
    if (bitwise) {
        blasconv_context_set_sgemm(unlimited, test_naive_sgemm);
        blasconv_context_set_sgemm(tight, test_naive_sgemm);
    }
    int checked = 0, shifted_problems = 0;
    for (int t = 0; t < 200; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        d.in_height += 8; /* enough output rows for several tiles */
        test_conv_problem p = test_conv_problem_make(&r, d);
        size_t row = test_conv_row_bytes(&d);
        /* one row, a row and a half, and three rows per tile */
        size_t limit = t % 3 == 0 ? row : t % 3 == 1 ? row * 3 / 2 : row * 3;
        const size_t shifted_limit = row_shift_floor(&d, (size_t)(t % 3));
        if (shifted_limit) {
            limit = limit > shifted_limit ? limit : shifted_limit;
            shifted_problems++;
        }
        ck_assert_int_eq(blasconv_context_set_workspace_limit(tight, limit), BLASCONV_OK);
        pass_result a, b;
        ck_assert_int_eq(run_passes(unlimited, &p, &a), BLASCONV_OK);
        ck_assert_int_eq(run_passes(tight, &p, &b), BLASCONV_OK);
        assert_same(&a, &b, &p, bitwise);
        result_free(&a), result_free(&b), test_conv_problem_free(&p);
        checked++;
    }
    ck_assert_int_eq(checked, 200);
    ck_assert_int_ge(shifted_problems, 20);
    blasconv_context_destroy(unlimited);
    blasconv_context_destroy(tight);
}
END_TEST

START_TEST(caller_buffer_never_allocates)
{
    test_rng r = test_rng_seeded(6);
    blasconv_context *mine, *lib;
    ck_assert_int_eq(blasconv_context_create(&mine), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&lib), BLASCONV_OK);
    blasconv_context_set_sgemm(mine, test_naive_sgemm);
    blasconv_context_set_sgemm(lib, test_naive_sgemm);
    for (int t = 0; t < 100; t++) {
        blasconv_conv2d d = test_random_conv(&r);
        test_conv_problem p = test_conv_problem_make(&r, d);
        /* odd sizes, and misaligned by one byte (3 more bytes make up for the skew) */
        size_t bytes = test_conv_row_bytes(&d) * (size_t)(1 + t % 4);
        const size_t shifted_bytes = row_shift_floor(&d, 2 * (size_t)(t % 4));
        bytes = bytes > shifted_bytes ? bytes : shifted_bytes; /* see tight_limits... */
        bytes += (size_t)(t % 2) * 3;
        unsigned char *buffer = malloc(bytes + 1);
        ck_assert_int_eq(blasconv_context_set_workspace(mine, buffer + (t % 2), bytes),
                         BLASCONV_OK);
        pass_result a, b;
        run_passes(lib, &p, &a);
        b.y = test_alloc_poisoned(p.ny);
        b.dx = test_alloc_poisoned(p.nx);
        b.dw = test_alloc_poisoned(p.nw);
        b.db = test_alloc_poisoned((size_t)d.out_channels);
        allocations = 0;
        blasconv_status st = blasconv_conv2d_forward(mine, &p.d, p.x, p.w, p.bias, b.y);
        if (st == BLASCONV_OK)
            st = blasconv_conv2d_backward_data(mine, &p.d, p.dy, p.w, b.dx);
        if (st == BLASCONV_OK)
            st = blasconv_conv2d_backward_filter(mine, &p.d, p.x, p.dy, b.dw, b.db);
        long allocated = allocations; /* read before Check's own bookkeeping allocates */
        ck_assert_int_eq(allocated, 0);
        ck_assert_int_eq(st, BLASCONV_OK);
        assert_same(&a, &b, &p, 1);
        result_free(&a), result_free(&b), test_conv_problem_free(&p);
        free(buffer);
    }
    blasconv_context_destroy(mine);
    blasconv_context_destroy(lib);
}
END_TEST

/* Below what forward (_i 0) or backward data (_i 1) lowered by kernel columns needs,
 * but at or above one im2col row, the pass still succeeds (on im2col tiles) and
 * agrees within the float tolerance: its sums are grouped differently. */
START_TEST(below_row_shift_minimum_uses_im2col_tiles)
{
    const blasconv_conv2d_pass pass = _i ? BLASCONV_PASS_BACKWARD_DATA : BLASCONV_PASS_FORWARD;
    test_rng r = test_rng_seeded(9 + (uint64_t)_i);
    blasconv_context *unlimited, *tight;
    ck_assert_int_eq(blasconv_context_create(&unlimited), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_create(&tight), BLASCONV_OK);
    int checked = 0, differed = 0;
    while (checked < 60) {
        blasconv_conv2d d = test_random_conv(&r);
        d.in_height += 8;
        d.layout = BLASCONV_NCHW;
        size_t lowered_row, row = test_conv_row_bytes(&d);
        const size_t shifted = test_conv_row_shift_bytes(&d, pass, &lowered_row);
        if (!shifted || shifted <= row)
            continue;
        test_conv_problem p = test_conv_problem_make(&r, d);
        const size_t n = pass == BLASCONV_PASS_FORWARD ? p.ny : p.nx;
        float *want = test_alloc_poisoned(n), *got = test_alloc_poisoned(n);
        const size_t limit = checked % 2 ? row : shifted - 1;
        ck_assert_int_eq(blasconv_context_set_workspace_limit(tight, limit), BLASCONV_OK);
        if (pass == BLASCONV_PASS_FORWARD) {
            ck_assert_int_eq(blasconv_conv2d_forward(unlimited, &d, p.x, p.w, p.bias, want),
                             BLASCONV_OK);
            ck_assert_int_eq(blasconv_conv2d_forward(tight, &d, p.x, p.w, p.bias, got),
                             BLASCONV_OK);
        } else {
            ck_assert_int_eq(blasconv_conv2d_backward_data(unlimited, &d, p.dy, p.w, want),
                             BLASCONV_OK);
            ck_assert_int_eq(blasconv_conv2d_backward_data(tight, &d, p.dy, p.w, got),
                             BLASCONV_OK);
        }
        test_assert_conv_agree(got, want, n, &d, pass, test_conv_describe(&d));
        differed += memcmp(got, want, n * sizeof(float)) != 0;
        free(want), free(got), test_conv_problem_free(&p);
        checked++;
    }
    ck_assert_int_gt(differed, 0); /* the other path ran: its sums round differently */
    blasconv_context_destroy(unlimited);
    blasconv_context_destroy(tight);
}
END_TEST

START_TEST(below_one_row_is_workspace_error)
{
    test_rng r = test_rng_seeded(7);
    blasconv_conv2d d = {.batch = 2,
                         .in_channels = 3,
                         .in_height = 9,
                         .in_width = 11,
                         .out_channels = 4,
                         .kernel_height = 3,
                         .kernel_width = 3,
                         .pad_top = 1,
                         .pad_bottom = 1,
                         .pad_left = 1,
                         .pad_right = 1};
    test_conv_problem p = test_conv_problem_make(&r, d);
    size_t row = test_conv_row_bytes(&d), lowered_row;
    /* Lowered by kernel columns, untiled: the filter copy and every tile row's
     * lowering, for 9 output rows (forward) or 9 input rows (backward data). Forward
     * groups the two images of this small map instead; one image takes the path. */
    const size_t data_shifted =
        test_conv_row_shift_bytes(&d, BLASCONV_PASS_BACKWARD_DATA, &lowered_row);
    ck_assert_uint_gt(data_shifted, 0);
    size_t ws[3];
    ck_assert_int_eq(blasconv_conv2d_workspace_size(&d, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
    ck_assert_uint_eq(ws[0], row * 9); /* untiled: every output row */
    ck_assert_uint_eq(ws[1], data_shifted + 8 * lowered_row);
    ck_assert_uint_eq(ws[2], ws[0]);
    blasconv_conv2d single = d;
    single.batch = 1;
    const size_t shifted = test_conv_row_shift_bytes(&single, BLASCONV_PASS_FORWARD, &lowered_row);
    ck_assert_uint_gt(shifted, 0);
    ck_assert_int_eq(blasconv_conv2d_workspace_size(&single, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
    ck_assert_uint_eq(ws[0], shifted + 8 * lowered_row);
    ck_assert_uint_eq(ws[1], data_shifted + 8 * lowered_row);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    float *buffer = malloc(row);
    for (int mode = 0; mode < 3; mode++) {
        if (mode == 0)
            blasconv_context_set_workspace_limit(ctx, row - 4);
        else if (mode == 1)
            blasconv_context_set_workspace(ctx, buffer, row - 4);
        else
            blasconv_context_set_workspace(ctx, buffer, 0);
        float *y = test_alloc_poisoned(p.ny), *dx = test_alloc_poisoned(p.nx);
        float *dw = test_alloc_poisoned(p.nw);
        float db[4] = {1, 2, 3, 4};
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, p.bias, y),
                         BLASCONV_ERR_WORKSPACE);
        ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, p.dy, p.w, dx),
                         BLASCONV_ERR_WORKSPACE);
        ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, &d, p.x, p.dy, dw, db),
                         BLASCONV_ERR_WORKSPACE);
        ck_assert_ptr_nonnull(strstr(blasconv_context_last_error(ctx), "workspace"));
        for (size_t i = 0; i < p.ny; i++)
            ck_assert(isnan(y[i]));
        for (size_t i = 0; i < p.nx; i++)
            ck_assert(isnan(dx[i]));
        for (size_t i = 0; i < p.nw; i++)
            ck_assert(isnan(dw[i]));
        ck_assert(db[0] == 1 && db[3] == 4);
        free(y), free(dx), free(dw);
        blasconv_context_set_workspace(ctx, NULL, 0);
    }
    /* Exactly one row succeeds; a 1x1 direct layer needs no scratch at all. */
    ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, row), BLASCONV_OK);
    pass_result res;
    ck_assert_int_eq(run_passes(ctx, &p, &res), BLASCONV_OK);
    result_free(&res);
    blasconv_conv2d one = {.batch = 2,
                           .in_channels = 3,
                           .in_height = 4,
                           .in_width = 5,
                           .out_channels = 2,
                           .kernel_height = 1,
                           .kernel_width = 1};
    test_conv_problem q = test_conv_problem_make(&r, one);
    ck_assert_int_eq(blasconv_context_set_workspace(ctx, buffer, 0), BLASCONV_OK);
    ck_assert_int_eq(run_passes(ctx, &q, &res), BLASCONV_OK);
    result_free(&res);
    test_conv_problem_free(&q);
    /* Nor does any pass of a depthwise layer (direct loops), in either layout. */
    for (int layout = 0; layout < 2; layout++) {
        blasconv_conv2d dw = d;
        dw.in_channels = dw.out_channels = dw.groups = 4;
        dw.layout = (blasconv_layout)layout;
        ck_assert_int_eq(blasconv_conv2d_workspace_size(&dw, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
        ck_assert(ws[0] == 0 && ws[1] == 0 && ws[2] == 0);
        test_conv_problem depthwise = test_conv_problem_make(&r, dw);
        ck_assert_int_eq(run_passes(ctx, &depthwise, &res), BLASCONV_OK);
        result_free(&res);
        test_conv_problem_free(&depthwise);
    }
    test_conv_problem_free(&p);
    free(buffer);
    blasconv_context_destroy(ctx);
}
END_TEST

/* A kernel row reach of 2^31 - 2 input rows (dilation INT_MAX - 1, pads of 2^30 - 1):
 * forward's lowering by kernel columns would span 17 + 2^31 - 2 rows (an int
 * overflow, which a fuzzed descriptor once hit), so forward stays on im2col and
 * workspace_size says so; backward data's tiles are input rows (17), so it takes the
 * path. Both passes match the oracle. */
START_TEST(huge_kernel_reach_keeps_sizes_exact)
{
    test_rng r = test_rng_seeded(10);
    const blasconv_conv2d d = {.batch = 1,
                               .in_channels = 2,
                               .in_height = 17,
                               .in_width = 8,
                               .out_channels = 2,
                               .kernel_height = 2,
                               .kernel_width = 1,
                               .pad_top = (1 << 30) - 1,
                               .pad_bottom = (1 << 30) - 1,
                               .dilation_height = INT_MAX - 1};
    int oh, ow;
    ck_assert_int_eq(blasconv_conv2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(oh, 17);
    size_t ws[3], lowered_row;
    ck_assert_int_eq(blasconv_conv2d_workspace_size(&d, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
    ck_assert_uint_eq(ws[0], 17 * test_conv_row_bytes(&d)); /* im2col, untiled */
    const size_t data_minimum =
        test_conv_row_shift_bytes(&d, BLASCONV_PASS_BACKWARD_DATA, &lowered_row);
    ck_assert_uint_gt(data_minimum, 0);
    ck_assert_uint_eq(ws[1], data_minimum + 16 * lowered_row); /* all 17 input rows */
    test_conv_problem p = test_conv_problem_make(&r, d);
    test_assert_forward_and_data_match_oracle(NULL, &p);
    test_conv_problem_free(&p);
}
END_TEST

/* A kept context reuses its scratch: the second identical call allocates nothing. */
/* The first GEMM's rows, columns and depth of the last call through counting_sgemm. */
static int first_gemm_m, first_gemm_n, first_gemm_k, gemm_calls;

static void counting_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c,
                           int ldc)
{
    if (gemm_calls++ == 0)
        first_gemm_m = m, first_gemm_n = n, first_gemm_k = k;
    test_naive_sgemm(layout, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* NCHW backward filter of up to 128 output channels on 512+ positions sums dw^T
 * (the filter's taps as the GEMMs' rows) where the scratch holds it besides one
 * output row's tile, and dw itself where it does not (a caller buffer of 0 bytes on
 * the direct 1x1 path; a cap of one row, against one row and dw^T, so that both calls
 * run one-row tiles): through the naive sgemm, whose elements are the same ordered
 * sums either way, the results are bitwise the same. */
START_TEST(transposed_dw_where_the_scratch_holds_it)
{
    test_rng r = test_rng_seeded(8);
    const blasconv_conv2d layers[] = {
        {.batch = 1,
         .in_channels = 8,
         .in_height = 24,
         .in_width = 24,
         .out_channels = 16,
         .kernel_height = 1,
         .kernel_width = 1},                  /* direct 1x1: 576 positions */
        TEST_CONV_3X3_SAME(2, 5, 16, 17, 20), /* im2col: 544 positions; dw^T 45 x 20: 16 x 16
                                                 blocks, edges */
    };
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const blasconv_conv2d *d = &layers[l];
        test_conv_problem p = test_conv_problem_make(&r, *d);
        const int taps = d->in_channels * d->kernel_height * d->kernel_width;
        float *dw[2], db[20]; /* dbias of up to 20 output channels */
        float *buffer = malloc(test_conv_row_bytes(d));
        const size_t dwt_bytes = (p.nw * sizeof(float) + 63) / 64 * 64;
        for (int fits = 1; fits >= 0; fits--) {
            blasconv_context *ctx;
            ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
            blasconv_context_set_sgemm(ctx, counting_sgemm);
            if (!fits && l == 0)
                blasconv_context_set_workspace(ctx, buffer, 0);
            else if (l == 1)
                blasconv_context_set_workspace_limit(ctx, test_conv_row_bytes(d) +
                                                              (fits ? dwt_bytes : 0));
            dw[fits] = test_alloc_poisoned(p.nw);
            gemm_calls = 0;
            ck_assert_int_eq(blasconv_conv2d_backward_filter(ctx, d, p.x, p.dy, dw[fits], db),
                             BLASCONV_OK);
            /* dw^T: rows of (the first tile's share of) the taps, K columns */
            ck_assert_int_eq(fits ? first_gemm_n : first_gemm_m, d->out_channels);
            ck_assert_int_eq(fits ? first_gemm_m : first_gemm_n, taps);
            blasconv_context_destroy(ctx);
        }
        ck_assert_msg(memcmp(dw[0], dw[1], p.nw * sizeof(float)) == 0, "layer %zu", l);
        float *want = test_alloc_poisoned(p.nw);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_filter(NULL, d, p.x, p.dy, want, NULL),
                         BLASCONV_OK);
        test_assert_conv_close(dw[1], want, p.nw, d, BLASCONV_PASS_BACKWARD_FILTER, "dw^T");
        free(dw[0]), free(dw[1]), free(want), free(buffer);
        test_conv_problem_free(&p);
    }
}
END_TEST

/* NCHW backward data on im2col tiles whose column matrix is at least twice as tall as
 * it is wide (3x3 stride 2: 9C rows, 100 positions) tiles input channels over all the
 * output rows where a tile cannot hold all the rows of every channel: under a cap of
 * two rows (60,000 bytes, 16 channels' rows) 60 channels go as four tiles of 15
 * (evened out: 135 GEMM rows each), 62 as three of 16 and one of 14, 2 groups of 32
 * as two tiles of 16 per group, with every position in each GEMM. Through the naive sgemm dx is bitwise the unlimited call's (one tile of
 * every channel: each dx element's sums in the same order), and it matches the
 * oracle; so do two threads on the linked BLAS under twice the cap (channel shares,
 * tiled by channels inside). */
START_TEST(backward_data_tiles_channels_under_a_cap)
{
    test_rng r = test_rng_seeded(11);
    const struct {
        int channels, groups, tile_rows, tiles; /* tiles per image and group */
    } cases[] = {{60, 1, 135, 4}, {62, 1, 144, 4}, {64, 2, 144, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const blasconv_conv2d d = {.batch = 2,
                                   .in_channels = cases[i].channels,
                                   .in_height = 20,
                                   .in_width = 20,
                                   .out_channels = 32,
                                   .kernel_height = 3,
                                   .kernel_width = 3,
                                   .stride_height = 2,
                                   .stride_width = 2,
                                   .pad_top = 1,
                                   .pad_bottom = 1,
                                   .pad_left = 1,
                                   .pad_right = 1,
                                   .groups = cases[i].groups};
        test_conv_problem p = test_conv_problem_make(&r, d);
        float *dx[2];
        for (int capped = 0; capped < 2; capped++) {
            blasconv_context *ctx;
            ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
            blasconv_context_set_sgemm(ctx, counting_sgemm);
            if (capped)
                blasconv_context_set_workspace_limit(ctx, 60000);
            dx[capped] = test_alloc_poisoned(p.nx);
            gemm_calls = 0;
            ck_assert_int_eq(blasconv_conv2d_backward_data(ctx, &d, p.dy, p.w, dx[capped]),
                             BLASCONV_OK);
            const int all_rows = d.in_channels / d.groups * 9;
            ck_assert_int_eq(first_gemm_m, (capped ? cases[i].tile_rows : all_rows));
            ck_assert_int_eq(first_gemm_n, 100);
            ck_assert_int_eq(gemm_calls, (d.batch * d.groups * (capped ? cases[i].tiles : 1)));
            blasconv_context_destroy(ctx);
        }
        ck_assert_msg(memcmp(dx[0], dx[1], p.nx * sizeof(float)) == 0, "case %zu", i);
        float *want = test_alloc_poisoned(p.nx);
        ck_assert_int_eq(blasconv_reference_conv2d_backward_data(NULL, &d, p.dy, p.w, want),
                         BLASCONV_OK);
        test_assert_conv_close(dx[1], want, p.nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                               "channel tiles");
        blasconv_context *two;
        ck_assert_int_eq(blasconv_context_create(&two), BLASCONV_OK);
        blasconv_context_set_threads(two, 2);
        blasconv_context_set_workspace_limit(two, 120000);
        test_poison(dx[0], p.nx);
        ck_assert_int_eq(blasconv_conv2d_backward_data(two, &d, p.dy, p.w, dx[0]), BLASCONV_OK);
        test_assert_conv_close(dx[0], want, p.nx, &d, BLASCONV_PASS_BACKWARD_DATA,
                               "channel tiles, two threads");
        blasconv_context_destroy(two);
        free(dx[0]), free(dx[1]), free(want);
        test_conv_problem_free(&p);
    }
}
END_TEST

/* NCHW forward that lowers kernel columns uncapped (64 -> 64 3x3 on 16x16) runs
 * im2col tiles under a cap below that path's minimum (150,000 bytes, against a 147 KB
 * filter copy plus a 36.8 KB lowered row): tiles of input channels over all the output
 * rows where the column matrix (576 rows) is at least twice as tall as it is wide
 * (256 positions), four of 16 channels, each GEMM adding its 144 rows' share onto y;
 * with and without a bias (the first tile's GEMM then starts y), against the oracle. */
START_TEST(forward_tiles_channels_below_the_kernel_column_minimum)
{
    test_rng r = test_rng_seeded(12);
    const blasconv_conv2d d = TEST_CONV_3X3_SAME(1, 64, 16, 16, 64);
    test_conv_problem p = test_conv_problem_make(&r, d);
    float *y = test_alloc_poisoned(p.ny), *want = test_alloc_poisoned(p.ny);
    for (int biased = 0; biased < 2; biased++) {
        const float *bias = biased ? p.bias : NULL;
        blasconv_context *ctx;
        ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
        blasconv_context_set_sgemm(ctx, counting_sgemm);
        blasconv_context_set_workspace_limit(ctx, 150000);
        gemm_calls = 0;
        test_poison(y, p.ny);
        ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, bias, y), BLASCONV_OK);
        ck_assert_int_eq(first_gemm_m, 64);
        ck_assert_int_eq(first_gemm_n, 256);
        ck_assert_int_eq(first_gemm_k, 144);
        ck_assert_int_eq(gemm_calls, 4);
        ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &d, p.x, p.w, bias, want),
                         BLASCONV_OK);
        test_assert_conv_close(y, want, p.ny, &d, BLASCONV_PASS_FORWARD, "channel tiles");
        blasconv_context_destroy(ctx);
    }
    free(y), free(want);
    test_conv_problem_free(&p);
}
END_TEST

START_TEST(scratch_is_kept_between_calls)
{
    test_rng r = test_rng_seeded(8);
    blasconv_conv2d d = {.batch = 1,
                         .in_channels = 4,
                         .in_height = 20,
                         .in_width = 20,
                         .out_channels = 4,
                         .kernel_height = 3,
                         .kernel_width = 3};
    test_conv_problem p = test_conv_problem_make(&r, d);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    float *y = test_alloc_poisoned(p.ny);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, p.x, p.w, NULL, y), BLASCONV_OK);
    allocations = 0;
    blasconv_status st = blasconv_conv2d_forward(ctx, &d, p.x, p.w, NULL, y);
    long allocated = allocations;
    ck_assert_int_eq(st, BLASCONV_OK);
    ck_assert_int_eq(allocated, 0);
    free(y);
    test_conv_problem_free(&p);
    blasconv_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workspace");
    TCase *tc = tcase_create("workspace");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, tight_limits_give_identical_results, 0, 2);
    tcase_add_loop_test(tc, below_row_shift_minimum_uses_im2col_tiles, 0, 2);
    tcase_add_test(tc, huge_kernel_reach_keeps_sizes_exact);
    tcase_add_test(tc, caller_buffer_never_allocates);
    tcase_add_test(tc, below_one_row_is_workspace_error);
    tcase_add_test(tc, scratch_is_kept_between_calls);
    tcase_add_test(tc, transposed_dw_where_the_scratch_holds_it);
    tcase_add_test(tc, backward_data_tiles_channels_under_a_cap);
    tcase_add_test(tc, forward_tiles_channels_below_the_kernel_column_minimum);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
