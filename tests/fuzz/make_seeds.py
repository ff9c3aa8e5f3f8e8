#!/usr/bin/env python3
"""Writes the small seed corpus of each harness (tests/fuzz/corpus/<harness>/).
Deterministic: run it again and the files are the same. The byte layouts follow
each harness's decode order; the fuzzer mutates from there."""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    folder = os.path.join(HERE, "corpus", harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(bytes(data))


rng = random.Random(20261126)
data = lambda n: [rng.randrange(256) for _ in range(n)]

# fuzz_conv: groups, batch, C/g, K/g, non-dividing, H, W, KH, KW, strides, pads,
# dilations, layout, context kind, threads, scratch size bytes, bias, then data.
# (fuzz_int maps byte b to lo + b % (hi - lo + 1).)
write("fuzz_conv", "chapter_3x3_2x2", [1, 0, 0, 0, 1, 2, 2, 1, 1] + [0] * 8 + [1, 1] + [0] + [0] * 6 + [1] + data(64))
write("fuzz_conv", "grouped_padded_strided", [2, 1, 1, 2, 1, 6, 9, 2, 3, 2, 1, 1, 2, 0, 1, 0, 1, 1] + [1, 0, 4, 0, 0] + [0] + data(900))
write("fuzz_conv", "limit_one_row", [1, 0, 2, 1, 1, 7, 7, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 4, 0, 0, 1] + data(500))
write("fuzz_conv", "caller_buffer_skewed", [3, 2, 0, 1, 1, 10, 5, 4, 1, 0, 2, 3, 0, 2, 0, 2, 1, 1, 3, 0, 6, 1, 1, 2, 0] + data(700))
write("fuzz_conv", "nhwc", [1, 0, 1, 1, 1, 4, 4, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0] + data(300))
write("fuzz_conv", "direct_1x1", [1, 1, 3, 2, 1, 5, 5, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1] + data(400))

# fuzz_descriptor: 17 fields through fuzz_wild_int (selector % 8 != 0: small value
# from selector / 8; selector % 8 == 0: an edge value or raw 4 bytes), then the
# NULL choice, then the context flag.
small = lambda v: 8 * v + 1
write("fuzz_descriptor", "valid", [small(v) for v in [0, 3, 4, 5, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]] + [9, 1])
write("fuzz_descriptor", "int_max_height", [small(0)] + [8 * 4] + [small(v) for v in [3, 4, 5, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]] + [9, 1])
write("fuzz_descriptor", "raw_bits", [small(0), 8 * 20, 0x7F, 0xFF, 0xFF, 0xFF] + data(40))
write("fuzz_descriptor", "null_pointer", [small(v) for v in [0, 3, 4, 5, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]] + [2, 0])

# fuzz_corr2d: height, width, kernel height, kernel width (wild), NULL choice,
# data, then the context flag at the end of the data.
write("fuzz_corr2d", "chapter_3x3_2x2", [small(2), small(2), small(1), small(1), 7, 0, 16, 32, 48, 64, 80, 96, 112, 128, 0, 16, 32, 48, 1])
write("fuzz_corr2d", "edge_detect_6x8", [small(5), small(7), small(0), small(1), 9] + data(60))
write("fuzz_corr2d", "kernel_larger", [small(2), small(2), small(5), small(1), 9] + data(10))
write("fuzz_corr2d", "huge", [8 * 4, 8 * 4, small(0), small(0), 9] + data(10))

# fuzz_pool: mode, batch, channels, H, W, window h/w, strides, pads (top, bottom,
# left, right), dilations (all wild), ceil_mode byte, its "-1" byte, exclude_pad,
# layout (wild), NULL choice (< 4: one pointer NULL), context kind, specials flag
# (NaN and infinities in x), then data.
tail = lambda ceil, excl, layout, null, ctx, specials: [ceil, 1, excl, small(layout), null, ctx, specials]
write("fuzz_pool", "chapter_max_2x2", [small(v) for v in [0, 0, 0, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]] + tail(0, 0, 0, 9, 1, 0) + data(40))
write("fuzz_pool", "avg_padded_ceil_nhwc", [small(v) for v in [1, 1, 2, 6, 8, 2, 3, 2, 3, 1, 1, 2, 1, 0, 0]] + tail(1, 1, 1, 9, 2, 1) + data(900))
write("fuzz_pool", "max_dilated_ceil_nan", [small(v) for v in [0, 0, 1, 10, 9, 2, 2, 2, 1, 1, 0, 1, 1, 2, 3]] + tail(1, 0, 0, 9, 3, 1) + data(600))
write("fuzz_pool", "pad_over_half", [small(v) for v in [0, 0, 0, 5, 5, 1, 1, 0, 0, 3, 0, 0, 0, 0, 0]] + tail(0, 0, 0, 9, 1, 0) + data(20))
write("fuzz_pool", "avg_dilated", [small(v) for v in [1, 0, 0, 5, 5, 2, 2, 0, 0, 0, 0, 0, 0, 2, 0]] + tail(0, 0, 0, 9, 1, 0) + data(20))
write("fuzz_pool", "int_max_height", [small(0), small(0), small(0), 8 * 4] + [small(v) for v in [3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]] + tail(1, 0, 0, 9, 0, 0) + data(20))
write("fuzz_pool", "null_x", [small(v) for v in [0, 0, 0, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]] + tail(0, 0, 0, 0, 1, 0) + data(20))

# fuzz_conv on FAST: layout byte 4 (NCHW, forced 3x3 stride 1), context kind byte
# 5 (default context, FAST) or 13 (FAST, weights constant) or 14 (FAST under a limit).
write("fuzz_conv", "fast_winograd", [1, 0, 2, 3, 1, 9, 11, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0] + [4] + [5, 1] + [1] + data(900))
write("fuzz_conv", "fast_constant_nhwc", [1, 1, 3, 1, 1, 8, 6, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0] + [16] + [13, 2] + [0] + data(900))
write("fuzz_conv", "fast_limited", [1, 0, 3, 3, 1, 12, 12, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0] + [4] + [14, 1, 3, 1, 0] + [1] + data(1500))
# strides of INT_MAX with pads (found an int overflow in NCHW's interior columns)
write("fuzz_pool", "stride_int_max", [small(0), small(1), small(2), small(1), small(1), small(1), small(2), 8 * 4, 8 * 4, small(1), small(0), small(1), small(1), small(0), small(0)] + tail(1, 0, 0, 9, 1, 0) + data(40))
