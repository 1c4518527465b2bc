// A minimal, independent Gloo AllReduce timer, to cross-check gloo-perf (benchmarks/crosscheck).
//
// Shares no code with braid-perf's harness or gloo-perf: Gloo's own example usage (TCP device,
// FileStore rendezvous, gloo::AllreduceRing on float, sum, in place), a barrier, then a plain
// loop timed with steady_clock; the slowest rank's average time is printed.
//
//   gloo_allreduce_min RANK NRANKS STORE_DIR [iters [warmup [bytes ...]]]
//
// Every rank is started by hand (or by a script) with the same NRANKS and an empty STORE_DIR.
// Prints one line per size: "bytes time_us algbw_GBps busbw_GBps", busbw = algbw * 2(n-1)/n.
#include <gloo/allreduce_ring.h>
#include <gloo/barrier_all_to_one.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s RANK NRANKS STORE_DIR [iters [warmup [bytes ...]]]\n", argv[0]);
    return 2;
  }
  const int rank = std::atoi(argv[1]);
  const int n = std::atoi(argv[2]);
  const std::string storeDir = argv[3];
  const int iters = argc > 4 ? std::atoi(argv[4]) : 20;
  const int warmup = argc > 5 ? std::atoi(argv[5]) : 5;
  std::vector<long> sizes;
  for (int i = 6; i < argc; ++i) sizes.push_back(std::atol(argv[i]));
  if (sizes.empty()) sizes = {65536L, 1048576L, 16777216L, 134217728L};

  gloo::transport::tcp::attr attr;
  attr.hostname = "127.0.0.1";
  auto device = gloo::transport::tcp::CreateDevice(attr);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, n);
  gloo::rendezvous::FileStore store(storeDir);
  context->connectFullMesh(store, device);

  if (rank == 0)
    std::printf("# %d ranks, %d iters, %d warmup\n# bytes time_us algbw busbw\n", n, iters, warmup);
  for (long bytes : sizes) {
    const size_t count = static_cast<size_t>(bytes) / sizeof(float);
    std::vector<float> buf(count, 1.0f);
    std::vector<float*> ptrs = {buf.data()};
    gloo::AllreduceRing<float> allreduce(context, ptrs, static_cast<int>(count));
    allreduce.run();  // first run checks the result: every element is n
    bool bad = count > 0 && (buf[0] != static_cast<float>(n) || buf[count - 1] != buf[0]);
    for (int i = 0; i < warmup; ++i) allreduce.run();
    gloo::BarrierAllToOne(context).run();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) allreduce.run();
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    std::vector<double*> tp = {&t};
    gloo::AllreduceRing<double>(context, tp, 1, gloo::ReductionFunction<double>::max).run();
    if (rank == 0) {
      const double algbw = static_cast<double>(bytes) / t / 1e9;
      std::printf("%ld %.2f %.4f %.4f%s\n", bytes, t * 1e6, algbw, algbw * 2.0 * (n - 1) / n,
                  bad ? " WRONG" : "");
      std::fflush(stdout);
    }
  }
  return 0;
}
