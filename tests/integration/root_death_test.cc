// The root of the rendezvous (rank 0) dies during init: every other rank gets an error that
// names rank 0 within BRAID_TIMEOUT_MS, whether it had already registered (it is waiting for
// the rank table) or arrives after the root is gone (nobody listens any more).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {
namespace {

constexpr int kTimeoutMs = 3000;

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(RootDeath, DuringInitFailsEveryoneNamingRankZero) {
  RunOptions opts;
  opts.init_comm = false;
  opts.destroy_comm = false;
  opts.may_die = {0};
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(kTimeoutMs)}};
  // Rank 0 is killed 400 ms in: rank 1 has registered by then, rank 2 starts after it.
  opts.parent_thread = [](const std::vector<pid_t>& pids, const std::atomic<bool>&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ::kill(pids[0], SIGKILL);
  };
  RunRanks(
      4,
      [](RankContext& ctx) {
        if (ctx.rank == 0) {
          // The root waits for ranks that never complete the rendezvous before it is killed.
          braidComm_t comm = nullptr;
          (void)braidCommInitRank(&comm, ctx.nranks, ctx.ids[0], ctx.rank);
          return;
        }
        if (ctx.rank == 3) return;  // never arrives, so the rendezvous cannot complete
        if (ctx.rank == 2) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        auto t0 = std::chrono::steady_clock::now();
        braidComm_t comm = nullptr;
        const braidResult_t r = braidCommInitRank(&comm, ctx.nranks, ctx.ids[0], ctx.rank);
        const double secs = secondsSince(t0);
        const std::string err = LastError(nullptr);
        BT_CHECK(ctx, r == braidRemoteError || r == braidTimeout)
            << "init returned " << ResultName(r) << ": " << err;
        BT_CHECK(ctx, comm == nullptr);
        BT_CHECK(ctx, err.find("rank 0") != std::string::npos) << err;
        BT_CHECK(ctx, secs < kTimeoutMs / 1000.0 + 3) << "took " << secs << " s: " << err;
        ctx.Record("error", err);
      },
      opts);
}

}  // namespace
}  // namespace braidtest
