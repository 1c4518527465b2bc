// Every collective on 1 to 8 ranks under whichever algorithm the environment selects: ctest
// runs this suite three times, with BRAID_ALGO unset (the tuner's choice), =ring and =tree
// (tests/CMakeLists.txt, integration.algo.*). Every dtype x op for AllReduce on awkward counts,
// a multi-slice buffer, inexact random floats (bitwise identical on every rank), and the other
// collectives on a subset; element-by-element checks (collectives.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "braid/braid.h"
#include "collectives.h"
#include "data.h"
#include "harness.h"

namespace braidtest {
namespace {

class AlgoMatrix : public ::testing::TestWithParam<int> {};

TEST_P(AlgoMatrix, EveryCollective) {
  const int n = GetParam();
  RunOptions opts;
  opts.timeout_ms = 240000;
  const char* algo = std::getenv("BRAID_ALGO");  // NOLINT(concurrency-mt-unsafe)
  RecordProperty("BRAID_ALGO", algo != nullptr ? algo : "");
  RunRanks(
      n,
      [](RankContext& ctx) {
        uint64_t seed = 7000;
        int k = 0;
        for (braidDataType_t dt : kAllDtypes) {
          for (braidRedOp_t op : kAllOps) {
            for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1031}, size_t{65537}}) {
              if (count > 1031 && (op == braidProd || dt == braidInt8 || dt == braidUint8))
                continue;
              CollCase c;
              c.dt = dt;
              c.op = op;
              c.count = count;
              c.in_place = (k++ % 2) == 1;
              c.misalign_elems = count % 2;
              c.seed = ++seed;
              CheckedAllReduce(ctx, c);
              if (ctx.failures() > 0) return;
            }
          }
        }
        // Several pipeline slices (1 MiB) per rank's share, then inexact sums.
        CollCase big;
        big.count = 786433;
        big.seed = 7901;
        CheckedAllReduce(ctx, big);
        CollCase rnd;
        rnd.count = 300007;
        rnd.random_floats = true;
        rnd.seed = 7902;
        CheckedAllReduce(ctx, rnd);
        rnd.dt = braidBfloat16;
        rnd.op = braidAvg;
        rnd.in_place = true;
        rnd.seed = 7903;
        CheckedAllReduce(ctx, rnd);

        const struct {
          braidDataType_t dt;
          braidRedOp_t op;
        } combos[] = {{braidFloat32, braidSum},
                      {braidInt64, braidMax},
                      {braidFloat16, braidAvg},
                      {braidUint8, braidMin},
                      {braidInt32, braidProd}};
        for (const auto& combo : combos) {
          for (size_t count : {size_t{0}, size_t{1}, size_t{5}, size_t{4099}}) {
            for (bool inPlace : {false, true}) {
              CollCase c;
              c.dt = combo.dt;
              c.op = combo.op;
              c.count = count;
              c.in_place = inPlace;
              c.seed = ++seed;
              CheckedReduceScatter(ctx, c);
              CheckedAllGather(ctx, c);
              for (int root : {0, ctx.nranks - 1, ctx.nranks / 2}) {
                c.root = root;
                c.non_root = root == 0 ? NonRootBuffer::kNull : NonRootBuffer::kBuffer;
                CheckedBroadcast(ctx, c);
                CheckedReduce(ctx, c);
              }
              if (ctx.failures() > 0) return;
            }
          }
        }
        CollCase bc;
        bc.count = 600011;
        bc.root = ctx.nranks - 1;
        bc.seed = 7999;
        CheckedBroadcast(ctx, bc);
        CheckedReduce(ctx, bc);
      },
      opts);
}

INSTANTIATE_TEST_SUITE_P(Ranks, AlgoMatrix, ::testing::Range(1, 9),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "n" + std::to_string(p.param);
                         });

// BRAID_TUNER_FILE: a malformed file fails rank 0's init naming file:line, and the other rank's
// init fails too (rank 0 left) instead of hanging; a good file is taken and used.
TEST(TunerFile, MalformedFailsInitNamingTheLine) {
  const std::string path = "/tmp/braid-tuner-test-" + std::to_string(getpid()) + ".cost";
  {
    std::ofstream f(path);
    f << "# test\nsocket 10 0.1\nloopback 12 fast\n";
  }
  RunOptions opts;
  opts.init_comm = false;
  opts.timeout_ms = 60000;
  opts.env = {{"BRAID_TUNER_FILE", path}, {"BRAID_TIMEOUT_MS", "20000"}};
  RunRanks(
      2,
      [&](RankContext& ctx) {
        braidComm_t comm = nullptr;
        const braidResult_t r = braidCommInitRank(&comm, 2, ctx.ids[0], ctx.rank);
        BT_CHECK(ctx, r != braidSuccess) << "init succeeded with a malformed BRAID_TUNER_FILE";
        if (r == braidSuccess) {
          braidCommAbort(comm);
          return;
        }
        const std::string msg = LastError(nullptr);
        if (ctx.rank == 0) {
          BT_CHECK(ctx, msg.find(path + ":3:") != std::string::npos) << msg;
        }
      },
      opts);
  {
    std::ofstream f(path);
    f << "loopback 50 0.5 10 5  # slow\ncpu_share 0.5\n";
  }
  opts.init_comm = true;
  RunRanks(
      3,
      [](RankContext& ctx) {
        CollCase c;
        c.count = 70001;
        c.seed = 11;
        CheckedAllReduce(ctx, c);
        char text[200];
        BT_CHECK_OK(ctx,
                    braidCommDescribeTuning(ctx.comm, 0, 1000, braidFloat32, text, sizeof(text)));
        BT_CHECK(ctx, std::string(text).find("predicted") != std::string::npos) << text;
        BT_CHECK(ctx, braidCommDescribeTuning(ctx.comm, 7, 1000, braidFloat32, text,
                                              sizeof(text)) == braidInvalidArgument);
      },
      opts);
  unlink(path.c_str());
}

}  // namespace
}  // namespace braidtest
