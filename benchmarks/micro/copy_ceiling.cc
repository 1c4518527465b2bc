// The memory-traffic ceiling of a 2-rank AllReduce on this machine, measured the way the
// intra-node benchmark (benchmarks/intranode) reports it.
//
// T threads (default 2, one per rank) each memcpy their own SIZE-byte buffer (default
// 256 MiB, far out of cache) REPS times; the result is bytes read + bytes written per second,
// summed over the threads, best of the repetitions. An out-of-cache AllReduce must at least
// read every rank's input and write every rank's output: 2 x nranks x SIZE bytes, so
//   busbw ceiling = copy GB/s / (2 x nranks) x 2(n-1)/n.
// For 2 ranks: copy / 4.
//
//   braid_copy_ceiling [SIZE_MIB] [THREADS] [REPS]
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  if (mib == 0 || threads <= 0 || reps <= 0) {
    std::fprintf(stderr, "usage: %s [SIZE_MIB] [THREADS] [REPS]\n", argv[0]);
    return 2;
  }
  const size_t bytes = mib << 20;
  std::vector<char*> src(static_cast<size_t>(threads));
  std::vector<char*> dst(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    src[static_cast<size_t>(t)] = static_cast<char*>(std::aligned_alloc(4096, bytes));
    dst[static_cast<size_t>(t)] = static_cast<char*>(std::aligned_alloc(4096, bytes));
    if (src[static_cast<size_t>(t)] == nullptr || dst[static_cast<size_t>(t)] == nullptr) {
      std::fprintf(stderr, "cannot allocate %zu MiB x %d x 2\n", mib, threads);
      return 1;
    }
    std::memset(src[static_cast<size_t>(t)], 1, bytes);
    std::memset(dst[static_cast<size_t>(t)], 2, bytes);
  }
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<std::thread> pool;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back(
          [&, t] { std::memcpy(dst[static_cast<size_t>(t)], src[static_cast<size_t>(t)], bytes); });
    }
    for (auto& th : pool) th.join();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * static_cast<double>(bytes) * threads / s / 1e9);
  }
  std::printf("copy_gbps %.2f threads %d size_mib %zu\n", best, threads, mib);
  for (int t = 0; t < threads; ++t) {
    std::free(src[static_cast<size_t>(t)]);
    std::free(dst[static_cast<size_t>(t)]);
  }
  return 0;
}
