// The double binary tree AllReduce (BRAID_ALGO=tree): every dtype x op, in place and not, on
// awkward counts, 1 to 11 ranks (11 is past the full mesh: tree links get their own
// connections), results checked element by element and bitwise identical across ranks; and
// inexact random floats, identical on every rank.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

class TreeAllReduce : public ::testing::TestWithParam<int> {};

TEST_P(TreeAllReduce, EveryTypeOpAndAwkwardCount) {
  const int n = GetParam();
  RunOptions opts;
  opts.env = {{"BRAID_ALGO", "tree"}, {"BRAID_CHUNK_BYTES", "64K"}};
  opts.timeout_ms = 120000;
  RunRanks(
      n,
      [](RankContext& ctx) {
        const braidDataType_t types[] = {braidInt8,    braidUint8,   braidInt32,   braidUint32,
                                         braidInt64,   braidUint64,  braidFloat16, braidFloat32,
                                         braidFloat64, braidBfloat16};
        const braidRedOp_t ops[] = {braidSum, braidProd, braidMax, braidMin, braidAvg};
        const size_t counts[] = {0, 1, 2, 3, 7, 1000, 65537};
        uint64_t seed = 1;
        for (braidDataType_t dt : types) {
          for (braidRedOp_t op : ops) {
            for (size_t count : counts) {
              if (count > 1000 && (op == braidProd || dt == braidInt8)) continue;
              for (bool inPlace : {false, true}) {
                CollCase c;
                c.dt = dt;
                c.op = op;
                c.count = count;
                c.in_place = inPlace;
                c.seed = seed++;
                CheckedAllReduce(ctx, c);
                if (ctx.failures() > 0) return;
              }
            }
          }
        }
        // Slices of 64 KiB: a large float32 buffer crosses many pipelined slices per tree.
        CollCase big;
        big.count = 1048579;
        big.seed = 99;
        CheckedAllReduce(ctx, big);
        CollCase rnd;
        rnd.count = 300007;
        rnd.random_floats = true;
        rnd.seed = 5;
        CheckedAllReduce(ctx, rnd);
      },
      opts);
}

INSTANTIATE_TEST_SUITE_P(Ranks, TreeAllReduce, ::testing::Values(1, 2, 3, 4, 5, 7, 8, 11),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "n" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace braidtest
