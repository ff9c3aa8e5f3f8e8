#!/bin/sh
# The README's two commands: installs what is missing (Debian packages), builds,
# then runs the demo or every test. Safe to run again and again.
#   sh tools/quickstart.sh demo    build, then run the chapter demo, learn a kernel, find edges
#   sh tools/quickstart.sh test    build, then run every test suite, then the same
#                                  suites again under AddressSanitizer + UBSan (build-asan/)
#   sh tools/quickstart.sh bench   build, then compare the BLAS vendors (blasconv-bench)
set -eu
cd "$(dirname "$0")/.."

usage() {
    echo "usage: sh tools/quickstart.sh demo|test|bench|--help"
    echo "  demo  install missing Debian packages, build, run the chapter demo, the"
    echo "        learn-kernel experiment and edge detection (images in build/edges/)"
    echo "  test  install missing Debian packages, build, run every test (ctest), then"
    echo "        build build-asan/ with ASan+UBSan and run every test again"
    echo "  bench install missing Debian packages, build, time every installed BLAS vendor"
    echo "        on the layer suite: table, build/bench.csv and build/bench.png"
}

mode=${1:-}
case "$mode" in
demo | test | bench) ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac

# What the build, the tools and the tests need: Debian package names, one a line.
packages=$(grep -v '^#' tools/debian-packages.txt)

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "quickstart: installing$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

jobs=$(nproc 2>/dev/null || echo 2)

# The whole suite again with AddressSanitizer (and its LeakSanitizer) plus UBSan.
# LeakSanitizer cannot run everywhere (not under ptrace, e.g. gdb or strace, nor in
# some sandboxes): a probe that leaks on purpose tells, and when it cannot run this
# says so loudly and checks everything but leaks, rather than passing as if it had.
run_sanitized_suite() {
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=ON \
        -DBLASCONV_SANITIZE=address,undefined
    cmake --build build-asan -j "$jobs"
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
    probe=$(ASAN_OPTIONS=$ASAN_OPTIONS ./build-asan/tests/lsan_probe 2>&1 || true)
    if echo "$probe" | grep -q "LeakSanitizer: detected memory leaks"; then
        echo "quickstart: LeakSanitizer works here: leaks are checked"
    else
        echo "quickstart: WARNING: LeakSanitizer cannot run on this machine, so this run does"
        echo "quickstart: NOT check for leaks (ASan and UBSan still run). Its probe said:"
        echo "$probe" | sed 's/^/    /' | head -5
        ASAN_OPTIONS=detect_leaks=0:strict_string_checks=1:detect_stack_use_after_return=1
    fi
    export ASAN_OPTIONS UBSAN_OPTIONS
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
}

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=ON
cmake --build build -j "$jobs"

case "$mode" in
demo)
    ./build/tools/blasconv-demo
    printf '\nLearning the kernel [1, -1] from data (blasconv-learn-kernel):\n'
    ./build/tools/blasconv-learn-kernel
    printf '\nEdges of a photograph (blasconv-edges):\n'
    ./build/tools/blasconv-edges --stretch --out build/edges
    ;;
test)
    ctest --test-dir build --output-on-failure -j "$jobs"
    run_sanitized_suite
    ;;
bench)
    ./build/tools/blasconv-bench --csv build/bench.csv --chart build/bench.png
    ;;
esac
