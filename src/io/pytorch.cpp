// torch.save'd state_dicts (see ravel/pytorch.h): the zip archive (io/zip.h) and a small
// unpickler for the pickle subset torch writes for tensors and containers.
//
// Every byte is untrusted. The unpickler never calls anything: GLOBAL only names one of the few
// allowed functions or storage types, and REDUCE applies those by hand. Objects live in one
// arena (nodes_) referenced by index, so cycles (a list appended to itself through the memo)
// and deep nesting cost nothing to free, and reading the result never recurses. Sizes are
// bounded: the pickle, the arena, the memo, each tensor against its storage, and the bytes
// copied out of storages (views can reuse a storage's elements many times).
#include "ravel/pytorch.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "io/files.h"
#include "io/zip.h"

namespace ravel {
namespace {

constexpr size_t kMaxPickle = size_t{64} << 20;  // data.pkl; a 100k-tensor state_dict is ~20 MB
constexpr size_t kMaxNodes = size_t{1} << 22;    // objects the pickle builds
constexpr size_t kMaxMemo = size_t{1} << 22;
constexpr size_t kMaxDims = 64;
constexpr size_t kMaxGlobalName = 256;

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw Error(what + ": " + msg);
}

enum class Kind : uint8_t {
  None,
  Bool,
  Int,
  Float,
  Str,
  Tuple,
  List,
  Dict,
  Global,
  Storage,
  Tensor
};

// "an int", "a list", "None": for messages.
std::string a_kind(Kind k) {
  static const char* names[] = {"None",   "a bool", "an int",   "a float",   "a str",   "a tuple",
                                "a list", "a dict", "a global", "a storage", "a tensor"};
  return names[static_cast<int>(k)];
}

// The globals the pickle may name; storage types carry their dtype.
enum class Callable : uint8_t { OrderedDict, RebuildTensor, RebuildParameter, Storage };

struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", DType::Float32}, {"DoubleStorage", DType::Float64},
    {"HalfStorage", DType::Float16},  {"BFloat16Storage", DType::BFloat16},
    {"LongStorage", DType::Int64},    {"IntStorage", DType::Int32},
    {"ShortStorage", DType::Int16},   {"CharStorage", DType::Int8},
    {"ByteStorage", DType::UInt8},    {"BoolStorage", DType::Bool}};

struct Node {
  Kind kind = Kind::None;
  int64_t i = 0;                 // Int, Bool; Global: the Callable
  double f = 0;                  // Float
  DType dtype = DType::Float32;  // Global (storage type)
  std::string s;                 // Str; Global: "module.name"
  std::vector<int32_t> items;    // Tuple, List; Dict: key, value, key, value, ...
  Tensor t;                      // Tensor; Storage: its elements, 1-d
};

// The storages of the archive, read on first use and shared by every tensor that views them.
class Storages {
 public:
  Storages(const std::vector<io::ZipMember>& members, const std::string& prefix, bool big_endian,
           const std::string& what)
      : prefix_(prefix), big_endian_(big_endian), what_(what) {
    for (const auto& m : members) members_.emplace(m.name, &m);
  }

  Tensor get(const std::string& key, DType dtype, int64_t numel) {
    if (auto it = loaded_.find(key); it != loaded_.end()) {
      const Tensor& t = it->second;
      if (t.dtype() != dtype || t.numel() != numel)
        fail(what_, "storage '" + key + "' is used as " + std::to_string(numel) + " " +
                        dtype_name(dtype) + " elements and as " + std::to_string(t.numel()) + " " +
                        dtype_name(t.dtype()) + " elements");
      return t;
    }
    const std::string name = prefix_ + "/data/" + key;
    auto m = members_.find(name);
    if (m == members_.end()) fail(what_, "storage '" + key + "' has no record '" + name + "'");
    const size_t size = itemsize(dtype);
    if (numel < 0 || static_cast<uint64_t>(numel) > m->second->size / size ||
        static_cast<size_t>(numel) * size != m->second->size)
      fail(what_, "storage '" + key + "' of " + std::to_string(numel) + " " + dtype_name(dtype) +
                      " elements needs " + std::to_string(static_cast<uint64_t>(numel) * size) +
                      " bytes, its record has " + std::to_string(m->second->size));
    Tensor t = empty({numel}, dtype);
    unsigned char* p = static_cast<unsigned char*>(t.raw_data());
    if (numel) std::memcpy(p, m->second->data, m->second->size);
    if (big_endian_ && size > 1)
      for (int64_t e = 0; e < numel; ++e) std::reverse(p + e * size, p + (e + 1) * size);
    if (dtype == DType::Bool)  // C++ bool must hold 0 or 1
      for (int64_t e = 0; e < numel; ++e) p[e] = p[e] != 0;
    loaded_.emplace(key, t);
    return t;
  }

 private:
  std::map<std::string, const io::ZipMember*> members_;
  std::map<std::string, Tensor> loaded_;
  std::string prefix_;
  bool big_endian_;
  const std::string& what_;
};

class Unpickler {
 public:
  Unpickler(const unsigned char* p, size_t n, Storages& storages, uint64_t max_copy,
            const std::string& what)
      : p_(p), n_(n), storages_(storages), max_copy_(max_copy), what_(what) {
    for (Kind k : {Kind::None, Kind::Bool, Kind::Bool, Kind::Tuple}) nodes_.emplace_back().kind = k;
    nodes_[kTrue].i = 1;
  }

  // Runs to STOP; returns the result's node.
  int32_t run() {
    while (true) {
      if (pos_ >= n_) error("the pickle ends without a STOP opcode");
      op_pos_ = pos_;
      const unsigned char op = p_[pos_++];
      switch (op) {
        case 0x80: {  // PROTO
          unsigned v = byte();
          if (v > 5) error("unsupported pickle protocol " + std::to_string(v));
          break;
        }
        case 0x95:  // FRAME: a length we do not need
          take(8);
          break;
        case '}':
          push(new_node(Kind::Dict));
          break;
        case ']':
          push(new_node(Kind::List));
          break;
        case ')':
          push(kEmptyTuple);
          break;
        case '(':
          marks_.push_back(stack_.size());
          break;
        case 'X':
          push_str(uint_le(4));
          break;
        case 0x8c:
          push_str(byte());
          break;
        case 0x8d:
          push_str(uint_le(8));
          break;
        case 'J':
          push_int(static_cast<int32_t>(uint_le(4)));
          break;
        case 'K':
          push_int(byte());
          break;
        case 'M':
          push_int(static_cast<int64_t>(uint_le(2)));
          break;
        case 0x8a:
          push_int(long1());
          break;
        case 'G': {
          const unsigned char* q = take(8);
          uint64_t bits = 0;
          for (int j = 0; j < 8; ++j) bits = bits << 8 | q[j];  // big-endian
          int32_t id = new_node(Kind::Float);
          nodes_[id].f = std::bit_cast<double>(bits);
          push(id);
          break;
        }
        case 0x88:
          push(kTrue);
          break;
        case 0x89:
          push(kFalse);
          break;
        case 'N':
          push(kNone);
          break;
        case 't':
          push(make_tuple(pop_mark()));
          break;
        case 0x85:
        case 0x86:
        case 0x87: {
          size_t k = op - 0x84u;
          if (stack_.size() - floor() < k) error("TUPLE" + std::to_string(k) + " on a short stack");
          std::vector<int32_t> items(stack_.end() - k, stack_.end());
          stack_.resize(stack_.size() - k);
          push(make_tuple(std::move(items)));
          break;
        }
        case 'c': {
          std::string module = line(), name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          int32_t name = pop(), module = pop();
          expect(module, Kind::Str, "STACK_GLOBAL module");
          expect(name, Kind::Str, "STACK_GLOBAL name");
          push(global(nodes_[module].s, nodes_[name].s));
          break;
        }
        case 'Q':
          push(persistent_load(pop()));
          break;
        case 'R': {
          int32_t args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 'b':  // BUILD: attributes of a dict or tensor (e.g. _metadata); not needed
          pop();
          top();
          break;
        case 's': {
          int32_t value = pop(), key = pop();
          set_items(top(), {key, value});
          break;
        }
        case 'u': {
          std::vector<int32_t> kv = pop_mark();
          if (kv.size() % 2) error("SETITEMS with an odd number of items");
          set_items(top(), kv);
          break;
        }
        case 'a': {
          int32_t value = pop();
          append(top(), {value});
          break;
        }
        case 'e': {
          std::vector<int32_t> values = pop_mark();
          append(top(), values);
          break;
        }
        case 'q':
          memo_put(byte());
          break;
        case 'r':
          memo_put(uint_le(4));
          break;
        case 0x94:
          memo_put(memo_.size());
          break;
        case 'h':
          memo_get(byte());
          break;
        case 'j':
          memo_get(uint_le(4));
          break;
        case '.':
          return pop();
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          error(std::string("unsupported pickle opcode ") + hex +
                (op >= 0x20 && op < 0x7f ? std::string(" '") + static_cast<char>(op) + "'" : "") +
                " (not part of what torch.save writes for tensors)");
        }
      }
    }
  }

  const Node& node(int32_t id) const { return nodes_[id]; }

 private:
  static constexpr int32_t kNone = 0, kFalse = 1, kTrue = 2, kEmptyTuple = 3;

  [[noreturn]] void error(const std::string& msg) const {
    fail(what_, "data.pkl at offset " + std::to_string(op_pos_) + ": " + msg);
  }

  // ---- bytes ----
  void need(size_t k) const {
    if (n_ - pos_ < k) error("the pickle is truncated");
  }
  const unsigned char* take(size_t k) {
    need(k);
    pos_ += k;
    return p_ + pos_ - k;
  }
  unsigned byte() { return *take(1); }
  uint64_t uint_le(size_t k) {
    const unsigned char* q = take(k);
    uint64_t v = 0;
    for (size_t j = k; j-- > 0;) v = v << 8 | q[j];
    return v;
  }
  int64_t long1() {
    size_t k = byte();
    if (k > 8) error("integer of " + std::to_string(k) + " bytes is too large");
    if (k == 0) return 0;
    const unsigned char* q = p_ + pos_;
    uint64_t v = uint_le(k);
    if (k < 8 && (q[k - 1] & 0x80)) v |= ~uint64_t{0} << (8 * k);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const void* end = std::memchr(p_ + pos_, '\n', std::min(n_ - pos_, kMaxGlobalName + 1));
    if (!end)
      error("GLOBAL name not terminated within " + std::to_string(kMaxGlobalName) + " bytes");
    const unsigned char* e = static_cast<const unsigned char*>(end);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), e - (p_ + pos_));
    pos_ = e - p_ + 1;
    return s;
  }

  // ---- the stack and the arena ----
  int32_t new_node(Kind k) {
    if (nodes_.size() >= kMaxNodes)
      error("the pickle builds more than " + std::to_string(kMaxNodes) + " objects");
    nodes_.emplace_back().kind = k;
    return static_cast<int32_t>(nodes_.size() - 1);
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(int32_t id) { stack_.push_back(id); }
  int32_t pop() {
    if (stack_.size() <= floor()) error("pop from an empty stack (or past a MARK)");
    int32_t id = stack_.back();
    stack_.pop_back();
    return id;
  }
  int32_t top() const {
    if (stack_.size() <= floor()) error("the stack is empty (or ends in a MARK)");
    return stack_.back();
  }
  std::vector<int32_t> pop_mark() {
    if (marks_.empty()) error("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<int32_t> items(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_int(int64_t v) {
    int32_t id = new_node(Kind::Int);
    nodes_[id].i = v;
    push(id);
  }
  void push_str(uint64_t len) {
    need(len);
    int32_t id = new_node(Kind::Str);
    nodes_[id].s.assign(reinterpret_cast<const char*>(take(len)), len);
    push(id);
  }
  int32_t make_tuple(std::vector<int32_t> items) {
    if (items.empty()) return kEmptyTuple;
    int32_t id = new_node(Kind::Tuple);
    nodes_[id].items = std::move(items);
    return id;
  }
  void expect(int32_t id, Kind k, const std::string& what) const {
    if (nodes_[id].kind != k)
      error(what + " is " + a_kind(nodes_[id].kind) + ", expected " + a_kind(k));
  }
  void set_items(int32_t dict, const std::vector<int32_t>& kv) {
    expect(dict, Kind::Dict, "the target of SETITEM(S)");
    auto& items = nodes_[dict].items;
    items.insert(items.end(), kv.begin(), kv.end());
  }
  void append(int32_t list, const std::vector<int32_t>& values) {
    expect(list, Kind::List, "the target of APPEND(S)");
    auto& items = nodes_[list].items;
    items.insert(items.end(), values.begin(), values.end());
  }
  void memo_put(uint64_t key) {
    if (memo_.size() >= kMaxMemo && !memo_.count(key))
      error("the memo holds more than " + std::to_string(kMaxMemo) + " objects");
    memo_[key] = top();
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) error("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  // ---- globals, storages, tensors ----
  // By value: STACK_GLOBAL passes strings of nodes, which new_node may move.
  int32_t global(std::string module, std::string name) {
    const std::string full = module + "." + name;
    int32_t id = new_node(Kind::Global);
    nodes_[id].s = full;
    if (full == "collections.OrderedDict") {
      nodes_[id].i = static_cast<int>(Callable::OrderedDict);
    } else if (full == "torch._utils._rebuild_tensor_v2") {
      nodes_[id].i = static_cast<int>(Callable::RebuildTensor);
    } else if (full == "torch._utils._rebuild_parameter" ||
               full == "torch._utils._rebuild_parameter_with_state") {
      nodes_[id].i = static_cast<int>(Callable::RebuildParameter);
    } else if (module == "torch" && name.size() > 7 &&
               name.compare(name.size() - 7, 7, "Storage") == 0) {
      auto it = std::find_if(std::begin(kStorageTypes), std::end(kStorageTypes),
                             [&](const StorageType& t) { return name == t.name; });
      if (it == std::end(kStorageTypes))
        error("unsupported storage type " + full +
              " (supported: float32/64, float16, bfloat16, int64/32/16, int8, uint8, bool)");
      nodes_[id].i = static_cast<int>(Callable::Storage);
      nodes_[id].dtype = it->dtype;
    } else {
      error("the pickle names the global '" + full +
            "', which is not allowed: only tensors, state_dicts and plain containers load (save "
            "model.state_dict(), not the model or other objects; nothing is ever executed)");
    }
    return id;
  }

  // ('storage', torch.FloatStorage, key, location, numel)
  int32_t persistent_load(int32_t pid) {
    const Node& t = nodes_[pid];
    if (t.kind != Kind::Tuple || t.items.size() != 5 || nodes_[t.items[0]].kind != Kind::Str ||
        nodes_[t.items[0]].s != "storage")
      error("persistent id is not a ('storage', type, key, location, numel) tuple");
    const Node& type = nodes_[t.items[1]];
    if (type.kind != Kind::Global || type.i != static_cast<int>(Callable::Storage))
      error("persistent id names " + a_kind(type.kind) + " " + type.s + ", not a storage type");
    expect(t.items[2], Kind::Str, "storage key");
    expect(t.items[4], Kind::Int, "storage size");
    Tensor data = storages_.get(nodes_[t.items[2]].s, type.dtype, nodes_[t.items[4]].i);
    int32_t id = new_node(Kind::Storage);
    nodes_[id].t = std::move(data);
    return id;
  }

  std::vector<int64_t> int_tuple(int32_t id, const std::string& what) const {
    const Node& t = nodes_[id];
    if (t.kind != Kind::Tuple) error(what + " is " + a_kind(t.kind) + ", expected a tuple");
    if (t.items.size() > kMaxDims)
      error(what + " has " + std::to_string(t.items.size()) + " dimensions, more than 64");
    std::vector<int64_t> out;
    for (int32_t e : t.items) {
      if (nodes_[e].kind != Kind::Int) error(what + " holds " + a_kind(nodes_[e].kind));
      if (nodes_[e].i < 0) error(what + " holds the negative value " + std::to_string(nodes_[e].i));
      out.push_back(nodes_[e].i);
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
  Tensor rebuild_tensor(const std::vector<int32_t>& a) {
    if (a.size() != 6 && a.size() != 7)
      error("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(a.size()));
    expect(a[0], Kind::Storage, "_rebuild_tensor_v2's storage");
    expect(a[1], Kind::Int, "_rebuild_tensor_v2's storage offset");
    const Tensor& storage = nodes_[a[0]].t;
    const int64_t offset = nodes_[a[1]].i, capacity = storage.numel();
    Shape size = int_tuple(a[2], "tensor size"), stride = int_tuple(a[3], "tensor stride");
    if (size.size() != stride.size())
      error("tensor size and stride differ in length (" + std::to_string(size.size()) + " and " +
            std::to_string(stride.size()) + ")");
    // The elements reached, [offset, last], must lie inside the storage; every sum checked.
    int64_t numel = 1, last = offset;
    bool overflow = offset < 0;
    for (size_t d = 0; d < size.size(); ++d) {
      int64_t reach;
      overflow |= __builtin_mul_overflow(numel, size[d], &numel);
      overflow |= size[d] > 0 && (__builtin_mul_overflow(size[d] - 1, stride[d], &reach) ||
                                  __builtin_add_overflow(last, reach, &last));
    }
    // empty() computes strides from the sizes, so their product without the zeros must fit too.
    int64_t extent = 1;
    for (int64_t d : size)
      overflow |= __builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent);
    overflow |= __builtin_mul_overflow(extent, int64_t{8}, &extent);
    std::ostringstream desc;
    desc << "tensor of size " << size << ", stride " << stride << " and offset " << offset;
    if (overflow || (numel > 0 && last >= capacity) || offset > capacity)
      error(desc.str() + " reaches beyond its storage of " + std::to_string(capacity) +
            " elements");
    if (numel == 0) return empty(size, storage.dtype());
    if (offset == 0 && numel == capacity && contiguous(size, stride))
      return storage.reshape(size);  // the whole storage: share it
    const uint64_t bytes = static_cast<uint64_t>(numel) * storage.itemsize();
    if (bytes > max_copy_ - copied_)
      error(desc.str() + " brings the tensors' total beyond " + std::to_string(max_copy_) +
            " bytes (views repeating a storage's elements?)");
    copied_ += bytes;
    return storage.as_strided(size, stride, offset).clone();
  }
  static bool contiguous(const Shape& size, const Shape& stride) {
    int64_t expect = 1;
    for (size_t d = size.size(); d-- > 0;) {
      if (size[d] != 1 && stride[d] != expect) return false;
      expect *= size[d];
    }
    return true;
  }

  int32_t reduce(int32_t fn, int32_t args) {
    const Node& f = nodes_[fn];
    if (f.kind != Kind::Global) error("REDUCE calls " + a_kind(f.kind));
    expect(args, Kind::Tuple, "the arguments of " + f.s);
    const std::vector<int32_t> a = nodes_[args].items;
    switch (static_cast<Callable>(f.i)) {
      case Callable::OrderedDict:
        if (!a.empty()) error("collections.OrderedDict called with arguments");
        return new_node(Kind::Dict);
      case Callable::RebuildTensor: {
        Tensor t = rebuild_tensor(a);
        int32_t id = new_node(Kind::Tensor);
        nodes_[id].t = std::move(t);
        return id;
      }
      case Callable::RebuildParameter:  // (data, requires_grad, backward_hooks[, state])
        if (a.size() < 3 || a.size() > 4 || nodes_[a[0]].kind != Kind::Tensor)
          error(f.s + " takes (tensor, requires_grad, backward_hooks[, state])");
        return a[0];
      case Callable::Storage:
        break;
    }
    error(f.s + " cannot be called");
  }

  const unsigned char* p_;
  size_t n_, pos_ = 0, op_pos_ = 0;
  Storages& storages_;
  uint64_t max_copy_, copied_ = 0;
  const std::string& what_;
  std::vector<Node> nodes_;
  std::vector<int32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, int32_t> memo_;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The state_dict in the unpickled object: the dict itself when every value is a tensor, else
// its "state_dict" or "model" entry.
nn::StateDict extract(const Unpickler& u, int32_t root, const std::string& what) {
  auto entry = [&](int32_t dict, const std::string& key) -> int32_t {
    const auto& items = u.node(dict).items;
    for (size_t k = 0; k + 1 < items.size(); k += 2)
      if (u.node(items[k]).kind == Kind::Str && u.node(items[k]).s == key) return items[k + 1];
    return -1;
  };
  auto all_tensors = [&](int32_t dict) {
    const auto& items = u.node(dict).items;
    for (size_t k = 1; k < items.size(); k += 2)
      if (u.node(items[k]).kind != Kind::Tensor) return false;
    return true;
  };
  if (u.node(root).kind != Kind::Dict)
    fail(what, "the file holds " + a_kind(u.node(root).kind) +
                   ", not a state_dict (a dict of name -> tensor)");
  int32_t dict = root;
  if (!all_tensors(root)) {
    for (const char* key : {"state_dict", "model"}) {
      int32_t e = entry(root, key);
      if (e >= 0 && u.node(e).kind == Kind::Dict) {
        dict = e;
        break;
      }
    }
  }
  nn::StateDict out;
  std::map<std::string, bool> seen;
  const auto& items = u.node(dict).items;
  const std::string where = dict == root ? "" : " of the checkpoint's state_dict";
  for (size_t k = 0; k + 1 < items.size(); k += 2) {
    const Node &key = u.node(items[k]), &value = u.node(items[k + 1]);
    if (key.kind != Kind::Str)
      fail(what, std::string("a key") + where + " is " + a_kind(key.kind) + ", not a str");
    if (value.kind != Kind::Tensor)
      fail(what, "entry '" + key.s + "'" + where + " is " + a_kind(value.kind) + ", not a tensor" +
                     (dict == root ? " (and there is no 'state_dict' or 'model' dict entry)" : ""));
    if (seen[key.s]) fail(what, "key '" + key.s + "'" + where + " appears twice");
    seen[key.s] = true;
    out.emplace_back(key.s, value.t);
  }
  return out;
}

nn::StateDict read_pytorch(const unsigned char* p, size_t n, const std::string& what) {
  if (n >= 2 && p[0] == 0x80 && p[1] <= 5)
    fail(what,
         "this is PyTorch's legacy (pre-1.6) serialization format, which is not supported: "
         "re-save it with PyTorch >= 1.6 (torch.save(torch.load(path), path))");
  if (n < 4 || std::memcmp(p, "PK\x03\x04", 4) != 0)
    fail(what, "not a torch.save file (it is not a zip archive)");
  std::vector<io::ZipMember> members = io::read_zip(p, n, what);
  const io::ZipMember* pickle = nullptr;
  std::string prefix;
  for (const auto& m : members) {
    if (ends_with(m.name, "/constants.pkl"))
      fail(what,
           "this is a TorchScript archive (torch.jit.save): save the weights with "
           "torch.save(model.state_dict(), path)");
    size_t slash = m.name.find('/');
    if (slash == std::string::npos || m.name.compare(slash, std::string::npos, "/data.pkl") != 0)
      continue;
    if (pickle) fail(what, "two pickles ('" + pickle->name + "' and '" + m.name + "')");
    pickle = &m;
    prefix = m.name.substr(0, slash);
  }
  if (!pickle) fail(what, "no '<archive>/data.pkl' record: not a torch.save file");
  if (pickle->size > kMaxPickle)
    fail(what, "data.pkl is " + std::to_string(pickle->size) + " bytes, more than the limit of " +
                   std::to_string(kMaxPickle));
  bool big_endian = false;
  for (const auto& m : members)
    if (m.name == prefix + "/byteorder") {
      std::string order(reinterpret_cast<const char*>(m.data), m.size);
      if (order != "little" && order != "big")
        fail(what, "byteorder record says '" + order.substr(0, 32) + "', expected little or big");
      big_endian = order == "big";
    }
  Storages storages(members, prefix, big_endian, what);
  // Views may copy a storage's elements out more than once; 16x the file is far beyond any
  // real state_dict and keeps a tiny hostile file from asking for gigabytes.
  const uint64_t max_copy = uint64_t{16} * n + (uint64_t{64} << 20);
  Unpickler u(pickle->data, pickle->size, storages, max_copy, what);
  int32_t root = u.run();
  return extract(u, root, what);
}

}  // namespace

nn::StateDict load_pytorch(const std::string& path) {
  const std::string what = "load_pytorch: '" + path + "'";
  std::string bytes = io::read_file(path, "load_pytorch");
  return read_pytorch(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), what);
}

nn::StateDict pytorch_from_bytes(const void* data, size_t size, const std::string& what) {
  return read_pytorch(static_cast<const unsigned char*>(data), size, "pytorch_from_bytes: " + what);
}

}  // namespace ravel
