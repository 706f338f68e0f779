// The `ravel` command line (placeholder until the sub-commands land).
#include <cstdio>

int main() {
  std::puts("ravel: no sub-commands yet");
  return 1;
}
