// The root of the rendezvous (rank 0) dies during init: every other rank gets an error that
// names rank 0 within BRAID_TIMEOUT_MS, whether it had already registered (it is waiting for
// the rank table) or arrives after the root is gone (nobody listens any more).
#include <gtest/gtest.h>
#include <poll.h>
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
  int gone[2];  // the parent writes a byte here once rank 0 is dead
  ASSERT_EQ(::pipe(gone), 0);
  std::atomic<bool> registered{false};
  RunOptions opts;
  opts.init_comm = false;
  opts.destroy_comm = false;
  opts.may_die = {0};
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(kTimeoutMs)}};
  // Events, not delays: rank 0 is killed once rank 1 is connected to it (registered, waiting
  // for the rank table); rank 2 starts only once rank 0 is dead (nobody listens any more).
  opts.parent_thread = [&](const std::vector<pid_t>& pids, const std::atomic<bool>& finished) {
    auto t0 = std::chrono::steady_clock::now();
    while (!finished && secondsSince(t0) < 30 && !ConnectedByTcp(pids[1], pids[0])) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    registered = ConnectedByTcp(pids[1], pids[0]);
    ::kill(pids[0], SIGKILL);
    while (!finished && !ProcessDead(pids[0])) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    (void)!::write(gone[1], "g", 1);
  };
  RunRanks(
      4,
      [&gone](RankContext& ctx) {
        if (ctx.rank == 0) {
          // The root waits for ranks that never complete the rendezvous before it is killed.
          braidComm_t comm = nullptr;
          (void)braidCommInitRank(&comm, ctx.nranks, ctx.ids[0], ctx.rank);
          return;
        }
        if (ctx.rank == 3) return;  // never arrives, so the rendezvous cannot complete
        if (ctx.rank == 2) {
          pollfd p{gone[0], POLLIN, 0};
          BT_CHECK(ctx, ::poll(&p, 1, 40000) == 1) << "rank 0 was never killed";
        }
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
  EXPECT_TRUE(registered.load()) << "rank 1 never connected to rank 0 before it was killed";
  ::close(gone[0]);
  ::close(gone[1]);
}

}  // namespace
}  // namespace braidtest
