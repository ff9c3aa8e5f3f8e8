/* The bad-input table: every invalid descriptor field, NULL for every pointer
 * argument, undersized workspaces, bad context settings. Each case must return its
 * documented status, name the field in the context's last error, and leave every
 * byte of every buffer it was given exactly as it was (canary-filled, compared
 * before and after). Every case runs with a context and with ctx NULL.
 *
 * The suite runs without fork so one counter sees every case; it prints the total. */
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long cases_tried;

/* --- the canary arena: every pointer a call gets points in here ----------- */

#define SLOT_BYTES 65536
#define SLOTS 4
static unsigned char arena[SLOTS][SLOT_BYTES], arena_copy[SLOTS][SLOT_BYTES];

static void arena_fill(void)
{
    for (int s = 0; s < SLOTS; s++)
        for (int i = 0; i < SLOT_BYTES; i++)
            arena[s][i] = (unsigned char)(0xA5 ^ (i * 7 + s * 31));
    memcpy(arena_copy, arena, sizeof arena);
}

static void arena_assert_intact(const char *what)
{
    if (memcmp(arena, arena_copy, sizeof arena) == 0)
        return;
    for (int s = 0; s < SLOTS; s++)
        for (int i = 0; i < SLOT_BYTES; i++)
            ck_assert_msg(arena[s][i] == arena_copy[s][i], "%s: byte %d of buffer %d was written",
                          what, i, s);
}

/* --- the convolution entry points, called through one door --------------- */

enum conv_entry {
    CONV_FORWARD,
    CONV_BACKWARD_DATA,
    CONV_BACKWARD_FILTER,
    REF_FORWARD,
    REF_BACKWARD_DATA,
    REF_BACKWARD_FILTER,
    CONV_OUTPUT_SIZE,
    CONV_WORKSPACE_SIZE,
    CONV_ENTRIES
};

typedef struct entry_info {
    const char *name; /* as the last-error sentence starts */
    int pointers;     /* pointer arguments after the descriptor */
    const char *pointer_names[SLOTS];
    unsigned optional; /* bit i: pointer i may be NULL */
    int takes_ctx;
} entry_info;

static const entry_info conv_entries[CONV_ENTRIES] = {
    [CONV_FORWARD] = {"conv2d_forward", 4, {"x", "w", "bias", "y"}, 1u << 2, 1},
    [CONV_BACKWARD_DATA] = {"conv2d_backward_data", 3, {"dy", "w", "dx"}, 0, 1},
    [CONV_BACKWARD_FILTER] = {"conv2d_backward_filter", 4, {"x", "dy", "dw", "dbias"}, 1u << 3, 1},
    [REF_FORWARD] = {"reference_conv2d_forward", 4, {"x", "w", "bias", "y"}, 1u << 2, 1},
    [REF_BACKWARD_DATA] = {"reference_conv2d_backward_data", 3, {"dy", "w", "dx"}, 0, 1},
    [REF_BACKWARD_FILTER] =
        {"reference_conv2d_backward_filter", 4, {"x", "dy", "dw", "dbias"}, 1u << 3, 1},
    [CONV_OUTPUT_SIZE] = {"conv2d_output_size", 2, {"out_height", "out_width"}, 0, 0},
    [CONV_WORKSPACE_SIZE] = {"conv2d_workspace_size",
                             3,
                             {"forward_bytes", "backward_data_bytes", "backward_filter_bytes"},
                             0,
                             0},
};

static blasconv_status conv_call(enum conv_entry e, blasconv_context *ctx,
                                 const blasconv_conv2d *d, void *const p[SLOTS])
{
    switch (e) {
    case CONV_FORWARD: return blasconv_conv2d_forward(ctx, d, p[0], p[1], p[2], p[3]);
    case CONV_BACKWARD_DATA: return blasconv_conv2d_backward_data(ctx, d, p[0], p[1], p[2]);
    case CONV_BACKWARD_FILTER:
        return blasconv_conv2d_backward_filter(ctx, d, p[0], p[1], p[2], p[3]);
    case REF_FORWARD: return blasconv_reference_conv2d_forward(ctx, d, p[0], p[1], p[2], p[3]);
    case REF_BACKWARD_DATA:
        return blasconv_reference_conv2d_backward_data(ctx, d, p[0], p[1], p[2]);
    case REF_BACKWARD_FILTER:
        return blasconv_reference_conv2d_backward_filter(ctx, d, p[0], p[1], p[2], p[3]);
    case CONV_OUTPUT_SIZE: return blasconv_conv2d_output_size(d, p[0], p[1]);
    case CONV_WORKSPACE_SIZE: return blasconv_conv2d_workspace_size(d, p[0], p[1], p[2]);
    case CONV_ENTRIES: break;
    }
    abort();
}

/* Runs entry e with ctx and with ctx NULL, every pointer into the arena except the
 * ones in null_mask; expects `want`, the arena untouched, and (with a context) a
 * last error that names `field` (when given). */
static void expect_conv_call(enum conv_entry e, const blasconv_conv2d *d, unsigned null_mask,
                             blasconv_status want, const char *field, const char *label)
{
    const entry_info *info = &conv_entries[e];
    void *p[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        p[i] = (null_mask >> i) & 1u ? NULL : arena[i];
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int with_ctx = 0; with_ctx <= info->takes_ctx; with_ctx++) {
        arena_fill();
        blasconv_status got = conv_call(e, with_ctx ? ctx : NULL, d, p);
        cases_tried++;
        ck_assert_msg(got == want, "%s: %s%s returned %d (%s), want %d; last error '%s'", label,
                      info->name, with_ctx ? "" : " (ctx NULL)", (int)got,
                      blasconv_status_string(got), (int)want, blasconv_context_last_error(ctx));
        arena_assert_intact(label);
        if (with_ctx && want != BLASCONV_OK) {
            const char *msg = blasconv_context_last_error(ctx);
            ck_assert_msg(strncmp(msg, info->name, strlen(info->name)) == 0,
                          "%s: last error '%s' does not start with %s", label, msg, info->name);
            ck_assert_msg(!field || strstr(msg, field), "%s: last error '%s' does not name '%s'",
                          label, msg, field);
        }
    }
    blasconv_context_destroy(ctx);
}

static void expect_every_conv_entry(const blasconv_conv2d *d, blasconv_status want,
                                    const char *field, const char *label)
{
    for (int e = 0; e < CONV_ENTRIES; e++)
        expect_conv_call((enum conv_entry)e, d, 0, want, field, label);
}

/* --- the descriptor table ------------------------------------------------- */

/* A small valid grouped descriptor every row starts from. */
static const blasconv_conv2d base = {.batch = 2,
                                     .in_channels = 4,
                                     .in_height = 5,
                                     .in_width = 6,
                                     .out_channels = 6,
                                     .kernel_height = 3,
                                     .kernel_width = 2,
                                     .groups = 2};

typedef struct field_value {
    size_t offset; /* 0 with name NULL ends the list */
    const char *name;
    int value;
} field_value;

typedef struct conv_case {
    const char *label;
    field_value set[12]; /* ends at the first entry without a name */
    blasconv_status want;
    const char *message; /* a word the last error must contain; NULL: the first field */
} conv_case;

#define F(field, v)                                                                               \
    {                                                                                             \
        offsetof(blasconv_conv2d, field), #field, (v)                                             \
    }
#define BAD BLASCONV_ERR_BAD_SHAPE
#define OVER BLASCONV_ERR_OVERFLOW

static const conv_case conv_table[] = {
    /* every int field: zero (where zero is not a default), negative, INT_MIN */
    {"batch 0", {F(batch, 0)}, BAD, NULL},
    {"batch -1", {F(batch, -1)}, BAD, NULL},
    {"batch INT_MIN", {F(batch, INT_MIN)}, BAD, NULL},
    {"in_channels 0", {F(in_channels, 0)}, BAD, NULL},
    {"in_channels -4", {F(in_channels, -4)}, BAD, NULL},
    {"in_height 0", {F(in_height, 0)}, BAD, NULL},
    {"in_height -1", {F(in_height, -1)}, BAD, NULL},
    {"in_width 0", {F(in_width, 0)}, BAD, NULL},
    {"in_width INT_MIN", {F(in_width, INT_MIN)}, BAD, NULL},
    {"out_channels 0", {F(out_channels, 0)}, BAD, NULL},
    {"out_channels -6", {F(out_channels, -6)}, BAD, NULL},
    {"kernel_height 0", {F(kernel_height, 0)}, BAD, NULL},
    {"kernel_height -1", {F(kernel_height, -1)}, BAD, NULL},
    {"kernel_width 0", {F(kernel_width, 0)}, BAD, NULL},
    {"kernel_width INT_MIN", {F(kernel_width, INT_MIN)}, BAD, NULL},
    {"stride_height -1", {F(stride_height, -1)}, BAD, NULL},
    {"stride_width INT_MIN", {F(stride_width, INT_MIN)}, BAD, NULL},
    {"pad_top -1", {F(pad_top, -1)}, BAD, NULL},
    {"pad_bottom -1", {F(pad_bottom, -1)}, BAD, NULL},
    {"pad_left INT_MIN", {F(pad_left, INT_MIN)}, BAD, NULL},
    {"pad_right -1", {F(pad_right, -1)}, BAD, NULL},
    {"dilation_height -1", {F(dilation_height, -1)}, BAD, NULL},
    {"dilation_width -3", {F(dilation_width, -3)}, BAD, NULL},
    {"groups -2", {F(groups, -2)}, BAD, NULL},
    {"groups INT_MIN", {F(groups, INT_MIN)}, BAD, NULL},
    /* groups that do not divide */
    {"groups 3 divides neither", {F(groups, 3)}, BAD, "groups=3"},
    {"groups 4 does not divide K=6", {F(groups, 4)}, BAD, "out_channels=6"},
    {"K=5 with groups 2", {F(out_channels, 5)}, BAD, "out_channels=5"},
    {"groups larger than C", {F(groups, 8)}, BAD, "groups=8"},
    {"groups INT_MAX", {F(groups, INT_MAX)}, BAD, "groups"},
    /* unknown enum values */
    {"layout 2", {F(layout, 2)}, BAD, NULL},
    {"layout -1", {F(layout, -1)}, BAD, NULL},
    {"layout INT_MAX", {F(layout, INT_MAX)}, BAD, NULL},
    /* empty outputs: kernel past the padded input, dilation past it, huge values */
    {"kernel taller than input", {F(kernel_height, 6)}, BAD, "output height"},
    {"dilated past the input", {F(dilation_width, 6)}, BAD, "output width"},
    {"kernel INT_MAX", {F(kernel_height, INT_MAX)}, BAD, "output height"},
    {"kernel and dilation INT_MAX (2^62 extent)",
     {F(kernel_width, INT_MAX), F(dilation_width, INT_MAX)},
     BAD,
     "output width"},
    /* sizes near 2^31 elements */
    {"x of 2^31 elements",
     {F(batch, 1), F(in_channels, 2), F(groups, 1), F(in_height, 32768), F(in_width, 32768),
      F(kernel_height, 1), F(kernel_width, 1)},
     OVER,
     "input"},
    {"x of INT_MAX^2 elements", {F(in_height, INT_MAX), F(in_width, INT_MAX)}, OVER, "input"},
    {"output side past INT_MAX",
     {F(kernel_height, 1), F(pad_top, INT_MAX), F(pad_bottom, INT_MAX)},
     OVER,
     "output size"},
    {"y past 2^31 while x and w fit",
     {F(groups, 1), F(batch, 1), F(in_channels, 1), F(in_height, 1), F(in_width, 1),
      F(kernel_height, 1), F(kernel_width, 1), F(pad_top, 20000), F(pad_bottom, 20000),
      F(pad_left, 20000), F(pad_right, 20000)},
     OVER,
     "output"},
    {"w past 2^31: K*C/g*KH*KW",
     {F(groups, 1), F(batch, 1), F(in_channels, 2048), F(out_channels, 2048), F(in_height, 1024),
      F(in_width, 1), F(kernel_height, 1024), F(kernel_width, 1)},
     OVER,
     "weights"},
    {"one im2col row past 2^31 while x, w, y fit",
     {F(groups, 1), F(batch, 1), F(in_channels, 1024), F(out_channels, 1), F(in_height, 256),
      F(in_width, 287), F(kernel_height, 256), F(kernel_width, 256)},
     OVER,
     "im2col"},
    /* products near 2^63: 2^20 to the fourth power, and INT_MAX everywhere */
    {"w near 2^80",
     {F(groups, 1), F(out_channels, 1 << 20), F(in_channels, 1 << 20), F(kernel_height, 1 << 20),
      F(kernel_width, 1 << 20), F(pad_top, 1 << 20), F(pad_bottom, 1 << 20), F(pad_left, 1 << 20)},
     OVER,
     "weights"},
    {"every size INT_MAX",
     {F(groups, 1), F(batch, INT_MAX), F(in_channels, INT_MAX), F(in_height, INT_MAX),
      F(in_width, INT_MAX), F(out_channels, INT_MAX), F(kernel_height, 1), F(kernel_width, 1)},
     OVER,
     "input"},
};

static blasconv_conv2d conv_case_descriptor(const conv_case *c)
{
    blasconv_conv2d d = base;
    for (int i = 0; c->set[i].name; i++)
        memcpy((char *)&d + c->set[i].offset, &c->set[i].value, sizeof(int));
    return d;
}

START_TEST(every_bad_descriptor_field)
{
    for (size_t i = 0; i < sizeof conv_table / sizeof conv_table[0]; i++) {
        const conv_case *c = &conv_table[i];
        blasconv_conv2d d = conv_case_descriptor(c);
        expect_every_conv_entry(&d, c->want, c->message ? c->message : c->set[0].name, c->label);
    }
}
END_TEST

/* Boundaries just inside the limits validate (nothing is computed: no memory). */
START_TEST(just_inside_the_limits_is_valid)
{
    blasconv_conv2d d = {.batch = 1,
                         .in_channels = 1,
                         .in_height = 32768,
                         .in_width = 65535,
                         .out_channels = 1,
                         .kernel_height = 1,
                         .kernel_width = 1};
    int oh = 0, ow = 0;
    size_t ws[3];
    ck_assert_int_eq(blasconv_conv2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert_int_eq(oh, 32768);
    ck_assert_int_eq(ow, 65535);
    ck_assert_int_eq(blasconv_conv2d_workspace_size(&d, &ws[0], &ws[1], &ws[2]), BLASCONV_OK);
    ck_assert(ws[0] == 0 && ws[1] == 0 && ws[2] == 0);
    d.stride_height = d.stride_width = INT_MAX; /* huge strides are fine: one output */
    ck_assert_int_eq(blasconv_conv2d_output_size(&d, &oh, &ow), BLASCONV_OK);
    ck_assert(oh == 1 && ow == 1);
    cases_tried += 3;
}
END_TEST

START_TEST(every_null_pointer)
{
    blasconv_conv2d bad = base;
    bad.batch = -1; /* NULL is reported before the descriptor is looked at */
    const blasconv_conv2d *descriptors[2] = {&base, &bad};
    for (int e = 0; e < CONV_ENTRIES; e++) {
        const entry_info *info = &conv_entries[e];
        for (int di = 0; di < 2; di++) {
            expect_conv_call((enum conv_entry)e, NULL, 0, BLASCONV_ERR_NULL_POINTER, "descriptor",
                             "NULL descriptor");
            for (int i = 0; i < info->pointers; i++) {
                if ((info->optional >> i) & 1u)
                    continue;
                char label[96];
                snprintf(label, sizeof label, "%s NULL (%s descriptor)", info->pointer_names[i],
                         di ? "bad" : "valid");
                expect_conv_call((enum conv_entry)e, descriptors[di], 1u << i,
                                 BLASCONV_ERR_NULL_POINTER,
                                 info->takes_ctx ? info->pointer_names[i] : NULL, label);
            }
        }
    }
    /* corr2d: each pointer, also ahead of a bad size */
    for (int bad_size = 0; bad_size < 2; bad_size++)
        for (int i = 0; i < 3; i++) {
            arena_fill();
            const float *x = i == 0 ? NULL : (const float *)arena[0];
            const float *k = i == 1 ? NULL : (const float *)arena[1];
            float *y = i == 2 ? NULL : (float *)arena[2];
            ck_assert_int_eq(blasconv_corr2d(NULL, x, bad_size ? -3 : 3, 3, k, 2, 2, y),
                             BLASCONV_ERR_NULL_POINTER);
            arena_assert_intact("corr2d NULL");
            cases_tried++;
        }
    ck_assert_int_eq(blasconv_context_create(NULL), BLASCONV_ERR_NULL_POINTER);
    blasconv_context_destroy(NULL); /* a no-op */
    ck_assert_str_eq(blasconv_context_last_error(NULL), "");
    cases_tried += 3;
}
END_TEST

/* corr2d's own sizes: (height, width, kernel_height, kernel_width, status) */
START_TEST(every_bad_corr2d_size)
{
    static const struct {
        int h, w, kh, kw;
        blasconv_status want;
    } rows[] = {
        {0, 3, 2, 2, BAD},
        {3, 0, 2, 2, BAD},
        {-1, 3, 2, 2, BAD},
        {3, INT_MIN, 2, 2, BAD},
        {3, 3, 0, 2, BAD},
        {3, 3, 2, 0, BAD},
        {3, 3, -2, 2, BAD},
        {3, 3, 2, INT_MIN, BAD},
        {3, 3, 4, 2, BAD},
        {3, 3, 2, 4, BAD},
        {3, 3, INT_MAX, INT_MAX, BAD},
        {INT_MAX, INT_MAX, 1, 1, OVER},
        {65536, 32768, 1, 1, OVER},
    };
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (int with_ctx = 0; with_ctx < 2; with_ctx++) {
            arena_fill();
            blasconv_status got = blasconv_corr2d(with_ctx ? ctx : NULL, (const float *)arena[0],
                                                  rows[i].h, rows[i].w, (const float *)arena[1],
                                                  rows[i].kh, rows[i].kw, (float *)arena[2]);
            ck_assert_msg(got == rows[i].want, "corr2d %dx%d kernel %dx%d: got %d want %d",
                          rows[i].h, rows[i].w, rows[i].kh, rows[i].kw, got, rows[i].want);
            arena_assert_intact("corr2d");
            if (with_ctx)
                ck_assert_msg(strstr(blasconv_context_last_error(ctx), "corr2d") ||
                                  strstr(blasconv_context_last_error(ctx), "conv2d_forward"),
                              "last error '%s'", blasconv_context_last_error(ctx));
            cases_tried++;
        }
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* --- workspaces below the minimum ----------------------------------------- */

/* The fast passes return WORKSPACE below one output row; the oracle needs no scratch
 * and must succeed under the same context. */
static void expect_under_workspace(blasconv_context *ctx, const char *label)
{
    static const enum conv_entry fast[] = {CONV_FORWARD, CONV_BACKWARD_DATA, CONV_BACKWARD_FILTER};
    void *p[SLOTS] = {arena[0], arena[1], arena[2], arena[3]};
    for (int i = 0; i < 3; i++) {
        for (unsigned optional_null = 0; optional_null < 2; optional_null++) {
            void *q[SLOTS];
            memcpy(q, p, sizeof q);
            if (optional_null && conv_entries[fast[i]].optional)
                q[__builtin_ctz(conv_entries[fast[i]].optional)] = NULL;
            arena_fill();
            blasconv_status got = conv_call(fast[i], ctx, &base, q);
            ck_assert_msg(got == BLASCONV_ERR_WORKSPACE, "%s: %s returned %d", label,
                          conv_entries[fast[i]].name, got);
            arena_assert_intact(label);
            ck_assert_msg(strstr(blasconv_context_last_error(ctx), "workspace"),
                          "%s: last error '%s'", label, blasconv_context_last_error(ctx));
            cases_tried++;
        }
    }
    for (int e = REF_FORWARD; e <= REF_BACKWARD_FILTER; e++)
        ck_assert_int_eq(conv_call((enum conv_entry)e, ctx, &base, p), BLASCONV_OK);
}

START_TEST(every_workspace_below_the_minimum)
{
    const size_t row = test_conv_row_bytes(&base);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    const size_t limits[] = {1, 4, row / 2, row - 4, row - 1};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, limits[i]), BLASCONV_OK);
        expect_under_workspace(ctx, "workspace limit below one row");
    }
    ck_assert_int_eq(blasconv_context_set_workspace_limit(ctx, 0), BLASCONV_OK);

    /* Caller buffers live inside a canary region: the library may write the buffer,
     * never a byte past it. */
    static unsigned char region[8192], region_copy[8192];
    const size_t sizes[] = {0, 4, row - 4, row - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memset(region, 0x5A, sizeof region);
        memcpy(region_copy, region, sizeof region);
        ck_assert_int_eq(blasconv_context_set_workspace(ctx, region + 64, sizes[i]), BLASCONV_OK);
        expect_under_workspace(ctx, "caller buffer below one row");
        ck_assert_msg(memcmp(region, region_copy, sizeof region) == 0,
                      "a too-small caller buffer was written");
    }
    /* A NULL buffer with a size is refused and leaves the last buffer (too small) in place. */
    ck_assert_int_eq(blasconv_context_set_workspace(ctx, NULL, 4096), BLASCONV_ERR_NULL_POINTER);
    ck_assert_ptr_nonnull(strstr(blasconv_context_last_error(ctx), "buffer"));
    cases_tried++;
    expect_under_workspace(ctx, "after a refused set_workspace");

    /* Exactly one row, at every alignment, succeeds and stays inside its buffer
     * (plus the up to 3 bytes an unaligned start costs). */
    for (int skew = 0; skew < 4; skew++) {
        memset(region, 0x5A, sizeof region);
        memcpy(region_copy, region, sizeof region);
        size_t bytes = row + (skew ? 4 - (size_t)skew : 0);
        unsigned char *buf = region + 64 + skew;
        ck_assert_int_eq(blasconv_context_set_workspace(ctx, buf, bytes), BLASCONV_OK);
        void *p[SLOTS] = {arena[0], arena[1], arena[2], arena[3]};
        test_rng r = test_rng_seeded(7);
        for (int s = 0; s < SLOTS; s++)
            for (int i = 0; i < SLOT_BYTES / 4; i++)
                ((float *)arena[s])[i] = test_rng_float(&r);
        for (int e = CONV_FORWARD; e <= CONV_BACKWARD_FILTER; e++)
            ck_assert_int_eq(conv_call((enum conv_entry)e, ctx, &base, p), BLASCONV_OK);
        ck_assert_msg(memcmp(region, region_copy, 64 + (size_t)skew) == 0 &&
                          memcmp(buf + bytes, region_copy + (buf + bytes - region),
                                 sizeof region - (size_t)(buf + bytes - region)) == 0,
                      "skew %d: a byte outside the caller's %zu-byte buffer was written", skew,
                      bytes);
        cases_tried++;
    }
    blasconv_context_destroy(ctx);
}
END_TEST

/* --- context settings ------------------------------------------------------- */

/* A context keeps working as before after a refused setting: forward still
 * matches the oracle. */
static void assert_context_still_works(blasconv_context *ctx, const char *label)
{
    test_rng r = test_rng_seeded(11);
    size_t nx = test_conv_x_elems(&base), nw = test_conv_w_elems(&base);
    size_t ny = test_conv_y_elems(&base);
    float *x = test_alloc_random(&r, nx), *w = test_alloc_random(&r, nw);
    float *y = test_alloc_poisoned(ny), *want = test_alloc_poisoned(ny);
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &base, x, w, NULL, y), BLASCONV_OK);
    ck_assert_int_eq(blasconv_reference_conv2d_forward(NULL, &base, x, w, NULL, want),
                     BLASCONV_OK);
    test_assert_conv_close(y, want, ny, &base, BLASCONV_PASS_FORWARD, label);
    free(x), free(w), free(y), free(want);
}

START_TEST(every_bad_context_setting)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    const struct {
        blasconv_status got, want;
        const char *field, *label;
    } rows[] = {
        {blasconv_context_set_threads(ctx, -1), BAD, "threads=-1", "threads -1"},
        {blasconv_context_set_threads(ctx, INT_MIN), BAD, "threads", "threads INT_MIN"},
        {blasconv_context_set_algorithm(ctx, (blasconv_algorithm)2), BAD, "algorithm=2",
         "algorithm 2"},
        {blasconv_context_set_algorithm(ctx, (blasconv_algorithm)-1), BAD, "algorithm=-1",
         "algorithm -1"},
        {blasconv_context_set_algorithm(ctx, (blasconv_algorithm)INT_MAX), BAD, "algorithm",
         "algorithm INT_MAX"},
        {blasconv_context_set_workspace(ctx, NULL, 1), BLASCONV_ERR_NULL_POINTER, "buffer",
         "workspace NULL, 1"},
        {blasconv_context_load_blas(ctx, NULL), BLASCONV_ERR_NULL_POINTER, "library_path",
         "load_blas NULL path"},
        {blasconv_context_load_blas(ctx, "/nonexistent/libblas.so"), BLASCONV_ERR_BLAS,
         "/nonexistent/libblas.so", "load_blas missing file"},
        {blasconv_context_load_blas(ctx, "/proc/self/status"), BLASCONV_ERR_BLAS,
         "/proc/self/status", "load_blas not a library"},
        {blasconv_context_load_blas(ctx, "libm.so.6"), BLASCONV_ERR_BLAS, "libm.so.6",
         "load_blas without cblas_sgemm"},
        {blasconv_context_load_blas(ctx, ""), BLASCONV_ERR_BLAS, NULL, "load_blas empty path"},
    };
    /* The order of those calls is unspecified; the messages are checked one by one below. */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ck_assert_msg(rows[i].got == rows[i].want, "%s: got %d want %d", rows[i].label,
                      rows[i].got, rows[i].want);
        cases_tried++;
    }
    ck_assert_int_eq(blasconv_context_set_threads(ctx, -7), BAD);
    ck_assert_ptr_nonnull(strstr(blasconv_context_last_error(ctx), "threads=-7"));
    ck_assert_int_eq(blasconv_context_set_algorithm(ctx, (blasconv_algorithm)9), BAD);
    ck_assert_ptr_nonnull(strstr(blasconv_context_last_error(ctx), "algorithm=9"));
    ck_assert_int_eq(blasconv_context_load_blas(ctx, "/nonexistent/libblas.so"),
                     BLASCONV_ERR_BLAS);
    ck_assert_ptr_nonnull(strstr(blasconv_context_last_error(ctx), "/nonexistent/libblas.so"));
    assert_context_still_works(ctx, "after refused settings");

    /* NULL context for every setter */
    ck_assert_int_eq(blasconv_context_set_threads(NULL, 1), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_workspace(NULL, NULL, 0), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_workspace(NULL, arena[0], 16),
                     BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_workspace_limit(NULL, 0), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_sgemm(NULL, NULL), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_algorithm(NULL, BLASCONV_ALGO_GEMM),
                     BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_load_blas(NULL, "libm.so.6"), BLASCONV_ERR_NULL_POINTER);
    cases_tried += 7;
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(the_message_names_field_and_value)
{
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    blasconv_conv2d d = base;
    d.in_channels = 8;
    d.groups = 3;
    ck_assert_int_eq(blasconv_conv2d_forward(ctx, &d, (float *)arena[0], (float *)arena[1], NULL,
                                             (float *)arena[2]),
                     BAD);
    ck_assert_str_eq(blasconv_context_last_error(ctx),
                     "conv2d_forward: groups=3 does not divide in_channels=8");
    assert_context_still_works(ctx, "a success clears the last error");
    ck_assert_str_eq(blasconv_context_last_error(ctx), "");
    blasconv_context_destroy(ctx);
    cases_tried++;
}
END_TEST

START_TEST(status_strings_and_version)
{
    for (int s = 0; s <= 7; s++) {
        const char *text = blasconv_status_string((blasconv_status)s);
        ck_assert_ptr_nonnull(text);
        ck_assert_int_gt((int)strlen(text), 0);
        ck_assert_str_ne(text, "unknown status");
    }
    const int unknown[] = {-3, 8, 1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        ck_assert_str_eq(blasconv_status_string((blasconv_status)unknown[i]), "unknown status");
    ck_assert_str_eq(blasconv_version(), "0.1.0");
    cases_tried += 5;
}
END_TEST

/* --- the helpers: sgemm, compare, tolerance, weights_constant --------------- */

typedef struct sgemm_case {
    const char *label;
    int trans_a, trans_b, m, n, k, lda, ldb, ldc;
    unsigned null_mask; /* bit 0: a, 1: b, 2: c */
    blasconv_status want;
    const char *field;
} sgemm_case;

START_TEST(every_bad_sgemm_argument)
{
    /* m=2 n=3 k=4 untransposed needs lda >= 4, ldb >= 3, ldc >= 3. */
    static const sgemm_case rows[] = {
        {"trans_a 2", 2, 0, 2, 3, 4, 4, 3, 3, 0, BAD, "trans_a=2"},
        {"trans_a -1", -1, 0, 2, 3, 4, 4, 3, 3, 0, BAD, "trans_a=-1"},
        {"trans_b INT_MAX", 0, INT_MAX, 2, 3, 4, 4, 3, 3, 0, BAD, "trans_b"},
        {"m -1", 0, 0, -1, 3, 4, 4, 3, 3, 0, BAD, "m=-1"},
        {"n INT_MIN", 0, 0, 2, INT_MIN, 4, 4, 3, 3, 0, BAD, "n="},
        {"k -4", 0, 0, 2, 3, -4, 4, 3, 3, 0, BAD, "k=-4"},
        {"lda below k", 0, 0, 2, 3, 4, 3, 3, 3, 0, BAD, "lda=3"},
        {"lda below m (trans_a)", 1, 0, 2, 3, 4, 1, 3, 3, 0, BAD, "lda=1"},
        {"lda 0 with k 0", 0, 0, 2, 3, 0, 0, 3, 3, 0, BAD, "lda=0"},
        {"ldb below n", 0, 0, 2, 3, 4, 4, 2, 3, 0, BAD, "ldb=2"},
        {"ldb below k (trans_b)", 0, 1, 2, 3, 4, 4, 3, 3, 0, BAD, "ldb=3"},
        {"ldc below n", 0, 0, 2, 3, 4, 4, 3, 2, 0, BAD, "ldc=2"},
        {"ldc negative", 0, 0, 2, 3, 4, 4, 3, -3, 0, BAD, "ldc=-3"},
        {"a of 2^31 elements", 0, 0, 1 << 16, 3, 4, 1 << 15, 3, 3, 0, OVER, "2^31"},
        {"c of 2^31 elements", 0, 0, 1 << 16, 3, 4, 4, 3, 1 << 15, 0, OVER, "2^31"},
        {"a NULL", 0, 0, 2, 3, 4, 4, 3, 3, 1u, BLASCONV_ERR_NULL_POINTER, "a is NULL"},
        {"b NULL", 0, 0, 2, 3, 4, 4, 3, 3, 2u, BLASCONV_ERR_NULL_POINTER, "b is NULL"},
        {"c NULL", 0, 0, 2, 3, 4, 4, 3, 3, 4u, BLASCONV_ERR_NULL_POINTER, "c is NULL"},
        {"c NULL ahead of a bad trans_a", 7, 0, 2, 3, 4, 4, 3, 3, 4u, BLASCONV_ERR_NULL_POINTER,
         "c is NULL"},
        /* empty products: NULL operands are allowed and nothing is written */
        {"m 0, all NULL", 0, 0, 0, 3, 4, 4, 3, 3, 7u, BLASCONV_OK, NULL},
        {"m 0 and k 0, a and b NULL", 0, 0, 0, 3, 0, 1, 3, 3, 3u, BLASCONV_OK, NULL},
    };
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const sgemm_case *c = &rows[i];
        for (int with_ctx = 0; with_ctx < 2; with_ctx++) {
            arena_fill();
            const float *a = c->null_mask & 1u ? NULL : (const float *)arena[0];
            const float *b = c->null_mask & 2u ? NULL : (const float *)arena[1];
            float *cc = c->null_mask & 4u ? NULL : (float *)arena[2];
            blasconv_status got =
                blasconv_sgemm(with_ctx ? ctx : NULL, c->trans_a, c->trans_b, c->m, c->n, c->k,
                               1.0f, a, c->lda, b, c->ldb, 0.0f, cc, c->ldc);
            cases_tried++;
            ck_assert_msg(got == c->want, "sgemm %s: got %d want %d ('%s')", c->label, got,
                          c->want, blasconv_context_last_error(ctx));
            arena_assert_intact(c->label);
            if (with_ctx && c->field) {
                const char *msg = blasconv_context_last_error(ctx);
                ck_assert_msg(strncmp(msg, "sgemm", 5) == 0 && strstr(msg, c->field),
                              "sgemm %s: last error '%s' does not name '%s'", c->label, msg,
                              c->field);
            }
        }
    }
    blasconv_context_destroy(ctx);
}
END_TEST

START_TEST(every_bad_compare_argument)
{
    static const struct {
        const char *label;
        unsigned null_mask; /* bit 0: got, 1: want, 2: out */
        size_t n;
        double atol, rtol;
        blasconv_status want;
    } rows[] = {
        {"got NULL", 1u, 4, 0, 0, BLASCONV_ERR_NULL_POINTER},
        {"want NULL", 2u, 4, 0, 0, BLASCONV_ERR_NULL_POINTER},
        {"out NULL", 4u, 4, 0, 0, BLASCONV_ERR_NULL_POINTER},
        {"got NULL with n 0", 1u, 0, 0, 0, BLASCONV_ERR_NULL_POINTER},
        {"out NULL ahead of a NaN atol", 4u, 4, NAN, 0, BLASCONV_ERR_NULL_POINTER},
        {"atol -1", 0, 4, -1, 0, BAD},
        {"rtol -1e-300", 0, 4, 0, -1e-300, BAD},
        {"atol NaN", 0, 4, NAN, 0, BAD},
        {"rtol NaN", 0, 4, 0, NAN, BAD},
        {"atol -Inf", 0, 4, -INFINITY, 0, BAD},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        arena_fill();
        const float *got = rows[i].null_mask & 1u ? NULL : (const float *)arena[0];
        const float *want = rows[i].null_mask & 2u ? NULL : (const float *)arena[1];
        blasconv_compare_report *out =
            rows[i].null_mask & 4u ? NULL : (blasconv_compare_report *)arena[2];
        blasconv_status st =
            blasconv_compare(got, want, rows[i].n, rows[i].atol, rows[i].rtol, out);
        ck_assert_msg(st == rows[i].want, "compare %s: got %d want %d", rows[i].label, st,
                      rows[i].want);
        arena_assert_intact(rows[i].label); /* *out untouched */
        cases_tried++;
    }
}
END_TEST

START_TEST(every_bad_tolerance_argument)
{
    blasconv_conv2d empty = base, huge = base;
    empty.batch = 0;
    huge.in_height = huge.in_width = INT_MAX;
    static const double nan = NAN, inf = INFINITY;
    const struct {
        const char *label;
        const blasconv_conv2d *d;
        int pass, model;
        double max_abs;
        unsigned null_mask; /* bit 0: atol, 1: rtol */
        blasconv_status want;
    } rows[] = {
        {"descriptor NULL", NULL, 0, 0, 1, 0, BLASCONV_ERR_NULL_POINTER},
        {"atol NULL", &base, 0, 0, 1, 1u, BLASCONV_ERR_NULL_POINTER},
        {"rtol NULL", &base, 0, 0, 1, 2u, BLASCONV_ERR_NULL_POINTER},
        {"rtol NULL ahead of a bad descriptor", &empty, 0, 0, 1, 2u, BLASCONV_ERR_NULL_POINTER},
        {"batch 0", &empty, 0, 0, 1, 0, BAD},
        {"x of INT_MAX^2 elements", &huge, 0, 0, 1, 0, OVER},
        {"pass 4", &base, 4, 0, 1, 0, BAD},
        {"pass -1", &base, -1, 0, 1, 0, BAD},
        {"model 2", &base, 0, 2, 1, 0, BAD},
        {"model INT_MIN", &base, 0, INT_MIN, 1, 0, BAD},
        {"max_abs_input -1", &base, 0, 0, -1, 0, BAD},
        {"max_abs_input NaN", &base, 1, 0, nan, 0, BAD},
        {"max_abs_input +Inf", &base, 2, 1, inf, 0, BAD},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        arena_fill();
        double *atol = rows[i].null_mask & 1u ? NULL : (double *)arena[0];
        double *rtol = rows[i].null_mask & 2u ? NULL : (double *)arena[1];
        blasconv_status st = blasconv_conv2d_tolerance(
            rows[i].d, (blasconv_conv2d_pass)rows[i].pass, (blasconv_tolerance_model)rows[i].model,
            rows[i].max_abs, atol, rtol);
        ck_assert_msg(st == rows[i].want, "tolerance %s: got %d want %d", rows[i].label, st,
                      rows[i].want);
        arena_assert_intact(rows[i].label); /* atol and rtol untouched */
        cases_tried++;
    }
}
END_TEST

/* set_weights_constant takes any int (nonzero is on); only a NULL context is refused.
 * After toggling it, FAST forward still matches the oracle. */
START_TEST(weights_constant_arguments)
{
    ck_assert_int_eq(blasconv_context_set_weights_constant(NULL, 1), BLASCONV_ERR_NULL_POINTER);
    ck_assert_int_eq(blasconv_context_set_weights_constant(NULL, 0), BLASCONV_ERR_NULL_POINTER);
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    ck_assert_int_eq(blasconv_context_set_algorithm(ctx, BLASCONV_ALGO_FAST), BLASCONV_OK);
    const int values[] = {INT_MIN, -1, 2, INT_MAX, 0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        ck_assert_int_eq(blasconv_context_set_weights_constant(ctx, values[i]), BLASCONV_OK);
    ck_assert_str_eq(blasconv_context_last_error(ctx), "");
    assert_context_still_works(ctx, "after set_weights_constant");
    cases_tried += 2 + (long)(sizeof values / sizeof values[0]);
    blasconv_context_destroy(ctx);
}
END_TEST

/* --- pooling -------------------------------------------------------------- */

static const blasconv_pool2d pool_base = {.mode = BLASCONV_POOL_MAX,
                                          .batch = 2,
                                          .channels = 3,
                                          .in_height = 7,
                                          .in_width = 6,
                                          .window_height = 3,
                                          .window_width = 2,
                                          .pad_top = 1,
                                          .pad_left = 1};

#define P(field, v)                                                                               \
    {                                                                                             \
        offsetof(blasconv_pool2d, field), #field, (v)                                             \
    }

typedef struct pool_case {
    const char *label;
    field_value set[12];
    blasconv_status want;
    const char *message; /* a word the last error must contain; NULL: the first field */
} pool_case;

static const pool_case pool_table[] = {
    {"mode 2", {P(mode, 2)}, BAD, "mode=2"},
    {"mode -1", {P(mode, -1)}, BAD, "mode=-1"},
    {"layout 2", {P(layout, 2)}, BAD, "layout=2"},
    {"layout -1", {P(layout, -1)}, BAD, "layout=-1"},
    {"batch 0", {P(batch, 0)}, BAD, NULL},
    {"batch -1", {P(batch, -1)}, BAD, NULL},
    {"channels 0", {P(channels, 0)}, BAD, NULL},
    {"channels INT_MIN", {P(channels, INT_MIN)}, BAD, NULL},
    {"in_height 0", {P(in_height, 0)}, BAD, NULL},
    {"in_width -1", {P(in_width, -1)}, BAD, NULL},
    {"window_height 0", {P(window_height, 0)}, BAD, NULL},
    {"window_width -2", {P(window_width, -2)}, BAD, NULL},
    {"stride_height -1", {P(stride_height, -1)}, BAD, NULL},
    {"stride_width INT_MIN", {P(stride_width, INT_MIN)}, BAD, NULL},
    {"pad_top -1", {P(pad_top, -1)}, BAD, NULL},
    {"pad_bottom -1", {P(pad_bottom, -1)}, BAD, NULL},
    {"pad_left -1", {P(pad_left, -1)}, BAD, NULL},
    {"pad_right INT_MIN", {P(pad_right, INT_MIN)}, BAD, NULL},
    {"dilation_height -1", {P(dilation_height, -1)}, BAD, NULL},
    {"dilation_width -1", {P(dilation_width, -1)}, BAD, NULL},
    /* pads over half the window (window 3x2: at most 1 on every side) */
    {"pad_top over half the window", {P(pad_top, 2)}, BAD, "pad_top=2"},
    {"pad_bottom over half the window", {P(pad_bottom, 2)}, BAD, "pad_bottom=2"},
    {"pad_left over half the window", {P(pad_left, 2)}, BAD, "pad_left=2"},
    {"pad_right over half the window", {P(pad_right, 2)}, BAD, "pad_right=2"},
    {"pad over half a dilated window", {P(pad_top, 2), P(dilation_height, 3)}, BAD, "pad_top=2"},
    {"pad INT_MAX", {P(pad_bottom, INT_MAX)}, BAD, "pad_bottom"},
    /* AVG accepts only dilation 1 */
    {"avg with dilation_height 2",
     {P(mode, BLASCONV_POOL_AVG), P(dilation_height, 2)},
     BAD,
     "dilation"},
    {"avg with dilation_width 3",
     {P(mode, BLASCONV_POOL_AVG), P(dilation_width, 3)},
     BAD,
     "dilation"},
    /* empty output, huge values, 2^31 elements */
    {"window past the padded input", {P(window_height, 10)}, BAD, "output height"},
    {"window INT_MAX", {P(window_width, INT_MAX), P(pad_left, 0)}, BAD, "output width"},
    {"dilated window past the input", {P(dilation_width, 7), P(pad_left, 0)}, BAD, "output width"},
    {"x of 2^31 elements",
     {P(batch, 1), P(channels, 2), P(in_height, 32768), P(in_width, 32768)},
     OVER,
     "input"},
    {"x of INT_MAX^2 elements", {P(in_height, INT_MAX), P(in_width, INT_MAX)}, OVER, "input"},
    {"every size INT_MAX",
     {P(batch, INT_MAX), P(channels, INT_MAX), P(in_height, INT_MAX), P(in_width, INT_MAX)},
     OVER,
     "input"},
};

enum pool_entry {
    POOL_OUTPUT_SIZE,
    POOL_FORWARD,
    POOL_BACKWARD,
    REF_POOL_FORWARD,
    REF_POOL_BACKWARD,
    POOL_ENTRIES
};

static const entry_info pool_entries[POOL_ENTRIES] = {
    [POOL_OUTPUT_SIZE] = {"pool2d_output_size", 2, {"out_height", "out_width"}, 0, 0},
    [POOL_FORWARD] = {"pool2d_forward", 2, {"x", "y"}, 0, 1},
    [POOL_BACKWARD] = {"pool2d_backward", 3, {"x", "dy", "dx"}, 0, 1},
    [REF_POOL_FORWARD] = {"reference_pool2d_forward", 2, {"x", "y"}, 0, 1},
    [REF_POOL_BACKWARD] = {"reference_pool2d_backward", 3, {"x", "dy", "dx"}, 0, 1},
};

static blasconv_status pool_call(enum pool_entry e, blasconv_context *ctx,
                                 const blasconv_pool2d *d, void *const p[SLOTS])
{
    switch (e) {
    case POOL_OUTPUT_SIZE: return blasconv_pool2d_output_size(d, p[0], p[1]);
    case POOL_FORWARD: return blasconv_pool2d_forward(ctx, d, p[0], p[1]);
    case POOL_BACKWARD: return blasconv_pool2d_backward(ctx, d, p[0], p[1], p[2]);
    case REF_POOL_FORWARD: return blasconv_reference_pool2d_forward(ctx, d, p[0], p[1]);
    case REF_POOL_BACKWARD: return blasconv_reference_pool2d_backward(ctx, d, p[0], p[1], p[2]);
    case POOL_ENTRIES: break;
    }
    abort();
}

/* As expect_conv_call: with ctx and ctx NULL, the arena untouched, and (with a
 * context) a last error that starts with the function and names `field`. */
static void expect_pool_call(enum pool_entry e, const blasconv_pool2d *d, unsigned null_mask,
                             blasconv_status want, const char *field, const char *label)
{
    const entry_info *info = &pool_entries[e];
    void *p[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        p[i] = (null_mask >> i) & 1u ? NULL : arena[i];
    blasconv_context *ctx;
    ck_assert_int_eq(blasconv_context_create(&ctx), BLASCONV_OK);
    for (int with_ctx = 0; with_ctx <= info->takes_ctx; with_ctx++) {
        arena_fill();
        blasconv_status got = pool_call(e, with_ctx ? ctx : NULL, d, p);
        cases_tried++;
        ck_assert_msg(got == want, "%s: %s%s returned %d, want %d; last error '%s'", label,
                      info->name, with_ctx ? "" : " (ctx NULL)", (int)got, (int)want,
                      blasconv_context_last_error(ctx));
        arena_assert_intact(label);
        if (with_ctx && want != BLASCONV_OK) {
            const char *msg = blasconv_context_last_error(ctx);
            ck_assert_msg(strncmp(msg, info->name, strlen(info->name)) == 0,
                          "%s: last error '%s' does not start with %s", label, msg, info->name);
            ck_assert_msg(!field || strstr(msg, field), "%s: last error '%s' does not name '%s'",
                          label, msg, field);
        }
    }
    blasconv_context_destroy(ctx);
}

START_TEST(every_bad_pool_input)
{
    for (size_t i = 0; i < sizeof pool_table / sizeof pool_table[0]; i++) {
        const pool_case *c = &pool_table[i];
        blasconv_pool2d d = pool_base;
        for (int f = 0; c->set[f].name; f++)
            memcpy((char *)&d + c->set[f].offset, &c->set[f].value, sizeof(int));
        for (int e = 0; e < POOL_ENTRIES; e++)
            expect_pool_call((enum pool_entry)e, &d, 0, c->want,
                             c->message ? c->message : c->set[0].name, c->label);
    }
    /* NULL: the descriptor, then each pointer, ahead of a bad descriptor too. */
    blasconv_pool2d bad = pool_base;
    bad.window_height = -1;
    const blasconv_pool2d *descriptors[2] = {&pool_base, &bad};
    for (int e = 0; e < POOL_ENTRIES; e++) {
        const entry_info *info = &pool_entries[e];
        expect_pool_call((enum pool_entry)e, NULL, 0, BLASCONV_ERR_NULL_POINTER,
                         info->takes_ctx ? "descriptor" : NULL, "NULL pool descriptor");
        for (int di = 0; di < 2; di++)
            for (int i = 0; i < info->pointers; i++) {
                char label[96];
                snprintf(label, sizeof label, "pool %s NULL (%s descriptor)",
                         info->pointer_names[i], di ? "bad" : "valid");
                expect_pool_call((enum pool_entry)e, descriptors[di], 1u << i,
                                 BLASCONV_ERR_NULL_POINTER,
                                 info->takes_ctx ? info->pointer_names[i] : NULL, label);
            }
    }
}
END_TEST

/* Strides of INT_MAX are valid (one output per axis): the window geometry must not
 * overflow int (fuzz_pool found pad_left + stride_width - 1 overflowing in NCHW's
 * interior-column count). Every mode and layout against the oracle. */
START_TEST(pool_stride_int_max_is_valid)
{
    float x[2 * 3 * 4], dy[2 * 3], y[2 * 3], want_y[2 * 3], dx[2 * 3 * 4], want_dx[2 * 3 * 4];
    test_rng r = test_rng_seeded(99);
    for (int i = 0; i < 24; i++)
        x[i] = test_rng_float(&r);
    for (int i = 0; i < 6; i++)
        dy[i] = test_rng_float(&r);
    for (int variant = 0; variant < 8; variant++) {
        blasconv_pool2d d = {.mode = variant & 1 ? BLASCONV_POOL_AVG : BLASCONV_POOL_MAX,
                             .batch = 2,
                             .channels = 3,
                             .in_height = 2,
                             .in_width = 2,
                             .window_height = 2,
                             .window_width = 3,
                             .stride_height = INT_MAX,
                             .stride_width = INT_MAX,
                             .pad_top = 1,
                             .pad_left = 1,
                             .pad_right = variant & 4 ? 1 : 0,
                             .ceil_mode = 1,
                             .exclude_pad = variant & 1,
                             .layout = variant & 2 ? BLASCONV_NHWC : BLASCONV_NCHW};
        int oh = 0, ow = 0;
        ck_assert_int_eq(blasconv_pool2d_output_size(&d, &oh, &ow), BLASCONV_OK);
        ck_assert(oh == 1 && ow == 1);
        test_poison(y, 6), test_poison(want_y, 6), test_poison(dx, 24), test_poison(want_dx, 24);
        ck_assert_int_eq(blasconv_pool2d_forward(NULL, &d, x, y), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_pool2d_forward(NULL, &d, x, want_y), BLASCONV_OK);
        test_assert_close(y, want_y, 6, 1e-6, 1e-6, "pool forward, stride INT_MAX");
        ck_assert_int_eq(blasconv_pool2d_backward(NULL, &d, x, dy, dx), BLASCONV_OK);
        ck_assert_int_eq(blasconv_reference_pool2d_backward(NULL, &d, x, dy, want_dx),
                         BLASCONV_OK);
        test_assert_close(dx, want_dx, 24, 1e-6, 1e-6, "pool backward, stride INT_MAX");
        cases_tried += 3;
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bad_inputs");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_bad_descriptor_field);
    tcase_add_test(tc, just_inside_the_limits_is_valid);
    tcase_add_test(tc, every_null_pointer);
    tcase_add_test(tc, every_bad_corr2d_size);
    tcase_add_test(tc, every_workspace_below_the_minimum);
    tcase_add_test(tc, every_bad_context_setting);
    tcase_add_test(tc, the_message_names_field_and_value);
    tcase_add_test(tc, status_strings_and_version);
    tcase_add_test(tc, every_bad_pool_input);
    tcase_add_test(tc, every_bad_sgemm_argument);
    tcase_add_test(tc, every_bad_compare_argument);
    tcase_add_test(tc, every_bad_tolerance_argument);
    tcase_add_test(tc, weights_constant_arguments);
    tcase_add_test(tc, pool_stride_int_max_is_valid);
    suite_add_tcase(s, tc);
    SRunner *runner = srunner_create(s);
    srunner_set_fork_status(runner, CK_NOFORK); /* one process, so one counter */
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    printf("bad_inputs: %ld bad-input cases tried, %d failed tests\n", cases_tried, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
