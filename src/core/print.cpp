// NumPy-style printing: Tensor::to_string() gives what np.array2string(a) gives with NumPy's
// default print options (precision 8, floatmode 'maxprec', threshold 1000, edgeitems 3,
// linewidth 75). The algorithm mirrors numpy/core/arrayprint.py: format every shown element with
// one formatter chosen from all of them (so columns align), then lay rows out recursively.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ravel/tensor.h"

namespace ravel {
namespace {

constexpr int64_t kThreshold = 1000;  // summarise when numel is above this
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 75;
constexpr int kPrecision = 8;  // at most this many fractional digits

// ---------------------------------------------------------------- floats
// A finite value split the way Dragon4 output is split by arrayprint: sign+integer digits,
// fractional digits, and (scientific only) the exponent's digits and sign.
struct FloatParts {
  std::string int_part, frac_part, exp_digits;
  char exp_sign = '+';
};

// Shortest "d.ddde±XX" that reads back as the same T (NumPy's unique mode). float and double use
// to_chars; float16/bfloat16 try increasing precision until the value round-trips.
template <typename T>
std::string shortest_scientific(T v) {
  char buf[64];
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    return std::string(buf, r.ptr);
  } else {
    double d = static_cast<float>(v);
    for (int p = 0; p < 17; ++p) {
      std::snprintf(buf, sizeof(buf), "%.*e", p, d);
      if (T(static_cast<float>(std::strtod(buf, nullptr))).bits == v.bits) break;
    }
    return buf;
  }
}

// Trims trailing zeros of a fractional part (trim='.' keeps the point, drops the zeros).
void trim_zeros(std::string& frac) {
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
}

template <typename T>
FloatParts positional_parts(T v) {
  std::string s = shortest_scientific(v);
  size_t e = s.find('e');
  bool neg = s[0] == '-';
  std::string digits;
  for (size_t i = neg ? 1 : 0; i < e; ++i)
    if (s[i] != '.') digits += s[i];
  int exp10 = std::atoi(s.c_str() + e + 1);
  FloatParts p;
  int frac_digits = static_cast<int>(digits.size()) - 1 - exp10;
  if (frac_digits > kPrecision) {  // too long: round the exact value at the cutoff instead
    char buf[400];
    std::snprintf(buf, sizeof(buf), "%.*f", kPrecision, static_cast<double>(compute_t<T>(v)));
    std::string r(buf);
    size_t dot = r.find('.');
    p.int_part = r.substr(0, dot);
    p.frac_part = r.substr(dot + 1);
    trim_zeros(p.frac_part);
    return p;
  }
  if (exp10 >= 0) {
    size_t n_int = static_cast<size_t>(exp10) + 1;
    if (digits.size() < n_int) digits.append(n_int - digits.size(), '0');
    p.int_part = digits.substr(0, n_int);
    p.frac_part = digits.substr(n_int);
  } else {
    p.int_part = "0";
    p.frac_part = std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
  }
  if (neg) p.int_part.insert(0, "-");
  trim_zeros(p.frac_part);
  return p;
}

// Scientific digits: the shortest unique ones, capped at kPrecision fractional digits. With
// min_digits, values that need fewer get more *exact* digits (Dragon4's min_digits), not zeros.
template <typename T>
FloatParts scientific_parts(T v, size_t min_digits = 0) {
  std::string s = shortest_scientific(v);
  size_t e = s.find('e');
  size_t dot = s.find('.');
  size_t n_frac = dot < e ? e - dot - 1 : 0;
  int exact = min_digits > 0                             ? static_cast<int>(min_digits)
              : n_frac > static_cast<size_t>(kPrecision) ? kPrecision
                                                         : -1;
  if (exact >= 0) {  // both cases round the exact binary value, as Dragon4 does
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*e", exact, static_cast<double>(compute_t<T>(v)));
    s = buf;
    e = s.find('e');
    dot = s.find('.');
  }
  FloatParts p;
  size_t int_end = dot < e ? dot : e;
  p.int_part = s.substr(0, int_end);
  p.frac_part = dot < e ? s.substr(dot + 1, e - dot - 1) : "";
  if (min_digits == 0) trim_zeros(p.frac_part);
  p.exp_sign = s[e + 1];
  p.exp_digits = s.substr(e + 2);
  while (p.exp_digits.size() > 2 && p.exp_digits[0] == '0') p.exp_digits.erase(0, 1);
  return p;
}

std::string pad_to(const std::string& s, size_t width, bool left) {
  if (s.size() >= width) return s;
  return left ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

// FloatingFormat.fillFormat + __call__ for floatmode='maxprec', sign='-', suppress=False.
template <typename T>
std::vector<std::string> format_floats(const std::vector<T>& vals) {
  using C = compute_t<T>;
  bool any_finite = false, any_nonfinite = false, neg_inf = false;
  C max_abs = 0, min_abs = 0;
  bool have_nonzero = false;
  for (T t : vals) {
    C x = static_cast<C>(t);
    if (!std::isfinite(x)) {
      any_nonfinite = true;
      neg_inf |= std::isinf(x) && x < 0;
      continue;
    }
    any_finite = true;
    if (x == 0) continue;
    C a = std::abs(x);
    max_abs = have_nonzero ? std::max(max_abs, a) : a;
    min_abs = have_nonzero ? std::min(min_abs, a) : a;
    have_nonzero = true;
  }
  // The ratio is computed in the array's own type, as NumPy does.
  bool exp_format = have_nonzero && (max_abs >= C(1e8) || min_abs < C(1e-4) ||
                                     static_cast<C>(T(max_abs / min_abs)) > C(1000));
  std::vector<FloatParts> parts(vals.size());
  size_t pad_left = 0, pad_right = 0, precision = 0, exp_size = 0;
  for (size_t i = 0; i < vals.size(); ++i) {
    if (!std::isfinite(static_cast<C>(vals[i]))) continue;
    parts[i] = exp_format ? scientific_parts(vals[i]) : positional_parts(vals[i]);
    pad_left = std::max(pad_left, parts[i].int_part.size());
    precision = std::max(precision, parts[i].frac_part.size());
    exp_size = std::max(exp_size, parts[i].exp_digits.size());
  }
  if (any_finite) pad_right = exp_format ? exp_size + 2 + precision : precision;
  if (any_nonfinite) {  // room for "nan" / "-inf"
    size_t offset = pad_right + 1;
    size_t inf_len = 3 + (neg_inf ? 1 : 0);
    if (3 > offset) pad_left = std::max(pad_left, 3 - offset);
    if (inf_len > offset) pad_left = std::max(pad_left, inf_len - offset);
  }
  std::vector<std::string> out(vals.size());
  for (size_t i = 0; i < vals.size(); ++i) {
    C x = static_cast<C>(vals[i]);
    if (!std::isfinite(x)) {
      const char* s = std::isnan(x) ? "nan" : x < 0 ? "-inf" : "inf";
      out[i] = pad_to(s, pad_left + pad_right + 1, true);
      continue;
    }
    if (exp_format && parts[i].frac_part.size() != precision)
      parts[i] = scientific_parts(vals[i], precision);
    const FloatParts& p = parts[i];
    std::string s = pad_to(p.int_part, pad_left, true) + "." + p.frac_part;
    if (exp_format) {
      s += 'e';
      s += p.exp_sign;
      s.append(exp_size - std::min(exp_size, p.exp_digits.size()), '0');
      s += p.exp_digits;
    } else {
      s.append(pad_right - p.frac_part.size(), ' ');
    }
    out[i] = std::move(s);
  }
  return out;
}

template <typename T>
std::vector<std::string> format_values(const std::vector<T>& vals, bool zero_dim) {
  std::vector<std::string> out;
  out.reserve(vals.size());
  if constexpr (std::is_same_v<T, bool>) {
    for (bool b : vals) out.push_back(b ? (zero_dim ? "True" : " True") : "False");
  } else if constexpr (is_float_v<T>) {
    out = format_floats(vals);
  } else {  // integers: right-aligned to the widest of min and max
    size_t width = 0;
    for (T v : vals) out.push_back(std::to_string(static_cast<int64_t>(v)));
    for (const auto& s : out) width = std::max(width, s.size());
    for (auto& s : out) s = pad_to(s, width, true);
  }
  return out;
}

// ---------------------------------------------------------------- layout
// _formatArray: words are the formatted shown elements in C order; `summarised[axis]` says
// whether "..." goes after the first kEdgeItems entries of that axis.
struct Layout {
  const std::vector<std::string>& words;
  const Shape& shown;                   // shown length of each axis
  const std::vector<bool>& summarised;  // per axis
  size_t next = 0;

  // _extendLine: wrap when the word does not fit, unless the line holds only the indent.
  static void extend_line(std::string& s, std::string& line, const std::string& word, int64_t width,
                          const std::string& indent) {
    if (static_cast<int64_t>(line.size() + word.size()) > width && line.size() > indent.size()) {
      while (!line.empty() && line.back() == ' ') line.pop_back();
      s += line + "\n";
      line = indent;
    }
    line += word;
  }

  std::string recurse(size_t axis, const std::string& indent, int64_t width) {
    if (axis == shown.size()) return words[next++];
    std::string next_indent = indent + " ";
    int64_t next_width = width - 1;
    int64_t n = shown[axis];
    bool summary = summarised[axis];
    size_t axes_left = shown.size() - axis;
    std::string s;
    if (axes_left == 1) {
      int64_t elem_width = width - 1;  // room for ']'
      std::string line = indent;
      for (int64_t i = 0; i < n; ++i) {
        if (summary && i == kEdgeItems) {
          extend_line(s, line, "...", elem_width, indent);
          line += " ";
        }
        extend_line(s, line, recurse(axis + 1, next_indent, next_width), elem_width, indent);
        if (i + 1 < n) line += " ";
      }
      s += line;
    } else {
      std::string line_sep(axes_left - 1, '\n');
      for (int64_t i = 0; i < n; ++i) {
        if (summary && i == kEdgeItems) s += indent + "..." + line_sep;
        s += indent + recurse(axis + 1, next_indent, next_width);
        if (i + 1 < n) s += line_sep;
      }
    }
    return "[" + s.substr(indent.size()) + "]";
  }
};

// Elements shown along one axis: all, or the first and last kEdgeItems when summarising.
std::vector<int64_t> shown_indices(int64_t dim, bool summarise) {
  std::vector<int64_t> idx;
  bool cut = summarise && dim > 2 * kEdgeItems;
  for (int64_t i = 0; i < dim; ++i)
    if (!cut || i < kEdgeItems || i >= dim - kEdgeItems) idx.push_back(i);
  return idx;
}

}  // namespace

std::string Tensor::to_string() const {
  const Tensor& t = *this;
  if (t.numel() == 0) return "[]";
  const size_t nd = static_cast<size_t>(t.ndim());
  bool summarise = t.numel() > kThreshold;
  std::vector<std::vector<int64_t>> idx(nd);
  Shape shown(nd, 0);
  std::vector<bool> summarised(nd);
  for (size_t d = 0; d < nd; ++d) {
    idx[d] = shown_indices(t.shape()[d], summarise);
    shown[d] = static_cast<int64_t>(idx[d].size());
    summarised[d] = shown[d] < t.shape()[d];
  }
  std::vector<std::string> words = visit_dtype(t.dtype(), [&]<typename T>() {
    // Gather the shown elements in C order (an odometer over the shown indices).
    std::vector<T> vals;
    vals.reserve(static_cast<size_t>(shape_numel(shown)));
    const T* base = static_cast<const T*>(t.raw_data());
    std::vector<size_t> pos(nd, 0);
    while (true) {
      int64_t off = 0;
      for (size_t d = 0; d < nd; ++d) off += idx[d][pos[d]] * t.strides()[d];
      vals.push_back(base[off]);
      size_t d = nd;
      while (d > 0 && ++pos[d - 1] == idx[d - 1].size()) pos[--d] = 0;
      if (d == 0) break;
    }
    return format_values(vals, nd == 0);
  });
  Layout layout{words, shown, summarised};
  return layout.recurse(0, " ", kLineWidth);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace ravel
