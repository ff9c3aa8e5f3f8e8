#!/bin/sh
# The README's two commands: installs what is missing (Debian packages), builds,
# then runs the demo or every test. Safe to run again and again.
#   sh tools/quickstart.sh demo    build, then run the chapter demo, learn a kernel, find edges
#   sh tools/quickstart.sh test    build, then run every test suite
#   sh tools/quickstart.sh bench   build, then compare the BLAS vendors (blasconv-bench)
set -eu
cd "$(dirname "$0")/.."

usage() {
    echo "usage: sh tools/quickstart.sh demo|test|bench|--help"
    echo "  demo  install missing Debian packages, build, run the chapter demo, the"
    echo "        learn-kernel experiment and edge detection (images in build/edges/)"
    echo "  test  install missing Debian packages, build, run every test (ctest)"
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
    ;;
bench)
    ./build/tools/blasconv-bench --csv build/bench.csv --chart build/bench.png
    ;;
esac
