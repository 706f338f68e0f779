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
