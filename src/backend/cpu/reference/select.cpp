#include "backend/cpu/reference/select.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ravel::detail {
namespace {

bool initially_on() {
  const char* env = std::getenv("RAVEL_ONEDNN");
  return !(env && (std::strcmp(env, "0") == 0 || std::strcmp(env, "OFF") == 0));
}
std::atomic<bool> enabled{initially_on()};

}  // namespace

bool onednn_available() {
#ifdef RAVEL_HAVE_ONEDNN
  return true;
#else
  return false;
#endif
}

bool onednn_enabled() { return onednn_available() && enabled.load(std::memory_order_relaxed); }
void set_onednn_enabled(bool on) { enabled.store(on, std::memory_order_relaxed); }

}  // namespace ravel::detail
