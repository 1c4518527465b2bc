// After braidCommDestroy or braidCommAbort nothing of the communicator remains: threads (the
// progress thread of async requests), file descriptors (sockets, eventfd), in every rank.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {
namespace {

int countEntries(const char* dir) {
  DIR* d = opendir(dir);
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - (std::string(dir) == "/proc/self/fd" ? 1 : 0);  // opendir's own fd
}

// One full cycle: init, an async AllReduce (starts the progress thread), a blocking one,
// then destroy or abort. With check set, nothing may remain afterwards.
void useAndRelease(RankContext& ctx, braidUniqueId id, bool abort, bool check) {
  const int threads0 = countEntries("/proc/self/task");
  const int fds0 = countEntries("/proc/self/fd");
  braidComm_t comm = nullptr;
  BT_CHECK_RESULT(ctx, braidCommInitRank(&comm, ctx.nranks, id, ctx.rank), braidSuccess, nullptr);
  if (comm == nullptr) return;
  std::vector<float> buf(100000, 1.0f);
  braidRequest_t req = nullptr;
  BT_CHECK_OK(
      ctx, braidIAllReduce(buf.data(), buf.data(), buf.size(), braidFloat32, braidSum, comm, &req));
  if (req != nullptr) {
    BT_CHECK_OK(ctx, braidWait(req));
  }
  if (check) {
    BT_CHECK(ctx, countEntries("/proc/self/task") > threads0) << "no progress thread was started";
  }
  BT_CHECK_OK(ctx, braidAllReduce(buf.data(), buf.data(), buf.size(), braidFloat32, braidSum, comm,
                                  nullptr));
  const braidResult_t released = abort ? braidCommAbort(comm) : braidCommDestroy(comm);
  BT_CHECK(ctx, released == braidSuccess) << ResultName(released);
  if (!check) return;
  BT_CHECK(ctx, countEntries("/proc/self/task") == threads0)
      << countEntries("/proc/self/task") << " threads after, " << threads0 << " before";
  BT_CHECK(ctx, countEntries("/proc/self/fd") == fds0)
      << countEntries("/proc/self/fd") << " fds after, " << fds0 << " before";
}

// A first cycle lets runtimes start what they start lazily on first use (a sanitizer's
// background thread, say); the second cycle is the one measured.
void twoCycles(RankContext& ctx, bool abort) {
  useAndRelease(ctx, ctx.ids[0], abort, false);
  useAndRelease(ctx, ctx.ids[1], abort, true);
}

TEST(Hygiene, DestroyLeavesNoThreadOrFd) {
  RunOptions opts;
  opts.init_comm = false;
  opts.destroy_comm = false;
  opts.extra_ids = 1;
  RunRanks(
      3, [](RankContext& ctx) { twoCycles(ctx, false); }, opts);
}

TEST(Hygiene, AbortLeavesNoThreadOrFd) {
  RunOptions opts;
  opts.init_comm = false;
  opts.destroy_comm = false;
  opts.extra_ids = 1;
  RunRanks(
      3, [](RankContext& ctx) { twoCycles(ctx, true); }, opts);
}

}  // namespace
}  // namespace braidtest
