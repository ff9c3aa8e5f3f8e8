#!/usr/bin/env python3
"""FAST's goal table: FAST against the lowering, oneDNN and PyTorch, in one run.

For each thread count, runs blasconv-fastbench --onednn in NCHW and in NHWC (one
thread pinned to CPU 0 with taskset when it is there) and tools/torch-conv-bench.py
(PyTorch 1.13 from Debian's python3-torch, run with /usr/bin/python3), then prints one
markdown table of the 3x3 stride-1 rows: the lowering's and FAST's wall ms in each
layout (alternating calls) and FAST's speedup, FAST timed alone as the peers are (calls
in a row), oneDNN's direct and Winograd convolutions (the faster layout of each),
PyTorch in NCHW and channels_last, and the two speed goals of FAST: >= 1.3x the
lowering in a layout, and the faster layout of FAST alone >= 1.1x the best of oneDNN's
direct convolution and PyTorch. Without PyTorch its columns are '-' and the second goal
is against oneDNN alone. Progress goes to stderr; each tool's output is kept in --keep.
Exit status 0 when every row meets both goals, 1 when one does not, 2 on bad options,
and a message when a tool fails. Not part of any test: it takes minutes.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LOWERING_GOAL, PEER_GOAL = 1.3, 1.1


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"),
                        help="build directory holding tools/blasconv-fastbench (default: %(default)s)")
    parser.add_argument("--suite", help="layer suite CSV (default: blasconv-fastbench's)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--reps", type=int, default=9, help="timed calls per measurement (default 9)")
    parser.add_argument("--constant", action="store_true",
                        help="FAST keeps its transformed filter (weights promised constant), as "
                             "oneDNN's weights are reordered before its timing")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--keep", help="directory for each tool's output (default: a temporary one)")
    args = parser.parse_args()
    try:
        args.threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error("--threads: comma-separated numbers, e.g. 1,2")
    if not args.threads or min(args.threads) < 1 or not 1 <= args.reps <= 101:
        parser.error("--threads must be at least 1 and --reps from 1 to 101")
    return args


def run(command, out_path, pin):
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "0"] + command
    print("fast-goal-table: " + " ".join(command), file=sys.stderr, flush=True)
    with open(out_path, "w") as out:  # its progress and errors go on to stderr
        status = subprocess.run(command, stdout=out).returncode
    if status != 0:
        sys.exit("fast-goal-table: %s failed (exit %d)" % (" ".join(command), status))


def table_rows(path):
    """The cells of each '| name | ... |' row of a markdown table, by name."""
    rows = {}
    with open(path) as f:
        for line in f:
            if line.startswith("| ") and not line.startswith("| layer"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                rows[cells[0]] = cells
    return rows


def cell(value):
    return "-" if value is None else "%.3g" % value


def main():
    args = parse_args()
    fastbench = os.path.join(args.build, "tools", "blasconv-fastbench")
    if not os.access(fastbench, os.X_OK):
        sys.exit("fast-goal-table: no %s (build the project first)" % fastbench)
    torch = not args.no_torch and subprocess.run(
        ["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
    if not args.no_torch and not torch:
        print("fast-goal-table: no PyTorch for /usr/bin/python3 (apt-get install python3-torch):"
              " its columns left out", file=sys.stderr)
    keep = args.keep or tempfile.mkdtemp(prefix="fast-goal-table-")
    os.makedirs(keep, exist_ok=True)
    suite = ["--suite", args.suite] if args.suite else []
    print("| layer | threads | NCHW GEMM | NCHW FAST | x | NHWC GEMM | NHWC FAST | x "
          "| FAST alone NCHW | FAST alone NHWC | oneDNN direct | oneDNN Winograd | PyTorch NCHW "
          "| PyTorch channels_last | best peer / FAST alone | goals |")
    print("|---" * 16 + "|")
    met = []
    for threads in args.threads:
        outputs = {}
        for layout in ("nchw", "nhwc"):
            outputs[layout] = os.path.join(keep, "fastbench_%d_%s.txt" % (threads, layout))
            run([fastbench, "--onednn", "--reps", str(args.reps), "--threads", str(threads),
                 "--layout", layout] + (["--constant"] if args.constant else []) + suite,
                outputs[layout], threads == 1)
        peers = {}
        if torch:
            path = os.path.join(keep, "torch_%d.txt" % threads)
            run(["/usr/bin/python3", os.path.join(HERE, "torch-conv-bench.py"), "--threads",
                 str(threads), "--reps", str(args.reps)] + suite, path, threads == 1)
            peers = table_rows(path)
        nchw, nhwc = table_rows(outputs["nchw"]), table_rows(outputs["nhwc"])
        for name, a in nchw.items():
            b = nhwc[name]
            gemm = (float(a[3]), float(b[3]))
            fast = (float(a[4]), float(b[4]))
            alone = (float(a[11]), float(b[11]))
            direct, winograd = min(float(a[9]), float(b[9])), min(float(a[10]), float(b[10]))
            torch_ms = (float(peers[name][1]), float(peers[name][2])) if name in peers else None
            best_peer = min([direct] + (list(torch_ms) if torch_ms else []))
            speedup = (gemm[0] / fast[0], gemm[1] / fast[1])
            over_peer = best_peer / min(alone)
            goals = max(speedup) >= LOWERING_GOAL and over_peer >= PEER_GOAL
            met.append(goals)
            print("| %s | %d | %s | %s | %.2f | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %.2f | %s |"
                  % (name, threads, cell(gemm[0]), cell(fast[0]), speedup[0], cell(gemm[1]),
                     cell(fast[1]), speedup[1], cell(alone[0]), cell(alone[1]), cell(direct),
                     cell(winograd), cell(torch_ms[0] if torch_ms else None),
                     cell(torch_ms[1] if torch_ms else None), over_peer,
                     "met" if goals else "not met"), flush=True)
    print("\n%d of %d rows meet both goals (>= %.1fx the lowering, >= %.1fx the best peer); "
          "wall ms, medians of %d; tools' output in %s"
          % (sum(met), len(met), LOWERING_GOAL, PEER_GOAL, args.reps, keep))
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
