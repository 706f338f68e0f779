// ravel::compile's training step on oneDNN. Every step of the training plan becomes forward
// primitives, created once, and the matching backward primitives, run in reverse order:
//
//   conv          forward_training; backward data (unless its input is the graph input) and
//                 backward weights (+bias), both with the forward's layouts, so the blocked
//                 activations (nChw16c) and their gradients never go back to NCHW in between
//   batch norm    batch statistics, scale and shift, a following ReLU fused (its mask in the
//                 workspace); the module's running statistics are updated after the forward
//   relu / add    eltwise and binary primitives; a ReLU after an add or a linear is a post-op,
//                 differentiated from its output
//   pool, linear  pooling (max with a workspace) and inner product, the Flatten before it free
//
// A value read by several steps (a residual block's input) gets its gradient summed: the first
// backward to reach it writes its gradient buffer, later ones add into it. All buffers live in
// one arena per in-flight forward, laid out at compile time from their lifetimes; forward
// activations stay until the end (backward may run again), gradients and temporaries share.
// In bfloat16, activations and their gradients are bf16, weights are rounded to bf16 per
// forward, and weight gradients, BN statistics and the classifier stay f32.
#include <algorithm>
#include <climits>
#include <functional>
#include <mutex>
#include <sstream>

#include "backend/cpu/onednn/arena.h"
#include "backend/cpu/onednn/context.h"
#include "backend/cpu/onednn/step_params.h"
#include "compile/program.h"
#include "ravel/autograd.h"
#include "ravel/error.h"

namespace ravel::compiled {
namespace {

using dnnl::memory;
using infer::PostOp;
using infer::Step;
using onednn::ArenaBuffer;
using onednn::engine;
using onednn::layout_name;
using onednn::stream;
using onednn::to_dims;
using tag = memory::format_tag;
using dt = memory::data_type;

memory::desc plain_md(const memory::dims& d, dt type = dt::f32) {
  return memory::desc(d, type, onednn::plain_tag(d));
}

// One forward's buffers, and its input (a convolution may read it in place in backward).
class Workspace : public TrainProgram::Saved {
 public:
  explicit Workspace(size_t bytes)
      : arena(empty({static_cast<int64_t>(bytes + 64)}, DType::UInt8)) {}
  Tensor arena, input;
};

class OnednnTrainStep final : public TrainProgram {
 public:
  OnednnTrainStep(const infer::Plan& plan, const graph::Graph& g,
                  const std::map<std::string, Tensor>& live, DType dtype)
      : plan_(plan), live_(live), act_(dtype == DType::BFloat16 ? dt::bf16 : dt::f32) {
    RAVEL_CHECK(g.inputs.size() == 1 && g.outputs.size() == 1,
                "compile: the model must have one input and one output, it has ", g.inputs.size(),
                " and ", g.outputs.size());
    const std::string in = g.inputs[0].name;
    x_mem_ = user_memory(plain_md(to_dims(plan.shapes.at(in))));
    vals_[in].mem = x_mem_;
    vals_[in].is_input = true;
    for (const Step& s : plan.steps) {
      try {
        forward_step(s);
      } catch (const dnnl::error& e) {
        RAVEL_CHECK(false, "compile: oneDNN cannot run step '", infer::describe_step(s, plan),
                    "' (node '", s.nodes.at(0)->name, "'): ", e.what());
      }
    }
    const std::string out = plan.resolve(g.outputs[0].name);
    output_shape_ = plan.shapes.at(out);
    Val& o = val(out);
    y_mem_ = user_memory(plain_md(to_dims(output_shape_)));
    add_reorder(o.mem, y_mem_, "output");
    forward_count_ = static_cast<int>(execs_.size());
    for (ArenaBuffer& b : buffers_) b.last = INT_MAX;  // forward buffers outlive any backward

    // Backward: the output's gradient first, then the steps in reverse.
    gy_mem_ = user_memory(plain_md(to_dims(output_shape_)));
    deliver(out, gy_mem_);
    for (size_t k = plan.steps.size(); k-- > 0;) {
      try {
        backward_step(plan.steps[k], fwd_[k]);
      } catch (const dnnl::error& e) {
        RAVEL_CHECK(false, "compile: oneDNN cannot differentiate step '",
                    infer::describe_step(plan.steps[k], plan), "' (node '",
                    plan.steps[k].nodes.at(0)->name, "'): ", e.what());
      }
    }
    arena_bytes_ = onednn::place_in_arena(buffers_);
    scratch_ = memory(
        memory::desc({static_cast<int64_t>(std::max<size_t>(scratch_bytes_, 1))}, dt::u8, tag::x),
        engine());
    for (Exec& e : execs_)
      if (!e.host) e.args[DNNL_ARG_SCRATCHPAD] = scratch_;
  }

  const std::vector<Tensor>& parameters() const override { return params_; }

  Tensor forward(const Tensor& x, std::shared_ptr<Saved>& saved) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Workspace> ws;
    for (auto& w : workspaces_)
      if (w.use_count() == 1) ws = w;  // held by no autograd node
    if (!ws) ws = workspaces_.emplace_back(std::make_shared<Workspace>(arena_bytes_));
    bind(*ws);
    for (auto& [m, t] : bound_tensors_) m.set_data_handle(t.raw_data());
    Tensor y = empty(Shape(output_shape_));
    ws->input = x;
    x_mem_.set_data_handle(const_cast<void*>(x.raw_data()));
    y_mem_.set_data_handle(y.raw_data());
    run(0, forward_count_);
    saved = ws;
    return y;
  }

  std::vector<Tensor> backward(const Tensor& grad_output, Saved& saved) override {
    std::lock_guard<std::mutex> lock(mu_);
    Workspace& ws = static_cast<Workspace&>(saved);
    bind(ws);
    for (auto& [m, t] : bound_tensors_) m.set_data_handle(t.raw_data());
    x_mem_.set_data_handle(ws.input.raw_data());
    Tensor gy = grad_output.to(DType::Float32).contiguous();
    gy_mem_.set_data_handle(const_cast<void*>(gy.raw_data()));
    std::vector<Tensor> grads;
    for (size_t i = 0; i < params_.size(); ++i) {
      grads.push_back(empty(params_[i].shape()));
      grad_mems_[i].set_data_handle(grads.back().raw_data());
    }
    run(forward_count_, static_cast<int>(execs_.size()));
    return grads;
  }

  std::string describe() const override {
    std::ostringstream os;
    for (const Exec& e : execs_)
      if (!e.text.empty()) os << e.text << "\n";
    os << "arena " << arena_bytes_ / (1 << 20) << " MiB per step, scratchpad "
       << scratch_bytes_ / 1024 << " KiB\n";
    return os.str();
  }

 private:
  struct Val {
    memory mem;   // the activation, in the layout its producer chose
    memory diff;  // its gradient (same layout), made when a backward first reaches it
    bool is_input = false;
    bool diff_written = false;  // while compiling the backward: a later gradient adds
  };
  struct Exec {
    dnnl::primitive prim;
    std::unordered_map<int, memory> args;
    std::function<void()> host;  // instead of a primitive
    std::string text;
  };
  // What a step's backward needs of its forward.
  struct Fwd {
    memory src, src2, weights, weights_user, bias, scale, shift, dst, mean, var, workspace;
    std::optional<dnnl::convolution_forward::primitive_desc> conv;
    std::optional<dnnl::batch_normalization_forward::primitive_desc> bn;
    std::optional<dnnl::pooling_v2_forward::primitive_desc> pool;
    std::optional<dnnl::inner_product_forward::primitive_desc> ip;
    std::optional<dnnl::eltwise_forward::primitive_desc> relu;
    dnnl::algorithm pool_alg = dnnl::algorithm::undef;
    int weight_param = -1, bias_param = -1;
  };

  const infer::Plan& plan_;
  std::map<std::string, Tensor> live_;
  dt act_;
  std::vector<int64_t> output_shape_;
  std::map<std::string, Val> vals_;
  std::vector<Fwd> fwd_;
  std::vector<Exec> execs_;
  int forward_count_ = 0;
  std::vector<ArenaBuffer> buffers_;
  std::vector<std::pair<size_t, memory>> buffer_mems_;
  std::vector<std::pair<memory, Tensor>> bound_tensors_;  // module tensors read in place
  std::vector<Tensor> params_;
  std::vector<std::string> param_names_;
  std::vector<memory> grad_mems_;
  memory x_mem_, y_mem_, gy_mem_, scratch_;
  size_t arena_bytes_ = 0, scratch_bytes_ = 0;
  std::vector<std::shared_ptr<Workspace>> workspaces_;
  Workspace* bound_ = nullptr;
  std::mutex mu_;

  // ---------------------------------------------------------------- memory
  static memory user_memory(const memory::desc& md) {
    return memory(md, engine(), DNNL_MEMORY_NONE);
  }
  int now() const { return static_cast<int>(execs_.size()); }
  memory new_buffer(const memory::desc& md) {
    buffers_.push_back({md.get_size(), 0, now(), now()});
    memory m(md, engine(), DNNL_MEMORY_NONE);
    buffer_mems_.emplace_back(buffers_.size() - 1, m);
    return m;
  }
  void bind(Workspace& ws) {
    if (bound_ == &ws) return;
    char* base = static_cast<char*>(ws.arena.raw_data());
    base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
    for (auto& [b, m] : buffer_mems_) m.set_data_handle(base + buffers_[b].offset);
    bound_ = &ws;
  }
  void run(int from, int to) {
    for (int i = from; i < to; ++i) {
      Exec& e = execs_[static_cast<size_t>(i)];
      if (e.host) {
        stream().wait();
        e.host();
      } else {
        e.prim.execute(stream(), e.args);
      }
    }
    stream().wait();
  }

  // A module tensor by its state_dict name, float32 and contiguous, read in place.
  memory module_memory(const std::string& name, const memory::desc& md, const graph::Node& n) {
    auto it = live_.find(name);
    RAVEL_CHECK(it != live_.end(), "compile: node '", n.name, "' reads '", name,
                "', which is not a parameter or buffer of the module");
    const Tensor& t = it->second;
    RAVEL_CHECK(t.dtype() == DType::Float32 && t.is_contiguous() &&
                    static_cast<size_t>(t.numel()) * 4 == md.get_size(),
                "compile: '", name, "' must be a contiguous float32 tensor of ", md.get_size() / 4,
                " elements, it is ", dtype_name(t.dtype()), " ", t.shape());
    memory m = user_memory(md);
    bound_tensors_.emplace_back(m, t);
    return m;
  }
  // A trainable parameter: its index in params_ (gradients come back in that order).
  int param(const std::string& name, const memory::desc& md, const graph::Node& n, memory& mem) {
    mem = module_memory(name, md, n);
    RAVEL_CHECK(std::find(param_names_.begin(), param_names_.end(), name) == param_names_.end(),
                "compile: parameter '", name, "' is used by more than one node");
    params_.push_back(live_.at(name));
    param_names_.push_back(name);
    grad_mems_.push_back(user_memory(md));
    return static_cast<int>(params_.size()) - 1;
  }

  // Extends the lifetime of the arena buffer behind m (if any) to the exec about to be added.
  void touch(const memory& m) {
    for (auto& [b, bm] : buffer_mems_)
      if (bm.get() == m.get()) buffers_[b].last = std::max(buffers_[b].last, now());
  }
  void add(dnnl::primitive p, std::unordered_map<int, memory> args, std::string text = "") {
    for (const auto& [arg, m] : args) touch(m);
    execs_.push_back({std::move(p), std::move(args), nullptr, std::move(text)});
  }
  // Every primitive uses the program's one scratchpad.
  static dnnl::primitive_attr attr() {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }
  template <typename Pd>
  void note_scratch(const Pd& pd) {
    scratch_bytes_ = std::max(scratch_bytes_, pd.scratchpad_desc().get_size());
  }
  void add_reorder(const memory& from, const memory& to, const std::string& text = "") {
    dnnl::primitive_attr a = attr();
    dnnl::reorder::primitive_desc pd(engine(), from.get_desc(), engine(), to.get_desc(), a);
    note_scratch(pd);
    add(dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}},
        text.empty() ? ""
                     : "reorder " + text + " " + layout_name(from.get_desc()) + "->" +
                           layout_name(to.get_desc()));
  }
  // m in layout md: m itself, or a new buffer it is reordered into.
  memory as(const memory& m, const memory::desc& md, const std::string& what) {
    if (m.get_desc() == md) return m;
    memory out = new_buffer(md);
    add_reorder(m, out, what);
    return out;
  }

  Val& val(const std::string& name) {
    auto it = vals_.find(plan_.resolve(name));
    RAVEL_CHECK(it != vals_.end(), "compile: no value '", name, "' before its use");
    return it->second;
  }

  // ---------------------------------------------------------------- gradients of values
  // Where a backward primitive writes the gradient of value v in layout md: v's gradient buffer
  // when this is the first gradient to reach v and the layouts agree, else a temporary that
  // deliver() then moves or adds into it.
  memory grad_target(const std::string& v, const memory::desc& md) {
    Val& x = val(v);
    if (!x.diff_written && md == x.mem.get_desc()) {
      if (!x.diff) x.diff = new_buffer(md);
      return x.diff;
    }
    return new_buffer(md);
  }
  // Completes a gradient written to `g` for value v (see grad_target).
  void deliver(const std::string& v, const memory& g) {
    Val& x = val(v);
    if (x.diff && g.get() == x.diff.get()) {
      x.diff_written = true;
      return;
    }
    if (!x.diff) x.diff = new_buffer(x.mem.get_desc());
    if (!x.diff_written) {
      add_reorder(g, x.diff);
    } else {
      memory same = as(g, x.diff.get_desc(), "");
      dnnl::primitive_attr a = attr();
      dnnl::binary::primitive_desc pd(
          dnnl::binary::desc(dnnl::algorithm::binary_add, x.diff.get_desc(), same.get_desc(),
                             x.diff.get_desc()),
          a, engine());
      note_scratch(pd);
      add(dnnl::binary(pd),
          {{DNNL_ARG_SRC_0, x.diff}, {DNNL_ARG_SRC_1, same}, {DNNL_ARG_DST, x.diff}});
    }
    x.diff_written = true;
  }
  bool needs_grad(const std::string& v) { return !val(v).is_input; }

  // The gradient of the step's output before its ReLU post-op (dst: the output after it).
  memory relu_backward(const memory& dst, const memory& diff_dst) {
    dnnl::eltwise_forward::desc fd(dnnl::prop_kind::forward_training,
                                   dnnl::algorithm::eltwise_relu_use_dst_for_bwd, dst.get_desc(),
                                   0.f);
    dnnl::eltwise_forward::primitive_desc fpd(fd, engine());
    dnnl::eltwise_backward::desc bd(dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                    diff_dst.get_desc(), dst.get_desc(), 0.f);
    dnnl::primitive_attr a = attr();
    dnnl::eltwise_backward::primitive_desc pd(bd, a, engine(), fpd);
    note_scratch(pd);
    memory out = new_buffer(pd.diff_src_desc());
    add(dnnl::eltwise_backward(pd),
        {{DNNL_ARG_DST, dst}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, out}});
    return out;
  }

  const graph::Node& node_of(const Step& s, const char* op) const {
    for (const graph::Node* n : s.nodes)
      if (n->op == op) return *n;
    RAVEL_CHECK(false, "compile: step '", infer::describe_step(s, plan_), "' has no ", op, " node");
    return *s.nodes[0];
  }
  static bool has_input(const graph::Node& n, size_t i) {
    return n.inputs.size() > i && !n.inputs[i].empty();
  }
  static dnnl::post_ops relu_post_op(const Step& s) {
    dnnl::post_ops po;
    if (!s.post_ops.empty()) po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    return po;
  }
  std::string text(const Step& s, const memory::desc& md, const char* impl) const {
    std::string t = infer::describe_step(s, plan_);
    t += std::string(" [") + (md.data_type() == dt::bf16 ? "bf16" : "f32") + ", " +
         layout_name(md) + "] " + impl;
    return t;
  }

  // ---------------------------------------------------------------- forward
  void forward_step(const Step& s) {
    Fwd f;
    for (const PostOp& p : s.post_ops)
      RAVEL_CHECK(p.kind == PostOp::Relu || s.kind == Step::Eltwise, "compile: node '",
                  s.nodes.back()->name, "' (", s.nodes.back()->op,
                  ") has no compiled training form (ReLU is the activation compiled)");
    switch (s.kind) {
      case Step::Conv:
        conv_forward(s, f);
        break;
      case Step::BatchNorm:
        bn_forward(s, f);
        break;
      case Step::Eltwise:
        relu_forward(s, f);
        break;
      case Step::Add:
        add_forward(s, f);
        break;
      case Step::Pool:
        pool_forward(s, f);
        break;
      case Step::InnerProduct:
        ip_forward(s, f);
        break;
      case Step::Fallback:
        RAVEL_CHECK(false, "compile: node '", s.nodes.at(0)->name, "' (", s.nodes.at(0)->op,
                    ") has no compiled training form");
    }
    Val& out = vals_[s.outputs.at(0)];
    out.mem = f.dst;
    fwd_.push_back(std::move(f));
  }

  void conv_forward(const Step& s, Fwd& f) {
    const std::vector<int64_t>& xs = plan_.shapes.at(s.inputs[0]);
    const std::vector<int64_t>& ys = plan_.shapes.at(s.outputs[0]);
    memory::dims wd = to_dims(s.weight.shape());
    if (s.groups > 1) {
      wd[0] /= s.groups;
      wd.insert(wd.begin(), s.groups);
    }
    const memory::dims dil = onednn::dilations(s), strides = to_dims(s.strides),
                       pl = to_dims(s.pads_begin), pr = to_dims(s.pads_end);
    const bool real = s.nodes[0]->op == "Conv";
    const bool bias = real && has_input(*s.nodes[0], 2);
    memory::desc bias_md({s.weight.shape()[0]}, dt::f32, tag::x);
    auto desc = [&](dt w_type) {
      memory::desc src(to_dims(xs), act_, tag::any), w(wd, w_type, tag::any),
          dst(to_dims(ys), act_, tag::any);
      return bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                    dnnl::algorithm::convolution_direct, src, w,
                                                    bias_md, dst, strides, dil, pl, pr)
                  : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                    dnnl::algorithm::convolution_direct, src, w,
                                                    dst, strides, dil, pl, pr);
    };
    dnnl::primitive_attr a = attr();
    a.set_post_ops(relu_post_op(s));
    dnnl::convolution_forward::primitive_desc pd(desc(act_), a, engine());
    note_scratch(pd);
    memory::desc w_user = plain_md(wd);
    memory w_mem;
    if (real) {
      f.weight_param = param(s.nodes[0]->inputs[1], w_user, *s.nodes[0], w_mem);
      if (bias) {
        f.bias_param = param(s.nodes[0]->inputs[2], bias_md, *s.nodes[0], f.bias);
      }
    } else {
      w_mem = user_memory(w_user);  // the shortcut's constant 0/1 weights
      bound_tensors_.emplace_back(w_mem, s.weight);
    }
    f.weights_user = w_mem;
    f.weights = as(w_mem, pd.weights_desc(), "");
    f.src = as(val(s.inputs[0]).mem, pd.src_desc(), "conv input");
    f.dst = new_buffer(pd.dst_desc());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, f.src}, {DNNL_ARG_WEIGHTS, f.weights}, {DNNL_ARG_DST, f.dst}};
    if (bias) args[DNNL_ARG_BIAS] = f.bias;
    add(dnnl::convolution_forward(pd), args, text(s, pd.dst_desc(), pd.impl_info_str()));
    f.conv = pd;
  }

  void bn_forward(const Step& s, Fwd& f) {
    const graph::Node& n = node_of(s, "BatchNormalization");
    const memory src = val(s.inputs[0]).mem;
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!s.post_ops.empty()) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_training, src.get_desc(),
                                              s.epsilon, flags);
    dnnl::primitive_attr a = attr();
    dnnl::batch_normalization_forward::primitive_desc pd(d, a, engine());
    note_scratch(pd);
    const int64_t c = src.get_desc().dims()[1];
    memory::desc cmd({c}, dt::f32, tag::x);
    f.weight_param = param(n.inputs[1], cmd, n, f.scale);
    f.bias_param = param(n.inputs[2], cmd, n, f.shift);
    f.src = src;
    f.dst = new_buffer(pd.dst_desc());
    f.mean = new_buffer(pd.mean_desc());
    f.var = new_buffer(pd.variance_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, f.src},     {DNNL_ARG_DST, f.dst},
                                         {DNNL_ARG_SCALE, f.scale}, {DNNL_ARG_SHIFT, f.shift},
                                         {DNNL_ARG_MEAN, f.mean},   {DNNL_ARG_VARIANCE, f.var}};
    if (!s.post_ops.empty()) {
      f.workspace = new_buffer(pd.workspace_desc());
      args[DNNL_ARG_WORKSPACE] = f.workspace;
    }
    add(dnnl::batch_normalization_forward(pd), args, text(s, pd.dst_desc(), pd.impl_info_str()));
    f.bn = pd;
    running_stats_update(n, f);
  }

  // running = (1 - m) running + m batch, with the unbiased variance, and num_batches_tracked + 1
  // (torch's BatchNorm; ONNX's momentum is torch's 1 - m).
  void running_stats_update(const graph::Node& n, const Fwd& f) {
    memory::desc cmd(f.mean.get_desc());
    memory rm = module_memory(n.inputs[3], cmd, n), rv = module_memory(n.inputs[4], cmd, n);
    const float m = 1.0f - n.attr_float("momentum", 0.9f);
    const memory::dims d = f.src.get_desc().dims();
    int64_t count = d[0];
    for (size_t i = 2; i < d.size(); ++i) count *= d[i];
    const float unbias = count > 1 ? static_cast<float>(count) / static_cast<float>(count - 1) : 1;
    const int64_t c = d[1];
    Tensor tracked;
    const std::string w = n.inputs[1];
    const std::string prefix =
        w.substr(0, w.rfind('.') == std::string::npos ? 0 : w.rfind('.') + 1);
    auto it = live_.find(prefix + "num_batches_tracked");
    if (it != live_.end() && it->second.dtype() == DType::Int64 && it->second.numel() == 1)
      tracked = it->second;
    memory mean = f.mean, var = f.var;
    touch(mean);
    touch(var);
    execs_.push_back({{},
                      {},
                      [=]() mutable {
                        const float* bm = static_cast<const float*>(mean.get_data_handle());
                        const float* bv = static_cast<const float*>(var.get_data_handle());
                        float* pm = static_cast<float*>(rm.get_data_handle());
                        float* pv = static_cast<float*>(rv.get_data_handle());
                        for (int64_t i = 0; i < c; ++i) {
                          pm[i] = (1 - m) * pm[i] + m * bm[i];
                          pv[i] = (1 - m) * pv[i] + m * bv[i] * unbias;
                        }
                        if (tracked.defined()) *static_cast<int64_t*>(tracked.raw_data()) += 1;
                      },
                      ""});
  }

  void relu_forward(const Step& s, Fwd& f) {
    RAVEL_CHECK(s.nodes.size() == 1 && s.nodes[0]->op == "Relu", "compile: node '",
                s.nodes.at(0)->name, "' (", s.nodes.at(0)->op,
                ") has no compiled training form (ReLU is the activation compiled)");
    f.src = val(s.inputs[0]).mem;
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training,
                                  dnnl::algorithm::eltwise_relu_use_dst_for_bwd, f.src.get_desc(),
                                  0.f);
    dnnl::primitive_attr a = attr();
    dnnl::eltwise_forward::primitive_desc pd(d, a, engine());
    note_scratch(pd);
    f.dst = new_buffer(pd.dst_desc());
    add(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, f.src}, {DNNL_ARG_DST, f.dst}},
        text(s, pd.dst_desc(), pd.impl_info_str()));
    f.relu = pd;
  }

  void add_forward(const Step& s, Fwd& f) {
    f.src = val(s.inputs[0]).mem;
    f.src2 = as(val(s.inputs[1]).mem, f.src.get_desc(), "add input");
    dnnl::primitive_attr a = attr();
    a.set_post_ops(relu_post_op(s));
    dnnl::binary::primitive_desc pd(
        dnnl::binary::desc(dnnl::algorithm::binary_add, f.src.get_desc(), f.src2.get_desc(),
                           f.src.get_desc()),
        a, engine());
    note_scratch(pd);
    f.dst = new_buffer(pd.dst_desc());
    add(dnnl::binary(pd),
        {{DNNL_ARG_SRC_0, f.src}, {DNNL_ARG_SRC_1, f.src2}, {DNNL_ARG_DST, f.dst}},
        text(s, pd.dst_desc(), pd.impl_info_str()));
  }

  void pool_forward(const Step& s, Fwd& f) {
    RAVEL_CHECK(s.post_ops.empty(), "compile: a ReLU fused into a pooling is not compiled");
    f.src = val(s.inputs[0]).mem;
    const memory::dims dil = onednn::dilations(s);
    const dnnl::algorithm alg = onednn::pool_algorithm(s);
    memory::desc dst(to_dims(plan_.shapes.at(s.outputs[0])), act_, tag::any);
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_training, alg, f.src.get_desc(), dst,
                                     to_dims(s.strides), to_dims(s.kernel), dil,
                                     to_dims(s.pads_begin), to_dims(s.pads_end));
    dnnl::primitive_attr a = attr();
    dnnl::pooling_v2_forward::primitive_desc pd(d, a, engine());
    note_scratch(pd);
    f.dst = new_buffer(pd.dst_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, f.src}, {DNNL_ARG_DST, f.dst}};
    if (pd.workspace_desc().get_size() > 0) {
      f.workspace = new_buffer(pd.workspace_desc());
      args[DNNL_ARG_WORKSPACE] = f.workspace;
    }
    add(dnnl::pooling_v2_forward(pd), args, text(s, pd.dst_desc(), pd.impl_info_str()));
    f.pool = pd;
    f.pool_alg = alg;
  }

  void ip_forward(const Step& s, Fwd& f) {
    const graph::Node& gemm = node_of(s, "Gemm");
    const memory x = val(s.inputs[0]).mem;
    const memory::dims xd = x.get_desc().dims();
    const int64_t o = s.weight.shape()[0];
    memory::dims wd{o};
    for (size_t i = 1; i < xd.size(); ++i) wd.push_back(xd[i]);
    const bool bias = has_input(gemm, 2);
    memory::desc bias_md({o}, dt::f32, tag::x), dst = plain_md({xd[0], o});
    // The classifier stays float32: its input is converted from bf16 when mixed.
    memory::desc src_any(xd, dt::f32, tag::any), w_any(wd, dt::f32, tag::any);
    auto d = bias ? dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, src_any,
                                                      w_any, bias_md, dst)
                  : dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, src_any,
                                                      w_any, dst);
    dnnl::primitive_attr a = attr();
    a.set_post_ops(relu_post_op(s));
    dnnl::inner_product_forward::primitive_desc pd(d, a, engine());
    note_scratch(pd);
    memory w_mem;
    f.weight_param = param(gemm.inputs[1], plain_md(wd), gemm, w_mem);
    f.weights = as(w_mem, pd.weights_desc(), "");
    std::unordered_map<int, memory> args;
    if (bias) {
      memory b_mem;
      f.bias_param = param(gemm.inputs[2], bias_md, gemm, b_mem);
      args[DNNL_ARG_BIAS] = b_mem;
    }
    f.src = as(x, pd.src_desc(), "linear input");
    f.dst = new_buffer(pd.dst_desc());
    args[DNNL_ARG_SRC] = f.src;
    args[DNNL_ARG_WEIGHTS] = f.weights;
    args[DNNL_ARG_DST] = f.dst;
    add(dnnl::inner_product_forward(pd), args, text(s, pd.src_desc(), pd.impl_info_str()));
    f.ip = pd;
  }

  // ---------------------------------------------------------------- backward
  void backward_step(const Step& s, const Fwd& f) {
    Val& out = val(s.outputs.at(0));
    if (!out.diff_written) return;  // nothing downstream needs this step (a dead branch)
    memory gy = out.diff;
    switch (s.kind) {
      case Step::Conv:
        conv_backward(s, f, s.post_ops.empty() ? gy : relu_backward(f.dst, gy));
        break;
      case Step::BatchNorm:
        bn_backward(s, f, gy);
        break;
      case Step::Eltwise:
        if (needs_grad(s.inputs[0])) {
          dnnl::eltwise_backward::desc d(dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                         gy.get_desc(), f.dst.get_desc(), 0.f);
          dnnl::primitive_attr a = attr();
          dnnl::eltwise_backward::primitive_desc pd(d, a, engine(), *f.relu);
          note_scratch(pd);
          memory gx = grad_target(s.inputs[0], pd.diff_src_desc());
          add(dnnl::eltwise_backward(pd),
              {{DNNL_ARG_DST, f.dst}, {DNNL_ARG_DIFF_DST, gy}, {DNNL_ARG_DIFF_SRC, gx}});
          deliver(s.inputs[0], gx);
        }
        break;
      case Step::Add: {
        memory g = s.post_ops.empty() ? gy : relu_backward(f.dst, gy);
        for (const std::string& in : s.inputs)
          if (needs_grad(in)) deliver(in, g);
        break;
      }
      case Step::Pool:
        if (needs_grad(s.inputs[0])) {
          const memory::dims dil = onednn::dilations(s);
          dnnl::pooling_v2_backward::desc d(f.pool_alg, f.src.get_desc(), gy.get_desc(),
                                            to_dims(s.strides), to_dims(s.kernel), dil,
                                            to_dims(s.pads_begin), to_dims(s.pads_end));
          dnnl::primitive_attr a = attr();
          dnnl::pooling_v2_backward::primitive_desc pd(d, a, engine(), *f.pool);
          note_scratch(pd);
          memory gx = grad_target(s.inputs[0], pd.diff_src_desc());
          std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, gy}, {DNNL_ARG_DIFF_SRC, gx}};
          if (f.workspace) args[DNNL_ARG_WORKSPACE] = f.workspace;
          add(dnnl::pooling_v2_backward(pd), args);
          deliver(s.inputs[0], gx);
        }
        break;
      case Step::InnerProduct:
        ip_backward(s, f, s.post_ops.empty() ? gy : relu_backward(f.dst, gy));
        break;
      case Step::Fallback:
        break;
    }
  }

  // diff_weights in the primitive's layout to the parameter's gradient (plain float32).
  void weight_grad(const memory::desc& md, int param_index,
                   const std::function<void(const memory&)>& write) {
    memory& user = grad_mems_[static_cast<size_t>(param_index)];
    if (md == user.get_desc()) {
      write(user);
    } else {
      memory tmp = new_buffer(md);
      write(tmp);
      add_reorder(tmp, user);
    }
  }

  void conv_backward(const Step& s, const Fwd& f, const memory& gy) {
    const auto& fpd = *f.conv;
    const memory::dims dil = onednn::dilations(s), strides = to_dims(s.strides),
                       pl = to_dims(s.pads_begin), pr = to_dims(s.pads_end);
    memory dy = as(gy, fpd.dst_desc(), "");
    if (needs_grad(s.inputs[0])) {
      // The weights in the layout the backward-data kernel wants (the forward's may have none).
      memory::desc w_any(fpd.weights_desc().dims(), act_, tag::any);
      dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, fpd.src_desc(),
                                              w_any, fpd.dst_desc(), strides, dil, pl, pr);
      dnnl::primitive_attr a = attr();
      dnnl::convolution_backward_data::primitive_desc pd(d, a, engine(), fpd);
      note_scratch(pd);
      memory w = as(f.weights_user, pd.weights_desc(), "");
      memory gx = grad_target(s.inputs[0], pd.diff_src_desc());
      add(dnnl::convolution_backward_data(pd),
          {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, gx}},
          "  backward data " + std::string(pd.impl_info_str()));
      deliver(s.inputs[0], gx);
    }
    if (f.weight_param < 0) return;  // a constant shortcut
    const memory::desc w_md = fpd.weights_desc();
    memory::desc w_any(w_md.dims(), dt::f32, tag::any);
    const bool bias = f.bias_param >= 0;
    memory::desc bias_md({s.weight.shape()[0]}, dt::f32, tag::x);
    auto d = bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                             fpd.src_desc(), w_any, bias_md,
                                                             fpd.dst_desc(), strides, dil, pl, pr)
                  : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                             fpd.src_desc(), w_any, fpd.dst_desc(),
                                                             strides, dil, pl, pr);
    dnnl::primitive_attr a = attr();
    dnnl::convolution_backward_weights::primitive_desc pd(d, a, engine(), fpd);
    note_scratch(pd);
    weight_grad(pd.diff_weights_desc(), f.weight_param, [&](const memory& gw) {
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, f.src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, gw}};
      if (bias) args[DNNL_ARG_DIFF_BIAS] = grad_mems_[static_cast<size_t>(f.bias_param)];
      add(dnnl::convolution_backward_weights(pd), args,
          "  backward weights " + std::string(pd.impl_info_str()));
    });
  }

  void bn_backward(const Step& s, const Fwd& f, const memory& gy) {
    const auto& fpd = *f.bn;
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!s.post_ops.empty()) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    dnnl::batch_normalization_backward::desc d(dnnl::prop_kind::backward, gy.get_desc(),
                                               f.src.get_desc(), s.epsilon, flags);
    dnnl::primitive_attr a = attr();
    dnnl::batch_normalization_backward::primitive_desc pd(d, a, engine(), fpd);
    note_scratch(pd);
    const bool gx_needed = needs_grad(s.inputs[0]);
    memory gx =
        gx_needed ? grad_target(s.inputs[0], pd.diff_src_desc()) : new_buffer(pd.diff_src_desc());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, f.src},
        {DNNL_ARG_MEAN, f.mean},
        {DNNL_ARG_VARIANCE, f.var},
        {DNNL_ARG_DIFF_DST, gy},
        {DNNL_ARG_SCALE, f.scale},
        {DNNL_ARG_SHIFT, f.shift},
        {DNNL_ARG_DIFF_SRC, gx},
        {DNNL_ARG_DIFF_SCALE, grad_mems_[static_cast<size_t>(f.weight_param)]},
        {DNNL_ARG_DIFF_SHIFT, grad_mems_[static_cast<size_t>(f.bias_param)]}};
    if (f.workspace) args[DNNL_ARG_WORKSPACE] = f.workspace;
    add(dnnl::batch_normalization_backward(pd), args);
    if (gx_needed) deliver(s.inputs[0], gx);
  }

  void ip_backward(const Step& s, const Fwd& f, const memory& gy) {
    const auto& fpd = *f.ip;
    memory dy = as(gy, fpd.dst_desc(), "");
    if (needs_grad(s.inputs[0])) {
      dnnl::inner_product_backward_data::desc d(fpd.src_desc(), fpd.weights_desc(), fpd.dst_desc());
      dnnl::primitive_attr a = attr();
      dnnl::inner_product_backward_data::primitive_desc pd(d, a, engine(), fpd);
      note_scratch(pd);
      // In f32 (the classifier's precision); deliver converts to the input's dtype and layout.
      memory gx = grad_target(s.inputs[0], pd.diff_src_desc());
      add(dnnl::inner_product_backward_data(pd),
          {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, f.weights}, {DNNL_ARG_DIFF_SRC, gx}});
      deliver(s.inputs[0], gx);
    }
    const bool bias = f.bias_param >= 0;
    memory::desc w_any(fpd.weights_desc().dims(), dt::f32, tag::any);
    memory::desc bias_md({fpd.weights_desc().dims()[0]}, dt::f32, tag::x);
    auto d =
        bias ? dnnl::inner_product_backward_weights::desc(fpd.src_desc(), w_any, bias_md,
                                                          fpd.dst_desc())
             : dnnl::inner_product_backward_weights::desc(fpd.src_desc(), w_any, fpd.dst_desc());
    dnnl::primitive_attr a = attr();
    dnnl::inner_product_backward_weights::primitive_desc pd(d, a, engine(), fpd);
    note_scratch(pd);
    weight_grad(pd.diff_weights_desc(), f.weight_param, [&](const memory& gw) {
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, f.src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, gw}};
      if (bias) args[DNNL_ARG_DIFF_BIAS] = grad_mems_[static_cast<size_t>(f.bias_param)];
      add(dnnl::inner_product_backward_weights(pd), args);
    });
  }
};

}  // namespace

std::unique_ptr<TrainProgram> make_onednn_train_program(
    const infer::Plan& plan, const graph::Graph& g,
    const std::map<std::string, Tensor>& module_tensors, DType dtype) {
  RAVEL_CHECK(dtype == DType::Float32 || dtype == DType::BFloat16, "compile: dtype ",
              dtype_name(dtype), " is not supported, expected float32 or bfloat16");
  if (dtype == DType::BFloat16) {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    RAVEL_CHECK(isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
                    isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx,
                "compile: bfloat16 training needs a CPU with AVX-512 (avx512_core or newer)");
  }
  return std::make_unique<OnednnTrainStep>(plan, g, module_tensors, dtype);
}

}  // namespace ravel::compiled
