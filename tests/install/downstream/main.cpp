// A program outside the ravel tree, built against the installed package.
#include <ravel/ravel.h>

#include <iostream>

int main() {
  ravel::Tensor a = ravel::arange(6).reshape({2, 3});
  std::cout << "sum=" << ravel::sum(a).item<int64_t>() << " shape=" << a.shape() << "\n";
}
