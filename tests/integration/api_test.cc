// The C API's contract for errors: version, error strings, NULL pointers, bad dtype / op / root,
// bad init arguments. Every bad call returns braidInvalidArgument (never crashes), leaves a
// message in braidGetLastError, and leaves the communicator usable.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "data.h"
#include "harness.h"

namespace braidtest {
namespace {

TEST(Api, VersionMatchesHeader) {
  int version = -1;
  ASSERT_EQ(braidGetVersion(&version), braidSuccess);
  EXPECT_GT(version, 0);
  EXPECT_EQ(version, BRAID_MAJOR * 10000 + BRAID_MINOR * 100 + BRAID_PATCH);
  EXPECT_EQ(version, BRAID_VERSION_CODE);
  EXPECT_EQ(braidGetVersion(nullptr), braidInvalidArgument);
}

TEST(Api, ErrorStringForEveryCode) {
  std::vector<std::string> seen;
  for (int code = 0; code <= 8; ++code) {
    const char* s = braidGetErrorString(static_cast<braidResult_t>(code));
    ASSERT_NE(s, nullptr) << "code " << code;
    EXPECT_GT(std::string(s).size(), 0u) << "code " << code;
    seen.push_back(s);
  }
  for (size_t a = 0; a < seen.size(); ++a) {
    for (size_t b = a + 1; b < seen.size(); ++b) {
      EXPECT_NE(seen[a], seen[b]) << "codes " << a << " and " << b << " share a string";
    }
  }
  for (int code : {-1, 9, 42, 1000}) {
    const char* s = braidGetErrorString(static_cast<braidResult_t>(code));
    ASSERT_NE(s, nullptr) << "code " << code;
    EXPECT_GT(std::string(s).size(), 0u) << "code " << code;
  }
}

TEST(Api, NullPointersWithoutACommunicator) {
  EXPECT_EQ(braidGetUniqueId(nullptr), braidInvalidArgument);
  EXPECT_EQ(braidCommInitFromEnv(nullptr), braidInvalidArgument);
  EXPECT_GT(LastError(nullptr).size(), 0u);
  int v = 0;
  EXPECT_EQ(braidCommCount(nullptr, &v), braidInvalidArgument);
  EXPECT_EQ(braidCommUserRank(nullptr, &v), braidInvalidArgument);
  float x = 1;
  EXPECT_EQ(braidAllReduce(&x, &x, 1, braidFloat32, braidSum, nullptr, nullptr),
            braidInvalidArgument);
  EXPECT_GT(LastError(nullptr).size(), 0u) << "braidGetLastError(NULL) after a NULL comm";
  EXPECT_EQ(braidReduceScatter(&x, &x, 1, braidFloat32, braidSum, nullptr, nullptr),
            braidInvalidArgument);
  EXPECT_EQ(braidAllGather(&x, &x, 1, braidFloat32, nullptr, nullptr), braidInvalidArgument);
  EXPECT_EQ(braidBroadcast(&x, &x, 1, braidFloat32, 0, nullptr, nullptr), braidInvalidArgument);
  EXPECT_EQ(braidReduce(&x, &x, 1, braidFloat32, braidSum, 0, nullptr, nullptr),
            braidInvalidArgument);
  braidRequest_t req = nullptr;
  EXPECT_EQ(braidIAllReduce(&x, &x, 1, braidFloat32, braidSum, nullptr, &req),
            braidInvalidArgument);
  EXPECT_EQ(req, nullptr);
  int done = 0;
  EXPECT_EQ(braidTest(nullptr, &done), braidInvalidArgument);
  EXPECT_EQ(braidWait(nullptr), braidInvalidArgument);
  // NCCL returns success for destroy / abort of NULL; the contract asks for no crash.
  braidResult_t r = braidCommDestroy(nullptr);
  EXPECT_TRUE(r == braidSuccess || r == braidInvalidArgument) << ResultName(r);
  r = braidCommAbort(nullptr);
  EXPECT_TRUE(r == braidSuccess || r == braidInvalidArgument) << ResultName(r);
  EXPECT_NE(braidGetLastError(nullptr), nullptr);
}

TEST(Api, UniqueIdsDiffer) {
  braidUniqueId a, b;
  ASSERT_EQ(braidGetUniqueId(&a), braidSuccess);
  ASSERT_EQ(braidGetUniqueId(&b), braidSuccess);
  EXPECT_NE(std::string(a.internal, sizeof(a.internal)),
            std::string(b.internal, sizeof(b.internal)))
      << "two unique ids are identical (the secret must be random)";
}

// Each bad init in a child of its own (a broken init must not hang the test process).
TEST(Api, InitRankRejectsBadArguments) {
  RunOptions opts;
  opts.init_comm = false;
  opts.timeout_ms = 30000;
  RunRanks(
      1,
      [](RankContext& ctx) {
        const braidUniqueId& id = ctx.ids[0];
        struct Bad {
          int nranks, rank;
          const char* what;
        };
        for (Bad b : {Bad{2, 2, "rank == nranks"}, Bad{2, 5, "rank > nranks"},
                      Bad{2, -1, "rank < 0"}, Bad{0, 0, "nranks == 0"}, Bad{-3, 0, "nranks < 0"}}) {
          auto t0 = std::chrono::steady_clock::now();
          braidComm_t comm = nullptr;
          braidResult_t r = braidCommInitRank(&comm, b.nranks, id, b.rank);
          BT_CHECK(ctx, r == braidInvalidArgument)
              << b.what << ": braidCommInitRank returned " << ResultName(r);
          BT_CHECK(ctx, SecondsSince(t0) < 5) << b.what << ": took " << SecondsSince(t0) << " s";
          std::string msg = LastError(nullptr);
          BT_CHECK(ctx, !msg.empty() && msg != "<null>")
              << b.what << ": braidGetLastError(NULL) is empty";
          BT_CHECK(ctx, ContainsIgnoreCase(msg, "rank"))
              << b.what << ": the message does not mention the rank/nranks: " << msg;
          if (r == braidSuccess && comm != nullptr) braidCommDestroy(comm);
        }
        braidResult_t r = braidCommInitRank(nullptr, 1, id, 0);
        BT_CHECK(ctx, r == braidInvalidArgument)
            << "braidCommInitRank(NULL comm) returned " << ResultName(r);
        BT_CHECK(ctx, !LastError(nullptr).empty());
        // A garbage id must be rejected, not crash or hang.
        braidUniqueId garbage;
        for (size_t i = 0; i < sizeof(garbage.internal); ++i) {
          garbage.internal[i] = static_cast<char>(i * 37 + 11);
        }
        auto t0 = std::chrono::steady_clock::now();
        braidComm_t comm = nullptr;
        r = braidCommInitRank(&comm, 2, garbage, 1);
        BT_CHECK(ctx, r != braidSuccess) << "a garbage unique id was accepted";
        BT_CHECK(ctx, SecondsSince(t0) < 5) << "garbage id: took " << SecondsSince(t0) << " s";
        // After all that, a good 1-rank init still works.
        comm = nullptr;
        BT_CHECK_RESULT(ctx, braidCommInitRank(&comm, 1, id, 0), braidSuccess, nullptr);
        if (comm != nullptr) {
          SanityAllReduce(ctx, comm, 100, 5, "on a 1-rank comm after bad inits");
          BT_CHECK_RESULT(ctx, braidCommDestroy(comm), braidSuccess, nullptr);
        }
      },
      opts);
}

// The bad calls, made by `ctx` on its communicator. Each must return braidInvalidArgument, leave
// a relevant message, and be followed (by the caller) by a good collective.
void BadCalls(RankContext& ctx) {
  braidComm_t comm = ctx.comm;
  const int n = ctx.nranks;
  std::vector<float> a(64, 1.0f), b(64 * static_cast<size_t>(n), 0.0f);
  struct Expectation {
    const char* what;
    braidResult_t result;
    std::vector<const char*> keywords;  // the message must contain one of these
  };
  auto expect = [&](const Expectation& e) {
    BT_CHECK(ctx, e.result == braidInvalidArgument)
        << e.what << " returned " << ResultName(e.result) << ", expected braidInvalidArgument";
    std::string msg = LastError(comm);
    bool relevant = false;
    for (const char* k : e.keywords) relevant = relevant || ContainsIgnoreCase(msg, k);
    BT_CHECK(ctx, relevant) << e.what << ": braidGetLastError(comm) is not about it: \"" << msg
                            << "\"";
  };
  const auto bad_dt = static_cast<braidDataType_t>(42);
  const auto neg_dt = static_cast<braidDataType_t>(-1);
  const auto bad_op = static_cast<braidRedOp_t>(5);
  const auto neg_op = static_cast<braidRedOp_t>(-1);
  const std::vector<const char*> kType = {"type", "dtype"};
  const std::vector<const char*> kOp = {"op", "reduction"};
  const std::vector<const char*> kRoot = {"root"};
  const std::vector<const char*> kBuf = {"buf", "null", "pointer"};

  expect({"AllReduce dtype 42",
          braidAllReduce(a.data(), a.data(), 8, bad_dt, braidSum, comm, nullptr), kType});
  expect({"AllReduce dtype -1",
          braidAllReduce(a.data(), a.data(), 8, neg_dt, braidSum, comm, nullptr), kType});
  expect({"AllReduce op 5",
          braidAllReduce(a.data(), a.data(), 8, braidFloat32, bad_op, comm, nullptr), kOp});
  expect({"AllReduce op -1",
          braidAllReduce(a.data(), a.data(), 8, braidFloat32, neg_op, comm, nullptr), kOp});
  expect({"AllReduce NULL sendbuff",
          braidAllReduce(nullptr, a.data(), 8, braidFloat32, braidSum, comm, nullptr), kBuf});
  expect({"AllReduce NULL recvbuff",
          braidAllReduce(a.data(), nullptr, 8, braidFloat32, braidSum, comm, nullptr), kBuf});
  expect({"ReduceScatter dtype 42",
          braidReduceScatter(b.data(), a.data(), 8, bad_dt, braidSum, comm, nullptr), kType});
  expect({"ReduceScatter op 42",
          braidReduceScatter(b.data(), a.data(), 8, braidFloat32, static_cast<braidRedOp_t>(42),
                             comm, nullptr),
          kOp});
  expect({"ReduceScatter NULL sendbuff",
          braidReduceScatter(nullptr, a.data(), 8, braidFloat32, braidSum, comm, nullptr), kBuf});
  expect({"ReduceScatter NULL recvbuff",
          braidReduceScatter(b.data(), nullptr, 8, braidFloat32, braidSum, comm, nullptr), kBuf});
  expect(
      {"AllGather dtype 42", braidAllGather(a.data(), b.data(), 8, bad_dt, comm, nullptr), kType});
  expect({"AllGather NULL sendbuff",
          braidAllGather(nullptr, b.data(), 8, braidFloat32, comm, nullptr), kBuf});
  expect({"AllGather NULL recvbuff",
          braidAllGather(a.data(), nullptr, 8, braidFloat32, comm, nullptr), kBuf});
  expect({"Broadcast root -1",
          braidBroadcast(a.data(), a.data(), 8, braidFloat32, -1, comm, nullptr), kRoot});
  expect({"Broadcast root == nranks",
          braidBroadcast(a.data(), a.data(), 8, braidFloat32, n, comm, nullptr), kRoot});
  expect({"Broadcast dtype 42", braidBroadcast(a.data(), a.data(), 8, bad_dt, 0, comm, nullptr),
          kType});
  expect({"Broadcast NULL recvbuff",
          braidBroadcast(a.data(), nullptr, 8, braidFloat32, 0, comm, nullptr), kBuf});
  if (ctx.rank == 0) {
    expect({"Broadcast NULL sendbuff on the root",
            braidBroadcast(nullptr, a.data(), 8, braidFloat32, 0, comm, nullptr), kBuf});
    expect({"Reduce NULL recvbuff on the root",
            braidReduce(a.data(), nullptr, 8, braidFloat32, braidSum, 0, comm, nullptr), kBuf});
  }
  expect({"Reduce root 1000",
          braidReduce(a.data(), a.data(), 8, braidFloat32, braidSum, 1000, comm, nullptr), kRoot});
  expect({"Reduce root -2",
          braidReduce(a.data(), a.data(), 8, braidFloat32, braidSum, -2, comm, nullptr), kRoot});
  expect({"Reduce op 5", braidReduce(a.data(), a.data(), 8, braidFloat32, bad_op, 0, comm, nullptr),
          kOp});
  expect({"Reduce dtype 42", braidReduce(a.data(), a.data(), 8, bad_dt, braidSum, 0, comm, nullptr),
          kType});
  expect({"Reduce NULL sendbuff",
          braidReduce(nullptr, a.data(), 8, braidFloat32, braidSum, 0, comm, nullptr), kBuf});
  braidRequest_t req = nullptr;
  expect({"IAllReduce NULL request",
          braidIAllReduce(a.data(), a.data(), 8, braidFloat32, braidSum, comm, nullptr),
          {"request", "null", "pointer"}});
  expect({"IAllReduce dtype 42",
          braidIAllReduce(a.data(), a.data(), 8, bad_dt, braidSum, comm, &req), kType});
  BT_CHECK(ctx, req == nullptr) << "a failed braidIAllReduce returned a request";
  expect({"IAllReduce op 5",
          braidIAllReduce(a.data(), a.data(), 8, braidFloat32, bad_op, comm, &req), kOp});
  expect({"IAllReduce NULL sendbuff",
          braidIAllReduce(nullptr, a.data(), 8, braidFloat32, braidSum, comm, &req), kBuf});
  expect({"CommCount NULL output", braidCommCount(comm, nullptr), {"count", "null", "pointer"}});
  expect(
      {"CommUserRank NULL output", braidCommUserRank(comm, nullptr), {"rank", "null", "pointer"}});
}

class InvalidArguments : public ::testing::TestWithParam<int> {};

// Every rank makes every bad call; a good AllReduce after each group.
TEST_P(InvalidArguments, AllRanksThenStillUsable) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    SanityAllReduce(ctx, ctx.comm, 257, 1, "before the bad calls");
    BadCalls(ctx);
    SanityAllReduce(ctx, ctx.comm, 4099, 2, "after the bad calls");
    BadCalls(ctx);
    CollCase c;
    c.dt = braidInt32;
    c.op = braidMax;
    c.count = 1001;
    CheckedAllReduce(ctx, c);
    CheckedAllGather(ctx, c);
    c.root = ctx.nranks - 1;
    CheckedBroadcast(ctx, c);
  });
}

// An argument error is caught before any communication: only rank 1 makes the bad calls, the
// others go straight to the next collective, which must still match up.
TEST_P(InvalidArguments, OneRankOnlyThenStillUsable) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    if (ctx.rank == 1 % ctx.nranks) BadCalls(ctx);
    SanityAllReduce(ctx, ctx.comm, 4099, 3, "after rank 1 alone made bad calls");
    CollCase c;
    c.dt = braidFloat64;
    c.op = braidSum;
    c.count = 33;
    CheckedReduceScatter(ctx, c);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, InvalidArguments, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return "n" + std::to_string(i.param);
                         });

TEST(Api, RequestTestWithNullDoneAndWaitReleases) {
  RunRanks(2, [](RankContext& ctx) {
    std::vector<float> v(100, 1.0f);
    braidRequest_t req = nullptr;
    BT_CHECK_OK(
        ctx, braidIAllReduce(v.data(), v.data(), v.size(), braidFloat32, braidSum, ctx.comm, &req));
    if (req == nullptr) return;
    BT_CHECK_RESULT(ctx, braidTest(req, nullptr), braidInvalidArgument, ctx.comm);
    BT_CHECK_OK(ctx, braidWait(req));
    for (size_t i = 0; i < v.size(); ++i) {
      BT_CHECK(ctx, v[i] == 2.0f) << "index " << i << " got " << v[i];
      if (v[i] != 2.0f) break;
    }
    SanityAllReduce(ctx, ctx.comm, 10, 9, "after IAllReduce");
  });
}

}  // namespace
}  // namespace braidtest
