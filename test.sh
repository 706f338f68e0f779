#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds ravel with warnings as errors, and runs the whole
# test suite twice: optimised, then under AddressSanitizer + UndefinedBehaviorSanitizer.
#   ./test.sh                      everything
#   RAVEL_SKIP_SANITIZE=1 ./test.sh   the optimised build only (quicker, for local work)
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
install_deps
install_ort

jobs=$(nproc)
echo "== format (clang-format, .clang-format)"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

echo "== build (release, -Werror)"
cmake -S . -B build -G Ninja -DRAVEL_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
echo "== tests (release)"
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${RAVEL_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== build (ASan + UBSan)"
  # Tests at -O1 -g1 (line tables are enough for the reports' stack traces): the instrumented
  # build is the slowest part of ./test.sh on 2 cores; the library is built at -O1 there too.
  cmake -S . -B build-sanitize -G Ninja -DRAVEL_WERROR=ON -DRAVEL_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DRAVEL_BUILD_BENCH=OFF -DRAVEL_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-sanitize -j "$jobs" --target ravel_tests
  echo "== tests (ASan + UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j "$jobs"
fi
