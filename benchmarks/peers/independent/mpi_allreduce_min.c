/* A minimal, independent MPI_Allreduce timer, to cross-check mpi-perf (benchmarks/crosscheck).
 *
 * Shares no code with braid-perf's harness: a plain loop timed with MPI_Wtime, the way the OSU
 * micro-benchmarks time osu_allreduce (float, MPI_SUM, out of place, barrier before timing,
 * the slowest rank's average time).
 *
 *   mpirun -np N mpi_allreduce_min [iters [warmup [bytes ...]]]
 *
 * Prints one line per size: "bytes time_us algbw_GBps busbw_GBps", busbw = algbw * 2(n-1)/n
 * (bytes / time / 1e9 for algbw).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, n;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  const int iters = argc > 1 ? atoi(argv[1]) : 20;
  const int warmup = argc > 2 ? atoi(argv[2]) : 5;
  static const long kDefaultSizes[] = {65536L, 1048576L, 16777216L, 134217728L};
  const int nsizes = argc > 3 ? argc - 3 : 4;
  if (rank == 0)
    printf("# %d ranks, %d iters, %d warmup\n# bytes time_us algbw busbw\n", n, iters, warmup);
  for (int k = 0; k < nsizes; ++k) {
    const long bytes = argc > 3 ? atol(argv[3 + k]) : kDefaultSizes[k];
    const size_t count = (size_t)bytes / sizeof(float);
    float* in = malloc(count * sizeof(float) + 1);
    float* out = malloc(count * sizeof(float) + 1);
    if (in == NULL || out == NULL) MPI_Abort(MPI_COMM_WORLD, 2);
    for (size_t i = 0; i < count; ++i) in[i] = (float)(rank + 1);
    memset(out, 0, count * sizeof(float));
    for (int i = 0; i < warmup; ++i)
      MPI_Allreduce(in, out, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    for (int i = 0; i < iters; ++i)
      MPI_Allreduce(in, out, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    const double mine = (MPI_Wtime() - t0) / iters;
    double slowest = 0;
    MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    const float expect = (float)n * (float)(n + 1) / 2;
    int bad = count > 0 && (out[0] != expect || out[count - 1] != expect);
    int anybad = 0;
    MPI_Reduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      const double algbw = (double)bytes / slowest / 1e9;
      printf("%ld %.2f %.4f %.4f%s\n", bytes, slowest * 1e6, algbw, algbw * 2.0 * (n - 1) / n,
             anybad ? " WRONG" : "");
      fflush(stdout);
    }
    free(in);
    free(out);
  }
  MPI_Finalize();
  return 0;
}
