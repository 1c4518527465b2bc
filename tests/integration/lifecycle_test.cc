// Communicator lifecycle: many init / collective / destroy cycles in one process, with a rank
// that destroys its communicator as soon as its part of a collective is done (the others must
// still complete theirs), and no file descriptors leaked.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

int CountOpenFds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

constexpr int kCycles = 12;

// Each cycle: init, one collective whose root finishes first, destroy at once (no barrier).
TEST(Lifecycle, DestroyRightAfterACollectiveThenInitAgain) {
  RunOptions opts;
  opts.init_comm = false;
  opts.extra_ids = kCycles - 1;
  opts.env = {{"BRAID_TIMEOUT_MS", "20000"}};
  RunRanks(
      3,
      [](RankContext& ctx) {
        int fds_after_first = -1;
        for (int cycle = 0; cycle < kCycles; ++cycle) {
          braidComm_t comm = nullptr;
          braidResult_t r =
              braidCommInitRank(&comm, ctx.nranks, ctx.ids[static_cast<size_t>(cycle)], ctx.rank);
          BT_CHECK(ctx, r == braidSuccess)
              << "cycle " << cycle << ": init: " << ResultName(r) << ": " << LastError(nullptr);
          if (r != braidSuccess) return;
          ctx.comm = comm;
          CollCase c;
          c.dt = braidFloat32;
          c.count = 1000 + static_cast<size_t>(cycle) * 4099;
          c.root = cycle % ctx.nranks;
          c.seed = 50 + static_cast<uint64_t>(cycle);
          switch (cycle % 3) {
            case 0:
              CheckedBroadcast(ctx, c);  // the root has nothing to wait for
              break;
            case 1:
              CheckedReduce(ctx, c);  // the non-roots have nothing to wait for
              break;
            default:
              CheckedAllReduce(ctx, c);
              break;
          }
          BT_CHECK_RESULT(ctx, braidCommDestroy(comm), braidSuccess, nullptr);
          ctx.comm = nullptr;
          if (cycle == 0) fds_after_first = CountOpenFds();
          if (ctx.failures() > 0) return;
        }
        const int fds_now = CountOpenFds();
        BT_CHECK(ctx, fds_now <= fds_after_first + 2)
            << "open file descriptors grew from " << fds_after_first << " after the first cycle to "
            << fds_now << " after " << kCycles << " init/destroy cycles";
      },
      opts);
}

// A rank that exits (after destroying its communicator cleanly) while its peers still read its
// last data must not be reported as dead.
TEST(Lifecycle, EarlyFinisherExitsCleanly) {
  RunRanks(4, [](RankContext& ctx) {
    for (int root = 0; root < ctx.nranks; ++root) {
      CollCase c;
      c.dt = braidInt32;
      c.count = 200003;
      c.root = root;
      c.seed = 900 + static_cast<uint64_t>(root);
      CheckedBroadcast(ctx, c);
    }
    // The last Broadcast's root destroys (in the harness) as soon as it returns.
  });
}

// A rank that exits without braidCommDestroy right after the last collective (common in real
// programs) must not fail the peers that are still receiving that collective's data: its
// bytes are already on their way, only its goodbye is missing.
TEST(Lifecycle, ExitWithoutDestroyAfterLastCollective) {
  RunOptions opts;
  opts.destroy_comm = false;
  opts.may_die = {1};
  RunRanks(
      4,
      [](RankContext& ctx) {
        for (int i = 0; i < 3; ++i) {
          CollCase c;
          c.dt = braidInt32;
          c.count = 4000037;
          c.root = 1;  // the chain is 1 -> 2 -> 3 -> 0: rank 0 (which relays failures) is last
          c.seed = 1200 + static_cast<uint64_t>(i);
          CheckedBroadcast(ctx, c);
        }
        if (ctx.rank == 1) _exit(0);  // no goodbye
        BT_CHECK_OK(ctx, braidCommDestroy(ctx.comm));
        ctx.comm = nullptr;
      },
      opts);
}

}  // namespace
}  // namespace braidtest
