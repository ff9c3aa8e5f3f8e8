/* The only file that calls a BLAS: the linked cblas_sgemm, a context's own
 * sgemm, and the loading of a BLAS by path. */
#include "internal.h"

#include <dlfcn.h>
#include <pthread.h>

/* The linked BLAS's CBLAS entry point, declared here with int enums (same ABI as
 * every cblas.h) so the build needs no vendor header. */
extern void cblas_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc);

/* Thread controls exist only in some vendors: weak, so any BLAS links. */
extern void openblas_set_num_threads(int) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));

static blasconv_sgemm_fn context_sgemm(const blasconv_context *ctx)
{
    if (ctx->user_sgemm)
        return ctx->user_sgemm;
    if (ctx->loaded_sgemm)
        return ctx->loaded_sgemm;
    return cblas_sgemm;
}

void bc_sgemm(const blasconv_context *ctx, int trans_a, int trans_b, int m, int n, int k,
              float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
              int ldc)
{
    context_sgemm(ctx)(CBLAS_ROW_MAJOR, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                       c, ldc);
}

static int default_blas_threads;
static pthread_once_t default_blas_threads_once = PTHREAD_ONCE_INIT;

static void read_default_blas_threads(void)
{
    default_blas_threads = openblas_get_num_threads ? openblas_get_num_threads() : 0;
}

void bc_blas_apply_threads(const blasconv_context *ctx)
{
    /* OpenBLAS's thread count is process-wide: set it to what this context asks
     * for (0 = what the BLAS chose at start-up) before its GEMMs run. */
    if (ctx->user_sgemm || ctx->loaded_sgemm || !openblas_set_num_threads ||
        !openblas_get_num_threads)
        return;
    pthread_once(&default_blas_threads_once, read_default_blas_threads);
    int want = ctx->threads ? ctx->threads : default_blas_threads;
    if (want > 0 && openblas_get_num_threads() != want)
        openblas_set_num_threads(want);
}

blasconv_status bc_blas_open(const char *path, void **handle, blasconv_sgemm_fn *sgemm)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return BLASCONV_ERR_BLAS;
    void *sym = dlsym(h, "cblas_sgemm");
    if (!sym) {
        dlclose(h);
        return BLASCONV_ERR_BLAS;
    }
    *handle = h;
    *sgemm = (blasconv_sgemm_fn)sym;
    return BLASCONV_OK;
}

void bc_blas_close(void *handle)
{
    if (handle)
        dlclose(handle);
}
