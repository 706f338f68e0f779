// The frozen inference path on oneDNN. Every step becomes a primitive created once, with its
// weights reordered once into the layout the primitive chose; activations stay in the layouts
// the convolutions pick (format_tag::any: nChw16c on AVX-512) and are reordered only where a
// consumer wants another layout (the first convolution's input, fallback steps, graph outputs).
// All activation buffers live in one arena laid out at compile time from their lifetimes; a
// residual add is a sum post-op writing into the shortcut's buffer when nothing reads the
// shortcut afterwards.
#include "backend/cpu/onednn/inference.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <sstream>

#include "backend/cpu/onednn/arena.h"
#include "backend/cpu/onednn/context.h"
#include "backend/cpu/onednn/step_params.h"
#include "ravel/autograd.h"
#include "ravel/error.h"

namespace ravel::onednn {
namespace {

using dnnl::memory;
using infer::PostOp;
using infer::Step;
using tag = memory::format_tag;
using dt = memory::data_type;

const char* dtype_name(dt d) { return d == dt::bf16 ? "bf16" : d == dt::f32 ? "f32" : "other"; }

dnnl::algorithm eltwise_alg(PostOp::Kind k) {
  switch (k) {
    case PostOp::Relu:
    case PostOp::LeakyRelu:
      return dnnl::algorithm::eltwise_relu;
    case PostOp::Clip:
      return dnnl::algorithm::eltwise_clip;
    case PostOp::Sigmoid:
      return dnnl::algorithm::eltwise_logistic;
    case PostOp::Tanh:
      return dnnl::algorithm::eltwise_tanh;
    case PostOp::Sum:
      break;
  }
  RAVEL_CHECK(false, "infer: a sum is no elementwise algorithm");
  return dnnl::algorithm::undef;
}

dnnl::primitive_attr make_attr(const std::vector<PostOp>& ops) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  for (const PostOp& p : ops) {
    if (p.kind == PostOp::Sum)
      po.append_sum(1.f);
    else
      po.append_eltwise(1.f, eltwise_alg(p.kind), p.alpha, p.beta);
  }
  attr.set_post_ops(po);
  return attr;
}

class OnednnProgram : public infer::Program {
 public:
  OnednnProgram(const infer::Plan& plan, const graph::Graph& g, const infer::FreezeOptions& o)
      : plan_(plan),
        graph_(g),
        act_(o.dtype == DType::BFloat16 ? dt::bf16 : dt::f32),
        winograd_(o.winograd) {
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      Val& v = vals_[g.inputs[i].name];
      v.slot = static_cast<int>(i);
      v.shape = plan.shapes.at(g.inputs[i].name);
    }
    slots_.resize(g.inputs.size());
    // The last step reading each value: a shortcut read by nobody later may be summed into.
    for (size_t k = 0; k < plan.steps.size(); ++k)
      for (const auto& in : plan.steps[k].inputs) last_reader_[in] = static_cast<int>(k);
    for (const auto& o : g.outputs) last_reader_[plan.resolve(o.name)] = 1 << 30;

    for (size_t k = 0; k < plan.steps.size(); ++k) {
      const Step& s = plan.steps[k];
      try {
        compile_step(s, static_cast<int>(k));
      } catch (const dnnl::error& e) {
        RAVEL_CHECK(false, "infer: oneDNN cannot run step '", infer::describe_step(s, plan),
                    "' (node '", s.nodes.at(0)->name, "') in ", dtype_name(act_), ": ", e.what());
      }
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) add_output(i);
    allocate();
  }

  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override {
    NoGradGuard no_grad;
    for (size_t i = 0; i < inputs.size(); ++i) set_slot(static_cast<int>(i), inputs[i]);
    std::vector<Tensor> outs(graph_.outputs.size());
    for (const auto& o : out_bind_) {
      outs[o.index] = empty(o.shape, DType::Float32);
      o.mem.set_data_handle(outs[o.index].raw_data());
    }
    // RAVEL_INFER_PROFILE=1 prints every kernel's time to stderr (for tuning; it waits after each).
    static const bool profile = std::getenv("RAVEL_INFER_PROFILE") != nullptr;
    for (const Exec& e : execs_) {
      auto t0 = std::chrono::steady_clock::now();
      if (e.fallback < 0) {
        e.prim.execute(stream(), e.args);
        if (profile) {
          stream().wait();
          std::fprintf(
              stderr, "%8.3f ms  %s\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count(),
              e.text.c_str());
        }
        continue;
      }
      stream().wait();
      run_fallback(fallbacks_[static_cast<size_t>(e.fallback)]);
    }
    stream().wait();
    for (size_t i = 0; i < graph_.outputs.size(); ++i) {
      const std::string r = plan_.resolve(graph_.outputs[i].name);
      if (outs[i].defined()) continue;
      if (const graph::Initializer* init = graph_.find_initializer(r)) {
        outs[i] = init->value.clone();
      } else {
        Tensor t = slots_.at(static_cast<size_t>(vals_.at(r).slot));
        bool shared = false;
        for (const auto& x : inputs) shared = shared || t.shares_storage(x);
        outs[i] = shared ? t.clone() : t.contiguous();
      }
    }
    // The inputs and the fallback steps' tensors are this run's; do not keep them alive.
    for (auto& t : slots_) t = Tensor();
    return outs;
  }

  std::string describe() const override {
    std::ostringstream os;
    for (const Exec& e : execs_)
      if (!e.text.empty()) os << e.text << "\n";
    return os.str();
  }

 private:
  // A value of the graph: in a buffer of the arena (a step's output) or a tensor slot (a graph
  // input or a fallback step's output), with the plain float32 memory over it when a primitive
  // reads it.
  struct Val {
    std::vector<int64_t> shape;
    int slot = -1;
    memory mem;  // in a buffer, or over the slot's tensor
    int buffer = -1;
    std::vector<std::pair<memory::desc, memory>> converted;  // reorders made for consumers
  };
  struct Exec {
    dnnl::primitive prim;
    std::unordered_map<int, memory> args;
    int fallback = -1;
    std::string text;
  };
  struct Fallback {
    const Step* step;
    std::vector<std::string> inputs;  // value names
    std::vector<memory> plain;        // their plain float32 memories (empty: a tensor slot)
    std::vector<int> out_slots;
  };
  struct OutBind {
    size_t index;
    Shape shape;
    memory mem;
  };

  const infer::Plan& plan_;
  const graph::Graph& graph_;
  dt act_;
  bool winograd_;
  std::map<std::string, Val> vals_;
  std::map<std::string, int> last_reader_;
  std::vector<Tensor> slots_;
  std::vector<memory> slot_mems_;  // per slot: the memory over its tensor, when read by oneDNN
  std::vector<ArenaBuffer> buffers_;
  std::vector<std::pair<int, memory>> buffer_mems_;
  std::vector<Exec> execs_;
  std::vector<Fallback> fallbacks_;
  std::vector<OutBind> out_bind_;
  size_t scratch_size_ = 0;
  memory scratch_;
  Tensor arena_;

  int next_exec() const { return static_cast<int>(execs_.size()); }

  memory new_buffer(const memory::desc& md) {
    buffers_.push_back({md.get_size(), 0, next_exec(), next_exec()});
    memory m(md, engine(), DNNL_MEMORY_NONE);
    buffer_mems_.emplace_back(static_cast<int>(buffers_.size()) - 1, m);
    return m;
  }
  // Marks a memory read or written by the exec about to be added.
  void use(const memory& m) {
    for (const auto& [b, bm] : buffer_mems_)
      if (bm.get() == m.get()) buffers_[static_cast<size_t>(b)].last = next_exec();
  }
  int buffer_of(const memory& m) const {
    for (const auto& [b, bm] : buffer_mems_)
      if (bm.get() == m.get()) return b;
    return -1;
  }

  Val& val(const std::string& name) {
    auto it = vals_.find(name);
    RAVEL_CHECK(it != vals_.end(), "infer: value '", name, "' is used before it is computed");
    return it->second;
  }

  // The value's plain float32 memory over its tensor slot (set at run time).
  memory slot_memory(Val& v) {
    if (!v.mem) {
      memory::dims d = to_dims(v.shape);
      v.mem = memory(memory::desc(d, dt::f32, plain_tag(d)), engine(), DNNL_MEMORY_NONE);
      if (slot_mems_.size() <= static_cast<size_t>(v.slot))
        slot_mems_.resize(static_cast<size_t>(v.slot) + 1);
      slot_mems_[static_cast<size_t>(v.slot)] = v.mem;
    }
    return v.mem;
  }
  void set_slot(int slot, Tensor t) {
    const size_t s = static_cast<size_t>(slot);
    if (s < slot_mems_.size() && slot_mems_[s]) {
      t = t.to(DType::Float32).contiguous();
      slot_mems_[s].set_data_handle(t.raw_data());
    }
    slots_[s] = t;
  }

  // The value in layout md, reordered (once, shared by the consumers) when it is elsewhere.
  memory input(const std::string& name, const memory::desc& md) {
    Val& v = val(name);
    memory src = v.slot >= 0 ? slot_memory(v) : v.mem;
    if (src.get_desc() == md) {
      use(src);
      return src;
    }
    for (auto& [cmd, cm] : v.converted)
      if (cmd == md) {
        use(cm);
        return cm;
      }
    memory dst = new_buffer(md);
    add_reorder(src, dst, "reorder " + name);
    v.converted.emplace_back(md, dst);
    use(dst);
    return dst;
  }

  void add_reorder(const memory& src, const memory& dst, const std::string& what) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::reorder::primitive_desc pd(engine(), src.get_desc(), engine(), dst.get_desc(), attr);
    use(src);
    use(dst);
    std::ostringstream os;
    os << what << " " << layout_name(src.get_desc()) << " "
       << dtype_name(src.get_desc().data_type()) << " -> " << layout_name(dst.get_desc()) << " "
       << dtype_name(dst.get_desc().data_type());
    add_exec(dnnl::reorder(pd), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, pd, os.str());
  }

  template <typename PD>
  void add_exec(dnnl::primitive prim, std::unordered_map<int, memory> args, const PD& pd,
                std::string text) {
    scratch_size_ = std::max(scratch_size_, pd.scratchpad_desc().get_size());
    text += std::string(" ") + pd.impl_info_str();
    execs_.push_back({std::move(prim), std::move(args), -1, std::move(text)});
  }

  // A step's output in md: a new buffer, or the buffer of `reuse` (a value this step reads last)
  // when its layout is md.
  memory output(const Step& s, int k, const memory::desc& md, const std::string& reuse = "") {
    if (!reuse.empty() && last_reader_[reuse] == k) {
      Val& r = val(reuse);
      if (r.slot < 0 && r.mem.get_desc() == md && buffer_of(r.mem) >= 0) {
        memory m(md, engine(), DNNL_MEMORY_NONE);
        buffer_mems_.emplace_back(buffer_of(r.mem), m);
        define(s.outputs[0], m);
        use(m);
        return m;
      }
    }
    memory m = new_buffer(md);
    define(s.outputs[0], m);
    use(m);
    return m;
  }
  void define(const std::string& name, const memory& m) {
    Val& v = vals_[name];
    v.shape = plan_.shapes.at(name);
    v.mem = m;
  }

  memory constant(const Tensor& t, const memory::dims& dims) {
    memory m(memory::desc(dims, dt::f32, plain_tag(dims)), engine());
    std::memcpy(m.get_data_handle(), t.raw_data(), t.nbytes());
    return m;
  }
  memory packed(const Tensor& t, const memory::dims& dims, const memory::desc& md) {
    memory user = constant(t, dims), m(md, engine());
    dnnl::reorder(user, m).execute(stream(), user, m);
    stream().wait();
    return m;
  }

  std::string text(const Step& s, const memory::desc& out) const {
    std::ostringstream os;
    os << infer::describe_step(s, plan_) << " [" << dtype_name(out.data_type()) << ", "
       << layout_name(out) << "]";
    return os.str();
  }

  memory::desc any(const std::string& value, dt d) const {
    return memory::desc(to_dims(plan_.shapes.at(value)), d, tag::any);
  }

  void compile_step(const Step& s, int k) {
    switch (s.kind) {
      case Step::Conv:
        return conv(s, k);
      case Step::InnerProduct:
        return inner_product(s, k);
      case Step::Pool:
        return pool(s, k);
      case Step::BatchNorm:
        return batch_norm(s, k);
      case Step::Eltwise:
        return eltwise(s, k);
      case Step::Add:
        return add(s, k);
      case Step::Fallback:
        return fallback(s);
    }
  }

  void conv(const Step& s, int k) {
    memory::dims wd = to_dims(s.weight.shape());
    if (s.groups > 1) {
      wd[0] /= s.groups;
      wd.insert(wd.begin(), s.groups);
    }
    const memory::dims dil = onednn::dilations(s);
    const memory::dims bd{s.weight.shape()[0]};
    memory::desc bias_md(bd, dt::f32, tag::x);
    // Winograd's algorithm (fewer multiplies) for float32 3x3 stride-1 convolutions where oneDNN
    // has it; the direct one for the rest.
    const bool wino =
        winograd_ && act_ == dt::f32 && s.groups == 1 && s.kernel == std::vector<int64_t>{3, 3} &&
        s.strides == std::vector<int64_t>{1, 1} && s.dilations == std::vector<int64_t>{1, 1};
    auto make = [&](dnnl::algorithm alg, const memory::desc& src_md) {
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md,
                                        memory::desc(wd, act_, tag::any), bias_md,
                                        any(s.outputs[0], act_), to_dims(s.strides), dil,
                                        to_dims(s.pads_begin), to_dims(s.pads_end));
      return dnnl::convolution_forward::primitive_desc(d, make_attr(s.post_ops), engine());
    };
    std::optional<dnnl::convolution_forward::primitive_desc> maybe;
    if (wino) try {
        maybe = make(dnnl::algorithm::convolution_winograd, any(s.inputs[0], act_));
      } catch (const dnnl::error&) {
      }
    if (!maybe) maybe = make(dnnl::algorithm::convolution_direct, any(s.inputs[0], act_));
    const dnnl::convolution_forward::primitive_desc& pd = *maybe;
    memory src = input(s.inputs[0], pd.src_desc());
    memory dst;
    if (s.inputs.size() > 1) {
      // Sum post-op: the shortcut must be in dst already; in its own buffer when nobody reads it
      // later, else copied.
      const std::string& sc = s.inputs[1];
      Val& v = val(sc);
      if (v.slot < 0 && last_reader_[sc] == k && sc != s.inputs[0] &&
          v.mem.get_desc() == pd.dst_desc()) {
        dst = output(s, k, pd.dst_desc(), sc);
      } else {
        memory from = v.slot >= 0 ? slot_memory(v) : v.mem;
        dst = new_buffer(pd.dst_desc());
        add_reorder(from, dst, "copy shortcut " + sc);
        define(s.outputs[0], dst);
        use(dst);
      }
    } else {
      dst = output(s, k, pd.dst_desc());
    }
    memory w = packed(s.weight, wd, pd.weights_desc());
    add_exec(dnnl::convolution_forward(pd),
             {{DNNL_ARG_SRC, src},
              {DNNL_ARG_WEIGHTS, w},
              {DNNL_ARG_BIAS, constant(s.bias, bd)},
              {DNNL_ARG_DST, dst}},
             pd, text(s, pd.dst_desc()));
  }

  void inner_product(const Step& s, int k) {
    const memory::dims wd = to_dims(s.weight.shape());
    const memory::dims bd{wd[0]};
    // Logits leave in float32; bf16 rounding would cost top-1 agreement on near ties.
    const bool to_f32 = last_reader_[s.outputs[0]] == 1 << 30;
    const dt out_dt = to_f32 ? dt::f32 : act_;
    memory::dims od = to_dims(plan_.shapes.at(s.outputs[0]));
    dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, any(s.inputs[0], act_),
                                        memory::desc(wd, act_, tag::any),
                                        memory::desc(bd, dt::f32, tag::x),
                                        memory::desc(od, out_dt, plain_tag(od)));
    dnnl::inner_product_forward::primitive_desc pd(d, make_attr(s.post_ops), engine());
    memory src = input(s.inputs[0], pd.src_desc());
    memory dst = output(s, k, pd.dst_desc());
    memory w = packed(s.weight, wd, pd.weights_desc());
    add_exec(dnnl::inner_product_forward(pd),
             {{DNNL_ARG_SRC, src},
              {DNNL_ARG_WEIGHTS, w},
              {DNNL_ARG_BIAS, constant(s.bias, bd)},
              {DNNL_ARG_DST, dst}},
             pd, text(s, pd.dst_desc()));
  }

  // The layout a layout-following primitive (pool, eltwise, ...) reads a value in: where it is,
  // in the activation dtype.
  memory::desc follow(const std::string& name) {
    Val& v = val(name);
    if (v.slot < 0 && v.mem.get_desc().data_type() == act_) return v.mem.get_desc();
    memory::dims d = to_dims(v.shape);
    if (act_ == dt::f32) return memory::desc(d, dt::f32, plain_tag(d));
    // A bf16 step reading a plain float32 tensor: its blocked bf16 form.
    return memory::desc(d, act_, d.size() == 4 ? tag::aBcd16b : plain_tag(d));
  }

  void pool(const Step& s, int k) {
    memory::desc src_md = follow(s.inputs[0]);
    const memory::dims dil = onednn::dilations(s);
    const dnnl::algorithm alg = onednn::pool_algorithm(s);
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md,
                                     any(s.outputs[0], act_), to_dims(s.strides), to_dims(s.kernel),
                                     dil, to_dims(s.pads_begin), to_dims(s.pads_end));
    dnnl::primitive_attr attr = make_attr({});
    dnnl::pooling_v2_forward::primitive_desc pd(d, attr, engine());
    memory src = input(s.inputs[0], pd.src_desc());
    memory dst = output(s, k, pd.dst_desc());
    add_exec(dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, pd,
             text(s, pd.dst_desc()));
  }

  void batch_norm(const Step& s, int k) {
    memory::desc md = follow(s.inputs[0]);
    auto flags = dnnl::normalization_flags::use_global_stats |
                 dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!s.post_ops.empty()) flags |= dnnl::normalization_flags::fuse_norm_relu;
    dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, md, s.epsilon,
                                              flags);
    dnnl::batch_normalization_forward::primitive_desc pd(d, make_attr({}), engine());
    memory src = input(s.inputs[0], pd.src_desc());
    memory dst = output(s, k, pd.dst_desc(), s.inputs[0]);
    const memory::dims cd{s.weight.numel()};
    add_exec(dnnl::batch_normalization_forward(pd),
             {{DNNL_ARG_SRC, src},
              {DNNL_ARG_DST, dst},
              {DNNL_ARG_MEAN, constant(s.mean, cd)},
              {DNNL_ARG_VARIANCE, constant(s.var, cd)},
              {DNNL_ARG_SCALE, constant(s.weight, cd)},
              {DNNL_ARG_SHIFT, constant(s.bias, cd)}},
             pd, text(s, pd.dst_desc()));
  }

  void eltwise(const Step& s, int k) {
    memory::desc md = follow(s.inputs[0]);
    const PostOp& p = s.post_ops.at(0);
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, eltwise_alg(p.kind), md,
                                  p.alpha, p.beta);
    dnnl::eltwise_forward::primitive_desc pd(d, make_attr({}), engine());
    memory src = input(s.inputs[0], pd.src_desc());
    memory dst = output(s, k, pd.dst_desc(), s.inputs[0]);
    add_exec(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, pd,
             text(s, pd.dst_desc()));
  }

  void add(const Step& s, int k) {
    memory::desc md = follow(s.inputs[0]);
    dnnl::binary::desc d(dnnl::algorithm::binary_add, md, md, md);
    dnnl::binary::primitive_desc pd(d, make_attr(s.post_ops), engine());
    memory a = input(s.inputs[0], md), b = input(s.inputs[1], md);
    memory dst = output(s, k, md, s.inputs[0]);
    add_exec(dnnl::binary(pd), {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}}, pd,
             text(s, md));
  }

  void fallback(const Step& s) {
    Fallback f{&s, s.inputs, {}, {}};
    for (const auto& name : s.inputs) {
      Val& v = val(name);
      if (v.slot >= 0) {
        f.plain.emplace_back();
      } else {
        memory::dims d = to_dims(v.shape);
        f.plain.push_back(input(name, memory::desc(d, dt::f32, plain_tag(d))));
      }
    }
    // The exec reads its inputs; input() marked the buffers for the exec about to be added.
    for (const auto& name : s.outputs) {
      Val& v = vals_[name];
      v.shape = plan_.shapes.at(name);
      v.slot = static_cast<int>(slots_.size());
      f.out_slots.push_back(v.slot);
      slots_.emplace_back();
    }
    fallbacks_.push_back(std::move(f));
    execs_.push_back(
        {{}, {}, static_cast<int>(fallbacks_.size()) - 1, infer::describe_step(s, plan_)});
  }

  void run_fallback(const Fallback& f) {
    std::vector<Tensor> ins;
    std::vector<Tensor> wrapped;
    for (size_t i = 0; i < f.inputs.size(); ++i) {
      const Val& v = vals_.at(f.inputs[i]);
      if (v.slot >= 0) {
        ins.push_back(slots_[static_cast<size_t>(v.slot)]);
      } else {
        ins.push_back(from_blob(f.plain[i].get_data_handle(), Shape(v.shape), DType::Float32));
        wrapped.push_back(ins.back());
      }
    }
    std::vector<Tensor> outs = f.step->fallback->run(ins);
    for (size_t i = 0; i < outs.size(); ++i) {
      Tensor t = outs[i];
      // A view of an arena buffer (a Reshape, a Slice) would change under later steps.
      bool shared = false;
      for (const auto& w : wrapped) shared = shared || t.shares_storage(w);
      set_slot(f.out_slots[i], shared ? t.clone() : t);
    }
  }

  // Graph output i, when a step computes it: reordered into a float32 tensor made per run.
  void add_output(size_t i) {
    auto it = vals_.find(plan_.resolve(graph_.outputs[i].name));
    if (it == vals_.end() || it->second.slot >= 0) return;  // a tensor or an initializer
    memory::dims d = to_dims(it->second.shape);
    memory out(memory::desc(d, dt::f32, plain_tag(d)), engine(), DNNL_MEMORY_NONE);
    add_reorder(it->second.mem, out, "output " + graph_.outputs[i].name);
    out_bind_.push_back({i, Shape(it->second.shape), out});
  }

  // Places the buffers in one arena (arena.h).
  void allocate() {
    const size_t align = 64, total = place_in_arena(buffers_);
    arena_ = empty({static_cast<int64_t>(total + align)}, DType::UInt8);
    char* base = static_cast<char*>(arena_.raw_data());
    for (auto& [b, m] : buffer_mems_)
      m.set_data_handle(base + buffers_[static_cast<size_t>(b)].offset);
    scratch_ = memory(
        memory::desc({static_cast<int64_t>(std::max<size_t>(scratch_size_, 1))}, dt::u8, tag::x),
        engine());
    for (Exec& e : execs_)
      if (e.fallback < 0) e.args[DNNL_ARG_SCRATCHPAD] = scratch_;
  }
};

}  // namespace

std::unique_ptr<infer::Program> compile_program(const infer::Plan& plan, const graph::Graph& g,
                                                const infer::FreezeOptions& options) {
  if (options.dtype == DType::BFloat16) {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    RAVEL_CHECK(isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
                    isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx,
                "infer: bfloat16 inference needs a CPU with AVX-512 (avx512_core or newer); this "
                "one has oneDNN ISA ",
                static_cast<int>(isa));
  }
  return std::make_unique<OnednnProgram>(plan, g, options);
}

}  // namespace ravel::onednn
