// The shared-memory transport seen from the public API: it is what ranks on one host use by
// default; its segment is gone from /dev/shm once the communicator is up, and stays gone when
// a rank is killed mid-AllReduce (the survivors fail naming it); ranks on different hosts
// (BRAID_HOST_ID) mix shared memory and sockets; BRAID_TRANSPORT=shm refuses a second host.
#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

// /dev/shm names Braid created for communicators whose host leader is one of `pids`
// ("braid-<id>-<leader pid>-<leader rank>").
std::vector<std::string> SegmentsOf(const std::vector<pid_t>& pids) {
  std::vector<std::string> found;
  DIR* d = ::opendir("/dev/shm");
  if (d == nullptr) return found;
  while (dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread reads d
    const std::string name = e->d_name;
    if (name.rfind("braid-", 0) != 0) continue;
    for (pid_t p : pids) {
      if (name.find("-" + std::to_string(p) + "-") != std::string::npos) found.push_back(name);
    }
  }
  ::closedir(d);
  return found;
}

// Whether this process maps a Braid segment (deleted from /dev/shm, still mapped).
bool MapsBraidSegment() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm/braid-") != std::string::npos) return true;
  }
  return false;
}

bool MapsDeletedBraidSegmentOnly() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  bool any = false;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm/braid-") == std::string::npos) continue;
    any = true;
    if (line.find("(deleted)") == std::string::npos) return false;
  }
  return any;
}

bool WaitByte(int fd, double seconds) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(seconds * 1000)) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) == 1;
}

TEST(Shm, DefaultOnOneHostAndUnlinkedOnceUp) {
  for (int n : {2, 3, 5}) {
    RunOptions opts;
    opts.env = {{"BRAID_TRANSPORT", ""}};  // the default selection, whatever the caller's shell
    opts.timeout_ms = 120000;              // (sanitizers, oversubscribed ranks)
    RunRanks(
        n,
        [](RankContext& ctx) {
          BT_CHECK(ctx, MapsBraidSegment()) << "ranks on one host do not share a segment";
          BT_CHECK(ctx, MapsDeletedBraidSegmentOnly())
              << "the segment is still linked in /dev/shm after init";
          // Every path: tagged words, oneshot, twoshot (several stages), and from 16 MiB the
          // streaming stores (2 ranks only: the reference check is slow under sanitizers).
          std::vector<size_t> counts = {0, 1, 7, 1021, 65537, (size_t{1} << 20) + 5};
          if (ctx.nranks == 2) counts.push_back((size_t{5} << 20) + 3);
          for (size_t count : counts) {
            for (bool in_place : {false, true}) {
              CollCase c;
              c.count = count;
              c.in_place = in_place;
              c.seed = count + 3;
              CheckedAllReduce(ctx, c);
              c.op = braidMax;
              c.dt = braidBfloat16;
              CheckedAllReduce(ctx, c);
            }
          }
        },
        opts);
  }
}

TEST(Shm, SocketWhenForced) {
  RunOptions opts;
  opts.env = {{"BRAID_TRANSPORT", "socket"}};
  RunRanks(
      3,
      [](RankContext& ctx) {
        BT_CHECK(ctx, !MapsBraidSegment()) << "BRAID_TRANSPORT=socket still mapped a segment";
        CollCase c;
        c.count = 100003;
        CheckedAllReduce(ctx, c);
      },
      opts);
}

// Two "hosts" of two ranks each (BRAID_HOST_ID): shared memory inside each, sockets between,
// every collective correct on awkward sizes; then the same under BRAID_TRANSPORT=shm fails at
// init naming a rank on the other host.
TEST(Shm, MixedHostsAndForcedShmAcrossHosts) {
  RunOptions opts;
  opts.init_comm = false;
  opts.extra_ids = 1;
  opts.env = {{"BRAID_TRANSPORT", ""}};
  RunRanks(
      4,
      [](RankContext& ctx) {
        // (The rank's process is single-threaded before init.)
        const char* host = ctx.rank < 2 ? "host-a" : "host-b";
        ::setenv("BRAID_HOST_ID", host, 1);  // NOLINT(concurrency-mt-unsafe)
        BT_CHECK_OK(ctx, braidCommInitRank(&ctx.comm, ctx.nranks, ctx.ids[0], ctx.rank));
        if (ctx.comm == nullptr) return;
        BT_CHECK(ctx, MapsBraidSegment()) << "ranks of one host do not share a segment";
        for (size_t count : {size_t{1}, size_t{13}, size_t{65537}, (size_t{1} << 20) + 3}) {
          CollCase c;
          c.count = count;
          c.seed = count;
          c.in_place = count % 2 == 1;
          CheckedAllReduce(ctx, c);
          CheckedReduceScatter(ctx, c);
          CheckedAllGather(ctx, c);
          c.root = 3;
          CheckedBroadcast(ctx, c);
          c.root = 1;
          CheckedReduce(ctx, c);
        }
        braidCommDestroy(ctx.comm);
        ctx.comm = nullptr;
        ::setenv("BRAID_TRANSPORT", "shm", 1);  // NOLINT(concurrency-mt-unsafe): see above
        braidComm_t comm = nullptr;
        const braidResult_t r = braidCommInitRank(&comm, ctx.nranks, ctx.ids[1], ctx.rank);
        BT_CHECK(ctx, r == braidInvalidArgument)
            << "BRAID_TRANSPORT=shm across two hosts returned " << ResultName(r);
        const std::string msg = LastError(nullptr);
        BT_CHECK(ctx, ContainsIgnoreCase(msg, "another host") && ContainsIgnoreCase(msg, "rank"))
            << "unclear error: " << msg;
        if (comm != nullptr) braidCommDestroy(comm);
      },
      opts);
}

// kill -9 of a rank in the middle of shared-memory AllReduces (large: twoshot; small:
// oneshot): the others fail within the timeout naming it, and no segment is left behind.
class ShmKill : public ::testing::TestWithParam<size_t> {};

TEST_P(ShmKill, SurvivorsNameTheRankAndDevShmIsClean) {
  const size_t count = GetParam();
  constexpr int kTimeoutMs = 10000;
  int sig[2];
  ASSERT_EQ(::pipe(sig), 0);
  std::vector<pid_t> children;
  RunOptions opts;
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(kTimeoutMs)}, {"BRAID_TRANSPORT", ""}};
  opts.may_die = {1};
  opts.timeout_ms = 55000;
  opts.parent_thread = [&](const std::vector<pid_t>& pids, const std::atomic<bool>& finished) {
    children = pids;
    auto t0 = std::chrono::steady_clock::now();
    while (!finished && SecondsSince(t0) < 40) {
      if (WaitByte(sig[0], 0.05)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ::kill(pids[1], SIGKILL);
        return;
      }
    }
  };
  RunRanks(
      3,
      [&](RankContext& ctx) {
        std::vector<float> buf(count, 1.0f);
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; SecondsSince(start) < 40; ++i) {
          auto t0 = std::chrono::steady_clock::now();
          const braidResult_t r = braidAllReduce(buf.data(), buf.data(), buf.size(), braidFloat32,
                                                 braidSum, ctx.comm, nullptr);
          if (r != braidSuccess) {
            BT_CHECK(ctx, ctx.rank != 1) << "rank 1 failed before it was killed: " << ResultName(r)
                                         << ": " << LastError(ctx.comm);
            BT_CHECK(ctx, r == braidRemoteError || r == braidTimeout) << ResultName(r);
            BT_CHECK(ctx, SecondsSince(t0) < kTimeoutMs / 1000.0 + 5)
                << "the error took " << SecondsSince(t0) << " s";
            const std::string msg = LastError(ctx.comm);
            BT_CHECK(ctx, msg.find("rank 1") != std::string::npos)
                << "the error does not name rank 1: " << msg;
            ctx.Record("error", msg);
            return;
          }
          std::fill(buf.begin(), buf.end(), 1.0f);
          if (i == 0 && ctx.rank == 1) {
            char b = 'k';
            if (::write(sig[1], &b, 1) != 1) ctx.Fail(__FILE__, __LINE__, "write to parent");
          }
        }
        BT_CHECK(ctx, ctx.rank == 1) << "AllReduces kept succeeding for 40 s without rank 1";
      },
      opts);
  ::close(sig[0]);
  ::close(sig[1]);
  EXPECT_TRUE(SegmentsOf(children).empty())
      << "left in /dev/shm: " << (SegmentsOf(children).empty() ? "" : SegmentsOf(children)[0]);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ShmKill, ::testing::Values(size_t{4}, size_t{1} << 20),
                         [](const ::testing::TestParamInfo<size_t>& i) {
                           return i.param < 1024 ? std::string("Small") : std::string("Large");
                         });

}  // namespace
}  // namespace braidtest
