// Internal: the one oneDNN engine and stream ravel uses, a cache of primitives keyed by shape and
// parameters (creating a primitive costs far more than running a small one), and helpers to
// wrap ravel memory.
#pragma once
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ravel::onednn {

dnnl::engine& engine();
dnnl::stream& stream();

// Builds a cache key from plain values (their bytes).
class Key {
 public:
  template <typename... Ts>
  explicit Key(const char* kind, const Ts&... vs) : s_(kind) {
    (add(vs), ...);
  }
  template <typename T>
  void add(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    s_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// A least-recently-used map from Key to a shared entry; thread-safe. An entry may be null
// (remembered "oneDNN cannot do this": the caller falls back without asking again).
template <typename Entry>
class Cache {
 public:
  explicit Cache(size_t capacity = 256) : capacity_(capacity) {}

  // The entry for key, made by make() (which may throw dnnl::error: cached as null) if absent.
  template <typename Make>
  std::shared_ptr<Entry> get(const Key& key, Make&& make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(key.str());
      if (it != map_.end()) {
        order_.splice(order_.begin(), order_, it->second.second);
        return it->second.first;
      }
    }
    std::shared_ptr<Entry> e;
    try {
      e = std::make_shared<Entry>(make());
    } catch (const dnnl::error&) {
      e = nullptr;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.count(key.str())) return map_[key.str()].first;
    order_.push_front(key.str());
    map_[key.str()] = {e, order_.begin()};
    if (map_.size() > capacity_) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    return e;
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::list<std::string> order_;  // most recent first
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<Entry>, std::list<std::string>::iterator>>
      map_;
};

// A oneDNN memory over ravel-owned data (no copy).
inline dnnl::memory wrap(const dnnl::memory::desc& md, const void* data) {
  return dnnl::memory(md, engine(), const_cast<void*>(data));
}

template <typename V>
dnnl::memory::dims to_dims(const V& v) {
  return dnnl::memory::dims(v.begin(), v.end());
}

// "nchw", "nChw16c", "nhwc", ... of a memory descriptor ("blocked" for other layouts), for
// describe() texts.
std::string layout_name(const dnnl::memory::desc& md);

// The plain (C order) layout of dims: nchw for 4 of them, and so on.
inline dnnl::memory::format_tag plain_tag(const dnnl::memory::dims& d) {
  using tag = dnnl::memory::format_tag;
  static const tag tags[] = {tag::a, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  return tags[d.size()];
}

// Buffers one primitive execution needs for a moment (blocked copies of operands, the
// scratchpad), taken from ravel's caching allocator and given back when the Temps dies (after the
// stream has finished): oneDNN's own memory objects and its library-managed scratchpad malloc
// them afresh, and the kernel zeroed those new pages on every call (~15% of a ResNet-20 step).
class Temps {
 public:
  Temps() = default;
  Temps(const Temps&) = delete;
  Temps& operator=(const Temps&) = delete;
  ~Temps();
  // Memory of layout md in a fresh temporary buffer.
  dnnl::memory make(const dnnl::memory::desc& md);
  // Gives a primitive made with user_scratchpad() the scratchpad md it asked for, if any.
  void scratchpad(std::unordered_map<int, dnnl::memory>& args, const dnnl::memory::desc& md);

 private:
  std::vector<std::pair<void*, size_t>> blocks_;
};

// Attributes of every eager primitive: the caller passes the scratchpad (from Temps).
inline dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// An operand of a primitive: ravel's plain buffer and the layout the primitive chose for it,
// with the reorder between them when they differ.
class Operand {
 public:
  Operand(const dnnl::memory::desc& user, const dnnl::memory::desc& prim, bool is_output)
      : user_(user), prim_(prim), same_(user == prim) {
    if (same_) return;
    auto pd =
        is_output
            ? dnnl::reorder::primitive_desc(engine(), prim, engine(), user, user_scratchpad())
            : dnnl::reorder::primitive_desc(engine(), user, engine(), prim, user_scratchpad());
    reorder_ = dnnl::reorder(pd);
    scratch_ = pd.scratchpad_desc();
  }
  // Memory holding the input at p in the primitive's layout.
  dnnl::memory input(const void* p, Temps& temps) const {
    dnnl::memory u = wrap(user_, p);
    if (same_) return u;
    dnnl::memory m = temps.make(prim_);
    run_reorder(u, m, temps);
    return m;
  }
  // Memory the primitive writes the output for p into; finish() moves it to p.
  dnnl::memory output(void* p, Temps& temps) const {
    return same_ ? wrap(user_, p) : temps.make(prim_);
  }
  void finish(const dnnl::memory& m, void* p, Temps& temps) const {
    if (same_) return;
    run_reorder(m, wrap(user_, p), temps);
  }

 private:
  void run_reorder(const dnnl::memory& from, const dnnl::memory& to, Temps& temps) const {
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    temps.scratchpad(args, scratch_);
    reorder_.execute(stream(), args);
  }

  dnnl::memory::desc user_, prim_, scratch_;
  bool same_;
  dnnl::reorder reorder_;
};

}  // namespace ravel::onednn
