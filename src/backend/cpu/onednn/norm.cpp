#include "backend/cpu/onednn/norm.h"

#include "backend/cpu/onednn/context.h"

namespace ravel::onednn {
namespace {

using dnnl::memory;
using dnnl::normalization_flags;

memory::desc data_md(const cpu::NormGeom& g) {
  return memory::desc({g.n, g.c, 1, g.s}, memory::data_type::f32, memory::format_tag::abcd);
}
memory::desc channel_md(const cpu::NormGeom& g) {
  return memory::desc({g.c}, memory::data_type::f32, memory::format_tag::x);
}

normalization_flags flags(bool scale, bool shift, bool training) {
  normalization_flags f = normalization_flags::none;
  if (scale) f |= normalization_flags::use_scale;
  if (shift) f |= normalization_flags::use_shift;
  if (!training) f |= normalization_flags::use_global_stats;
  return f;
}

dnnl::batch_normalization_forward::primitive_desc forward_pd(const cpu::NormGeom& g, bool scale,
                                                             bool shift, bool training,
                                                             dnnl::prop_kind prop) {
  dnnl::batch_normalization_forward::desc d(prop, data_md(g), static_cast<float>(g.eps),
                                            flags(scale, shift, training));
  return dnnl::batch_normalization_forward::primitive_desc(d, engine());
}

Key norm_key(const char* kind, const cpu::NormGeom& g, bool scale, bool shift, bool training) {
  return Key(kind, g.n, g.c, g.s, g.eps, scale, shift, training);
}

}  // namespace

bool batch_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                        float* var, bool training, const cpu::NormGeom& g) {
  static Cache<dnnl::batch_normalization_forward> cache;
  const bool scale = w != nullptr, shift = b != nullptr;
  auto e = cache.get(norm_key("bn_fwd", g, scale, shift, training), [&] {
    return dnnl::batch_normalization_forward(forward_pd(
        g, scale, shift, training,
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference));
  });
  if (!e) return false;
  const memory::desc cmd = channel_md(g);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(data_md(g), x)},
                                       {DNNL_ARG_DST, wrap(data_md(g), y)},
                                       {DNNL_ARG_MEAN, wrap(cmd, mean)},
                                       {DNNL_ARG_VARIANCE, wrap(cmd, var)}};
  if (scale) args.emplace(DNNL_ARG_SCALE, wrap(cmd, w));
  if (shift) args.emplace(DNNL_ARG_SHIFT, wrap(cmd, b));
  e->execute(stream(), args);
  stream().wait();
  return true;
}

bool batch_norm_backward(const float* gy, const float* x, const float* mean, const float* var,
                         const float* w, float* gx, float* gw, float* gb, bool training,
                         const cpu::NormGeom& g) {
  // oneDNN gives the shift's gradient only along with the scale's: a bias without a weight goes
  // to the portable kernel (rare).
  if (!w && gb) return false;
  static Cache<dnnl::batch_normalization_backward> cache;
  const bool scale = w != nullptr;
  auto e = cache.get(norm_key("bn_bwd", g, scale, scale, training), [&] {
    auto hint = forward_pd(g, scale, scale, training, dnnl::prop_kind::forward_training);
    dnnl::batch_normalization_backward::desc d(
        scale ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data, data_md(g), data_md(g),
        static_cast<float>(g.eps), flags(scale, scale, training));
    return dnnl::batch_normalization_backward(
        dnnl::batch_normalization_backward::primitive_desc(d, engine(), hint));
  });
  if (!e) return false;
  const memory::desc cmd = channel_md(g);
  // Outputs nobody wants still need somewhere to go.
  auto out = [](float* p, const memory::desc& md) {
    return p ? wrap(md, p) : memory(md, engine());
  };
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(data_md(g), x)},
                                       {DNNL_ARG_DIFF_DST, wrap(data_md(g), gy)},
                                       {DNNL_ARG_MEAN, wrap(cmd, mean)},
                                       {DNNL_ARG_VARIANCE, wrap(cmd, var)},
                                       {DNNL_ARG_DIFF_SRC, out(gx, data_md(g))}};
  if (scale) {
    args.emplace(DNNL_ARG_SCALE, wrap(cmd, w));
    args.emplace(DNNL_ARG_SHIFT, memory(cmd, engine()));
    args.emplace(DNNL_ARG_DIFF_SCALE, out(gw, cmd));
    args.emplace(DNNL_ARG_DIFF_SHIFT, out(gb, cmd));
  }
  e->execute(stream(), args);
  stream().wait();
  return true;
}

}  // namespace ravel::onednn
