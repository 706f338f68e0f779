// One test per class of bad input: the error is a ravel::Error whose message names the op and
// the shapes or values involved.
#include <gtest/gtest.h>

#include <fstream>

#include "ravel/ravel.h"
#include "support/expect_error.h"

using namespace ravel;
using ravel::testing::expect_error;

TEST(Errors, ShapeMismatchNamesOpAndShapes) {
  expect_error([] { add(zeros({2, 3}), zeros({4})); }, {"add", "[2, 3]", "[4]"});
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error([] { zeros({2, 3}).reshape({4}); }, {"reshape", "[2, 3]", "[4]"});
  expect_error(
      [] {
        concatenate({zeros({2, 3}), zeros({2, 4})}, 0);
      },
      {"concatenate", "[2, 3]", "[2, 4]"});
  expect_error([] { zeros({3}).expand({2, 4}); }, {"broadcast_to", "[3]", "[2, 4]"});
}

TEST(Errors, BadAxisNamesOpAndDimension) {
  expect_error([] { sum(zeros({2, 3}), 2); }, {"sum", "axis 2", "[2, 3]"});
  expect_error([] { zeros({2, 3}).transpose(0, -3); }, {"transpose", "-3"});
  expect_error([] { argmax(zeros({2}), 1); }, {"argmax", "axis 1"});
  expect_error([] { stack({zeros({2}), zeros({2})}, 3); }, {"stack", "3"});
}

TEST(Errors, BadDtypeNamesOpAndDtypes) {
  expect_error([] { bitwise_and(zeros({2}), zeros({2})); }, {"bitwise_and", "float32"});
  expect_error([] { linalg::inv(zeros({2, 2}, DType::Float16)); }, {"inv", "float16"});
  expect_error(
      [] {
        Tensor t = zeros({2}, DType::Int32);
        t += ones({2}, DType::Float32);
      },
      {"add_", "int32", "float64"});
}

TEST(Errors, OutOfRangeIndexNamesIndexAxisAndSize) {
  expect_error([] { arange(5).index({7}); }, {"7", "axis 0", "size 5"});
  expect_error([] { arange(6).reshape({2, 3}).index({Slice(), -4}); }, {"-4", "axis 1", "size 3"});
  expect_error([] { take(arange(5), tensor({0, 5})); }, {"5", "size 5"});
}

TEST(Errors, BadFileNamesFileAndProblem) {
  expect_error([] { load_npy("/nonexistent/dir/x.npy"); }, {"/nonexistent/dir/x.npy"});
  std::string path = ::testing::TempDir() + "ravel_bad.npy";
  {
    std::ofstream f(path, std::ios::binary);
    f << "this is not an npy file";
  }
  expect_error([] { load_npy(::testing::TempDir() + "ravel_bad.npy"); }, {"ravel_bad.npy"});
  std::remove(path.c_str());
}
