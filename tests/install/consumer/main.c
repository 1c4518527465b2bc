#include <braid/braid.h>
#include <stdio.h>

int main(void) {
  int version = 0;
  if (braidGetVersion(&version) != braidSuccess) return 1;
  printf("braid %d: %s\n", version, braidGetErrorString(braidSuccess));
  return version == BRAID_VERSION_CODE ? 0 : 1;
}
