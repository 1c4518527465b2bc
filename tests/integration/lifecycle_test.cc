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

}  // namespace
}  // namespace braidtest
