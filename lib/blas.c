/* The only file that calls a BLAS or dlopen: the linked cblas_sgemm, the libraries loaded
 * by path, and the choice of their kernels.
 *
 * Every library loaded by path lives in its own link-map namespace (dlmopen): Debian
 * names every vendor libblas.so.3, and in the program's namespace a second library of the
 * same SONAME would be the first one again, and a loaded library's internal sgemm_ calls
 * could bind to the linked BLAS. A namespace also has its own copy of libc and with it its
 * own environment, which is how a library is given OPENBLAS_CORETYPE or BLIS_ARCH_TYPE at
 * load time without touching the process's environment. glibc allows only about a dozen
 * namespaces per process, so one namespace per library file is shared by every context
 * that loads it (a refcounted registry). */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <gnu/lib-names.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The linked BLAS's CBLAS entry point, declared here with int enums (same ABI as
 * every cblas.h) so the build needs no vendor header. */
extern void cblas_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc);

#define BLAS_INFO_CAPACITY 512
#define KERNEL_NAME_CAPACITY 48

/* A BLAS the library can call: the linked one, or one loaded by path. */
struct bc_blas {
    blasconv_sgemm_fn sgemm;
    /* Thread controls, where the vendor exports them (OpenBLAS, BLIS's own API). */
    void (*openblas_set_threads)(int);
    int (*openblas_get_threads)(void);
    void (*blis_set_threads)(int64_t);
    int64_t (*blis_get_threads)(void);
    int default_threads; /* what "0 = all" means for this library; 0 = leave it */
    int small_kernels;   /* runs GEMMs under 100^3 unpacked (gemm_small_blocks.c) */
    void *lib;           /* dlmopen handles; NULL for the linked library */
    void *libc;          /* the namespace's libc, loaded first */
    char *key;           /* registry key: the resolved path */
    int refs;
    struct bc_blas *next;
    char info[BLAS_INFO_CAPACITY];
};

/* --- kernels: what the CPU can run and what a library chose ------------- */

/* 3: AVX-512 (F, BW, DQ, VL), 2: AVX2 + FMA, 1: AVX, 0: SSE. */
static int cpu_tier(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 2;
    return __builtin_cpu_supports("avx") ? 1 : 0;
}

typedef struct kernel_family {
    const char *name;
    int tier;
} kernel_family;

static int kernel_tier(const kernel_family *table, const char *name)
{
    for (; table->name; table++)
        if (strcasecmp(table->name, name) == 0)
            return table->tier;
    return 0;
}

/* OpenBLAS core names (openblas_get_corename) by instruction set; unknown = SSE. */
static const kernel_family openblas_cores[] = {
    {"skylakex", 3},    {"cooperlake", 3}, {"sapphirerapids", 3},
    {"haswell", 2},     {"zen", 2},        {"excavator", 2},
    {"sandybridge", 1}, {"bulldozer", 1},  {"piledriver", 1},
    {"steamroller", 1}, {NULL, 0}};
static const char *const openblas_best_core[4] = {NULL, "Sandybridge", "Haswell", "SkylakeX"};

/* BLIS 0.9 sub-configurations (bli_arch_string) and the arch_t ids BLIS_ARCH_TYPE takes. */
static const kernel_family blis_archs[] = {
    {"skx", 3},         {"knl", 3},        {"haswell", 2},     {"zen", 2},
    {"zen2", 2},        {"zen3", 2},       {"sandybridge", 1}, {"excavator", 1},
    {"steamroller", 1}, {"piledriver", 1}, {"bulldozer", 1},   {NULL, 0}};
static const char *const blis_best_arch[4] = {NULL, "sandybridge", "haswell", "skx"};
static const char *const blis_best_arch_id[4] = {NULL, "4", "3", "0"};

enum blas_vendor {
    VENDOR_UNKNOWN,
    VENDOR_OPENBLAS,
    VENDOR_BLIS,
    VENDOR_ATLAS,
    VENDOR_NETLIB
};

/* What a library says about itself, read through symbols only that vendor exports. */
typedef struct vendor_probe {
    enum blas_vendor vendor;
    char name[64];                      /* "OpenBLAS 0.3.21" */
    char kernels[KERNEL_NAME_CAPACITY]; /* "" when the library cannot say */
    int tier;                           /* of kernels; -1 when unknown */
} vendor_probe;

static void *symbol(void *handle, const char *name)
{
    return dlsym(handle, name);
}

static void probe_vendor(void *handle, vendor_probe *p)
{
    memset(p, 0, sizeof *p);
    p->tier = -1;
    char *(*openblas_config)(void) = (char *(*)(void))symbol(handle, "openblas_get_config");
    char *(*openblas_core)(void) = (char *(*)(void))symbol(handle, "openblas_get_corename");
    const char *(*blis_version)(void) =
        (const char *(*)(void))symbol(handle, "bli_info_get_version_str");
    int (*blis_arch_id)(void) = (int (*)(void))symbol(handle, "bli_arch_query_id");
    const char *(*blis_arch_name)(int) = (const char *(*)(int))symbol(handle, "bli_arch_string");
    if (openblas_config) {
        /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ...": keep the first two words. */
        const char *config = openblas_config();
        size_t words = strcspn(config, " ");
        words += config[words] ? 1 + strcspn(config + words + 1, " ") : 0;
        snprintf(p->name, sizeof p->name, "%.*s", (int)words, config);
        p->vendor = VENDOR_OPENBLAS;
        if (openblas_core) {
            snprintf(p->kernels, sizeof p->kernels, "%s", openblas_core());
            p->tier = kernel_tier(openblas_cores, p->kernels);
        }
    } else if (blis_version || symbol(handle, "cblas_sgemm_batch")) {
        /* Debian's BLIS libblas.so.3 exports the BLAS only (cblas_sgemm_batch is
         * BLIS's); libblis.so also answers version and kernel questions. */
        p->vendor = VENDOR_BLIS;
        snprintf(p->name, sizeof p->name, "BLIS%s%s", blis_version ? " " : "",
                 blis_version ? blis_version() : "");
        if (blis_arch_id && blis_arch_name) {
            snprintf(p->kernels, sizeof p->kernels, "%s", blis_arch_name(blis_arch_id()));
            p->tier = kernel_tier(blis_archs, p->kernels);
        }
    } else if (symbol(handle, "ATL_buildinfo") || symbol(handle, "catlas_saxpby")) {
        p->vendor = VENDOR_ATLAS;
        snprintf(p->name, sizeof p->name, "ATLAS");
        snprintf(p->kernels, sizeof p->kernels, "tuned when built");
    } else if (symbol(handle, "CBLAS_CallFromC") || symbol(handle, "cblas_scabs1")) {
        p->vendor = VENDOR_NETLIB;
        snprintf(p->name, sizeof p->name, "reference BLAS (netlib)");
        snprintf(p->kernels, sizeof p->kernels, "plain Fortran loops");
    } else {
        snprintf(p->name, sizeof p->name, "unknown BLAS");
    }
}

/* A variable to set while a library loads so that it runs the CPU's best kernels. */
typedef struct kernel_override {
    const char *var;
    const char *value;
    const char *kernels; /* what the value selects */
} kernel_override;

/* Nonzero when the library's own choice is worse than what the CPU runs and the user
 * has not chosen: OpenBLAS reads OPENBLAS_CORETYPE when it loads, BLIS reads
 * BLIS_ARCH_TYPE at its first call; both only ever in the loading namespace. */
static int choose_override(const vendor_probe *p, kernel_override *o)
{
    int cpu = cpu_tier();
    if (p->vendor == VENDOR_OPENBLAS && !getenv("OPENBLAS_CORETYPE") && p->tier >= 0 &&
        p->tier < cpu) {
        *o = (kernel_override){"OPENBLAS_CORETYPE", openblas_best_core[cpu],
                               openblas_best_core[cpu]};
        return 1;
    }
    /* BLIS's BLAS-only library cannot be asked (tier -1): only AVX-512 is worth forcing,
     * since BLIS 0.9 falls back to haswell on CPUs it does not know. */
    if (p->vendor == VENDOR_BLIS && !getenv("BLIS_ARCH_TYPE") && cpu > 0 &&
        (p->tier >= 0 ? p->tier < cpu : cpu == 3)) {
        *o = (kernel_override){"BLIS_ARCH_TYPE", blis_best_arch_id[cpu], blis_best_arch[cpu]};
        return 1;
    }
    return 0;
}

/* --- namespaces ----------------------------------------------------------- */

/* Loads path into a new namespace, with var=value in that namespace's environment when
 * var is not NULL. On failure, says why in err and leaves nothing loaded. */
static int open_in_namespace(const char *path, const char *var, const char *value, void **lib,
                             void **libc, char *err, size_t err_bytes)
{
    void *ns_libc = dlmopen(LM_ID_NEWLM, LIBC_SO, RTLD_NOW | RTLD_LOCAL);
    if (!ns_libc) {
        snprintf(err, err_bytes, "cannot create a link-map namespace (%s)", dlerror());
        return -1;
    }
    Lmid_t ns;
    int (*ns_setenv)(const char *, const char *, int) =
        (int (*)(const char *, const char *, int))dlsym(ns_libc, "setenv");
    if (dlinfo(ns_libc, RTLD_DI_LMID, &ns) != 0 || !ns_setenv ||
        (var && ns_setenv(var, value, 1) != 0)) {
        snprintf(err, err_bytes, "cannot prepare a link-map namespace");
        dlclose(ns_libc);
        return -1;
    }
    void *handle = dlmopen(ns, path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(err, err_bytes, "cannot be loaded (%s)", dlerror());
        dlclose(ns_libc);
        return -1;
    }
    if (!dlsym(handle, "cblas_sgemm")) {
        snprintf(err, err_bytes, "has no cblas_sgemm");
        dlclose(handle);
        dlclose(ns_libc);
        return -1;
    }
    *lib = handle;
    *libc = ns_libc;
    return 0;
}

static void close_namespace(void *lib, void *libc)
{
    if (lib)
        dlclose(lib);
    if (libc)
        dlclose(libc);
}

/* Thread controls and the meaning of "all threads" for the library behind handle. */
static void bind_thread_controls(struct bc_blas *b, void *handle)
{
    b->openblas_set_threads = (void (*)(int))symbol(handle, "openblas_set_num_threads");
    b->openblas_get_threads = (int (*)(void))symbol(handle, "openblas_get_num_threads");
    b->blis_set_threads = (void (*)(int64_t))symbol(handle, "bli_thread_set_num_threads");
    b->blis_get_threads = (int64_t(*)(void))symbol(handle, "bli_thread_get_num_threads");
    if (!b->openblas_set_threads || !b->openblas_get_threads)
        b->openblas_set_threads = NULL, b->openblas_get_threads = NULL;
    if (!b->blis_set_threads || !b->blis_get_threads)
        b->blis_set_threads = NULL, b->blis_get_threads = NULL;
    /* What the library chose from its environment when it loaded (OpenBLAS: all cores;
     * BLIS: one thread unless BLIS_NUM_THREADS says more). */
    if (b->openblas_get_threads)
        b->default_threads = b->openblas_get_threads();
    else if (b->blis_get_threads)
        b->default_threads = b->blis_get_threads() > 1 ? (int)b->blis_get_threads() : 1;
}

/* OpenBLAS's small-matrix kernels for the SkylakeX family, in the release they were
 * measured with (0.3.21) and later ones. */
static int has_small_kernels(const vendor_probe *p)
{
    int major = 0, minor = 0, patch = 0;
    return p->vendor == VENDOR_OPENBLAS && p->tier == 3 &&
           sscanf(p->name, "OpenBLAS %d.%d.%d", &major, &minor, &patch) == 3 &&
           (major > 0 || minor > 3 || (minor == 3 && patch >= 21));
}

/* The description of b and what its kernels allow, from the probe of its kernels. */
static void describe(struct bc_blas *b, const vendor_probe *p, const char *origin,
                     const kernel_override *forced, const vendor_probe *auto_detected)
{
    b->small_kernels = has_small_kernels(p);
    const char *kernels = p->kernels[0] ? p->kernels : forced ? forced->kernels : "";
    char note[160] = "";
    if (forced && auto_detected->kernels[0])
        snprintf(note, sizeof note, "; its auto-detection chose %s", auto_detected->kernels);
    else if (forced)
        snprintf(note, sizeof note, "; %s=%s set while loading", forced->var, forced->value);
    snprintf(b->info, sizeof b->info, "%s%s%s (%s%s)", p->name, kernels[0] ? " " : "", kernels,
             origin, note);
}

/* --- the linked library, or its private copy with better kernels -------- */

static struct bc_blas linked_blas;
static struct bc_blas private_blas;
static const struct bc_blas *default_blas = &linked_blas;
static pthread_once_t default_blas_once = PTHREAD_ONCE_INIT;

static void init_default_blas(void)
{
    linked_blas.sgemm = cblas_sgemm;
    bind_thread_controls(&linked_blas, RTLD_DEFAULT);
    vendor_probe linked;
    probe_vendor(RTLD_DEFAULT, &linked);
    describe(&linked_blas, &linked, "linked", NULL, NULL);

    kernel_override forced;
    Dl_info where;
    void *linked_sgemm = dlsym(RTLD_DEFAULT, "cblas_sgemm");
    if (!choose_override(&linked, &forced) || !linked_sgemm || !dladdr(linked_sgemm, &where) ||
        !where.dli_fname || !where.dli_fname[0])
        return;
    char err[256];
    if (open_in_namespace(where.dli_fname, forced.var, forced.value, &private_blas.lib,
                          &private_blas.libc, err, sizeof err) != 0) {
        snprintf(linked_blas.info + strlen(linked_blas.info) - 1,
                 sizeof linked_blas.info - strlen(linked_blas.info) + 1,
                 "; a copy with %s kernels failed: %s)", forced.kernels, err);
        return;
    }
    private_blas.sgemm = (blasconv_sgemm_fn)dlsym(private_blas.lib, "cblas_sgemm");
    bind_thread_controls(&private_blas, private_blas.lib);
    vendor_probe chosen;
    probe_vendor(private_blas.lib, &chosen);
    describe(&private_blas, &chosen, "private copy of the linked library", &forced, &linked);
    default_blas = &private_blas;
}

static const struct bc_blas *linked_or_private(void)
{
    pthread_once(&default_blas_once, init_default_blas);
    return default_blas;
}

/* --- libraries loaded by path: a refcounted registry ---------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bc_blas *registry;

static struct bc_blas *load_by_path(const char *key, const char *path, char *err, size_t err_bytes)
{
    void *lib, *libc;
    if (open_in_namespace(key, NULL, NULL, &lib, &libc, err, err_bytes) != 0)
        return NULL;
    vendor_probe loaded, chosen;
    probe_vendor(lib, &loaded);
    chosen = loaded;
    kernel_override forced;
    int is_forced = choose_override(&loaded, &forced);
    if (is_forced) {
        /* The kernels are chosen while loading: load again with the variable set. The
         * probe goes first: glibc reclaims a namespace's static TLS only from the top. */
        close_namespace(lib, libc);
        if (open_in_namespace(key, forced.var, forced.value, &lib, &libc, err, err_bytes) == 0) {
            probe_vendor(lib, &chosen);
        } else {
            is_forced = 0;
            if (open_in_namespace(key, NULL, NULL, &lib, &libc, err, err_bytes) != 0)
                return NULL;
        }
    }
    struct bc_blas *b = calloc(1, sizeof *b);
    char *key_copy = strdup(key);
    if (!b || !key_copy) {
        free(b);
        free(key_copy);
        close_namespace(lib, libc);
        snprintf(err, err_bytes, "is out of memory");
        return NULL;
    }
    b->sgemm = (blasconv_sgemm_fn)dlsym(lib, "cblas_sgemm");
    b->lib = lib;
    b->libc = libc;
    b->key = key_copy;
    bind_thread_controls(b, lib);
    char origin[PATH_MAX + 16];
    snprintf(origin, sizeof origin, "loaded from %s", path);
    describe(b, &chosen, origin, is_forced ? &forced : NULL, &loaded);
    return b;
}

blasconv_status bc_blas_acquire(const char *path, struct bc_blas **out, char *err,
                                size_t err_bytes)
{
    /* One namespace per file, whatever the spelling of its path. */
    char resolved[PATH_MAX];
    const char *key = realpath(path, resolved) ? resolved : path;
    pthread_mutex_lock(&registry_lock);
    struct bc_blas *b = registry;
    while (b && strcmp(b->key, key) != 0)
        b = b->next;
    if (!b) {
        b = load_by_path(key, path, err, err_bytes);
        if (b) {
            b->next = registry;
            registry = b;
        }
    }
    if (b)
        b->refs++;
    pthread_mutex_unlock(&registry_lock);
    if (!b)
        return BLASCONV_ERR_BLAS;
    *out = b;
    return BLASCONV_OK;
}

void bc_blas_release(struct bc_blas *blas)
{
    if (!blas)
        return;
    pthread_mutex_lock(&registry_lock);
    if (--blas->refs == 0) {
        struct bc_blas **link = &registry;
        while (*link != blas)
            link = &(*link)->next;
        *link = blas->next;
        close_namespace(blas->lib, blas->libc);
        free(blas->key);
        free(blas);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* --- the seam ------------------------------------------------------------- */

static const struct bc_blas *context_blas(const blasconv_context *ctx)
{
    return ctx->loaded_blas ? ctx->loaded_blas : linked_or_private();
}

void bc_sgemm(const blasconv_context *ctx, int trans_a, int trans_b, int m, int n, int k,
              float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
              int ldc)
{
    blasconv_sgemm_fn sgemm = ctx->user_sgemm ? ctx->user_sgemm : context_blas(ctx)->sgemm;
    sgemm(CBLAS_ROW_MAJOR, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bc_sgemm_lowered(const blasconv_context *ctx, int trans_a, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc)
{
    const struct bc_blas *blas = context_blas(ctx);
    /* The small kernels run on the calling thread: not where the BLAS would thread. */
    if (!ctx->user_sgemm && blas->small_kernels && blas->openblas_get_threads &&
        blas->openblas_get_threads() == 1 && bc_small_blocks_pay(trans_a, m, n, k))
        bc_sgemm_small_blocks(blas->sgemm, trans_a, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    else
        bc_sgemm(ctx, trans_a, CBLAS_NO_TRANS, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

void bc_blas_use_threads(const blasconv_context *ctx, int want)
{
    if (ctx->user_sgemm || want <= 0)
        return;
    const struct bc_blas *b = context_blas(ctx);
    if (b->openblas_set_threads && b->openblas_get_threads() != want)
        b->openblas_set_threads(want);
    else if (b->blis_set_threads && b->blis_get_threads() != want)
        b->blis_set_threads(want);
}

void bc_blas_apply_threads(const blasconv_context *ctx)
{
    /* A BLAS's thread count is global to its library: set it to what this context asks
     * for (0 = what the library chose when it loaded) before its GEMMs run. */
    if (ctx->user_sgemm)
        return;
    const int threads = ctx->threads ? ctx->threads : context_blas(ctx)->default_threads;
    bc_blas_use_threads(ctx, threads);
    if (threads > 1)
        bc_parallel_rest(); /* the BLAS's threads get the cores */
}

int bc_blas_parallel_callable(const blasconv_context *ctx)
{
    if (ctx->user_sgemm)
        return ctx->user_sgemm_concurrent;
    const struct bc_blas *b = context_blas(ctx);
    return b->openblas_set_threads != NULL || b->blis_set_threads != NULL;
}

const char *blasconv_context_blas_info(const blasconv_context *ctx)
{
    if (ctx && ctx->user_sgemm)
        return "user function (blasconv_context_set_sgemm)";
    return ctx ? context_blas(ctx)->info : linked_or_private()->info;
}
