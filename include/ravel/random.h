// Random numbers from a seeded Generator: the same seed gives the same numbers on every run and
// machine (Philox-free, a 64-bit PCG stream; not NumPy's bit stream).
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

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL) { seed_(seed); }
  void manual_seed(uint64_t seed) { seed_(seed); }
  uint64_t next_u64();          // uniform 64 bits
  uint32_t next_u32();
  double next_double();         // uniform in [0, 1)
  float next_float();           // uniform in [0, 1)
  double next_normal();         // standard normal
  uint64_t next_below(uint64_t n);  // uniform in [0, n), unbiased
  // State, so a data loader or checkpoint can save and restore it.
  std::pair<uint64_t, uint64_t> state() const { return {state_, inc_}; }
  void set_state(std::pair<uint64_t, uint64_t> s) { state_ = s.first; inc_ = s.second; }

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
Tensor normal(double mean, double stddev, const Shape& shape,
              Generator& gen = default_generator(), DType dtype = kDefaultFloat);
// 1 with probability p (elementwise when p is a tensor), as float32 0/1 unless dtype given.
Tensor bernoulli(double p, const Shape& shape, Generator& gen = default_generator(),
                 DType dtype = kDefaultFloat);
Tensor bernoulli(const Tensor& p, Generator& gen = default_generator());
Tensor permutation(int64_t n, Generator& gen = default_generator());  // int64
Tensor permutation(const Tensor& a, Generator& gen = default_generator());  // shuffles axis 0
// numpy.random.choice over arange(n) or the elements of a 1-D tensor.
Tensor choice(int64_t n, int64_t size, bool replace = true,
              std::optional<Tensor> p = std::nullopt, Generator& gen = default_generator());
Tensor choice(const Tensor& a, int64_t size, bool replace = true,
              std::optional<Tensor> p = std::nullopt, Generator& gen = default_generator());

}  // namespace ravel
