// Asynchronous AllReduce (braidIAllReduce / braidTest / braidWait) and several communicators in
// one process, used in turn and from different threads at once.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "data.h"
#include "harness.h"

namespace braidtest {
namespace {

std::string NName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

// An IAllReduce of `count` elements with its buffers and reference, checked on demand.
struct AsyncCase {
  braidDataType_t dt;
  braidRedOp_t op;
  size_t count;
  uint64_t seed;
  std::vector<unsigned char> send, recv, expected;
  braidRequest_t req = nullptr;

  AsyncCase(const RankContext& ctx, braidDataType_t d, braidRedOp_t o, size_t n, uint64_t s)
      : dt(d), op(o), count(n), seed(s) {
    const size_t bytes = n * DtypeSize(d) + 1;
    send.resize(bytes);
    recv.assign(bytes, 0x5a);
    expected.resize(bytes);
    FillInputs(dt, PatternFor(op), seed, ctx.rank, 0, count, send.data());
    FillExpectedReduction(dt, op, PatternFor(op), seed, ctx.nranks, 0, count, expected.data());
  }
  std::string Label() const {
    return std::string("IAllReduce(") + DtypeName(dt) + " " + OpName(op) +
           " count=" + std::to_string(count) + " seed=" + std::to_string(seed) + ")";
  }
  bool Start(RankContext& ctx, braidComm_t comm) {
    braidResult_t r = braidIAllReduce(send.data(), recv.data(), count, dt, op, comm, &req);
    BT_CHECK(ctx, r == braidSuccess)
        << Label() << " returned " << ResultName(r) << ": " << LastError(comm);
    BT_CHECK(ctx, r != braidSuccess || req != nullptr) << Label() << ": no request";
    return r == braidSuccess && req != nullptr;
  }
  void Check(RankContext& ctx) {
    CheckElements(ctx, Label(), dt, recv.data(), expected.data(), count);
    ctx.ReportHash(Label(), recv.data(), count * DtypeSize(dt));
  }
};

class Async : public ::testing::TestWithParam<int> {};

TEST_P(Async, TestLoopThenWait) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    uint64_t seed = 10;
    for (size_t count : {size_t{0}, size_t{1}, size_t{1000}, size_t{262147}}) {
      AsyncCase c(ctx, braidFloat32, braidSum, count, ++seed);
      if (!c.Start(ctx, ctx.comm)) return;
      int done = 0;
      auto t0 = std::chrono::steady_clock::now();
      int polls = 0;
      while (!done && SecondsSince(t0) < 30) {
        braidResult_t r = braidTest(c.req, &done);
        BT_CHECK(ctx, r == braidSuccess) << "braidTest returned " << ResultName(r);
        if (r != braidSuccess) break;
        ++polls;
        if (!done) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      BT_CHECK(ctx, done) << c.Label() << ": braidTest never reported done in 30 s";
      // Test does not release: Test again says done, and Wait releases and returns success.
      if (done) {
        int again = 0;
        BT_CHECK_OK(ctx, braidTest(c.req, &again));
        BT_CHECK(ctx, again == 1) << "braidTest after done gave " << again;
      }
      BT_CHECK_OK(ctx, braidWait(c.req));
      c.Check(ctx);
    }
  });
}

TEST_P(Async, ManyOutstandingWaitedInReverse) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    for (int round = 0; round < 3; ++round) {
      std::vector<AsyncCase> cases;
      cases.emplace_back(ctx, braidFloat32, braidSum, 100003, 100 + round);
      cases.emplace_back(ctx, braidInt32, braidMax, 7, 200 + round);
      cases.emplace_back(ctx, braidBfloat16, braidAvg, 65537, 300 + round);
      cases.emplace_back(ctx, braidInt8, braidProd, 4099, 400 + round);
      cases.emplace_back(ctx, braidFloat64, braidMin, 1, 500 + round);
      cases.emplace_back(ctx, braidUint64, braidSum, 0, 600 + round);
      size_t started = 0;
      for (auto& c : cases) {
        if (!c.Start(ctx, ctx.comm)) break;
        ++started;
      }
      for (size_t i = started; i-- > 0;) {
        BT_CHECK_OK(ctx, braidWait(cases[i].req));
        cases[i].Check(ctx);
      }
      if (started != cases.size()) return;
    }
    SanityAllReduce(ctx, ctx.comm, 999, 3, "after the async rounds");
  });
}

// Compute while the AllReduce is in flight: the request must complete while this thread
// computes (a progress thread drives it), without braidWait. braidTest only reads the
// request's state (it drives nothing), so seeing done between compute steps proves that the
// operation progressed while the caller computed. An event, not a timing: on a loaded machine
// it may take long, and only a request that never completes without braidWait fails (the
// deadline is against a hang).
TEST_P(Async, OverlapWithCompute) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    AsyncCase c(ctx, braidFloat32, braidSum, 1 << 20, 42);
    if (!c.Start(ctx, ctx.comm)) return;
    volatile double sink = 0;
    auto t0 = std::chrono::steady_clock::now();
    int done = 0;
    long steps = 0;
    while (SecondsSince(t0) < 40) {  // under the harness's 50 s
      double acc = 0;
      for (int i = 1; i < 20000; ++i) acc += std::sqrt(static_cast<double>(i));
      sink = sink + acc;
      ++steps;
      BT_CHECK_OK(ctx, braidTest(c.req, &done));
      if (done != 0 || ctx.failures() > 0) break;
    }
    BT_CHECK(ctx, done == 1) << "the IAllReduce did not complete during " << steps
                             << " compute steps (" << SecondsSince(t0)
                             << " s) without braidWait: nothing drove it while the caller computed";
    ctx.Record("compute_steps_until_done", std::to_string(steps));
    BT_CHECK_OK(ctx, braidWait(c.req));
    c.Check(ctx);
    // Blocking collectives after async ones keep working.
    SanityAllReduce(ctx, ctx.comm, 12345, 43, "after overlap");
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, Async, ::testing::Values(1, 2, 3, 4), NName);

// ---- Two communicators -----------------------------------------------------------------------

TEST(TwoComms, InterleavedOnOneThread) {
  RunOptions opts;
  opts.extra_ids = 1;
  RunRanks(
      3,
      [](RankContext& ctx) {
        braidComm_t second = nullptr;
        // In the second communicator, the ranks are in reverse order.
        const int rank2 = ctx.nranks - 1 - ctx.rank;
        braidResult_t r = braidCommInitRank(&second, ctx.nranks, ctx.ids[1], rank2);
        BT_CHECK(ctx, r == braidSuccess)
            << "second init: " << ResultName(r) << ": " << LastError(nullptr);
        if (r != braidSuccess) return;
        int me = -1;
        BT_CHECK_OK(ctx, braidCommUserRank(second, &me));
        BT_CHECK(ctx, me == rank2) << "rank in the second comm " << me;
        for (int i = 0; i < 20; ++i) {
          CollCase c;
          c.dt = (i % 2) ? braidInt32 : braidFloat32;
          c.op = (i % 3) ? braidSum : braidMax;
          c.count = 1000 + static_cast<size_t>(i) * 997;
          c.seed = 100 + static_cast<uint64_t>(i);
          CheckedAllReduce(ctx, c);
          // Different data on the other communicator, whose ranks are reversed.
          std::vector<float> v(c.count);
          FillInputs(braidFloat32, Pattern::kSmall, 5000 + static_cast<uint64_t>(i), rank2, 0,
                     c.count, v.data());
          std::vector<float> expected(c.count);
          FillExpectedReduction(braidFloat32, braidSum, Pattern::kSmall,
                                5000 + static_cast<uint64_t>(i), ctx.nranks, 0, c.count,
                                expected.data());
          BT_CHECK_RESULT(
              ctx,
              braidAllReduce(v.data(), v.data(), c.count, braidFloat32, braidSum, second, nullptr),
              braidSuccess, second);
          CheckElements(ctx, "second comm AllReduce " + std::to_string(i), braidFloat32, v.data(),
                        expected.data(), c.count);
          std::vector<int> b(17, ctx.rank);
          BT_CHECK_RESULT(
              ctx, braidBroadcast(b.data(), b.data(), b.size(), braidInt32, i % 3, second, nullptr),
              braidSuccess, second);
          const int expected_value = ctx.nranks - 1 - (i % 3);  // the process that is root i%3
          BT_CHECK(ctx, b[0] == expected_value && b[16] == expected_value)
              << "second comm broadcast from root " << i % 3 << " got " << b[0];
        }
        BT_CHECK_RESULT(ctx, braidCommDestroy(second), braidSuccess, nullptr);
        SanityAllReduce(ctx, ctx.comm, 5000, 9, "on the first comm after destroying the second");
      },
      opts);
}

TEST(TwoComms, OneThreadEachAtOnce) {
  RunOptions opts;
  opts.extra_ids = 1;
  RunRanks(
      3,
      [](RankContext& ctx) {
        braidComm_t second = nullptr;
        braidResult_t r = braidCommInitRank(&second, ctx.nranks, ctx.ids[1], ctx.rank);
        BT_CHECK(ctx, r == braidSuccess)
            << "second init: " << ResultName(r) << ": " << LastError(nullptr);
        if (r != braidSuccess) return;
        auto work = [&ctx](braidComm_t comm, uint64_t base, braidDataType_t dt) {
          for (int i = 0; i < 30; ++i) {
            const size_t count = 1 + (static_cast<size_t>(i) * 7919) % 70000;
            std::vector<unsigned char> buf(count * DtypeSize(dt) + 1);
            std::vector<unsigned char> expected(buf.size());
            FillInputs(dt, Pattern::kSmall, base + static_cast<uint64_t>(i), ctx.rank, 0, count,
                       buf.data());
            FillExpectedReduction(dt, braidSum, Pattern::kSmall, base + static_cast<uint64_t>(i),
                                  ctx.nranks, 0, count, expected.data());
            braidResult_t res =
                braidAllReduce(buf.data(), buf.data(), count, dt, braidSum, comm, nullptr);
            BT_CHECK(ctx, res == braidSuccess)
                << "thread AllReduce " << i << ": " << ResultName(res) << ": " << LastError(comm);
            if (res != braidSuccess) return;
            CheckElements(
                ctx, "thread AllReduce base=" + std::to_string(base) + " i=" + std::to_string(i),
                dt, buf.data(), expected.data(), count);
          }
        };
        std::thread t1(work, ctx.comm, 1000, braidFloat32);
        std::thread t2(work, second, 2000, braidInt64);
        t1.join();
        t2.join();
        BT_CHECK_RESULT(ctx, braidCommDestroy(second), braidSuccess, nullptr);
      },
      opts);
}

// Two communicators initialized at the same time from two threads.
TEST(TwoComms, ConcurrentInit) {
  RunOptions opts;
  opts.extra_ids = 1;
  opts.init_comm = false;
  RunRanks(
      2,
      [](RankContext& ctx) {
        braidComm_t comms[2] = {nullptr, nullptr};
        braidResult_t results[2] = {braidInternalError, braidInternalError};
        std::thread ts[2];
        for (int k = 0; k < 2; ++k) {
          ts[k] = std::thread([&, k] {
            results[k] =
                braidCommInitRank(&comms[k], ctx.nranks, ctx.ids[static_cast<size_t>(k)], ctx.rank);
          });
        }
        for (auto& t : ts) t.join();
        for (int k = 0; k < 2; ++k) {
          BT_CHECK(ctx, results[k] == braidSuccess)
              << "init of comm " << k << " from a thread: " << ResultName(results[k]);
        }
        if (results[0] != braidSuccess || results[1] != braidSuccess) return;
        SanityAllReduce(ctx, comms[1], 777, 1, "on comm 1");
        SanityAllReduce(ctx, comms[0], 778, 2, "on comm 0");
        for (auto* c : comms) BT_CHECK_RESULT(ctx, braidCommDestroy(c), braidSuccess, nullptr);
      },
      opts);
}

}  // namespace
}  // namespace braidtest
