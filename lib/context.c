/* The context: scratch arena, workspace limit or caller buffer, threads, BLAS choice. */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_ALIGNMENT 64

static void context_defaults(blasconv_context *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->algorithm = BLASCONV_ALGO_GEMM;
}

blasconv_status blasconv_context_create(blasconv_context **out)
{
    if (!out)
        return BLASCONV_ERR_NULL_POINTER;
    blasconv_context *ctx = malloc(sizeof *ctx);
    if (!ctx)
        return BLASCONV_ERR_NO_MEMORY;
    context_defaults(ctx);
    *out = ctx;
    return BLASCONV_OK;
}

void blasconv_context_destroy(blasconv_context *ctx)
{
    if (!ctx)
        return;
    free(ctx->scratch);
    bc_winograd_cache_clear(ctx);
    bc_blas_release(ctx->loaded_blas);
    free(ctx);
}

blasconv_status blasconv_context_set_sgemm(blasconv_context *ctx, blasconv_sgemm_fn fn)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    ctx->user_sgemm = fn;
    ctx->user_sgemm_concurrent = 0; /* a promise about the previous function */
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_set_sgemm_concurrent(blasconv_context *ctx, int concurrent)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    ctx->user_sgemm_concurrent = concurrent != 0;
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_load_blas(blasconv_context *ctx, const char *library_path)
{
    if (!ctx || !library_path)
        return ctx ? bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, "context_load_blas",
                             "library_path is NULL")
                   : BLASCONV_ERR_NULL_POINTER;
    struct bc_blas *blas = NULL;
    char why[160];
    blasconv_status st = bc_blas_acquire(library_path, &blas, why, sizeof why);
    if (st != BLASCONV_OK)
        return bc_fail(ctx, st, "context_load_blas", "library_path='%s' %s", library_path, why);
    bc_blas_release(ctx->loaded_blas);
    ctx->loaded_blas = blas;
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_set_workspace_limit(blasconv_context *ctx, size_t bytes)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    ctx->workspace_limit = bytes;
    /* Give back what the new limit no longer allows this context to hold. */
    if (bytes && ctx->scratch_bytes > bytes) {
        free(ctx->scratch);
        ctx->scratch = NULL;
        ctx->scratch_bytes = 0;
    }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_set_workspace(blasconv_context *ctx, void *buffer, size_t bytes)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    if (!buffer && bytes > 0)
        return bc_fail(ctx, BLASCONV_ERR_NULL_POINTER, "context_set_workspace",
                       "buffer is NULL with bytes=%zu", bytes);
    if (!buffer) {
        ctx->has_user_workspace = 0;
        ctx->user_workspace = NULL;
        ctx->user_workspace_bytes = 0;
    } else {
        ctx->has_user_workspace = 1;
        ctx->user_workspace = buffer;
        ctx->user_workspace_bytes = bytes;
        /* The library's own scratch will not be used again: release it. */
        free(ctx->scratch);
        ctx->scratch = NULL;
        ctx->scratch_bytes = 0;
    }
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_set_threads(blasconv_context *ctx, int threads)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    if (threads < 0)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, "context_set_threads",
                       "threads=%d is negative", threads);
    ctx->threads = threads;
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_set_algorithm(blasconv_context *ctx, blasconv_algorithm algorithm)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    if (algorithm != BLASCONV_ALGO_GEMM && algorithm != BLASCONV_ALGO_FAST)
        return bc_fail(ctx, BLASCONV_ERR_BAD_SHAPE, "context_set_algorithm",
                       "algorithm=%d is not a blasconv_algorithm", (int)algorithm);
    ctx->algorithm = algorithm;
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_status blasconv_context_set_weights_constant(blasconv_context *ctx, int constant)
{
    if (!ctx)
        return BLASCONV_ERR_NULL_POINTER;
    ctx->weights_constant = constant != 0;
    bc_winograd_cache_clear(ctx); /* on and off alike: start from an empty cache */
    bc_clear_error(ctx);
    return BLASCONV_OK;
}

blasconv_context *bc_call_begin(blasconv_context *ctx, blasconv_context *tmp)
{
    if (ctx)
        return ctx;
    context_defaults(tmp);
    return tmp;
}

void bc_call_end(blasconv_context *ctx, blasconv_context *tmp)
{
    if (ctx == tmp)
        free(tmp->scratch);
}

/* Offset that makes the caller's buffer float-aligned. */
static size_t user_workspace_skew(const blasconv_context *ctx)
{
    uintptr_t misalign = (uintptr_t)ctx->user_workspace % sizeof(float);
    return misalign ? sizeof(float) - misalign : 0;
}

size_t bc_scratch_capacity(const blasconv_context *ctx)
{
    if (ctx->has_user_workspace) {
        size_t skew = user_workspace_skew(ctx);
        return ctx->user_workspace_bytes > skew ? ctx->user_workspace_bytes - skew : 0;
    }
    return ctx->workspace_limit ? ctx->workspace_limit : SIZE_MAX;
}

float *bc_scratch(blasconv_context *ctx, size_t bytes)
{
    if (bytes > bc_scratch_capacity(ctx)) /* a plan past the limit: fail, never overrun */
        return NULL;
    if (ctx->has_user_workspace)
        return (float *)((char *)ctx->user_workspace + user_workspace_skew(ctx));
    if (ctx->scratch_bytes >= bytes && ctx->scratch)
        return ctx->scratch;
    free(ctx->scratch);
    ctx->scratch_bytes = 0;
    size_t rounded = (bytes + SCRATCH_ALIGNMENT - 1) / SCRATCH_ALIGNMENT * SCRATCH_ALIGNMENT;
    ctx->scratch = rounded ? aligned_alloc(SCRATCH_ALIGNMENT, rounded) : NULL;
    if (!ctx->scratch)
        return NULL;
    ctx->scratch_bytes = rounded;
    return ctx->scratch;
}
