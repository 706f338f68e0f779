// Convolution primitives, cached per geometry. Tensors stay in plain NCHW memory; a primitive
// may ask for its own (blocked) layout of an operand, which is then reordered in and out.
#include "backend/cpu/onednn/conv.h"

#include <cstdlib>
#include <cstring>

#include "backend/cpu/onednn/context.h"

namespace ravel::onednn {
namespace {

using cpu::ConvGeom;
using dnnl::memory;

// Which operands a primitive may lay out its own way: 0 none, 1 weights, 2 all (the default:
// blocked layouts pay for their reorders; measured on 64x64x3x3 over 32x32, batch 32, AVX-512:
// forward + backward 223 ms against 303 ms all plain and 364 ms with only the weights blocked).
// RAVEL_ONEDNN_CONV_LAYOUT=plain|weights|any overrides it, for measuring.
int layout_mode() {
  static const int mode = [] {
    const char* e = std::getenv("RAVEL_ONEDNN_CONV_LAYOUT");
    if (e && std::strcmp(e, "plain") == 0) return 0;
    if (e && std::strcmp(e, "weights") == 0) return 1;
    return 2;
  }();
  return mode;
}

memory::dims last(const int64_t (&a)[3], int nsp, int64_t minus = 0) {
  memory::dims d;
  for (int i = 3 - nsp; i < 3; ++i) d.push_back(a[i] - minus);
  return d;
}

memory::desc src_md(const ConvGeom& g, int64_t c, const int64_t (&sp)[3], bool any) {
  memory::dims d{g.n, c};
  for (int64_t v : last(sp, g.nsp)) d.push_back(v);
  return memory::desc(d, memory::data_type::f32, any ? memory::format_tag::any : plain_tag(d));
}

memory::desc weights_md(const ConvGeom& g, bool any) {
  memory::dims d;
  if (g.groups > 1) d.push_back(g.groups);
  d.push_back(g.c_out / g.groups);
  d.push_back(g.c_in / g.groups);
  for (int64_t v : last(g.k, g.nsp)) d.push_back(v);
  return memory::desc(d, memory::data_type::f32, any ? memory::format_tag::any : plain_tag(d));
}

memory::desc bias_md(const ConvGeom& g) {
  return memory::desc({g.c_out}, memory::data_type::f32, memory::format_tag::x);
}

// The descriptors every convolution primitive of a geometry shares.
struct Mds {
  memory::desc src, weights, dst, bias;
  memory::dims strides, dilates, pad_l, pad_r;
  explicit Mds(const ConvGeom& g, bool any_data, bool any_weights)
      : src(src_md(g, g.c_in, g.in, any_data)),
        weights(weights_md(g, any_weights)),
        dst(src_md(g, g.c_out, g.out, any_data)),
        bias(bias_md(g)),
        strides(last(g.stride, g.nsp)),
        dilates(last(g.dil, g.nsp, 1)),  // oneDNN counts dilation from 0
        pad_l(last(g.pad_l, g.nsp)),
        pad_r(last(g.pad_r, g.nsp)) {}
};

dnnl::convolution_forward::primitive_desc forward_pd(const ConvGeom& g, bool has_bias,
                                                     dnnl::prop_kind prop) {
  const int mode = layout_mode();
  Mds m(g, mode == 2, mode >= 1);
  auto d = has_bias ? dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct,
                                                      m.src, m.weights, m.bias, m.dst, m.strides,
                                                      m.dilates, m.pad_l, m.pad_r)
                    : dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct,
                                                      m.src, m.weights, m.dst, m.strides, m.dilates,
                                                      m.pad_l, m.pad_r);
  return dnnl::convolution_forward::primitive_desc(d, user_scratchpad(), engine());
}

Key geom_key(const char* kind, const ConvGeom& g, bool has_bias) {
  return Key(kind, g.nsp, g.n, g.c_in, g.c_out, g.groups, g.in, g.out, g.k, g.stride, g.dil,
             g.pad_l, g.pad_r, has_bias, layout_mode());
}

struct Forward {
  dnnl::convolution_forward prim;
  memory::desc scratch;
  Operand src, weights, dst;
};
struct BackwardData {
  dnnl::convolution_backward_data prim;
  memory::desc scratch;
  Operand diff_dst, weights, diff_src;
};
struct BackwardWeights {
  dnnl::convolution_backward_weights prim;
  memory::desc scratch;
  Operand src, diff_dst, diff_weights;
};

}  // namespace

bool conv_forward(const float* x, const float* w, const float* b, float* y, const ConvGeom& g) {
  if (g.n == 0) return false;  // oneDNN wants non-empty tensors
  static Cache<Forward> cache;
  auto e = cache.get(geom_key("conv_fwd", g, b != nullptr), [&] {
    auto pd = forward_pd(g, b != nullptr, dnnl::prop_kind::forward_training);
    Mds plain(g, false, false);
    return Forward{dnnl::convolution_forward(pd), pd.scratchpad_desc(),
                   Operand(plain.src, pd.src_desc(), false),
                   Operand(plain.weights, pd.weights_desc(), false),
                   Operand(plain.dst, pd.dst_desc(), true)};
  });
  if (!e) return false;
  Temps temps;
  memory src = e->src.input(x, temps), wts = e->weights.input(w, temps),
         dst = e->dst.output(y, temps);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}};
  if (b) args.emplace(DNNL_ARG_BIAS, wrap(bias_md(g), b));
  temps.scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  e->dst.finish(dst, y, temps);
  stream().wait();
  return true;
}

bool conv_backward_data(const float* gy, const float* w, float* gx, const ConvGeom& g) {
  if (g.n == 0) return false;  // oneDNN wants non-empty tensors
  static Cache<BackwardData> cache;
  auto e = cache.get(geom_key("conv_bwd_data", g, false), [&] {
    auto hint = forward_pd(g, false, dnnl::prop_kind::forward_training);
    const int mode = layout_mode();
    Mds m(g, mode == 2, mode >= 1), plain(g, false, false);
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, m.src, m.weights,
                                            m.dst, m.strides, m.dilates, m.pad_l, m.pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(d, user_scratchpad(), engine(), hint);
    return BackwardData{dnnl::convolution_backward_data(pd), pd.scratchpad_desc(),
                        Operand(plain.dst, pd.diff_dst_desc(), false),
                        Operand(plain.weights, pd.weights_desc(), false),
                        Operand(plain.src, pd.diff_src_desc(), true)};
  });
  if (!e) return false;
  Temps temps;
  memory dd = e->diff_dst.input(gy, temps), wts = e->weights.input(w, temps),
         ds = e->diff_src.output(gx, temps);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DIFF_SRC, ds}};
  temps.scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  e->diff_src.finish(ds, gx, temps);
  stream().wait();
  return true;
}

bool conv_backward_weight(const float* gy, const float* x, float* gw, float* gb,
                          const ConvGeom& g) {
  if (g.n == 0) return false;
  static Cache<BackwardWeights> cache;
  auto e = cache.get(geom_key("conv_bwd_weights", g, gb != nullptr), [&] {
    auto hint = forward_pd(g, gb != nullptr, dnnl::prop_kind::forward_training);
    const int mode = layout_mode();
    Mds m(g, mode == 2, mode >= 1), plain(g, false, false);
    auto d = gb ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                           m.src, m.weights, m.bias, m.dst,
                                                           m.strides, m.dilates, m.pad_l, m.pad_r)
                : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                           m.src, m.weights, m.dst, m.strides,
                                                           m.dilates, m.pad_l, m.pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(d, user_scratchpad(), engine(), hint);
    return BackwardWeights{dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(),
                           Operand(plain.src, pd.src_desc(), false),
                           Operand(plain.dst, pd.diff_dst_desc(), false),
                           Operand(plain.weights, pd.diff_weights_desc(), true)};
  });
  if (!e) return false;
  Temps temps;
  memory src = e->src.input(x, temps), dd = e->diff_dst.input(gy, temps),
         dw = e->diff_weights.output(gw, temps);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_WEIGHTS, dw}};
  if (gb) args.emplace(DNNL_ARG_DIFF_BIAS, wrap(bias_md(g), gb));
  temps.scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  e->diff_weights.finish(dw, gw, temps);
  stream().wait();
  return true;
}

}  // namespace ravel::onednn
