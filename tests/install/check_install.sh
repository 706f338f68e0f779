#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds + runs a downstream project that finds
# ravel with find_package(ravel), against the shared and the static library.
set -euo pipefail
build_dir=$1
src_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
for lib in ravel::ravel ravel::ravel_static; do
  cmake -S "$src_dir/tests/install/downstream" -B "$tmp/build" -G Ninja \
    -DCMAKE_PREFIX_PATH="$tmp/prefix" -DRAVEL_TARGET="$lib" >/dev/null
  cmake --build "$tmp/build" >/dev/null
  out=$("$tmp/build/downstream")
  echo "$lib: $out"
  [ "$out" = "sum=15 shape=[2, 3]" ] || { echo "unexpected output from downstream ($lib)"; exit 1; }
  rm -rf "$tmp/build"
done
