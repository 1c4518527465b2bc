// More than 8 ranks: every collective on 11 and 16 ranks (oversubscribed on a small machine),
// under whichever algorithm the environment forces: ctest runs this suite once per BRAID_ALGO
// (tests/CMakeLists.txt, variant.many_ranks.*), over shared memory and TCP. Counts that are
// smaller than the number of ranks, not a multiple of it, and several pipeline slices.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

void ManyRankCases(RankContext& ctx) {
  // What the tuner runs for each collective here (a forced algorithm included), for the parent.
  static const char* const kNames[] = {"AllReduce", "ReduceScatter", "AllGather", "Broadcast",
                                       "Reduce"};
  for (int coll = 0; coll < 5; ++coll) {
    char text[200] = {};
    BT_CHECK_OK(ctx,
                braidCommDescribeTuning(ctx.comm, coll, 300007, braidFloat32, text, sizeof(text)));
    ctx.Record(kNames[coll], text);
  }
  uint64_t seed = 9100;
  const struct {
    braidDataType_t dt;
    braidRedOp_t op;
  } combos[] = {{braidFloat32, braidSum}, {braidInt64, braidMax}, {braidFloat16, braidAvg}};
  for (const auto& combo : combos) {
    for (size_t count : {size_t{1}, size_t{4099}, size_t{300007}}) {
      CollCase c;
      c.dt = combo.dt;
      c.op = combo.op;
      c.count = count;
      c.in_place = count == 4099;
      c.seed = ++seed;
      c.root = static_cast<int>(seed % static_cast<uint64_t>(ctx.nranks));
      CheckedAllReduce(ctx, c);
      // The gather/scatter forms move count * nranks elements: keep them smaller.
      c.count = count / 8 + 1;
      CheckedReduceScatter(ctx, c);
      CheckedAllGather(ctx, c);
      c.count = count;
      CheckedBroadcast(ctx, c);
      CheckedReduce(ctx, c);
      if (ctx.failures() > 0) return;
    }
  }
}

class ManyRanks : public ::testing::TestWithParam<int> {};

TEST_P(ManyRanks, EveryCollective) {
  const char* algo = std::getenv("BRAID_ALGO");  // NOLINT(concurrency-mt-unsafe)
  RecordProperty("BRAID_ALGO", algo != nullptr ? algo : "");
  RunOptions opts;
  opts.timeout_ms = 300000;
  RunResult res = RunRanks(GetParam(), ManyRankCases, opts);
  for (const char* coll : {"AllReduce", "ReduceScatter", "AllGather", "Broadcast", "Reduce"}) {
    const std::string line = res.records.empty() ? "" : res.records[0][coll];
    RecordProperty(coll, line);
    std::printf("%s: %s\n", coll, line.c_str());
  }
  // The forced algorithm must be the one the AllReduce ran. direct and rabenseifner need a
  // connection to every peer, which communicators of more than 8 ranks do not make
  // (kMeshMaxRanks in algo/tuner.h): beyond that they fall back to the ring.
  if (algo != nullptr && *algo != '\0' && !res.records.empty()) {
    const std::string want =
        std::string(algo) == "direct" || std::string(algo) == "rabenseifner" ? "ring" : algo;
    EXPECT_EQ(res.records[0]["AllReduce"].rfind(want, 0), 0u)
        << "BRAID_ALGO=" << algo << " but the AllReduce ran: " << res.records[0]["AllReduce"];
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, ManyRanks, ::testing::Values(11, 16),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "n" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace braidtest
