// Random numbers: a PCG32 stream (seeded through splitmix64) and the sampling functions built on
// it. Every sampler fills a fresh contiguous tensor in C order from the generator's sequence, so
// one seed gives one tensor on every machine.
#include "ravel/random.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"

namespace ravel {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
constexpr double kTwoPi = 6.283185307179586476925286766559;
}  // namespace

// ---------------------------------------------------------------- Generator
void Generator::seed_(uint64_t seed) {
  uint64_t x = seed;
  state_ = splitmix64(x);
  inc_ = splitmix64(x) | 1;  // the stream selector must be odd
  spare_normal_.reset();
}

uint32_t Generator::next_u32() {
  uint64_t old = state_;
  state_ = old * 6364136223846793005ULL + inc_;
  uint32_t xorshifted = static_cast<uint32_t>(((old >> 18) ^ old) >> 27);
  uint32_t rot = static_cast<uint32_t>(old >> 59);
  return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

uint64_t Generator::next_u64() {
  uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

double Generator::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

float Generator::next_float() { return static_cast<float>(next_u32() >> 8) * 0x1.0p-24f; }

// Box-Muller: each pair of uniforms gives two normals; the second is cached (and is part of
// state(), so save/restore repeats the sequence exactly).
double Generator::next_normal() {
  if (spare_normal_) {
    double v = *spare_normal_;
    spare_normal_.reset();
    return v;
  }
  double u1 = next_double(), u2 = next_double();
  double r = std::sqrt(-2.0 * std::log1p(-u1));  // 1 - u1 is in (0, 1]: log is finite
  spare_normal_ = r * std::sin(kTwoPi * u2);
  return r * std::cos(kTwoPi * u2);
}

// Lemire's multiply-shift with rejection: unbiased, rarely divides.
uint64_t Generator::next_below(uint64_t n) {
  RAVEL_CHECK(n > 0, "next_below: n must be positive");
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next_u64()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

// PCG jump-ahead (Brown, "Random number generation with arbitrary strides"): O(log delta).
void Generator::advance(uint64_t delta) {
  uint64_t cur_mult = 6364136223846793005ULL, cur_plus = inc_, acc_mult = 1, acc_plus = 0;
  for (; delta > 0; delta >>= 1) {
    if (delta & 1) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus = (cur_mult + 1) * cur_plus;
    cur_mult *= cur_mult;
  }
  state_ = acc_mult * state_ + acc_plus;
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

// ---------------------------------------------------------------- samplers
namespace {

constexpr int64_t kRandomGrain = kParallelGrain / 4;

// A new contiguous tensor whose elements, in C order, are sample.template operator()<T>(g).
// When every element consumes exactly `draws` outputs of next_u32, blocks run on threads from
// jumped-ahead copies of gen (the result does not depend on the thread count); draws == 0 means
// a variable count (rejection sampling): one thread.
template <typename F>
Tensor generate(const Shape& shape, DType dtype, Generator& gen, uint64_t draws, F&& sample) {
  Tensor out = empty(shape, dtype);
  const int64_t n = out.numel();
  visit_dtype(dtype, [&]<typename T>() {
    T* p = out.data_ptr<T>();
    if (draws == 0) {
      for (int64_t i = 0; i < n; ++i) p[i] = sample.template operator()<T>(gen, i);
      return;
    }
    parallel_for(n, kRandomGrain, [&](int64_t b, int64_t e) {
      Generator g = gen;
      g.advance(static_cast<uint64_t>(b) * draws);
      for (int64_t i = b; i < e; ++i) p[i] = sample.template operator()<T>(g, i);
    });
    gen.advance(static_cast<uint64_t>(n) * draws);
  });
  return out;
}

// next_u32 outputs one unit_uniform<T> consumes.
uint64_t uniform_draws(DType dt) { return dt == DType::Float64 ? 2 : 1; }

// Uniform in [0, 1) with as many random bits as T holds, so the value is exact in T and never
// rounds up to 1.
template <typename T>
compute_t<T> unit_uniform(Generator& gen) {
  if constexpr (std::is_same_v<T, double>)
    return gen.next_double();
  else if constexpr (std::is_same_v<T, Half>)
    return (gen.next_u32() >> 21) * 0x1.0p-11f;
  else if constexpr (std::is_same_v<T, BFloat16>)
    return (gen.next_u32() >> 24) * 0x1.0p-8f;
  else
    return gen.next_float();
}

void check_float_dtype(DType dtype, const char* op) {
  RAVEL_CHECK(is_floating(dtype), op, ": dtype must be a floating type, got ", dtype_name(dtype));
}

}  // namespace

Tensor rand(const Shape& shape, Generator& gen, DType dtype) {
  check_float_dtype(dtype, "rand");
  auto sample = []<typename T>(Generator& g, int64_t) -> T {
    if constexpr (is_float_v<T>)
      return T(unit_uniform<T>(g));
    else
      return T();
  };
  return generate(shape, dtype, gen, uniform_draws(dtype), sample);
}

Tensor uniform(double low, double high, const Shape& shape, Generator& gen, DType dtype) {
  check_float_dtype(dtype, "uniform");
  RAVEL_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high, "uniform: low (", low,
              ") must be <= high (", high, ") and both finite");
  auto sample = [&]<typename T>(Generator& g, int64_t) -> T {
    if constexpr (is_float_v<T>) {
      using C = compute_t<T>;
      C v = static_cast<C>(low + (high - low) * unit_uniform<T>(g));
      // Rounding to C can reach `high`; keep the interval half-open.
      if (v >= static_cast<C>(high) && high > low)
        v = std::nextafter(static_cast<C>(high), static_cast<C>(low));
      return T(v);
    } else {
      return T();
    }
  };
  return generate(shape, dtype, gen, uniform_draws(dtype), sample);
}

Tensor normal(double mean, double stddev, const Shape& shape, Generator& gen, DType dtype) {
  check_float_dtype(dtype, "normal");
  RAVEL_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0, "normal: mean (", mean,
              ") must be finite and stddev (", stddev, ") finite and >= 0");
  // Box-Muller pairs straight from the stream (4 draws per pair, so blocks run in parallel); the
  // generator's cached spare normal is left for next_normal().
  Tensor out = empty(shape, dtype);
  const int64_t n = out.numel(), pairs = (n + 1) / 2;
  visit_dtype(dtype, [&]<typename T>() {
    if constexpr (is_float_v<T>) {
      T* p = out.data_ptr<T>();
      parallel_for(pairs, kRandomGrain / 2, [&](int64_t b, int64_t e) {
        Generator g = gen;
        g.advance(static_cast<uint64_t>(b) * 4);
        for (int64_t j = b; j < e; ++j) {
          double u1 = g.next_double(), u2 = g.next_double();
          double r = stddev * std::sqrt(-2.0 * std::log1p(-u1));
          p[2 * j] = cast_value<T>(mean + r * std::cos(kTwoPi * u2));
          if (2 * j + 1 < n) p[2 * j + 1] = cast_value<T>(mean + r * std::sin(kTwoPi * u2));
        }
      });
    }
  });
  gen.advance(static_cast<uint64_t>(pairs) * 4);
  return out;
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  check_float_dtype(dtype, "randn");
  return normal(0.0, 1.0, shape, gen, dtype);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, DType dtype) {
  RAVEL_CHECK(is_integral(dtype, true), "randint: dtype must be an integer type, got ",
              dtype_name(dtype));
  RAVEL_CHECK(low < high, "randint: low (", low, ") must be less than high (", high, ")");
  visit_dtype(dtype, [&]<typename T>() {
    if constexpr (std::is_integral_v<T>) {
      int64_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
      RAVEL_CHECK(low >= lo && high - 1 <= hi, "randint: range [", low, ", ", high,
                  ") is out of bounds for dtype ", dtype_name(dtype));
    }
  });
  // high - low may not fit int64: the arithmetic is unsigned (wraps back into range).
  uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  return generate(shape, dtype, gen, 0, [&]<typename T>(Generator& g, int64_t) -> T {
    uint64_t v = static_cast<uint64_t>(low) + g.next_below(range);
    return cast_value<T>(static_cast<int64_t>(v));
  });
}

Tensor bernoulli(double p, const Shape& shape, Generator& gen, DType dtype) {
  RAVEL_CHECK(p >= 0 && p <= 1, "bernoulli: probability p = ", p, " is outside [0, 1]");
  return generate(shape, dtype, gen, 2, [&]<typename T>(Generator& g, int64_t) -> T {
    return cast_value<T>(g.next_double() < p ? 1 : 0);
  });
}

Tensor bernoulli(const Tensor& p, Generator& gen) {
  Tensor pd = p.to(DType::Float64).contiguous();
  const double* pp = pd.data_ptr<double>();
  const int64_t n = pd.numel();
  for (int64_t i = 0; i < n; ++i)
    RAVEL_CHECK(pp[i] >= 0 && pp[i] <= 1, "bernoulli: probability ", pp[i], " at flat index ", i,
                " of p with shape ", p.shape(), " is outside [0, 1]");
  return generate(p.shape(), is_floating(p.dtype()) ? p.dtype() : kDefaultFloat, gen, 2,
                  [&]<typename T>(Generator& g, int64_t i) -> T {
                    return cast_value<T>(g.next_double() < pp[i] ? 1 : 0);
                  });
}

Tensor permutation(int64_t n, Generator& gen) {
  RAVEL_CHECK(n >= 0, "permutation: n must be non-negative, got ", n);
  Tensor out = empty({n}, DType::Int64);
  int64_t* p = out.data_ptr<int64_t>();
  std::iota(p, p + n, int64_t{0});
  for (int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
    std::swap(p[i], p[gen.next_below(static_cast<uint64_t>(i) + 1)]);
  return out;
}

namespace {
// Rows of `a` (slices along axis 0) picked by `idx`, as a new contiguous tensor.
Tensor gather_rows(const Tensor& a, const Tensor& idx) {
  Shape shape = a.shape();
  shape[0] = idx.numel();
  Tensor out = empty(shape, a.dtype());
  Tensor src = a.contiguous();
  const size_t row = a.size(0) ? a.nbytes() / static_cast<size_t>(a.size(0)) : 0;
  const int64_t* ip = idx.data_ptr<int64_t>();
  auto* dst = static_cast<char*>(out.raw_data());
  const auto* s = static_cast<const char*>(src.raw_data());
  for (int64_t i = 0; i < idx.numel(); ++i)
    if (row) std::memcpy(dst + i * row, s + ip[i] * row, row);
  return out;
}
}  // namespace

Tensor permutation(const Tensor& a, Generator& gen) {
  RAVEL_CHECK(a.ndim() >= 1, "permutation: x must be at least 1-dimensional, got shape ",
              a.shape());
  return gather_rows(a, permutation(a.size(0), gen));
}

Tensor choice(int64_t n, int64_t size, bool replace, std::optional<Tensor> p, Generator& gen) {
  RAVEL_CHECK(n >= 0, "choice: a must be non-negative, got ", n);
  RAVEL_CHECK(size >= 0, "choice: size must be non-negative, got ", size);
  RAVEL_CHECK(n > 0 || size == 0, "choice: a cannot be empty unless no samples are taken");
  std::vector<double> prob;
  if (p) {
    RAVEL_CHECK(p->ndim() == 1 && p->size(0) == n, "choice: p must be 1-dimensional of length ", n,
                ", got shape ", p->shape());
    prob = p->to_vector<double>();
    double total = 0;
    for (double v : prob) {
      RAVEL_CHECK(std::isfinite(v) && v >= 0, "choice: probabilities must be non-negative, got ",
                  v);
      total += v;
    }
    // NumPy's tolerance: sqrt(eps) of p's precision.
    double tol = std::sqrt(p->dtype() == DType::Float64 || !is_floating(p->dtype())
                               ? std::numeric_limits<double>::epsilon()
                               : std::numeric_limits<float>::epsilon());
    RAVEL_CHECK(std::abs(total - 1.0) <= tol, "choice: probabilities do not sum to 1 (sum is ",
                total, ")");
  }
  Tensor out = empty({size}, DType::Int64);
  int64_t* o = out.data_ptr<int64_t>();
  if (replace) {
    if (!p) {
      for (int64_t i = 0; i < size; ++i) o[i] = static_cast<int64_t>(gen.next_below(n));
      return out;
    }
    std::vector<double> cdf(prob.size());
    std::partial_sum(prob.begin(), prob.end(), cdf.begin());
    for (int64_t i = 0; i < size; ++i) {
      double u = gen.next_double() * cdf.back();
      auto k = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
      o[i] = std::min<int64_t>(k, n - 1);
    }
    return out;
  }
  RAVEL_CHECK(size <= n, "choice: cannot take a larger sample (", size, ") than population (", n,
              ") when replace=false");
  if (!p) {  // partial Fisher-Yates
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), int64_t{0});
    for (int64_t i = 0; i < size; ++i) {
      std::swap(idx[i], idx[i + static_cast<int64_t>(gen.next_below(n - i))]);
      o[i] = idx[i];
    }
    return out;
  }
  int64_t nonzero = std::count_if(prob.begin(), prob.end(), [](double v) { return v > 0; });
  RAVEL_CHECK(size <= nonzero, "choice: fewer non-zero entries in p (", nonzero, ") than size (",
              size, ")");
  // Efraimidis-Spirakis: the `size` largest keys log(u) / p_i are a weighted sample without
  // replacement (the same law as drawing one at a time and renormalising).
  std::vector<std::pair<double, int64_t>> keys(n);
  for (int64_t i = 0; i < n; ++i) {
    double u = 1.0 - gen.next_double();  // (0, 1]
    keys[i] = {prob[i] > 0 ? std::log(u) / prob[i] : -std::numeric_limits<double>::infinity(), i};
  }
  std::partial_sort(keys.begin(), keys.begin() + size, keys.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int64_t i = 0; i < size; ++i) o[i] = keys[i].second;
  return out;
}

Tensor choice(const Tensor& a, int64_t size, bool replace, std::optional<Tensor> p,
              Generator& gen) {
  RAVEL_CHECK(a.ndim() == 1, "choice: a must be 1-dimensional, got shape ", a.shape());
  return gather_rows(a, choice(a.size(0), size, replace, std::move(p), gen));
}

}  // namespace ravel
