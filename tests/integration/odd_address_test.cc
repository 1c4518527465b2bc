// Buffers at odd byte addresses, not only at element-aligned offsets: every collective, several
// dtypes, send and recv at different odd offsets (1, 3, 7 bytes past 8-byte alignment), out of
// place and in place, with sizes that use the small-message paths and the pipelined ones.
// Element-by-element checks, guard bytes and bitwise identity come from collectives.h.
#include <gtest/gtest.h>

#include <string>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

void OddAddressCases(RankContext& ctx) {
  uint64_t seed = 4400;
  const struct {
    braidDataType_t dt;
    braidRedOp_t op;
  } combos[] = {{braidFloat32, braidSum},  {braidFloat64, braidMax}, {braidFloat16, braidSum},
                {braidBfloat16, braidAvg}, {braidInt64, braidProd},  {braidUint32, braidMin}};
  for (const auto& combo : combos) {
    for (size_t offset : {size_t{1}, size_t{3}, size_t{7}}) {
      for (size_t count : {size_t{1}, size_t{13}, size_t{70001}}) {
        CollCase c;
        c.dt = combo.dt;
        c.op = combo.op;
        c.count = count;
        c.misalign_bytes = offset;
        c.in_place = (count + offset) % 2 == 0;
        c.seed = ++seed;
        c.root = static_cast<int>(offset) % ctx.nranks;
        CheckedAllReduce(ctx, c);
        CheckedReduceScatter(ctx, c);
        CheckedAllGather(ctx, c);
        CheckedBroadcast(ctx, c);
        CheckedReduce(ctx, c);
        if (ctx.failures() > 0) return;
      }
    }
  }
}

class OddAddress : public ::testing::TestWithParam<int> {};

TEST_P(OddAddress, EveryCollective) {
  RunOptions opts;
  opts.timeout_ms = 240000;
  RunRanks(GetParam(), OddAddressCases, opts);
}

INSTANTIATE_TEST_SUITE_P(Ranks, OddAddress, ::testing::Values(2, 3),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "n" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace braidtest
