// nn::Upsample's printing (the layers themselves are header-only wrappers).
#include "ravel/nn/upsample.h"

namespace ravel::nn {

std::string Upsample::extra_repr() const {
  // As PyTorch: scale_factor (a float, or a tuple of them) or size, then the mode.
  std::string s;
  const auto& sf = options.scale_factor;
  if (!sf.empty()) {
    s = "scale_factor=";
    if (sf.size() == 1) {
      s += repr_float(sf[0]);
    } else {
      s += "(";
      for (size_t i = 0; i < sf.size(); ++i) s += (i ? ", " : "") + repr_float(sf[i]);
      s += ")";
    }
  } else {
    s = "size=" +
        (options.size.size() == 1 ? std::to_string(options.size[0]) : repr_tuple(options.size));
  }
  return s + ", mode=" + options.mode;
}

}  // namespace ravel::nn
