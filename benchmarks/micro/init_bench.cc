// Communicator start-up time vs rank count, through the public C API.
//
//   BM_CommInit/<nranks>   braidGetUniqueId, then <nranks> threads each call braidCommInitRank
//                          (rendezvous, authenticated bootstrap, rank table, transport
//                          connections); the iteration's time is from the id to the last
//                          rank's return. init_ms is that time; destroy_ms (not in the
//                          iteration time) is the time for every rank's braidCommDestroy.
//
// Ranks are threads of this process: the contract says communicators are independent (no
// global state), so N threads rendezvous exactly as N processes would, minus fork/exec and the
// dynamic loader. On a machine with fewer cores than ranks the ranks share cores; the time then
// includes that (the development machine has 2 cores: 4 and 8 ranks are oversubscribed).
#include <benchmark/benchmark.h>
#include <braid/braid.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

void BM_CommInit(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  double initTotal = 0;
  double destroyTotal = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    braidUniqueId id;
    if (braidGetUniqueId(&id) != braidSuccess) {
      state.SkipWithError(braidGetLastError(nullptr));
      return;
    }
    std::vector<braidComm_t> comms(static_cast<size_t>(n), nullptr);
    std::vector<braidResult_t> results(static_cast<size_t>(n), braidSuccess);
    std::vector<std::thread> ranks;
    for (int r = 0; r < n; ++r) {
      ranks.emplace_back([&, r] {
        results[static_cast<size_t>(r)] =
            braidCommInitRank(&comms[static_cast<size_t>(r)], n, id, r);
        if (results[static_cast<size_t>(r)] != braidSuccess) {
          std::fprintf(stderr, "rank %d: %s\n", r, braidGetLastError(nullptr));
        }
      });
    }
    for (auto& t : ranks) t.join();
    const auto inited = std::chrono::steady_clock::now();
    for (int r = 0; r < n; ++r) {
      if (results[static_cast<size_t>(r)] != braidSuccess) {
        state.SkipWithError("braidCommInitRank failed (see stderr)");
        return;
      }
    }
    ranks.clear();
    for (int r = 0; r < n; ++r) {
      ranks.emplace_back([&, r] { braidCommDestroy(comms[static_cast<size_t>(r)]); });
    }
    for (auto& t : ranks) t.join();
    const auto destroyed = std::chrono::steady_clock::now();
    const double init = std::chrono::duration<double>(inited - start).count();
    initTotal += init;
    destroyTotal += std::chrono::duration<double>(destroyed - inited).count();
    state.SetIterationTime(init);
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["init_ms"] = initTotal * 1e3 / iters;
  state.counters["destroy_ms"] = destroyTotal * 1e3 / iters;
}

// Short runs (2-core development machine); --benchmark_min_time overrides.
BENCHMARK(BM_CommInit)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->UseManualTime()
    ->MinTime(0.3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
