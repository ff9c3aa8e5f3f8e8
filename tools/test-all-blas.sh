#!/bin/sh
# Builds blasconv once per BLAS vendor (build-openblas, build-blis, build-atlas,
# build-netlib) and runs the whole test suite against each. Opt-in: the default test
# run (sh tools/quickstart.sh test) links OpenBLAS only.
#   sh tools/test-all-blas.sh [VENDOR...]   vendors: openblas blis atlas netlib (default: all)
set -eu
cd "$(dirname "$0")/.."

usage() {
    echo "usage: sh tools/test-all-blas.sh [openblas|blis|atlas|netlib ...]"
    echo "  configure, build and ctest blasconv in build-VENDOR for each vendor (default: all)"
}

bla_vendor() {
    case "$1" in
    openblas) echo OpenBLAS ;;
    blis) echo FLAME ;;
    atlas) echo ATLAS ;;
    netlib) echo Generic ;;
    *) return 1 ;;
    esac
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
vendors=${*:-openblas blis atlas netlib}
for v in $vendors; do
    bla_vendor "$v" >/dev/null || { echo "test-all-blas: unknown vendor '$v'" >&2; usage >&2; exit 2; }
done

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -le 2 ] || jobs=2
failed=""
for v in $vendors; do
    echo "test-all-blas: $v (BLASCONV_BLAS_VENDOR=$(bla_vendor "$v"))" >&2
    if cmake -S . -B "build-$v" -DBLASCONV_WERROR=ON -DBLASCONV_BLAS_VENDOR="$(bla_vendor "$v")" &&
        cmake --build "build-$v" -j "$jobs" &&
        ctest --test-dir "build-$v" --output-on-failure -j "$jobs"; then
        :
    else
        failed="$failed $v"
    fi
done
if [ -n "$failed" ]; then
    echo "test-all-blas: FAILED:$failed" >&2
    exit 1
fi
echo "test-all-blas: all passed: $vendors" >&2
