#include "backend/cpu/onednn/pool.h"

#include "backend/cpu/onednn/context.h"

namespace ravel::onednn {
namespace {

using dnnl::memory;

memory::dims last(const int64_t (&a)[3], int nsp, int64_t minus = 0) {
  memory::dims d;
  for (int i = 3 - nsp; i < 3; ++i) d.push_back(a[i] - minus);
  return d;
}

memory::desc data_md(const PoolParams& p, const int64_t (&sp)[3]) {
  memory::dims d{p.n, p.c};
  for (int64_t v : last(sp, p.nsp)) d.push_back(v);
  return memory::desc(d, memory::data_type::f32, plain_tag(d));
}

dnnl::algorithm algorithm(PoolAlg a) {
  switch (a) {
    case PoolAlg::Max:
      return dnnl::algorithm::pooling_max;
    case PoolAlg::AvgIncludePad:
      return dnnl::algorithm::pooling_avg_include_padding;
    case PoolAlg::AvgExcludePad:
      break;
  }
  return dnnl::algorithm::pooling_avg_exclude_padding;
}

dnnl::pooling_v2_forward::primitive_desc forward_pd(const PoolParams& p, bool training) {
  dnnl::pooling_v2_forward::desc d(
      training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
      algorithm(p.alg), data_md(p, p.in), data_md(p, p.out), last(p.stride, p.nsp),
      last(p.k, p.nsp), last(p.dil, p.nsp, 1), last(p.pad_l, p.nsp), last(p.pad_r, p.nsp));
  return dnnl::pooling_v2_forward::primitive_desc(d, user_scratchpad(), engine());
}

Key params_key(const char* kind, const PoolParams& p, bool training) {
  return Key(kind, p.nsp, p.alg, p.n, p.c, p.in, p.out, p.k, p.stride, p.dil, p.pad_l, p.pad_r,
             training);
}

struct Forward {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
};
struct Backward {
  dnnl::pooling_v2_backward prim;
  memory::desc workspace, scratch;
};

}  // namespace

bool pool_forward(const float* x, float* y, const PoolParams& p, Tensor* workspace) {
  static Cache<Forward> cache;
  const bool training = workspace != nullptr && p.alg == PoolAlg::Max;
  auto e = cache.get(params_key("pool_fwd", p, training), [&] {
    auto pd = forward_pd(p, training);
    return Forward{pd, dnnl::pooling_v2_forward(pd)};
  });
  if (!e) return false;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(data_md(p, p.in), x)},
                                       {DNNL_ARG_DST, wrap(data_md(p, p.out), y)}};
  if (training) {
    memory::desc ws = e->pd.workspace_desc();
    *workspace = empty({static_cast<int64_t>(ws.get_size())}, DType::UInt8);
    args.emplace(DNNL_ARG_WORKSPACE, wrap(ws, workspace->raw_data()));
  }
  Temps temps;
  temps.scratchpad(args, e->pd.scratchpad_desc());
  e->prim.execute(stream(), args);
  stream().wait();
  return true;
}

bool pool_backward(const float* gy, const Tensor& workspace, float* gx, const PoolParams& p) {
  static Cache<Backward> cache;
  const bool max = p.alg == PoolAlg::Max;
  auto e = cache.get(params_key("pool_bwd", p, true), [&] {
    auto hint = forward_pd(p, true);
    dnnl::pooling_v2_backward::desc d(
        algorithm(p.alg), data_md(p, p.in), data_md(p, p.out), last(p.stride, p.nsp),
        last(p.k, p.nsp), last(p.dil, p.nsp, 1), last(p.pad_l, p.nsp), last(p.pad_r, p.nsp));
    dnnl::pooling_v2_backward::primitive_desc pd(d, user_scratchpad(), engine(), hint);
    return Backward{dnnl::pooling_v2_backward(pd), hint.workspace_desc(), pd.scratchpad_desc()};
  });
  if (!e || (max && !workspace.defined())) return false;
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, wrap(data_md(p, p.out), gy)},
                                       {DNNL_ARG_DIFF_SRC, wrap(data_md(p, p.in), gx)}};
  if (max) args.emplace(DNNL_ARG_WORKSPACE, wrap(e->workspace, workspace.raw_data()));
  Temps temps;
  temps.scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  stream().wait();
  return true;
}

}  // namespace ravel::onednn
