#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds ravel and runs the main job. Until training lands,
# the main job is the array quick-start (examples/arrays.cpp).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
install_deps
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target arrays
./build/examples/arrays
