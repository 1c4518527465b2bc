#include <braid/braid.h>

#include <cstdio>

int main() {
  int version = 0;
  if (braidGetVersion(&version) != braidSuccess) return 1;
  std::printf("braid %d from C++\n", version);
  return version == BRAID_VERSION_CODE ? 0 : 1;
}
