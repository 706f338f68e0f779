// Random numbers from a seeded Generator: the same seed gives the same numbers on every run and
// machine. The stream is PCG32 (XSH-RR, 64-bit state, seeded through splitmix64); it is not
// NumPy's bit stream, so values differ from numpy.random for the same seed (by design).
//
//   ravel::Generator gen(42);
//   Tensor x = ravel::randn({3, 4}, gen);           // standard normal, float32
//   Tensor i = ravel::randint(0, 10, {5}, gen);     // int64 in [0, 10)
//   ravel::manual_seed(0);                          // seeds the default generator
//   Tensor p = ravel::permutation(10);              // uses the default generator
#pragma once
#include <cstdint>
#include <optional>

#include "ravel/tensor.h"

namespace ravel {

// Everything a Generator's future output depends on (the PCG state and the cached second normal
// of the last Box-Muller pair), so a data loader or checkpoint can save and restore it.
struct GeneratorState {
  uint64_t state = 0, inc = 0;
  bool has_spare_normal = false;
  double spare_normal = 0.0;
  bool operator==(const GeneratorState&) const = default;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL) { seed_(seed); }
  void manual_seed(uint64_t seed) { seed_(seed); }
  uint64_t next_u64();  // uniform 64 bits
  uint32_t next_u32();
  double next_double();             // uniform in [0, 1)
  float next_float();               // uniform in [0, 1)
  double next_normal();             // standard normal
  uint64_t next_below(uint64_t n);  // uniform in [0, n), unbiased
  void advance(uint64_t delta);     // jump ahead as if next_u32() were called delta times
  GeneratorState state() const {
    return {state_, inc_, spare_normal_.has_value(), spare_normal_.value_or(0.0)};
  }
  void set_state(const GeneratorState& s) {
    state_ = s.state;
    inc_ = s.inc | 1;  // PCG needs an odd increment
    spare_normal_.reset();
    if (s.has_spare_normal) spare_normal_ = s.spare_normal;
  }

 private:
  void seed_(uint64_t seed);
  uint64_t state_ = 0, inc_ = 0;
  std::optional<double> spare_normal_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand(const Shape& shape, Generator& gen = default_generator(), DType dtype = kDefaultFloat);
Tensor randn(const Shape& shape, Generator& gen = default_generator(), DType dtype = kDefaultFloat);
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator(),
               DType dtype = kDefaultInt);
Tensor uniform(double low, double high, const Shape& shape, Generator& gen = default_generator(),
               DType dtype = kDefaultFloat);
Tensor normal(double mean, double stddev, const Shape& shape, Generator& gen = default_generator(),
              DType dtype = kDefaultFloat);
// 1 with probability p (elementwise when p is a tensor), as float32 0/1 unless dtype given.
Tensor bernoulli(double p, const Shape& shape, Generator& gen = default_generator(),
                 DType dtype = kDefaultFloat);
Tensor bernoulli(const Tensor& p, Generator& gen = default_generator());
Tensor permutation(int64_t n, Generator& gen = default_generator());        // int64
Tensor permutation(const Tensor& a, Generator& gen = default_generator());  // shuffles axis 0
// numpy.random.choice over arange(n) or the elements of a 1-D tensor.
Tensor choice(int64_t n, int64_t size, bool replace = true, std::optional<Tensor> p = std::nullopt,
              Generator& gen = default_generator());
Tensor choice(const Tensor& a, int64_t size, bool replace = true,
              std::optional<Tensor> p = std::nullopt, Generator& gen = default_generator());

}  // namespace ravel
