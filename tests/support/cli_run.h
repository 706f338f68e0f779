// The `ravel` command line run as a separate process by the tests (tests/tools/): its exit
// status, stdout and stderr.
//
//   CliRun r = run_ravel("convert in.pt out.safetensors");
//   EXPECT_EQ(r.status, 0) << r.err;
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ravel::testing {

struct CliRun {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The CLI next to this test binary: <build>/tests/ravel_tests -> <build>/tools/ravel/ravel.
inline std::filesystem::path cli_path() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" /
         "ravel" / "ravel";
}

// Runs `ravel <args>` (shell words; test paths have no spaces) with 2 threads.
inline CliRun run_ravel(const std::string& args) {
  static int counter = 0;
  const std::filesystem::path base =
      std::filesystem::temp_directory_path() /
      ("ravel_cli_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  const std::string cmd = "OMP_NUM_THREADS=2 " + cli_path().string() + " " + args + " >" +
                          base.string() + ".out 2>" + base.string() + ".err";
  const int raw = std::system(cmd.c_str());
  CliRun r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  r.out = slurp(base.string() + ".out");
  r.err = slurp(base.string() + ".err");
  std::filesystem::remove(base.string() + ".out");
  std::filesystem::remove(base.string() + ".err");
  return r;
}

inline int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// A failure: the status, exactly one line on stderr holding every fragment, nothing that looks
// like a crash.
inline void expect_cli_failure(const std::string& args, int status,
                               const std::vector<std::string>& fragments) {
  SCOPED_TRACE("ravel " + args);
  CliRun r = run_ravel(args);
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}

}  // namespace ravel::testing
