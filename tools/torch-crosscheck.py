#!/usr/bin/env python3
"""blasconv against PyTorch itself on random descriptors: the semantics claim, tested.

blasconv promises PyTorch's conv2d, max_pool2d and avg_pool2d semantics; its own tests
check the fast paths against its reference kernels and the chapter's printed outputs.
This tool checks both against PyTorch (Debian's python3-torch, run with
/usr/bin/python3) through ctypes on the built shared library:

- convolution, NCHW and NHWC, random sizes, kernels, strides, dilations, asymmetric
  pads (F.pad first) and groups, with and without bias. PyTorch computes in float64
  (autograd for dx, dw and dbias). blasconv's reference kernels must agree with it
  to the last float32 bit but one (1 ulp: both round a double sum once); the fast
  calls (GEMM on one and two threads, GEMM under a small workspace limit, FAST) must
  agree within blasconv_conv2d_tolerance (RANDOM_DATA), plus FAST's documented
  bound for FAST's forward and backward data. Descriptors PyTorch rejects must be BAD_SHAPE, and the
  other way round.
- pooling, MAX and AVG, NCHW and NHWC, symmetric pads (PyTorch has no other),
  dilation (MAX), ceil_mode, count_include_pad, with ties, NaN and infinities in x:
  forward exactly for MAX (1e-6 relative for AVG), backward within 1e-5, both for the
  fast call and the reference; validity as above.

Exits 1 on the first disagreement, printing the descriptor and the seed to rerun it.
Not part of `quickstart.sh test` (PyTorch is a large package): run it by hand or as
`sh tools/reliability.sh torch [CASES]`.
"""
import argparse
import ctypes
import os
import sys

DEFAULT_LIB = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                            "build", "libblasconv.so"))

OK, BAD_SHAPE, WORKSPACE = 0, 2, 5
NCHW, NHWC = 0, 1
GEMM, FAST = 0, 1
FORWARD, BACKWARD_DATA, BACKWARD_FILTER, BACKWARD_BIAS = 0, 1, 2, 3
RANDOM_DATA = 0
MAX, AVG = 0, 1
ULP = 2.0 ** -23  # float32's spacing at 1: the reference may sit one ulp off


class Conv2d(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in (
        "batch", "in_channels", "in_height", "in_width", "out_channels", "kernel_height",
        "kernel_width", "stride_height", "stride_width", "pad_top", "pad_bottom", "pad_left",
        "pad_right", "dilation_height", "dilation_width", "groups", "layout")]


class Pool2d(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in (
        "mode", "batch", "channels", "in_height", "in_width", "window_height", "window_width",
        "stride_height", "stride_width", "pad_top", "pad_bottom", "pad_left", "pad_right",
        "dilation_height", "dilation_width", "ceil_mode", "exclude_pad", "layout")]


class Mismatch(Exception):
    pass


class StatusError(Mismatch):
    """A call that did not return OK."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300,
                        help="random convolutions and as many poolings (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="first case's seed (default 1)")
    parser.add_argument("--lib", default=DEFAULT_LIB,
                        help="libblasconv.so to test (default: %(default)s)")
    args = parser.parse_args()
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    return args


def load(path):
    lib = ctypes.CDLL(path)
    ptr, cint, cdouble = ctypes.c_void_p, ctypes.c_int, ctypes.c_double
    signatures = {
        "blasconv_context_create": [ptr],
        "blasconv_context_set_threads": [ptr, cint],
        "blasconv_context_set_algorithm": [ptr, cint],
        "blasconv_context_set_workspace_limit": [ptr, ctypes.c_size_t],
        "blasconv_conv2d_output_size": [ptr, ptr, ptr],
        "blasconv_conv2d_forward": [ptr] * 6,
        "blasconv_conv2d_backward_data": [ptr] * 5,
        "blasconv_conv2d_backward_filter": [ptr] * 6,
        "blasconv_reference_conv2d_forward": [ptr] * 6,
        "blasconv_reference_conv2d_backward_data": [ptr] * 5,
        "blasconv_reference_conv2d_backward_filter": [ptr] * 6,
        "blasconv_conv2d_tolerance": [ptr, cint, cint, cdouble, ptr, ptr],
        "blasconv_pool2d_output_size": [ptr, ptr, ptr],
        "blasconv_pool2d_forward": [ptr] * 4,
        "blasconv_pool2d_backward": [ptr] * 5,
        "blasconv_reference_pool2d_forward": [ptr] * 4,
        "blasconv_reference_pool2d_backward": [ptr] * 5,
    }
    for name, argtypes in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, cint
    lib.blasconv_context_last_error.argtypes = [ptr]
    lib.blasconv_context_last_error.restype = ctypes.c_char_p
    lib.blasconv_context_destroy.argtypes = [ptr]
    lib.blasconv_context_destroy.restype = None
    return lib


def context(lib, threads=0, algorithm=GEMM, limit=0):
    ctx = ctypes.c_void_p()
    if lib.blasconv_context_create(ctypes.byref(ctx)) != OK:
        sys.exit("torch-crosscheck: blasconv_context_create failed")
    lib.blasconv_context_set_threads(ctx, threads)
    lib.blasconv_context_set_algorithm(ctx, algorithm)
    lib.blasconv_context_set_workspace_limit(ctx, limit)
    return ctx


def addr(array):
    return None if array is None else array.ctypes.data


class Checker:
    def __init__(self, lib, np, torch):
        self.lib, self.np, self.torch = lib, np, torch
        self.F = torch.nn.functional
        self.contexts = {  # name: (context, algorithm)
            "GEMM": (context(lib), GEMM),
            "GEMM 2 threads": (context(lib, threads=2), GEMM),
            "GEMM 16 KiB limit": (context(lib, limit=16 << 10), GEMM),
            "FAST": (context(lib, algorithm=FAST), FAST),
            "FAST 2 threads": (context(lib, threads=2, algorithm=FAST), FAST),
        }
        self.counts = {"conv": 0, "conv rejected": 0, "pool": 0, "pool rejected": 0,
                       "workspace too small": 0, "FAST not GEMM (Winograd)": 0,
                       "MAX windows of padding only": 0}

    def close(self):
        for ctx, _ in self.contexts.values():
            self.lib.blasconv_context_destroy(ctx)

    # --- helpers -------------------------------------------------------------------
    def f32(self, array):
        return self.np.ascontiguousarray(array, dtype=self.np.float32)

    def to_layout(self, nchw, layout):
        """An NCHW-ordered array (or K,C,KH,KW filter) in blasconv's layout."""
        return self.f32(nchw.transpose(0, 2, 3, 1) if layout == NHWC else nchw)

    def from_layout(self, array, layout):
        return array.transpose(0, 3, 1, 2) if layout == NHWC else array

    def compare(self, what, got, want, atol, rtol):
        np = self.np
        got64, want64 = got.astype(np.float64), want.astype(np.float64)
        same_nan = np.isnan(got64) == np.isnan(want64)
        finite = np.isfinite(got64) & np.isfinite(want64)
        same_inf = np.where(np.isinf(got64) | np.isinf(want64), got64 == want64, True)
        with np.errstate(invalid="ignore"):  # inf - inf where not finite; masked out
            err = np.where(finite, np.abs(got64 - want64), 0.0)
        allowed = atol + rtol * np.abs(np.where(finite, want64, 0.0))
        bad = ~same_nan | ~same_inf | (err > allowed)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise Mismatch(f"{what}: {int(bad.sum())} of {bad.size} elements differ; first at "
                           f"flat index {i}: got {got.ravel()[i]!r}, PyTorch {want.ravel()[i]!r} "
                           f"(atol {atol:.3g}, rtol {rtol:.3g})")

    def tolerance(self, d, which):
        atol, rtol = ctypes.c_double(), ctypes.c_double()
        st = self.lib.blasconv_conv2d_tolerance(ctypes.byref(d), which, RANDOM_DATA, 1.0,
                                                ctypes.byref(atol), ctypes.byref(rtol))
        if st != OK:
            raise Mismatch(f"conv2d_tolerance returned {st}")
        return atol.value, rtol.value

    def output_size(self, name, d):
        """blasconv's status for d's output size (its validation of d)."""
        oh, ow = ctypes.c_int(), ctypes.c_int()
        status = getattr(self.lib, f"blasconv_{name}_output_size")(
            ctypes.byref(d), ctypes.byref(oh), ctypes.byref(ow))
        return status, oh.value, ow.value

    def valid_in_both(self, kind, desc, status, truth):
        """Whether both accept the descriptor; raises if only one of them does."""
        if truth is not None and status == OK:
            return True
        if (truth is None) != (status == BAD_SHAPE):
            raise Mismatch(f"{desc}: blasconv status {status}, PyTorch "
                           f"{'rejects' if truth is None else 'accepts'} it")
        self.counts[f"{kind} rejected"] += 1
        return False

    def random_dy(self, seed, shape):
        return self.f32(self.np.random.default_rng(seed).uniform(-1, 1, tuple(shape)))

    def call(self, what, ctx, fn, *args):
        st = fn(ctx, *args)
        if st != OK:
            error = self.lib.blasconv_context_last_error(ctx).decode() if ctx else ""
            raise StatusError(f"{what} returned status {st} ({error})", st)

    # --- convolution -----------------------------------------------------------------
    def random_conv(self, rng):
        g = int(rng.choice([1, 1, 1, 2, 3]))
        depthwise = rng.random() < 0.15
        cpg = 1 if depthwise else int(rng.integers(1, 5))
        kpg = int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 5))
        if depthwise:
            g = int(rng.integers(1, 7))
        # 3x3 stride 1 dilation 1, large enough that FAST picks Winograd and the
        # threads split the work
        fast_shape = rng.random() < 0.25
        kh, kw = (3, 3) if fast_shape else (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        size = (8, 31) if fast_shape else (1, 13)
        if fast_shape and not depthwise:
            cpg, kpg = int(rng.integers(8, 65)) // g, int(rng.integers(8, 65)) // g
        d = Conv2d(batch=int(rng.integers(1, 4)), in_channels=g * cpg,
                   in_height=int(rng.integers(*size)), in_width=int(rng.integers(*size)),
                   out_channels=g * kpg, kernel_height=kh, kernel_width=kw,
                   stride_height=1 if fast_shape else int(rng.integers(1, 4)),
                   stride_width=1 if fast_shape else int(rng.integers(1, 4)),
                   pad_top=int(rng.integers(0, 4)), pad_bottom=int(rng.integers(0, 4)),
                   pad_left=int(rng.integers(0, 4)), pad_right=int(rng.integers(0, 4)),
                   dilation_height=1 if fast_shape else int(rng.integers(1, 4)),
                   dilation_width=1 if fast_shape else int(rng.integers(1, 4)),
                   groups=g, layout=int(rng.integers(0, 2)))
        if fast_shape and g > 1 and rng.random() < 0.7:
            d.groups = 1
        return d

    def torch_conv(self, d, x, w, b, dy_seed):
        """PyTorch's float64 y, dx, dw, db; None if it rejects the descriptor."""
        torch, F = self.torch, self.F
        xt = torch.from_numpy(x.astype("float64")).requires_grad_()
        wt = torch.from_numpy(w.astype("float64")).requires_grad_()
        bt = None if b is None else torch.from_numpy(b.astype("float64")).requires_grad_()
        try:
            padded = F.pad(xt, (d.pad_left, d.pad_right, d.pad_top, d.pad_bottom))
            y = F.conv2d(padded, wt, bt, stride=(d.stride_height, d.stride_width),
                         dilation=(d.dilation_height, d.dilation_width), groups=d.groups)
        except RuntimeError:
            return None
        if y.numel() == 0:
            return None
        dy = self.random_dy(dy_seed, y.shape)
        y.backward(torch.from_numpy(dy.astype("float64")))
        db = None if bt is None else bt.grad.numpy()
        return y.detach().numpy(), dy, xt.grad.numpy(), wt.grad.numpy(), db

    def check_conv(self, seed):
        np, lib = self.np, self.lib
        rng = np.random.default_rng(seed)
        d = self.random_conv(rng)
        desc = describe(d)
        status = self.output_size("conv2d", d)[0]
        cpg = d.in_channels // d.groups
        x = self.f32(rng.uniform(-1, 1, (d.batch, d.in_channels, d.in_height, d.in_width)))
        w = self.f32(rng.uniform(-1, 1, (d.out_channels, cpg, d.kernel_height, d.kernel_width)))
        b = self.f32(rng.uniform(-1, 1, d.out_channels)) if rng.random() < 0.7 else None
        truth = self.torch_conv(d, x, w, b, seed + 1)
        if not self.valid_in_both("conv", desc, status, truth):
            return
        y64, dy, dx64, dw64, db64 = truth
        lay = d.layout
        xl, wl, dyl = self.to_layout(x, lay), self.to_layout(w, lay), self.to_layout(dy, lay)
        bias_l = None if b is None else self.f32(b)
        out = {"y": np.empty_like(self.to_layout(self.f32(y64), lay)),
               "dx": np.empty_like(xl), "dw": np.empty_like(wl),
               "db": np.empty(d.out_channels, np.float32)}
        want = {"y": y64, "dx": dx64, "dw": dw64, "db": dy.astype("float64").sum(axis=(0, 2, 3))}
        if db64 is not None:
            want["db"] = db64
        passes = (("y", FORWARD), ("dx", BACKWARD_DATA), ("dw", BACKWARD_FILTER),
                  ("db", BACKWARD_BIAS))

        def run(prefix, ctx):
            for array in out.values():
                array.fill(np.nan)  # unwritten elements show
            self.call(f"{desc}: {prefix}conv2d_forward", ctx,
                      getattr(lib, f"blasconv_{prefix}conv2d_forward"),
                      ctypes.byref(d), addr(xl), addr(wl), addr(bias_l), addr(out["y"]))
            self.call(f"{desc}: {prefix}conv2d_backward_data", ctx,
                      getattr(lib, f"blasconv_{prefix}conv2d_backward_data"),
                      ctypes.byref(d), addr(dyl), addr(wl), addr(out["dx"]))
            self.call(f"{desc}: {prefix}conv2d_backward_filter", ctx,
                      getattr(lib, f"blasconv_{prefix}conv2d_backward_filter"),
                      ctypes.byref(d), addr(xl), addr(dyl), addr(out["dw"]), addr(out["db"]))

        # The reference: PyTorch's float64 rounded once, give or take an ulp (plus the
        # double sums' own rounding, far below a float32 ulp of the terms).
        run("reference_", None)
        for name, which in passes:
            got = out[name] if name == "db" else self.from_layout(out[name], lay)
            atol = self.tolerance(d, which)[0] * 1e-6
            self.compare(f"{desc}: reference {name}", got, want[name].astype(np.float32),
                         atol, ULP)
        gemm_y = None
        for label, (ctx, algorithm) in self.contexts.items():
            try:
                run("", ctx)
            except StatusError as failure:
                if failure.status != WORKSPACE:
                    raise
                self.counts["workspace too small"] += 1  # the limit is below this layer's minimum
                continue
            if label == "GEMM":
                gemm_y = out["y"].copy()
            elif label == "FAST" and not np.array_equal(out["y"], gemm_y):
                self.counts["FAST not GEMM (Winograd)"] += 1
            for name, which in passes:
                got = out[name] if name == "db" else self.from_layout(out[name], lay)
                atol, rtol = self.tolerance(d, which)
                # FAST's bound, README "FAST: Winograd": sums over C/g (y) or K/g (dx)
                if algorithm == FAST and name == "y":
                    atol += 1e-6 * 9 * (cpg + 1)
                elif algorithm == FAST and name == "dx":
                    atol += 1e-6 * 9 * (d.out_channels // d.groups + 1)
                self.compare(f"{desc}: {label} {name}", got, want[name].astype(np.float32),
                             atol, rtol)
        self.counts["conv"] += 1

    # --- pooling -----------------------------------------------------------------------
    def random_pool(self, rng):
        mode = int(rng.integers(0, 2))
        wh, ww = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        ph, pw = int(rng.integers(0, wh // 2 + 1)), int(rng.integers(0, ww // 2 + 1))
        if rng.random() < 0.1:  # now and then one PyTorch refuses
            ph = wh // 2 + 1
        dh, dw = (1, 1) if mode == AVG else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        return Pool2d(mode=mode, batch=int(rng.integers(1, 3)), channels=int(rng.integers(1, 5)),
                      in_height=int(rng.integers(1, 13)), in_width=int(rng.integers(1, 13)),
                      window_height=wh, window_width=ww,
                      stride_height=int(rng.integers(0, 4)), stride_width=int(rng.integers(0, 4)),
                      pad_top=ph, pad_bottom=ph, pad_left=pw, pad_right=pw,
                      dilation_height=dh, dilation_width=dw,
                      ceil_mode=int(rng.random() < 0.5), exclude_pad=int(rng.random() < 0.5),
                      layout=int(rng.integers(0, 2)))

    def torch_pool(self, d, x, dy_seed, backward):
        torch, F = self.torch, self.F
        xt = torch.from_numpy(x.astype("float64")).requires_grad_()
        stride = (d.stride_height or d.window_height, d.stride_width or d.window_width)
        window, pad = (d.window_height, d.window_width), (d.pad_top, d.pad_left)
        try:
            if d.mode == MAX:
                y = F.max_pool2d(xt, window, stride, pad,
                                 dilation=(d.dilation_height, d.dilation_width),
                                 ceil_mode=bool(d.ceil_mode))
            else:
                y = F.avg_pool2d(xt, window, stride, pad, ceil_mode=bool(d.ceil_mode),
                                 count_include_pad=not d.exclude_pad)
        except RuntimeError:
            return None
        if y.numel() == 0:
            return None
        dy = self.random_dy(dy_seed, y.shape)
        if not backward:
            return y.detach().numpy(), dy, None
        y.backward(torch.from_numpy(dy.astype("float64")))
        return y.detach().numpy(), dy, xt.grad.numpy()

    def check_pool(self, seed):
        np, lib = self.np, self.lib
        rng = np.random.default_rng(seed)
        d = self.random_pool(rng)
        desc = describe(d)
        status, oh, ow = self.output_size("pool2d", d)
        shape = (d.batch, d.channels, d.in_height, d.in_width)
        # Few distinct values (ties), now and then a NaN or an infinity.
        x = self.f32(rng.integers(-3, 4, shape) / 2.0)
        specials = rng.random(shape)
        x[specials < 0.03] = np.nan
        x[(specials >= 0.03) & (specials < 0.05)] = np.inf
        x[(specials >= 0.05) & (specials < 0.07)] = -np.inf
        # A MAX window of padding only (dilation) is -inf in both; PyTorch 1.13 then
        # sends its gradient to the element at the window's first in-range row and
        # column, outside the window or past the end of x (which corrupted the heap
        # here), blasconv drops it (its README, "Pooling"): there dx is checked
        # against blasconv's reference only, and PyTorch runs no backward.
        pytorch_dx = not (status == OK and d.mode == MAX and has_empty_window(d, oh, ow))
        truth = self.torch_pool(d, x, seed + 1, backward=pytorch_dx)
        if not self.valid_in_both("pool", desc, status, truth):
            return
        y64, dy, dx64 = truth
        lay = d.layout
        if not pytorch_dx:
            self.counts["MAX windows of padding only"] += 1
        xl, dyl = self.to_layout(x, lay), self.to_layout(dy, lay)
        y_tol = 0.0 if d.mode == MAX else 1e-6
        reference_dx = None
        for prefix, ctx in (("reference_", None), ("", self.contexts["GEMM"][0]),
                            ("", self.contexts["GEMM 2 threads"][0])):
            y = np.full_like(dyl, np.nan)
            dx = np.full_like(xl, np.nan)
            self.call(f"{desc}: {prefix}pool2d_forward", ctx,
                      getattr(lib, f"blasconv_{prefix}pool2d_forward"),
                      ctypes.byref(d), addr(xl), addr(y))
            self.call(f"{desc}: {prefix}pool2d_backward", ctx,
                      getattr(lib, f"blasconv_{prefix}pool2d_backward"),
                      ctypes.byref(d), addr(xl), addr(dyl), addr(dx))
            what = f"{desc}: {prefix or 'fast '}pool2d"
            self.compare(f"{what} y", self.from_layout(y, lay), y64.astype(np.float32), 0.0,
                         y_tol)
            dx = self.from_layout(dx, lay)
            if reference_dx is None:
                reference_dx = dx
            self.compare(f"{what} dx", dx,
                         dx64.astype(np.float32) if pytorch_dx else reference_dx, 1e-5, 1e-6)
        self.counts["pool"] += 1


def has_empty_window(d, oh, ow):
    """Whether some window of pooling d holds no input element (only with dilation)."""
    def axis_misses(out, stride, pad, window, dilation, size):
        return any(all(not 0 <= o * stride - pad + i * dilation < size for i in range(window))
                   for o in range(out))
    return (axis_misses(oh, d.stride_height or d.window_height, d.pad_top, d.window_height,
                        d.dilation_height or 1, d.in_height) or
            axis_misses(ow, d.stride_width or d.window_width, d.pad_left, d.window_width,
                        d.dilation_width or 1, d.in_width))


def describe(d):
    return "{" + ", ".join(f"{name}={getattr(d, name)}" for name, _ in d._fields_) + "}"


def main():
    args = parse_args()
    try:
        import numpy as np
        import torch
    except ImportError:
        sys.exit("torch-crosscheck: no PyTorch here (Debian: apt-get install python3-torch, "
                 "then run with /usr/bin/python3)")
    torch.set_num_threads(1)
    try:
        lib = load(args.lib)
    except OSError as error:
        sys.exit(f"torch-crosscheck: cannot load {args.lib} ({error}); build it first")
    checker = Checker(lib, np, torch)
    print(f"torch-crosscheck: PyTorch {torch.__version__}, {args.lib}, {args.cases} "
          f"convolutions and {args.cases} poolings from seed {args.seed}", flush=True)
    step = max(1, args.cases // 10)
    try:
        for i in range(args.cases):
            seed = args.seed + 2 * i
            case = "convolution"
            checker.check_conv(seed)
            case = "pooling"
            checker.check_pool(seed)
            if (i + 1) % step == 0 or i + 1 == args.cases:
                print(f"  {i + 1}/{args.cases} cases, {checker.counts}", flush=True)
    except Mismatch as failure:
        print(f"torch-crosscheck: MISMATCH ({case}, seed {seed}): {failure}", file=sys.stderr)
        return 1
    finally:
        checker.close()
    print("torch-crosscheck: blasconv and PyTorch agree on every case")
    return 0


if __name__ == "__main__":
    sys.exit(main())
