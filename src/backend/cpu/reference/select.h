// Internal: which CPU path float32 conv, pooling and batch norm take. oneDNN when ravel was built
// with it (RAVEL_ONEDNN) and not switched off, else the portable kernels in this folder. Tests
// switch it to check both paths; RAVEL_ONEDNN=0 in the environment switches it off at start.
#pragma once

namespace ravel::detail {

bool onednn_available();  // built with oneDNN
bool onednn_enabled();    // available and not switched off
void set_onednn_enabled(bool on);

// Switches oneDNN on or off for a scope.
class OnednnGuard {
 public:
  explicit OnednnGuard(bool on) : prev_(onednn_enabled()) { set_onednn_enabled(on); }
  ~OnednnGuard() { set_onednn_enabled(prev_); }
  OnednnGuard(const OnednnGuard&) = delete;
  OnednnGuard& operator=(const OnednnGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace ravel::detail
