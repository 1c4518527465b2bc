// A rank killed at random points: in each round a seeded-random rank is SIGKILLed at a
// seeded-random moment while 3-4 ranks run AllReduces of random sizes. Every survivor must get
// braidRemoteError or braidTimeout within BRAID_TIMEOUT_MS plus slack, with a message naming a
// rank, and then fail fast on the next call. Never a hang, never a wrong success.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {
namespace {

constexpr int kTimeoutMs = 5000;

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class RandomKill : public ::testing::TestWithParam<int> {};

TEST_P(RandomKill, SurvivorsFailNamingARankInBoundedTime) {
  const int seed = GetParam();
  std::mt19937 rng(static_cast<unsigned>(seed) * 7919u + 1);
  const int nranks = 3 + seed % 2;
  const int victim = static_cast<int>(rng() % static_cast<unsigned>(nranks));
  const int delayMs = static_cast<int>(rng() % 400);
  int started[2];
  ASSERT_EQ(pipe(started), 0);
  RunOptions opts;
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(kTimeoutMs)}};
  opts.may_die = {victim};
  opts.timeout_ms = 60000;
  opts.parent_thread = [&](const std::vector<pid_t>& pids, const std::atomic<bool>& finished) {
    pollfd p{started[0], POLLIN, 0};
    while (!finished && poll(&p, 1, 50) <= 0) {
    }
    if (finished) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
    ::kill(pids[static_cast<size_t>(victim)], SIGKILL);
  };
  RunRanks(
      nranks,
      [&](RankContext& ctx) {
        std::mt19937 sizes(static_cast<unsigned>(seed));  // same sequence on every rank
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; since(start) < 30; ++i) {
          const size_t n = 1 + sizes() % 3000000;
          std::vector<float> buf(n, 1.0f);
          auto t0 = std::chrono::steady_clock::now();
          const braidResult_t r =
              braidAllReduce(buf.data(), buf.data(), n, braidFloat32, braidSum, ctx.comm, nullptr);
          const double took = since(t0);
          if (r != braidSuccess) {
            const std::string msg = LastError(ctx.comm);
            BT_CHECK(ctx, ctx.rank != victim) << "the victim saw an error first: " << msg;
            BT_CHECK(ctx, r == braidRemoteError || r == braidTimeout)
                << ResultName(r) << ": " << msg;
            BT_CHECK(ctx, took < kTimeoutMs / 1000.0 + 5) << "took " << took << " s: " << msg;
            BT_CHECK(ctx, NamesRank(msg, victim))
                << "does not name the victim, rank " << victim << ": " << msg;
            auto t1 = std::chrono::steady_clock::now();
            const braidResult_t again = braidAllReduce(buf.data(), buf.data(), 1, braidFloat32,
                                                       braidSum, ctx.comm, nullptr);
            BT_CHECK(ctx, again != braidSuccess && since(t1) < 1.0)
                << "a later call returned " << ResultName(again) << " after " << since(t1) << " s";
            ctx.Record("error", msg);
            return;
          }
          BT_CHECK(ctx, buf[0] == static_cast<float>(ctx.nranks) &&
                            buf[n - 1] == static_cast<float>(ctx.nranks))
              << "iteration " << i << ": wrong result " << buf[0];
          if (ctx.failures() > 0) return;
          if (i == 0 && ctx.rank == 0) (void)!write(started[1], "s", 1);
        }
        BT_CHECK(ctx, ctx.rank == victim) << "no failure seen within 30 s of AllReduces";
      },
      opts);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomKill, ::testing::Range(0, 8));

}  // namespace
}  // namespace braidtest
