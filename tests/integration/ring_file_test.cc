// Collectives under a permuted ring (BRAID_RING_FILE): ring position != rank, so ReduceScatter
// and AllGather must map positions to ranks, and Broadcast / Reduce must find the root's
// position. Also: a malformed file, and ranks that disagree on the file, fall back to the
// planned ring on every rank (correct results, no hang).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/braid-ring-test-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "";
  const ssize_t w = write(fd, text.data(), text.size());
  close(fd);
  return w == static_cast<ssize_t>(text.size()) ? path : "";
}

// A permutation that moves every rank and is no rotation: 0, then odd ranks, then even ones
// backwards (n = 4: 0 1 3 2; n = 9: 0 1 3 5 7 8 6 4 2).
std::string PermutedRing(int n) {
  std::string s = "# test ring\nring 0";
  for (int r = 1; r < n; r += 2) s += " " + std::to_string(r);
  for (int r = (n - 1) / 2 * 2; r >= 2; r -= 2) s += " " + std::to_string(r);
  return s + "\n";
}

void AllCollectives(RankContext& ctx) {
  uint64_t seed = 7;
  for (size_t count : {size_t{1}, size_t{7}, size_t{1000}, size_t{65537}}) {
    for (bool in_place : {false, true}) {
      CollCase c;
      c.dt = braidInt32;
      c.op = braidSum;
      c.count = count;
      c.in_place = in_place;
      c.seed = ++seed;
      CheckedAllReduce(ctx, c);
      CheckedReduceScatter(ctx, c);
      CheckedAllGather(ctx, c);
      for (int root : {0, ctx.nranks - 1, ctx.nranks / 2}) {
        c.root = root;
        c.seed = ++seed;
        CheckedBroadcast(ctx, c);
        CheckedReduce(ctx, c);
      }
    }
  }
}

class RingFile : public ::testing::TestWithParam<int> {};

TEST_P(RingFile, PermutedRingGivesCorrectResults) {
  const int n = GetParam();
  const std::string file = WriteTemp(PermutedRing(n));
  ASSERT_FALSE(file.empty());
  RunOptions opts;
  // Ring AllReduce (not direct / tree), small slices so the pipeline runs several steps.
  opts.env = {{"BRAID_RING_FILE", file}, {"BRAID_ALGO", "ring"}, {"BRAID_CHUNK_BYTES", "4096"}};
  opts.timeout_ms = 120000;
  RunRanks(n, AllCollectives, opts);
  unlink(file.c_str());
}

// 9 ranks is past the all-pairs limit: only ring neighbours (the permuted ones) are connected.
INSTANTIATE_TEST_SUITE_P(Ranks, RingFile, ::testing::Values(2, 3, 4, 5, 9),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return "n" + std::to_string(i.param);
                         });

TEST(RingFile, MalformedFileFallsBack) {
  const std::string file = WriteTemp("ring 0 1 2\nring 0 1 1 2\n");
  ASSERT_FALSE(file.empty());
  RunOptions opts;
  opts.env = {{"BRAID_RING_FILE", file}, {"BRAID_ALGO", "ring"}};
  RunRanks(4, AllCollectives, opts);
  unlink(file.c_str());
}

TEST(RingFile, RanksThatDisagreeFallBackTogether) {
  // Rank 1 reads a different ring (or, rank 2, none at all): every rank must notice and run the
  // same (planned) ring instead of hanging or computing garbage.
  const std::string a = WriteTemp("ring 0 2 1 3\n");
  const std::string b = WriteTemp("ring 0 3 2 1\n");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  RunOptions opts;
  opts.init_comm = false;
  opts.env = {{"BRAID_ALGO", "ring"}};
  RunRanks(
      4,
      [&](RankContext& ctx) {
        if (ctx.rank == 1)
          setenv("BRAID_RING_FILE", b.c_str(), 1);
        else if (ctx.rank == 2)
          setenv("BRAID_RING_FILE", "/nonexistent/braid-ring", 1);
        else
          setenv("BRAID_RING_FILE", a.c_str(), 1);
        BT_CHECK_OK(ctx, braidCommInitRank(&ctx.comm, ctx.nranks, ctx.ids[0], ctx.rank));
        if (ctx.comm == nullptr) return;
        AllCollectives(ctx);
        BT_CHECK_OK(ctx, braidCommDestroy(ctx.comm));
      },
      opts);
  unlink(a.c_str());
  unlink(b.c_str());
}

// Ranks alternating between two hosts (BRAID_HOST_ID): the planned ring keeps each host's
// ranks adjacent (0 2 4 ... 1 3 5 ...), a permutation without any ring file.
class PlannedRing : public ::testing::TestWithParam<int> {};

TEST_P(PlannedRing, InterleavedHostsAreGrouped) {
  RunOptions opts;
  opts.init_comm = false;
  opts.env = {{"BRAID_ALGO", "ring"}, {"BRAID_CHUNK_BYTES", "4096"}};
  opts.timeout_ms = 120000;
  RunRanks(
      GetParam(),
      [](RankContext& ctx) {
        unsetenv("BRAID_RING_FILE");
        setenv("BRAID_HOST_ID", ctx.rank % 2 == 0 ? "even-host" : "odd-host", 1);
        BT_CHECK_OK(ctx, braidCommInitRank(&ctx.comm, ctx.nranks, ctx.ids[0], ctx.rank));
        if (ctx.comm == nullptr) return;
        AllCollectives(ctx);
        BT_CHECK_OK(ctx, braidCommDestroy(ctx.comm));
      },
      opts);
}

INSTANTIATE_TEST_SUITE_P(Ranks, PlannedRing, ::testing::Values(4, 9),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return "n" + std::to_string(i.param);
                         });

}  // namespace
}  // namespace braidtest
