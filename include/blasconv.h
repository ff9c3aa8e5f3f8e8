/*
 * blasconv: 2-D convolution and pooling for float32, lowered to sgemm.
 *
 * This header is the whole public interface. The contract it implements is
 * the project's API.md: names, argument order, struct fields and enum values
 * never change; new things are only ever added at the end.
 *
 * Conventions that hold for every function below
 * - Thread safety: a context is used by one thread at a time; different
 *   contexts, and calls with ctx == NULL, may run concurrently from any number
 *   of threads.
 * - Errors: no function aborts, prints or exits on bad input. It returns a
 *   status and leaves every output buffer exactly as it was. Checks run in a
 *   fixed order: NULL pointers first (BLASCONV_ERR_NULL_POINTER), then the
 *   descriptor (BAD_SHAPE / OVERFLOW), then resources (WORKSPACE, NO_MEMORY).
 * - Defaults: a zero in stride_*, dilation_* or groups means the default (1;
 *   for pooling strides, the window size). Negative values are BAD_SHAPE.
 * - Sizes: every tensor and every scratch buffer holds fewer than 2^31
 *   elements, otherwise BLASCONV_ERR_OVERFLOW.
 * - Semantics: PyTorch's torch.nn.functional.conv2d, max_pool2d and
 *   avg_pool2d (output sizes, padding, ceil_mode, tie-breaking, NaN).
 *   A configuration PyTorch rejects is BLASCONV_ERR_BAD_SHAPE here.
 * - Memory: all tensors are dense, C-contiguous float arrays owned by the
 *   caller; the library never keeps a pointer to them after a call returns.
 *   Shapes below are C array declarators in elements (float32); sizes, strides,
 *   pads and dilations count input pixels; workspace sizes count bytes.
 * - Contexts: every compute call takes ctx; NULL runs the call on a temporary
 *   context with the defaults (allocating its scratch for that call only).
 *   A failing call with a context leaves the reason in blasconv_context_last_error.
 */
#ifndef BLASCONV_H
#define BLASCONV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported API: default visibility while building the library (everything
 * else is hidden), nothing for users of the header. */
#if defined(BLASCONV_BUILDING) && defined(__GNUC__)
#define BLASCONV_API __attribute__((visibility("default")))
#else
#define BLASCONV_API
#endif

/* The version of this header; blasconv_version() gives the library's. The shared
 * library's SONAME is libblasconv.so.MAJOR. */
#define BLASCONV_VERSION_MAJOR 0
#define BLASCONV_VERSION_MINOR 1
#define BLASCONV_VERSION_PATCH 0

/** Result of every call. Codes are never renumbered. */
typedef enum blasconv_status {
    BLASCONV_OK = 0,               /**< the call succeeded and wrote its outputs */
    BLASCONV_ERR_NULL_POINTER = 1, /**< a required pointer argument is NULL */
    BLASCONV_ERR_BAD_SHAPE = 2,    /**< a size, stride, pad, dilation, group count or mode is
                                        invalid, or the output would be empty */
    BLASCONV_ERR_OVERFLOW = 3,     /**< a tensor or buffer size does not fit the index types */
    BLASCONV_ERR_NO_MEMORY = 4,    /**< an allocation failed */
    BLASCONV_ERR_WORKSPACE = 5,    /**< the workspace limit or the user's buffer is smaller than
                                        the minimum this call needs */
    BLASCONV_ERR_BLAS = 6,         /**< a BLAS library could not be loaded or lacks cblas_sgemm */
    BLASCONV_ERR_UNSUPPORTED = 7   /**< valid, but not implemented in this version */
} blasconv_status;

/** A static English sentence for a status; never NULL (unknown codes too). */
BLASCONV_API const char *blasconv_status_string(blasconv_status status);
/** The library's version, "MAJOR.MINOR.PATCH" ("0.1.0"); never NULL. */
BLASCONV_API const char *blasconv_version(void);

/** Memory layout of activations and weights (g = groups). */
typedef enum blasconv_layout {
    BLASCONV_NCHW = 0, /**< x[N][C][H][W], w[K][C/g][KH][KW], y[N][K][OH][OW] */
    BLASCONV_NHWC = 1  /**< x[N][H][W][C], w[K][KH][KW][C/g], y[N][OH][OW][K] */
} blasconv_layout;

/**
 * The signature of cblas_sgemm, with the CBLAS enums as int (same ABI), so a
 * pointer from dlsym(handle, "cblas_sgemm") can be passed as it is. blasconv
 * only ever calls it with layout = 101 (CblasRowMajor) and trans_a/trans_b in
 * {111 (CblasNoTrans), 112 (CblasTrans)}.
 */
typedef void (*blasconv_sgemm_fn)(int layout, int trans_a, int trans_b, int m, int n, int k,
                                  float alpha, const float *a, int lda, const float *b, int ldb,
                                  float beta, float *c, int ldc);

/**
 * A context carries what persists between calls: the scratch buffer (kept and
 * grown only when needed), the workspace limit, the thread count, the BLAS in
 * use and the text of the last error. Opaque; one thread at a time.
 */
typedef struct blasconv_context blasconv_context;

/** Creates a context with the defaults and stores it in *out (the caller owns it
 *  and frees it with blasconv_context_destroy): linked BLAS, no workspace limit,
 *  library-managed scratch, all threads, BLASCONV_ALGO_GEMM.
 *  NULL_POINTER if out is NULL; NO_MEMORY if allocation fails. */
BLASCONV_API blasconv_status blasconv_context_create(blasconv_context **out);
/** Frees the context, its scratch and any BLAS it loaded. NULL is a no-op.
 *  A caller-owned workspace is not freed. */
BLASCONV_API void blasconv_context_destroy(blasconv_context *ctx);
/** Route every GEMM of this context through fn; NULL restores the linked BLAS.
 *  fn is called only from the thread that calls into this context (unless
 *  blasconv_context_set_sgemm_concurrent says otherwise); setting a function, or
 *  NULL, withdraws that promise. */
BLASCONV_API blasconv_status blasconv_context_set_sgemm(blasconv_context *ctx,
                                                        blasconv_sgemm_fn fn);
/** Promise (concurrent != 0) that the function given to set_sgemm may be called from
 *  several threads at once, each call computing on its calling thread alone. A
 *  context with 2+ threads then runs large calls in parallel slots as it does with
 *  OpenBLAS or BLIS (see set_threads), calling fn from the library's worker threads,
 *  one GEMM per slot at a time; FAST likewise. Without the promise (the default, 0)
 *  such a context runs its GEMMs one at a time on the calling thread, however many
 *  threads fn itself uses. blasconv_sgemm on such a context splits c's columns
 *  over the threads. Call it after set_sgemm; no effect while the context has no
 *  set_sgemm function. NULL_POINTER if ctx is NULL. */
BLASCONV_API blasconv_status blasconv_context_set_sgemm_concurrent(blasconv_context *ctx,
                                                                   int concurrent);
/** dlopen a BLAS shared library by path and use its cblas_sgemm for this context.
 *  Several contexts may load different BLAS libraries in one process: each really
 *  runs its own library (no symbol interposition between them). A missing file, a
 *  non-library or a library without cblas_sgemm is BLASCONV_ERR_BLAS and leaves
 *  the context as it was. The library is released when the context is destroyed
 *  or loads another. */
BLASCONV_API blasconv_status blasconv_context_load_blas(blasconv_context *ctx,
                                                        const char *library_path);
/** Which BLAS this context's GEMMs run and which kernel family it uses, e.g.
 *  "OpenBLAS 0.3.21 SkylakeX (private copy of the linked library; its auto-detection
 *  chose Prescott)". With no environment variable set, blasconv runs a library's best
 *  kernels for the CPU even where the library's own detection falls short (OpenBLAS and
 *  BLIS, see the README); OPENBLAS_CORETYPE and BLIS_ARCH_TYPE set by the user are
 *  obeyed. ctx NULL describes the default (linked) BLAS. Never NULL; valid until ctx
 *  loads another BLAS or is destroyed. */
BLASCONV_API const char *blasconv_context_blas_info(const blasconv_context *ctx);
/** Cap the scratch memory (im2col/col2im buffers) one call of this context may use,
 *  in bytes. 0 = no cap. Under a cap, lowering is done in tiles of whole output
 *  rows that fit; below the minimum a call needs (the lowering of one output row),
 *  that call returns BLASCONV_ERR_WORKSPACE. Forward and backward-data results are
 *  bitwise identical under any cap (but see the kernel-column path below);
 *  backward-filter results are bitwise identical
 *  when the cap holds the default tile (and, where NCHW backward filter sums dw
 *  transposed, see below, that too) and otherwise differ only by float32
 *  rounding of the sum over positions. (Bitwise given an sgemm whose elements do not
 *  depend on the GEMM's width: a vendor BLAS may sum edge columns in another order,
 *  and blasconv runs some forward and backward-data GEMMs of narrow tiles in blocks
 *  for OpenBLAS's small-matrix kernels, see the README.)
 *  NCHW forward on maps of under 192 positions with several images lowers whole
 *  images side by side into one tile, up to 8 MiB of scratch per thread, for wider
 *  GEMMs; a cap makes it group fewer.
 *  Forward with vertical stride 1, KH > 1 and not depthwise lowers only the kernel's
 *  columns (one GEMM per kernel row, see the README): in NCHW where 2*K <= N*OH*OW
 *  (and not on grouped small maps), in NHWC on maps of 512+ positions. So does
 *  backward data with vertical stride 1, KH > 1 and C/g > 1 (NCHW: 2*K <= N*OH*OW;
 *  NHWC: maps of 512+ positions), in both passes only where one image's lowering by
 *  kernel columns stays under 2^31 floats. Under a cap below that path's minimum,
 *  the call runs im2col tiles instead (NCHW forward: of some input channels over
 *  all the output rows where the column matrix is at least twice as tall as it is
 *  wide, their sums added onto y tile by tile), whose results differ from the
 *  uncapped call's by float32 rounding (the sums are grouped by kernel row on one
 *  path only); at or
 *  above it they are bitwise the uncapped call's. The minimum is the lowering of one
 *  tile row, C/g*KW*OW floats times (1 + (KH-1)*dilation_height) for forward's output
 *  row and 1 for backward data's input row, plus in NCHW the filter copy the path
 *  keeps in the scratch (K*C/g*KH*KW floats, rounded up to 64 bytes).
 *  NCHW backward filter of a layer with up to 128 output channels per group and
 *  512+ positions over the batch sums dw transposed (K*C/g*KH*KW floats, rounded up
 *  to 64 bytes, ahead of its tiles; OpenBLAS runs those GEMMs faster) where the
 *  scratch holds that and (but on the 1x1 path) one output row's lowering besides,
 *  and dw itself otherwise (results then differ by float32 rounding).
 *  blasconv_conv2d_workspace_size does not count it: the pass does not need it. */
BLASCONV_API blasconv_status blasconv_context_set_workspace_limit(blasconv_context *ctx,
                                                                  size_t bytes);
/** Hand the context a caller-owned scratch buffer: from then on no call of this
 *  context allocates memory. The buffer must stay valid until it is replaced or the
 *  context destroyed; it need not be aligned (one that is not float-aligned loses up
 *  to 3 bytes to alignment). NULL, 0 returns to library-managed
 *  scratch; NULL with bytes > 0 is NULL_POINTER; (buf, 0) is allowed (calls that
 *  need scratch then return WORKSPACE). */
BLASCONV_API blasconv_status blasconv_context_set_workspace(blasconv_context *ctx, void *buffer,
                                                            size_t bytes);
/** Threads for this context's own loops and its BLAS calls. 0 = the defaults: the
 *  cores online for blasconv's own loops (counted once per process, at the first call
 *  that needs the count), and the BLAS's own choice at load time
 *  for its GEMMs (OpenBLAS: all cores, or OPENBLAS_NUM_THREADS; Debian's BLIS:
 *  BLIS_NUM_THREADS, else 1). Negative is BAD_SHAPE.
 *  With 2+ threads, large calls run in parallel slots, each thread with its own tile
 *  of scratch and a one-thread BLAS. NCHW forward and backward data take whole images
 *  of a batch (results bitwise those of one thread when no workspace limit applies);
 *  on fewer images than threads, forward takes output rows or output channels and
 *  backward data input channels (input rows when the channels are few and would
 *  split unevenly: under 4 per thread and not a multiple of the threads); backward
 *  filter always takes the input channels' kernel rows; NHWC forward takes output
 *  rows, NHWC backward data whole images (on fewer images than threads, input rows;
 *  rows of a 1x1 layer) and NHWC backward filter blocks of 16 columns of dw (of
 *  KH*KW*C/g). Those splits agree with one thread within the pass's tolerance.
 *  A thread that is done with its share takes what is left of another's, a tile at
 *  a time (forward split by rows or images; whole images on the 1x1 path and in
 *  backward data split by images), so a core slowed by other work holds a call up
 *  less; which thread runs a tile does not change its result.
 *  FAST gives each thread whole batches of tiles in buffers of its own, or, for a
 *  layer whose transformed filter takes 4 MiB or more in NCHW, in NHWC 4 MiB on one
 *  thread or under 64 tiles and 16 MiB otherwise (and no less than the transformed
 *  tiles), blocks of output channels; on under 64 tiles a smaller filter not kept
 *  goes in one block per thread (each thread transforming the input itself where
 *  that takes up to 2 MiB); the threads take the batches or blocks one at a time.
 *  Its results agree with one thread's within FAST's bound,
 *  bitwise through a deterministic sgemm. Depthwise layers split planes, rows or
 *  channels in all three passes, bitwise as one thread.
 *  Calls under 2e6 flops run on one thread, BLAS included.
 *  The library keeps one set of worker threads for the process, shared by all
 *  contexts (they spin 1 ms after a job, then sleep; they are joined at exit); a call
 *  that finds them busy with another thread's call starts and joins its own. A
 *  function given to set_sgemm is only called from the calling thread (such a
 *  context runs its GEMMs serially), unless set_sgemm_concurrent promises more.
 *  With the linked OpenBLAS the BLAS thread count is process-wide: each call sets it
 *  before its GEMMs, so contexts asking for different counts at the same time may
 *  run with each other's count (results are unaffected). */
BLASCONV_API blasconv_status blasconv_context_set_threads(blasconv_context *ctx, int threads);

/** Which lowering this context may use. GEMM (the default) is im2col/col2im + sgemm
 *  (1x1 straight to sgemm): the exact float32 result of the plain sum, in any order.
 *  FAST also allows lowerings that do fewer multiplications (e.g. Winograd
 *  transforms feeding sgemm) where they are faster; they trade a documented,
 *  bounded extra rounding error for speed. In this version FAST runs forward 3x3,
 *  stride-1, dilation-1, groups-1 layers (both layouts) as Winograd F(4x4) or
 *  F(2x2), chosen per layer, where that is expected to be faster; the error may
 *  exceed blasconv_conv2d_tolerance's by up to 1e-6 * 9(C+1) * max|x| * max|w|
 *  (F(2x2) stays within it; README "FAST: Winograd"). Backward data of such a layer
 *  with every pad <= 2 runs likewise, as the forward layer of dy (K channels in, C
 *  out) with the filter turned 180 degrees, where expected faster: its error may
 *  exceed the tolerance by up to 1e-6 * 9(K+1) * max|dy| * max|w|. Everything else,
 *  and backward filter, runs as under GEMM, with bitwise the GEMM result. Workspace
 *  limits and caller buffers apply: FAST needs the transformed filter ((m+2)^2 *
 *  (K * C + 16) floats) plus one tile, or, for a layer whose filter
 *  goes block by block, its blocks (narrowed down to 16 channels under a limit) plus
 *  all its tiles (backward data: of its forward of dy, K channels in and C out);
 *  below that the call takes the lowering and its minimum. */
typedef enum blasconv_algorithm {
    BLASCONV_ALGO_GEMM = 0, /**< im2col/col2im + sgemm only */
    BLASCONV_ALGO_FAST = 1  /**< also lowerings with fewer multiplications */
} blasconv_algorithm;
/** Unknown values are BAD_SHAPE. */
BLASCONV_API blasconv_status blasconv_context_set_algorithm(blasconv_context *ctx,
                                                            blasconv_algorithm algorithm);
/** Promise (constant != 0) that the contents of a weights array this context is
 *  given do not change while the same pointer is passed: FAST may then keep the
 *  transformed filter of the last weights pointer (Winograd's G g G^T, up to
 *  36/9 the size of w) in the context between forward calls, instead of
 *  transforming it on every call (not one that takes 8 MiB or more and goes block
 *  by block, faster than reading it back: README "FAST: Winograd"). Calling this
 *  again (on or off) forgets what was kept: do so after changing weights in place.
 *  Default 0. No caching with a caller-owned workspace (that would allocate). No
 *  effect under GEMM. */
BLASCONV_API blasconv_status blasconv_context_set_weights_constant(blasconv_context *ctx,
                                                                   int constant);
/** A sentence about the last failing call on this context that names the function,
 *  the offending field and its value, e.g.
 *  "conv2d_forward: groups=3 does not divide in_channels=8". "" after a success.
 *  Never NULL (also for ctx NULL); valid until the next call on ctx. */
BLASCONV_API const char *blasconv_context_last_error(const blasconv_context *ctx);

/** Row-major c[m][n] = alpha * op(a) op(b) + beta * c through the very GEMM this
 *  context runs its convolutions on (set_sgemm's function, the loaded BLAS or the
 *  linked one, with the context's thread count: a set_sgemm function promised
 *  concurrent gets blocks of c's columns from each thread, 16 columns at least, on
 *  products of 2e6 flops or more), e.g. to time a vendor's plain sgemm against a
 *  convolution of the same GEMM shape. ctx may be NULL (linked BLAS).
 *  trans_a/trans_b: 0 = as stored, 1 = transposed (op(a) is m x k, op(b) k x n);
 *  other values, negative sizes or leading dimensions below the row length
 *  (lda < (trans_a ? m : k), ldb < (trans_b ? k : n), ldc < n, each at least 1)
 *  are BAD_SHAPE; an operand of 2^31 or more elements is OVERFLOW. a and b may be
 *  NULL when m, n or k is 0, c when m or n is 0 (then nothing is done). */
BLASCONV_API blasconv_status blasconv_sgemm(blasconv_context *ctx, int trans_a, int trans_b, int m,
                                            int n, int k, float alpha, const float *a, int lda,
                                            const float *b, int ldb, float beta, float *c,
                                            int ldc);

/**
 * A 2-D convolution (PyTorch's conv2d: a cross-correlation), per spatial axis:
 *   out = floor((in + pad_before + pad_after - dilation*(kernel-1) - 1) / stride) + 1
 * which must be >= 1. Every zero field among stride/dilation/groups is 1.
 */
typedef struct blasconv_conv2d {
    int batch;                                    /* N */
    int in_channels;                              /* C */
    int in_height, in_width;                      /* H, W */
    int out_channels;                             /* K */
    int kernel_height, kernel_width;              /* KH, KW */
    int stride_height, stride_width;              /* 0 means 1 */
    int pad_top, pad_bottom, pad_left, pad_right; /* zeros added on each side */
    /* PyTorch's padding=(ph, pw) is pad_top = pad_bottom = ph, pad_left = pad_right = pw;
     * asymmetric pads are F.pad(x, (left, right, top, bottom)) before conv2d. */
    int dilation_height, dilation_width; /* 0 means 1 */
    int groups;                          /* 0 means 1; C and K must divide by it */
    blasconv_layout layout;              /* how x, w, y and their gradients are laid out */
} blasconv_conv2d;

/** Output height and width of d. Validates the whole descriptor; both out-pointers
 *  are required. */
BLASCONV_API blasconv_status blasconv_conv2d_output_size(const blasconv_conv2d *d, int *out_height,
                                                         int *out_width);
/** Scratch bytes an untiled call of each pass needs, one image at a time (0 where
 *  none is needed: 1x1 stride-1 unpadded NCHW, and every pass of a depthwise layer,
 *  one input channel per group with up to 4 output channels per group in NCHW, or
 *  one with K*KH*KW <= 4096 in NHWC, which run direct loops; a pass lowered by kernel
 *  columns: its filter copy plus all its lowered rows; not the transposed dw that
 *  NCHW backward filter sums where the scratch has room for it; see
 *  blasconv_context_set_workspace_limit). All three out-pointers are required. */
BLASCONV_API blasconv_status blasconv_conv2d_workspace_size(const blasconv_conv2d *d,
                                                            size_t *forward_bytes,
                                                            size_t *backward_data_bytes,
                                                            size_t *backward_filter_bytes);

/** y = conv(x, w) + bias, PyTorch's F.conv2d(x, w, bias, stride, padding, dilation,
 *  groups). x, w, y as the layout says (NCHW: x[N][C][H][W], w[K][C/g][KH][KW],
 *  y[N][K][OH][OW]); bias[K] or NULL.
 *  Statuses: NULL_POINTER (d, x, w or y), BAD_SHAPE, OVERFLOW, WORKSPACE, NO_MEMORY,
 *  UNSUPPORTED (a layout this version does not compute yet).
 *  ctx may be NULL: the call then uses a temporary default context.
 *  y is overwritten, never accumulated. */
BLASCONV_API blasconv_status blasconv_conv2d_forward(blasconv_context *ctx,
                                                     const blasconv_conv2d *d, const float *x,
                                                     const float *w, const float *bias, float *y);
/** dx = gradient of sum(dy * y) with respect to x (the transposed convolution;
 *  PyTorch's torch.nn.grad.conv2d_input). dy is shaped like y, dx like x; w as in
 *  forward. dx is overwritten. Statuses as for forward (NULL_POINTER: d, dy, w, dx). */
BLASCONV_API blasconv_status blasconv_conv2d_backward_data(blasconv_context *ctx,
                                                           const blasconv_conv2d *d,
                                                           const float *dy, const float *w,
                                                           float *dx);
/** dw (shaped like w) = gradient with respect to w, summed over the batch (PyTorch's
 *  torch.nn.grad.conv2d_weight); dbias[K] = dy summed over batch and positions, or
 *  NULL to skip it. x as in forward, dy shaped like y. Both are overwritten.
 *  Statuses as for forward (NULL_POINTER: d, x, dy, dw). */
BLASCONV_API blasconv_status blasconv_conv2d_backward_filter(blasconv_context *ctx,
                                                             const blasconv_conv2d *d,
                                                             const float *x, const float *dy,
                                                             float *dw, float *dbias);

/** The single-channel 2-D cross-correlation of the d2l chapter: no padding, stride 1.
 *  x[height][width], kernel[kernel_height][kernel_width], and
 *  y[height-kernel_height+1][width-kernel_width+1], row-major (the chapter's
 *  corr2d(X, K)). ctx may be NULL. BAD_SHAPE for an empty image or kernel, or a
 *  kernel larger than the image. */
BLASCONV_API blasconv_status blasconv_corr2d(blasconv_context *ctx, const float *x, int height,
                                             int width, const float *kernel, int kernel_height,
                                             int kernel_width, float *y);

typedef enum blasconv_pool_mode {
    BLASCONV_POOL_MAX = 0, /**< F.max_pool2d */
    BLASCONV_POOL_AVG = 1  /**< F.avg_pool2d */
} blasconv_pool_mode;

/**
 * A 2-D pooling window. Output size per axis as for convolution, with floor or
 * (ceil_mode) ceil, and then, as PyTorch does, the last window must start inside
 * the input or the leading padding ((out-1)*stride < in + pad_before), else out
 * drops by one.
 */
typedef struct blasconv_pool2d {
    blasconv_pool_mode mode;
    int batch, channels, in_height, in_width;     /* N, C, H, W of x */
    int window_height, window_width;              /* PyTorch's kernel_size */
    int stride_height, stride_width;              /* 0 means the window size */
    int pad_top, pad_bottom, pad_left, pad_right; /* each at most half the window, as in PyTorch */
    int dilation_height, dilation_width; /* 0 means 1; AVG accepts only 1 (else BAD_SHAPE) */
    int ceil_mode;                       /* nonzero: PyTorch ceil_mode=True */
    int exclude_pad; /* AVG only (MAX ignores it); nonzero: PyTorch count_include_pad=False */
    blasconv_layout layout; /* NCHW: x[N][C][H][W]; NHWC: x[N][H][W][C] */
} blasconv_pool2d;

/** Output height and width of d. Validates the whole descriptor; both out-pointers
 *  are required. */
BLASCONV_API blasconv_status blasconv_pool2d_output_size(const blasconv_pool2d *d, int *out_height,
                                                         int *out_width);
/** y[N][C][OH][OW] (NCHW) or y[N][OH][OW][C] (NHWC) from x. ctx may be NULL.
 *  MAX: padded positions never win; NaN propagates; ties go to the first maximum in
 *  row-major window order. AVG: the window sum over the divisor (count_include_pad
 *  or exclude_pad). y is overwritten. */
BLASCONV_API blasconv_status blasconv_pool2d_forward(blasconv_context *ctx,
                                                     const blasconv_pool2d *d, const float *x,
                                                     float *y);
/** dx (shaped like x) from dy (shaped like y), as PyTorch's autograd of the forward.
 *  dx is overwritten. MAX routes each dy to the argmax recomputed from x
 *  (overlapping windows accumulate); AVG spreads it with the forward divisor. */
BLASCONV_API blasconv_status blasconv_pool2d_backward(blasconv_context *ctx,
                                                      const blasconv_pool2d *d, const float *x,
                                                      const float *dy, float *dx);

/*
 * Reference kernels: the oracle. The same descriptors, argument order, validation
 * and statuses as the fast entry points above (NCHW and NHWC), computed by direct
 * loops with double accumulation and no BLAS, no scratch and no allocation. Slow
 * on purpose: for checking other implementations, not for production. ctx may be
 * NULL; of a context only the last-error text is used.
 */
BLASCONV_API blasconv_status blasconv_reference_conv2d_forward(blasconv_context *ctx,
                                                               const blasconv_conv2d *d,
                                                               const float *x, const float *w,
                                                               const float *bias, float *y);
BLASCONV_API blasconv_status blasconv_reference_conv2d_backward_data(blasconv_context *ctx,
                                                                     const blasconv_conv2d *d,
                                                                     const float *dy,
                                                                     const float *w, float *dx);
BLASCONV_API blasconv_status blasconv_reference_conv2d_backward_filter(blasconv_context *ctx,
                                                                       const blasconv_conv2d *d,
                                                                       const float *x,
                                                                       const float *dy, float *dw,
                                                                       float *dbias);
BLASCONV_API blasconv_status blasconv_reference_pool2d_forward(blasconv_context *ctx,
                                                               const blasconv_pool2d *d,
                                                               const float *x, float *y);
BLASCONV_API blasconv_status blasconv_reference_pool2d_backward(blasconv_context *ctx,
                                                                const blasconv_pool2d *d,
                                                                const float *x, const float *dy,
                                                                float *dx);

/*
 * Comparison for tests: the other half of the oracle. Compare a result (got) with
 * the reference (want) element by element:
 *   finite pair:  passes when |got - want| <= atol + rtol * |want|
 *   NaN:          passes only against NaN in the same position (NaN vs a number,
 *                 or a number vs NaN, is a NaN mismatch)
 *   infinity:     passes only against the same infinity (+Inf vs -Inf, or Inf vs a
 *                 finite number, is an Inf mismatch)
 */
typedef struct blasconv_compare_report {
    size_t elements;       /**< n, the number of elements compared */
    size_t failures;       /**< elements that fail, NaN and Inf mismatches included */
    size_t nan_mismatches; /**< positions where exactly one of got, want is NaN */
    size_t inf_mismatches; /**< positions, neither NaN, where one is infinite and
                               got != want (Inf vs -Inf, or Inf vs finite) */
    double max_abs_error;  /**< max |got - want| over the positions where both are finite */
    double max_rel_error;  /**< max |got - want| / |want| over the same positions; a
                               nonzero error against want == 0 counts as +Inf, an exact 0
                               against 0 as 0 */
    double rel_l2_error;   /**< ||got - want||_2 / ||want||_2 over the same positions; when
                               ||want||_2 is 0 it is 0 if got is 0 there too, else +Inf */
    size_t worst_index;    /**< the position with the largest worst_ratio (the first one
                               on ties; 0 when n == 0) */
    double worst_ratio;    /**< |got - want| / (atol + rtol*|want|) at worst_index: <= 1
                               passes, the margin to failing. +Inf for a NaN/Inf mismatch
                               or an error against a zero tolerance; 0 when n == 0 */
    int passed;            /**< 1 when failures == 0 (also for n == 0), else 0 */
} blasconv_compare_report;

/** Compares got[n] with want[n] (want is the trusted side: the reference) and fills
 *  *out. n == 0 is allowed (an empty comparison passes). got, want and out are
 *  required, also when n == 0 (NULL_POINTER); atol and rtol must be >= 0 and not
 *  NaN (+Inf is allowed), else BAD_SHAPE. On error *out is untouched. Pure and
 *  thread-safe: it reads only its arguments. */
BLASCONV_API blasconv_status blasconv_compare(const float *got, const float *want, size_t n,
                                              double atol, double rtol,
                                              blasconv_compare_report *out);

/** The output tensor a tolerance is for: the three passes, and the bias gradient
 *  of backward filter (a sum of dy values, not of products). */
typedef enum blasconv_conv2d_pass {
    BLASCONV_PASS_FORWARD = 0,         /**< y of blasconv_conv2d_forward */
    BLASCONV_PASS_BACKWARD_DATA = 1,   /**< dx of blasconv_conv2d_backward_data */
    BLASCONV_PASS_BACKWARD_FILTER = 2, /**< dw of blasconv_conv2d_backward_filter */
    BLASCONV_PASS_BACKWARD_BIAS = 3    /**< dbias of blasconv_conv2d_backward_filter */
} blasconv_conv2d_pass;

/** Which bound blasconv_conv2d_tolerance returns (see there). */
typedef enum blasconv_tolerance_model {
    /** For random inputs (independent values, e.g. uniform in [-M, M]): rounding
     *  errors then have random signs and grow like sqrt(n). The one to use with
     *  random test data: it stays small enough to catch a missing term. */
    BLASCONV_TOLERANCE_RANDOM_DATA = 0,
    /** For any inputs, also constant or structured ones (all 0.7, a ramp), whose
     *  rounding errors can all lean the same way and grow like n: the worst-case
     *  bound, guaranteed, but about n^2*u*M^2, so loose for long sums. */
    BLASCONV_TOLERANCE_ANY_DATA = 1
} blasconv_tolerance_model;

/** lambda of BLASCONV_TOLERANCE_RANDOM_DATA (below): standard deviations, roughly. */
#define BLASCONV_TOLERANCE_LAMBDA 6.0

/**
 * A tolerance for blasconv_compare when checking a float32 implementation of one
 * convolution output against the reference kernels: how far a correct float32
 * result may land from the correctly rounded one.
 *
 * max_abs_input bounds |v| for every input element the pass reads (x, w and bias
 * for forward; dy and w for backward data; x and dy for backward filter; dy for
 * the bias gradient). It must be finite and >= 0, else BAD_SHAPE.
 *
 * Derivation (u = 2^-24, the float32 unit roundoff). Every output element is a
 * sum of L terms, in whatever order the implementation picks:
 *   forward          L = C/g*KH*KW products x*w (plus the bias)
 *   backward data    L = K/g*T products dy*w, T = the most kernel taps that land
 *                    on an output position for one input position (per axis
 *                    ceil(KH / (stride/gcd(stride, dilation))))
 *   backward filter  L = N*OH*OW products x*dy
 *   backward bias    L = N*OH*OW values of dy
 * With M = max_abs_input, S = L*M^2 (+ M for the forward bias; L*M for the bias
 * gradient) bounds the sum of |terms|, and an element's path has n = L + 1
 * roundings at most (L additions, one product). Then, for any summation order
 * (recursive, blocked, pairwise, FMA or not):
 *   |computed - exact| <= gamma_n * S,  gamma_n = n*u / (1 - n*u)   (worst case)
 * and, when the rounding errors are independent with mean zero (Higham and Mary,
 * SIAM J. Sci. Comput. 2019), with probability at least 1 - 2*exp(-lambda^2/2):
 *   |computed - exact| <= lambda * sqrt(n) * u * S                  (typical)
 * Returned: rtol = 2u (the reference itself is rounded once to float32) and
 *   ANY_DATA:     atol = gamma_n * S
 *   RANDOM_DATA:  atol = min(gamma_n, lambda*sqrt(n)*u) * S, lambda = 6
 * both plus a negligible slack (the reference's double sum; one subnormal per
 * rounding). RANDOM_DATA is the guaranteed bound while n <= lambda^2 = 36.
 * Measured (README, "Using blasconv as a test oracle"): correct results reach
 * about 1/3 of either bound for short sums; for long sums of random data they stay
 * 10-50x under RANDOM_DATA, while constant inputs can exceed it (so ANY_DATA
 * exists) and reach up to about 1/5 of ANY_DATA. A bug (a wrong index, a missed
 * tap) is off by about one term, M^2.
 * Both bounds assume plain float32 sums (the GEMM algorithm, any BLAS); they do
 * not cover BLASCONV_ALGO_FAST (Winograd-style) or reduced-precision arithmetic.
 *
 * atol and rtol are both required (NULL_POINTER); the descriptor is validated as
 * by the convolution calls; an unknown pass or model is BAD_SHAPE. On error both
 * outputs are untouched.
 */
BLASCONV_API blasconv_status blasconv_conv2d_tolerance(const blasconv_conv2d *d,
                                                       blasconv_conv2d_pass pass,
                                                       blasconv_tolerance_model model,
                                                       double max_abs_input, double *atol,
                                                       double *rtol);

#ifdef __cplusplus
}
#endif

#endif /* BLASCONV_H */
