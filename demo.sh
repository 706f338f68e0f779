#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds ravel and runs the main job through the `ravel`
# command: a ResNet-20 trained on Fashion-MNIST (Debian's dataset-fashion-mnist) with a progress
# bar, evaluated on the 10,000 test images, with a report folder (metrics.csv, curves, confusion
# matrix, worst-classified images, index.html) in demo_run/. By default a short run (3 epochs, a
# few minutes on 2 cores, > 90%);
#   ./demo.sh --epochs 15        the full recipe (93.5%+; see README)
# Any option of `ravel train` can be given (./demo.sh --help).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
install_deps
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target ravel_cli
if [ $# -eq 0 ]; then set -- --epochs 3; fi
case " $* " in
  *" --out "*) ;;
  *) set -- --out demo_run "$@" ;;
esac
exec ./build/tools/ravel/ravel train "$@"
