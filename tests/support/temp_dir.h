// A test fixture with a fresh directory per test, removed afterwards:
//
//   class NpyTest : public ravel::testing::TempDirTest {};
//   TEST_F(NpyTest, RoundTrip) { save_npy(path("x.npy"), x); ... }
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace ravel::testing {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("ravel_" + std::string(info->test_suite_name()) + "_" + std::to_string(getpid()) + "_" +
            info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

}  // namespace ravel::testing
