#!/bin/sh
# Builds and runs a consumer program against the current build, the way a user's
# project would (installed into a fresh temporary prefix, but for subdirectory):
#   cmake             find_package(blasconv CONFIG), shared and static targets
#   pkgconfig         cc consumer.c $(pkg-config --cflags --libs blasconv)
#   pkgconfig-static  the same with pkg-config --static and libblasconv.a
#   subdirectory      add_subdirectory of the source tree (no install), shared and static
# usage: run.sh MODE BUILD_DIR [EXTRA_CFLAGS]   (CC picks the compiler; default cc)
set -eu

usage='usage: run.sh cmake|pkgconfig|pkgconfig-static|subdirectory BUILD_DIR [EXTRA_CFLAGS]'
mode=${1:?$usage}
build=${2:?$usage}
extra_cflags=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/blasconv-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; exit 1; }

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
expect_shared() { # the program loads libblasconv.so.0, the SONAME
    needed "$1" | grep -qx 'libblasconv\.so\.0' ||
        { echo "run.sh: $1 does not load libblasconv.so.0:"; needed "$1"; exit 1; }
}
expect_static() { # the program carries blasconv itself
    if needed "$1" | grep -q '^libblasconv'; then
        echo "run.sh: $1 should not load a shared libblasconv:"; needed "$1"; exit 1
    fi
}

case "$mode" in
cmake | subdirectory)
    cmake -S "$here/$mode" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" \
        -DBLASCONV_SOURCE_DIR="$here/../.." -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_C_FLAGS="$extra_cflags" >"$tmp/configure.log" ||
        { cat "$tmp/configure.log"; exit 1; }
    cmake --build "$tmp/build" -j 2
    expect_shared "$tmp/build/consumer_shared"
    expect_static "$tmp/build/consumer_static"
    # CMake's build RPATH points at the library (prefix or subproject build): no
    # LD_LIBRARY_PATH needed.
    "$tmp/build/consumer_shared"
    "$tmp/build/consumer_static"
    ;;
pkgconfig | pkgconfig-static)
    pc=$(find "$prefix" -name blasconv.pc)
    [ -n "$pc" ] || { echo "run.sh: no blasconv.pc under $prefix"; exit 1; }
    PKG_CONFIG_PATH=$(dirname "$pc")
    export PKG_CONFIG_PATH
    if [ "$mode" = pkgconfig ]; then
        # shellcheck disable=SC2046,SC2086 # pkg-config's output is meant to be split
        $cc $extra_cflags "$here/consumer.c" $(pkg-config --cflags --libs blasconv) -lm \
            -o "$tmp/consumer"
        expect_shared "$tmp/consumer"
        LD_LIBRARY_PATH=$(pkg-config --variable=libdir blasconv) "$tmp/consumer"
    else
        # -lblasconv would pick the .so next to the .a: ask the linker for the archive.
        libs=$(pkg-config --static --libs blasconv | sed 's/-lblasconv\b/-l:libblasconv.a/')
        # shellcheck disable=SC2046,SC2086
        $cc $extra_cflags "$here/consumer.c" $(pkg-config --cflags blasconv) $libs \
            -o "$tmp/consumer"
        expect_static "$tmp/consumer"
        "$tmp/consumer"
    fi
    ;;
*)
    echo "run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
