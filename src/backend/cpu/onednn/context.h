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

// The plain (C order) layout of dims: nchw for 4 of them, and so on.
inline dnnl::memory::format_tag plain_tag(const dnnl::memory::dims& d) {
  using tag = dnnl::memory::format_tag;
  static const tag tags[] = {tag::a, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  return tags[d.size()];
}

// An operand of a primitive: ravel's plain buffer and the layout the primitive chose for it,
// with the reorder between them when they differ.
class Operand {
 public:
  Operand(const dnnl::memory::desc& user, const dnnl::memory::desc& prim, bool is_output)
      : user_(user), prim_(prim), same_(user == prim) {
    if (!same_)
      reorder_ = is_output
                     ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), prim, engine(), user))
                     : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), user, engine(), prim));
  }
  // Memory holding the input at p in the primitive's layout.
  dnnl::memory input(const void* p) const {
    dnnl::memory u = wrap(user_, p);
    if (same_) return u;
    dnnl::memory m(prim_, engine());
    reorder_.execute(stream(), u, m);
    return m;
  }
  // Memory the primitive writes the output for p into; finish() moves it to p.
  dnnl::memory output(void* p) const {
    return same_ ? wrap(user_, p) : dnnl::memory(prim_, engine());
  }
  void finish(const dnnl::memory& m, void* p) const {
    if (same_) return;
    dnnl::memory src = m, dst = wrap(user_, p);
    reorder_.execute(stream(), src, dst);
  }

 private:
  dnnl::memory::desc user_, prim_;
  bool same_;
  dnnl::reorder reorder_;
};

}  // namespace ravel::onednn
