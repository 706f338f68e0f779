// ravel::Error — the one exception type ravel throws for bad input.
//
//   try { ravel::zeros({2, 3}).reshape({4}); }
//   catch (const ravel::Error& e) { std::cerr << e.what(); }  // "reshape: cannot reshape [2, 3]
//   ..."
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ravel {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
template <typename... Args>
[[noreturn, gnu::cold, gnu::noinline]] void throw_error(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail

}  // namespace ravel

// RAVEL_CHECK(cond, "op: what was wrong ", shape, " expected ...") throws ravel::Error.
#define RAVEL_CHECK(cond, ...)                   \
  do {                                           \
    if (!(cond)) [[unlikely]]                    \
      ::ravel::detail::throw_error(__VA_ARGS__); \
  } while (0)
