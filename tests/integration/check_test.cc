// BRAID_CHECK=1: ranks that call different collectives, counts, dtypes, ops or roots in the
// same slot all get braidInvalidUsage naming the rank and the mismatch, before any data moves,
// and the communicator stays usable.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {
namespace {

enum class Mismatch { kCount, kType, kOp, kRoot, kCollective };

class CheckTest : public ::testing::TestWithParam<Mismatch> {};

TEST_P(CheckTest, EveryRankGetsInvalidUsageNamingTheOddRank) {
  const Mismatch kind = GetParam();
  RunOptions opts;
  opts.env = {{"BRAID_CHECK", "1"}, {"BRAID_TIMEOUT_MS", "10000"}};
  RunRanks(
      3,
      [kind](RankContext& ctx) {
        std::vector<float> buf(4096, 1.0f);
        const bool odd = ctx.rank == 2;
        braidResult_t r = braidSuccess;
        switch (kind) {
          case Mismatch::kCount:
            r = braidAllReduce(buf.data(), buf.data(), odd ? 2048 : 1024, braidFloat32, braidSum,
                               ctx.comm, nullptr);
            break;
          case Mismatch::kType:
            r = braidAllReduce(buf.data(), buf.data(), 1024, odd ? braidInt32 : braidFloat32,
                               braidSum, ctx.comm, nullptr);
            break;
          case Mismatch::kOp:
            r = braidAllReduce(buf.data(), buf.data(), 1024, braidFloat32,
                               odd ? braidMax : braidSum, ctx.comm, nullptr);
            break;
          case Mismatch::kRoot:
            r = braidBroadcast(buf.data(), buf.data(), 1024, braidFloat32, odd ? 2 : 0, ctx.comm,
                               nullptr);
            break;
          case Mismatch::kCollective:
            r = odd ? braidReduce(buf.data(), buf.data(), 1024, braidFloat32, braidSum, 0, ctx.comm,
                                  nullptr)
                    : braidAllReduce(buf.data(), buf.data(), 1024, braidFloat32, braidSum, ctx.comm,
                                     nullptr);
            break;
        }
        const std::string err = LastError(ctx.comm);
        BT_CHECK(ctx, r == braidInvalidUsage) << "got " << ResultName(r) << ": " << err;
        BT_CHECK(ctx, err.find("does not match") != std::string::npos) << err;
        // Every rank names rank 2 (the odd one), or, on rank 2, the others.
        BT_CHECK(ctx, err.find(odd ? "rank 0" : "rank 2") != std::string::npos) << err;
        // Nothing moved: the communicator still works, and the next slot agrees again.
        std::vector<float> in(1000, static_cast<float>(ctx.rank + 1));
        std::vector<float> out(1000, 0.0f);
        BT_CHECK_OK(ctx, braidAllReduce(in.data(), out.data(), 1000, braidFloat32, braidSum,
                                        ctx.comm, nullptr));
        BT_CHECK(ctx, out[0] == 6.0f && out[999] == 6.0f) << out[0];
      },
      opts);
}

INSTANTIATE_TEST_SUITE_P(Kinds, CheckTest,
                         ::testing::Values(Mismatch::kCount, Mismatch::kType, Mismatch::kOp,
                                           Mismatch::kRoot, Mismatch::kCollective),
                         [](const ::testing::TestParamInfo<Mismatch>& p) {
                           switch (p.param) {
                             case Mismatch::kCount:
                               return std::string("Count");
                             case Mismatch::kType:
                               return std::string("Type");
                             case Mismatch::kOp:
                               return std::string("Op");
                             case Mismatch::kRoot:
                               return std::string("Root");
                             default:
                               return std::string("Collective");
                           }
                         });

// With BRAID_CHECK on, agreeing calls still give correct results (the check is transparent).
TEST(CheckTest, AgreeingCallsAreUnaffected) {
  RunOptions opts;
  opts.env = {{"BRAID_CHECK", "1"}};
  RunRanks(
      4,
      [](RankContext& ctx) {
        for (int i = 0; i < 20; ++i) {
          std::vector<int32_t> in(777 + i, ctx.rank + i);
          std::vector<int32_t> out(in.size(), -1);
          BT_CHECK_OK(ctx, braidAllReduce(in.data(), out.data(), in.size(), braidInt32, braidSum,
                                          ctx.comm, nullptr));
          BT_CHECK(ctx, out.back() == 6 + 4 * i) << out.back();
        }
      },
      opts);
}

}  // namespace
}  // namespace braidtest
