// The array quick-start: NumPy's everyday work in ravel.
#include <ravel/ravel.h>

#include <iostream>

using namespace ravel;

int main() {
  // Creation and dtypes
  Tensor a = arange(12).reshape({3, 4});  // int64
  std::cout << "a =\n" << a << "\n\n";

  // Views share memory: a reversed-column slice, a transpose
  Tensor rev = a.index({Slice(), Slice(None, None, -1)});  // a[:, ::-1]
  std::cout << "a[:, ::-1] =\n" << rev << "\n\n";
  std::cout << "a.T shape = " << a.transpose().shape() << "\n\n";

  // Broadcasting and type promotion (int64 * float32 scalar -> float32)
  Tensor x = a.to(DType::Float32) * 0.5f + 1;
  std::cout << "a * 0.5 + 1 =\n" << x << "\n\n";

  // Reductions over any axes
  std::cout << "sum over rows = " << sum(x, 0) << "\n";
  std::cout << "mean of all   = " << mean(x).item<float>() << "\n";
  std::cout << "argmax per row = " << argmax(x, 1) << "\n\n";

  // Boolean masks and assignment through them
  Tensor y = x.clone();
  y.index_put_({y > 4.0f}, 0.0f);
  std::cout << "x with values > 4 zeroed =\n" << y << "\n\n";

  // Random numbers from a seeded generator, and linear algebra
  Generator gen(42);
  Tensor m = randn({3, 3}, gen) + eye(3) * 3.0f;
  Tensor b = randn({3, 1}, gen);
  Tensor sol = linalg::solve(m, b);
  std::cout << "solve(m, b) =\n" << sol << "\n";
  std::cout << "residual max |m @ sol - b| = " << amax(abs(matmul(m, sol) - b)).item<float>()
            << "\n\n";

  // Sorting and unique counts
  Tensor r = randint(0, 5, {12}, gen);
  auto u = unique(r, false, false, true);
  std::cout << "r = " << r << "\nunique = " << u.values << " counts = " << u.counts << "\n";

  // .npy files that NumPy reads
  save_npy("/tmp/ravel_quickstart.npy", x);
  std::cout << "round trip equal: " << array_equal(load_npy("/tmp/ravel_quickstart.npy"), x)
            << "\n";
  return 0;
}
