/* braidCommInitFromEnv under a real launcher: init, a checked AllReduce of 1000 floats,
 * destroy. Exits 0 on success; prints the failing call and braidGetLastError otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "braid/braid.h"

#define COUNT 1000

int main(void) {
  braidComm_t comm = NULL;
  if (braidCommInitFromEnv(&comm) != braidSuccess) {
    fprintf(stderr, "env_allreduce: %s\n", braidGetLastError(NULL));
    return 1;
  }
  int rank = -1;
  int nranks = 0;
  if (braidCommUserRank(comm, &rank) != braidSuccess ||
      braidCommCount(comm, &nranks) != braidSuccess) {
    fprintf(stderr, "env_allreduce: rank/count: %s\n", braidGetLastError(comm));
    return 1;
  }
  static float send[COUNT];
  static float recv[COUNT];
  for (int i = 0; i < COUNT; ++i) send[i] = (float)(rank + 1) * (float)(i % 7 + 1);
  if (braidAllReduce(send, recv, COUNT, braidFloat32, braidSum, comm, NULL) != braidSuccess) {
    fprintf(stderr, "env_allreduce: rank %d: braidAllReduce: %s\n", rank, braidGetLastError(comm));
    return 1;
  }
  /* Sum over ranks of (r + 1) * k = k * n(n+1)/2: small integers, exact in float. */
  float ranks = (float)nranks * (float)(nranks + 1) / 2.0f;
  int bad = 0;
  for (int i = 0; i < COUNT; ++i) {
    if (recv[i] != ranks * (float)(i % 7 + 1)) ++bad;
  }
  if (bad != 0) {
    fprintf(stderr, "env_allreduce: rank %d: %d of %d values wrong (recv[0]=%g, expected %g)\n",
            rank, bad, COUNT, (double)recv[0], (double)ranks);
    return 1;
  }
  if (braidCommDestroy(comm) != braidSuccess) {
    fprintf(stderr, "env_allreduce: braidCommDestroy: %s\n", braidGetLastError(NULL));
    return 1;
  }
  printf("env_allreduce: rank %d of %d OK\n", rank, nranks);
  return 0;
}
