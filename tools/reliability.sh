#!/bin/sh
# Opt-in reliability runs (none of them is part of `quickstart.sh test`):
#   sh tools/reliability.sh tsan           test_concurrency, test_threads, test_winograd and
#                                          test_winograd_backward_data under ThreadSanitizer
#                                          (build-tsan/)
#   sh tools/reliability.sh fuzz [SECS]    each libFuzzer harness for SECS s (default 60;
#                                          clang, build-fuzz/), from tests/fuzz/corpus/
#   sh tools/reliability.sh soak           10^5 random calls, resident memory must stay flat
#   sh tools/reliability.sh valgrind       a shorter soak (20000 calls) under valgrind memcheck
#   sh tools/reliability.sh clang          library, tools and tests built by clang with
#                                          -Werror (build-clang/), then every test
#   sh tools/reliability.sh torch [CASES]  tools/torch-crosscheck.py: CASES random convolutions
#                                          and poolings against PyTorch (default 2000)
# Each exits non-zero on a finding. Set BLASCONV_CONCURRENCY_SECONDS for a longer
# tsan run and BLASCONV_SOAK_CALLS for another soak length.
set -eu
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

mode=${1:-}
case "$mode" in
tsan | fuzz | soak | valgrind | clang | torch) ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -le 2 ] || jobs=2

case "$mode" in
tsan)
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=ON \
        -DBLASCONV_SANITIZE=thread -DBLASCONV_BUILD_TOOLS=OFF
    cmake --build build-tsan -j "$jobs" --target test_concurrency test_threads test_winograd \
        test_winograd_backward_data
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 CK_FORK=no \
        ./build-tsan/tests/test_concurrency
    # the library's own threads: a batch spread over parallel image slots
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 CK_FORK=no \
        ./build-tsan/tests/test_threads
    # FAST's threads, each running whole batches of tiles
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 CK_FORK=no \
        ./build-tsan/tests/test_winograd
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 CK_FORK=no \
        ./build-tsan/tests/test_winograd_backward_data
    ;;
fuzz)
    seconds=${2:-60}
    cc=$(command -v clang-14 || command -v clang || true)
    if [ -z "$cc" ]; then
        echo "reliability: fuzz needs clang (Debian package clang-14)" >&2
        exit 1
    fi
    # No -Werror here: clang may warn where gcc does not, and a warning should not stop a
    # fuzz run.
    CC=$cc cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=OFF \
        -DBLASCONV_FUZZ=ON -DBLASCONV_SANITIZE=address,undefined -DBLASCONV_BUILD_TESTS=OFF \
        -DBLASCONV_BUILD_TOOLS=OFF
    cmake --build build-fuzz -j "$jobs"
    for harness in build-fuzz/tests/fuzz/fuzz_*; do
        name=$(basename "$harness")
        work=build-fuzz/corpus/$name # what this run learns; the seeds stay as committed
        mkdir -p "$work"
        echo "reliability: $name for $seconds s" >&2
        "$harness" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
            -artifact_prefix=build-fuzz/"$name"- "$work" tests/fuzz/corpus/"$name" 2>&1 |
            tee build-fuzz/"$name".log | grep -E "^(FUZZ FINDING|==|SUMMARY|stat::number_of_executed_units|Done)" || true
        grep -q "^Done " build-fuzz/"$name".log || { echo "reliability: $name found something: build-fuzz/$name.log" >&2; exit 1; }
    done
    ;;
clang)
    # A second compiler: gcc inlines calls (floor) that clang leaves to libm, and each
    # warns about different things.
    cc=$(command -v clang-14 || command -v clang || true)
    if [ -z "$cc" ]; then
        echo "reliability: clang mode needs clang (Debian package clang-14)" >&2
        exit 1
    fi
    CC=$cc cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=ON
    cmake --build build-clang -j "$jobs"
    (cd build-clang && ctest -j "$jobs" -E '^format$' --output-on-failure)
    ;;
torch)
    /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null ||
        { echo "reliability: torch mode needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=ON
    cmake --build build -j "$jobs" --target blasconv
    /usr/bin/python3 tools/torch-crosscheck.py --cases "${2:-2000}" --lib build/libblasconv.so
    ;;
soak | valgrind)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASCONV_WERROR=ON
    cmake --build build -j "$jobs" --target soak
    if [ "$mode" = soak ]; then
        ./build/tests/soak
    else
        command -v valgrind >/dev/null || { echo "reliability: install valgrind" >&2; exit 1; }
        # RSS under valgrind is valgrind's; its leak report replaces that check.
        BLASCONV_SOAK_CALLS=${BLASCONV_SOAK_CALLS:-20000} BLASCONV_SOAK_NO_RSS=1 \
            OPENBLAS_NUM_THREADS=1 \
            valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            ./build/tests/soak
    fi
    ;;
esac
