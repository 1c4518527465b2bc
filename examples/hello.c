/* The README's example: AllReduce-average a small gradient across ranks. */
#include <braid/braid.h>
#include <stdio.h>

int main(void) {
  braidComm_t comm; /* rank and rendezvous come from braid-run, torchrun, mpirun or srun */
  if (braidCommInitFromEnv(&comm) != braidSuccess) {
    fprintf(stderr, "init: %s\n", braidGetLastError(NULL));
    return 1;
  }
  int rank, nranks;
  braidCommUserRank(comm, &rank);
  braidCommCount(comm, &nranks);
  float grad[4] = {1.0f * rank, 2, 3, 4};
  braidResult_t r = braidAllReduce(grad, grad, 4, braidFloat32, braidAvg, comm, NULL);
  if (r != braidSuccess)
    fprintf(stderr, "allreduce: %s\n", braidGetLastError(comm));
  else
    printf("rank %d of %d: grad[0] = %g\n", rank, nranks, grad[0]);
  braidCommDestroy(comm);
  return r == braidSuccess ? 0 : 1;
}
