/* Status strings, the version, and the per-context last-error sentence. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

#define STR2(x) #x
#define STR(x) STR2(x)

const char *blasconv_status_string(blasconv_status status)
{
    switch (status) {
    case BLASCONV_OK: return "success";
    case BLASCONV_ERR_NULL_POINTER: return "a required pointer argument is NULL";
    case BLASCONV_ERR_BAD_SHAPE:
        return "a size, stride, pad, dilation, group count or mode is invalid, or the output "
               "would be empty";
    case BLASCONV_ERR_OVERFLOW: return "a tensor or buffer size does not fit the index types";
    case BLASCONV_ERR_NO_MEMORY: return "an allocation failed";
    case BLASCONV_ERR_WORKSPACE:
        return "the workspace limit or the user's buffer is smaller than the minimum this call "
               "needs";
    case BLASCONV_ERR_BLAS: return "a BLAS library could not be loaded or lacks cblas_sgemm";
    case BLASCONV_ERR_UNSUPPORTED: return "valid, but not implemented in this version";
    }
    return "unknown status";
}

const char *blasconv_version(void)
{
    return STR(BLASCONV_VERSION_MAJOR) "." STR(BLASCONV_VERSION_MINOR) "." STR(
        BLASCONV_VERSION_PATCH);
}

const char *blasconv_context_last_error(const blasconv_context *ctx)
{
    return ctx ? ctx->last_error : "";
}

blasconv_status bc_fail(blasconv_context *ctx, blasconv_status st, const char *fn, const char *fmt,
                        ...)
{
    if (!ctx)
        return st;
    int used = snprintf(ctx->last_error, sizeof ctx->last_error, "%s: ", fn);
    if (used < 0 || (size_t)used >= sizeof ctx->last_error)
        return st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error + used, sizeof ctx->last_error - (size_t)used, fmt, ap);
    va_end(ap);
    return st;
}

void bc_clear_error(blasconv_context *ctx)
{
    if (ctx)
        ctx->last_error[0] = '\0';
}
