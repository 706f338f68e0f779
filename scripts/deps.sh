# Sourced by demo.sh and test.sh: installs the Debian 12 packages ravel needs, only those missing.
RAVEL_PACKAGES=(build-essential cmake ninja-build ccache pkg-config libopenblas-dev liblapacke-dev
                libgtest-dev zlib1g-dev python3-numpy python3-torch python3-torchvision libdnnl-dev
                nlohmann-json3-dev dataset-fashion-mnist clang-format git libcli11-dev libpng-dev
                libturbojpeg0-dev python3-sklearn python3-pil libonnx-dev libprotobuf-dev
                python3-onnx)

install_deps() {
  local missing=()
  for p in "${RAVEL_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# ONNX Runtime for the interop tests and benchmarks: the npm package onnxruntime-node (its CPU
# library ships in the package, so --ignore-scripts skips only the optional GPU download), in
# .deps/ort/ of the source tree. Node.js comes from Debian when missing.
RAVEL_ORT_VERSION=1.30.0
RAVEL_ORT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.deps/ort"

install_ort() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "== installing: nodejs npm"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  local pkg="$RAVEL_ORT_DIR/node_modules/onnxruntime-node/package.json"
  if [ ! -f "$pkg" ] || ! grep -q "\"version\": \"$RAVEL_ORT_VERSION\"" "$pkg"; then
    echo "== installing: onnxruntime-node $RAVEL_ORT_VERSION (npm, into .deps/ort)"
    mkdir -p "$RAVEL_ORT_DIR"
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error --prefix "$RAVEL_ORT_DIR" \
      "onnxruntime-node@$RAVEL_ORT_VERSION" >/dev/null
  fi
}
