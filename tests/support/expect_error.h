// expect_error(fn, {"op", "[2, 3]"}): fn must throw ravel::Error whose message contains every
// fragment. Used by every test file's error tests.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "ravel/error.h"

namespace ravel::testing {

inline void expect_error(const std::function<void()>& fn,
                         const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected ravel::Error containing '" << (fragments.empty() ? "" : fragments[0])
                  << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' missing from: " << msg;
  }
}

inline void expect_error(const std::function<void()>& fn,
                         std::initializer_list<std::string> fragments) {
  expect_error(fn, std::vector<std::string>(fragments));
}

inline void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  expect_error(fn, std::vector<std::string>{fragment});
}

}  // namespace ravel::testing
