#!/usr/bin/env python3
"""PyTorch's conv2d on the 3x3 stride-1 layers of a blasconv suite, for the FAST table.

Times torch.nn.functional.conv2d (with bias, no autograd) on every row of the suite with
a 3x3 kernel, stride 1, dilation 1 and one group, in NCHW and in channels_last, and
prints the median wall milliseconds of each: the PyTorch columns of the README's FAST
table. Needs Debian's python3-torch (run it with /usr/bin/python3); not part of any test.
"""
import argparse
import csv
import os
import statistics
import sys
import time

DEFAULT_SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "suites", "layers.csv")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=DEFAULT_SUITE, help="layer suite CSV (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--reps", type=int, default=9, help="timed calls per layout (default 9)")
    parser.add_argument("--only", help="just this row")
    args = parser.parse_args()
    if args.threads < 1 or args.reps < 1:
        parser.error("--threads and --reps must be at least 1")
    return args


def is_fast_layer(row):
    value = lambda key: int(row[key])
    return (value("kernel_height") == 3 and value("kernel_width") == 3 and
            value("stride_height") in (0, 1) and value("stride_width") in (0, 1) and
            value("dilation_height") in (0, 1) and value("dilation_width") in (0, 1) and
            value("groups") in (0, 1) and value("pad_top") == value("pad_bottom") and
            value("pad_left") == value("pad_right"))


def median_ms(conv, reps):
    for _ in range(2):  # warm-up: allocations, oneDNN primitive creation
        conv()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        conv()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main():
    args = parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        sys.exit("torch-conv-bench: no PyTorch here (Debian: apt-get install python3-torch, "
                 "then run with /usr/bin/python3)")
    try:
        with open(args.suite, newline="") as f:
            rows = [row for row in csv.DictReader(f) if is_fast_layer(row)]
    except (OSError, KeyError, ValueError) as error:
        sys.exit(f"torch-conv-bench: cannot read {args.suite}: {error}")
    if args.only:
        rows = [row for row in rows if row["name"] == args.only]
        if not rows:
            sys.exit(f"torch-conv-bench: no 3x3 stride-1 row named {args.only}")
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s), medians of {args.reps} "
          "calls, wall ms")
    print("| layer | PyTorch NCHW | PyTorch channels_last |")
    print("|---|---|---|")
    for index, row in enumerate(rows, 1):
        value = lambda key: int(row[key])
        print(f"[{index}/{len(rows)}] {row['name']} ...", file=sys.stderr)
        x = torch.rand(value("batch"), value("in_channels"), value("in_height"),
                       value("in_width")) * 2 - 1
        w = torch.rand(value("out_channels"), value("in_channels"), 3, 3) * 2 - 1
        bias = torch.rand(value("out_channels"))
        padding = (value("pad_top"), value("pad_left"))
        times = []
        with torch.no_grad():
            for layout in (torch.contiguous_format, torch.channels_last):
                xl, wl = x.contiguous(memory_format=layout), w.contiguous(memory_format=layout)
                times.append(median_ms(lambda: F.conv2d(xl, wl, bias, padding=padding),
                                       args.reps))
        print(f"| {row['name']} | {times[0]:.2f} | {times[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
