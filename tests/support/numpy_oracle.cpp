#include "support/numpy_oracle.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace ravel::testing {

int NumpyOracle::add(const std::string& expr, const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(expr.find('\n') == std::string::npos, "NumpyOracle: expression has a newline");
  RAVEL_CHECK(inputs.size() <= 16, "NumpyOracle: at most 16 inputs");
  cases_.push_back({expr, false, inputs, {}, {}});
  ran_ = false;
  return static_cast<int>(cases_.size()) - 1;
}

int NumpyOracle::add_script(const std::string& code, const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(inputs.size() <= 16, "NumpyOracle: at most 16 inputs");
  cases_.push_back({code, true, inputs, {}, {}});
  ran_ = false;
  return static_cast<int>(cases_.size()) - 1;
}

namespace {
void write_raw(const fs::path& p, const Tensor& t) {
  // bfloat16 travels as float32 (exact); everything else as its own bytes, C order.
  Tensor c = (t.dtype() == DType::BFloat16 ? t.to(DType::Float32) : t).contiguous();
  std::ofstream f(p, std::ios::binary);
  f.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.nbytes()));
}

Tensor read_raw(const fs::path& p, const Shape& shape, DType dt) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Tensor t = empty(shape, dt);
  RAVEL_CHECK(bytes.size() == t.nbytes(), "NumpyOracle: result file ", p.string(), " has ",
              bytes.size(), " bytes, expected ", t.nbytes());
  if (!bytes.empty()) std::memcpy(t.raw_data(), bytes.data(), bytes.size());
  return t;
}
}  // namespace

void NumpyOracle::run() {
  if (ran_) return;
  std::string tmpl = (fs::temp_directory_path() / "ravel_oracle_XXXXXX").string();
  RAVEL_CHECK(mkdtemp(tmpl.data()) != nullptr, "NumpyOracle: cannot create a temp directory");
  fs::path dir(tmpl);
  {
    std::ofstream in(dir / "in.txt");
    int file = 0;
    for (size_t k = 0; k < cases_.size(); ++k) {
      const Case& c = cases_[k];
      in << "case " << k << " " << c.inputs.size() << "\n";
      if (c.is_script) {
        size_t lines = static_cast<size_t>(std::count(c.expr.begin(), c.expr.end(), '\n')) + 1;
        in << "script " << lines << "\n" << c.expr << "\n";
      } else {
        in << "expr " << c.expr << "\n";
      }
      for (const Tensor& t : c.inputs) {
        std::string name = "i" + std::to_string(file++) + ".bin";
        write_raw(dir / name, t);
        in << "input " << dtype_name(t.dtype()) << " " << t.ndim();
        for (int64_t s : t.shape()) in << " " << s;
        in << " " << name << "\n";
      }
    }
  }
  std::string cmd = std::string("/usr/bin/python3 ") + RAVEL_TEST_DIR +
                    "/support/numpy_oracle.py " + dir.string();
  int rc = std::system(cmd.c_str());
  RAVEL_CHECK(rc == 0, "NumpyOracle: python failed (exit ", rc, "): ", cmd);
  std::ifstream out(dir / "out.txt");
  std::string line;
  Case* cur = nullptr;
  while (std::getline(out, line)) {
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    if (tag == "case") {
      size_t k;
      std::string status;
      ls >> k >> status;
      cur = &cases_.at(k);
      cur->outputs.clear();
      cur->error.clear();
      if (status == "error") {
        std::getline(ls, cur->error);
        if (cur->error.empty()) cur->error = "error";
      }
    } else if (tag == "result" && cur) {
      std::string dt;
      int64_t ndim;
      ls >> dt >> ndim;
      Shape shape(static_cast<size_t>(ndim));
      for (auto& s : shape) ls >> s;
      std::string name;
      ls >> name;
      cur->outputs.push_back(read_raw(dir / name, shape, dtype_from_name(dt)));
    }
  }
  fs::remove_all(dir);
  ran_ = true;
}

const std::vector<Tensor>& NumpyOracle::results(int h) const {
  RAVEL_CHECK(ran_, "NumpyOracle: call run() before reading results");
  const Case& c = cases_.at(static_cast<size_t>(h));
  RAVEL_CHECK(c.error.empty(), "NumpyOracle: Python raised for '", c.expr, "': ", c.error);
  return c.outputs;
}

const Tensor& NumpyOracle::result(int h) const {
  const auto& r = results(h);
  RAVEL_CHECK(!r.empty(), "NumpyOracle: no result for case ", h);
  return r[0];
}

const std::string& NumpyOracle::error(int h) const {
  RAVEL_CHECK(ran_, "NumpyOracle: call run() before reading results");
  return cases_.at(static_cast<size_t>(h)).error;
}

Tensor numpy_eval(const std::string& expr, const std::vector<Tensor>& inputs) {
  NumpyOracle np;
  int h = np.add(expr, inputs);
  np.run();
  return np.result(h);
}

::testing::AssertionResult matches(const Tensor& ours, const Tensor& ref, double rtol, double atol,
                                   bool check_dtype) {
  if (ours.shape() != ref.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << ours.shape() << " differs from NumPy's " << ref.shape();
  }
  if (check_dtype && ours.dtype() != ref.dtype()) {
    return ::testing::AssertionFailure() << "dtype " << dtype_name(ours.dtype())
                                         << " differs from NumPy's " << dtype_name(ref.dtype());
  }
  bool exact = !is_floating(ours.dtype()) && !is_floating(ref.dtype());
  std::vector<double> a = ours.to_vector<double>();
  std::vector<double> b = ref.to(ours.dtype()).to_vector<double>();
  if (exact) {
    // compare integers exactly through int64 (doubles lose precision past 2^53)
    std::vector<int64_t> ai = ours.to_vector<int64_t>();
    std::vector<int64_t> bi = ref.to(ours.dtype()).to_vector<int64_t>();
    for (size_t i = 0; i < ai.size(); ++i)
      if (ai[i] != bi[i])
        return ::testing::AssertionFailure()
               << "element " << i << " (C order) is " << ai[i] << ", NumPy has " << bi[i];
    return ::testing::AssertionSuccess();
  }
  size_t bad = 0, worst = 0;
  double worst_excess = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = a[i], y = b[i];
    bool ok;
    if (std::isnan(y))
      ok = std::isnan(x);
    else if (std::isinf(y))
      ok = x == y;
    else
      ok = std::isfinite(x) && std::fabs(x - y) <= atol + rtol * std::fabs(y);
    if (!ok) {
      double excess = std::isfinite(x) && std::isfinite(y) ? std::fabs(x - y) : INFINITY;
      if (bad == 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << a.size() << " elements differ from NumPy beyond rtol=" << rtol
         << " atol=" << atol << "; worst at " << worst << " (C order): ravel " << a[worst]
         << ", NumPy " << b[worst] << " (dtype " << dtype_name(ours.dtype()) << ")";
}

std::vector<DType> all_dtypes() {
  std::vector<DType> v;
  for (int i = 0; i < kNumDTypes; ++i) v.push_back(static_cast<DType>(i));
  return v;
}

}  // namespace ravel::testing
