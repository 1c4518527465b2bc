// The gradient synchronizer (braidGradSync*) across forked ranks: bucketing, fused and in-place
// buckets, dtypes, bf16 transport, sum, any marking order, and the misuse errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {
namespace {

std::string NName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

std::string GsError(braidGradSync_t gs) {
  const char* e = braidGradSyncGetLastError(gs);
  return e ? e : "<null>";
}

#define GS_CHECK_RESULT(ctx, expr, expected, gs) \
  BT_CHECK_RESULT(ctx, expr, expected, (ctx).comm) << " gradsync error: " << GsError(gs)
#define GS_CHECK_OK(ctx, expr, gs) GS_CHECK_RESULT(ctx, expr, braidSuccess, gs)

// Input of element i on `rank` at `step`: small integers, so sums and averages are exact in
// every dtype used here (the average of (rank + 1) * v over n ranks is v * (n + 1) / 2).
double InputValue(int rank, int step, size_t grad, size_t i) {
  return static_cast<double>((rank + 1) * static_cast<int>((i * 7 + grad * 3 + step) % 11));
}
double ExpectedAvg(int nranks, int step, size_t grad, size_t i) {
  return static_cast<double>((i * 7 + grad * 3 + step) % 11) * (nranks + 1) / 2.0;
}

// Marks every gradient in an order that differs per rank and per step.
std::vector<int> RankOrder(int n, int rank, int step) {
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(static_cast<unsigned>(rank * 1000 + step));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

class GradSync : public ::testing::TestWithParam<int> {};

// Separate float32 buffers (fused buckets), several buckets, ranks marking in different orders.
TEST_P(GradSync, FusedBucketsAverageAnyOrder) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    const std::vector<size_t> counts = {1000, 0, 1, 5000, 333, 70000, 2, 4096, 12345};
    std::vector<std::vector<float>> grads(counts.size());
    for (size_t g = 0; g < counts.size(); ++g) grads[g].resize(counts[g] + 1);
    braidGradSync_t gs = nullptr;
    BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 16 << 10, 0)) << GsError(nullptr);
    if (gs == nullptr) return;
    for (size_t g = 0; g < counts.size(); ++g) {
      int index = -1;
      GS_CHECK_OK(ctx, braidGradSyncRegister(gs, grads[g].data(), counts[g], braidFloat32, &index),
                  gs);
      BT_CHECK(ctx, index == static_cast<int>(g)) << "index " << index << " for gradient " << g;
    }
    int buckets = 0;
    GS_CHECK_OK(ctx, braidGradSyncGetBucketCount(gs, &buckets), gs);
    BT_CHECK(ctx, buckets >= 4) << "only " << buckets << " buckets of 16 KiB";
    for (int step = 0; step < 3; ++step) {
      for (size_t g = 0; g < counts.size(); ++g) {
        for (size_t i = 0; i < counts[g]; ++i) {
          grads[g][i] = static_cast<float>(InputValue(ctx.rank, step, g, i));
        }
        grads[g][counts[g]] = -1.0f;  // guard element
      }
      for (int g : RankOrder(static_cast<int>(counts.size()), ctx.rank, step)) {
        GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, g, grads[static_cast<size_t>(g)].data()), gs);
      }
      GS_CHECK_OK(ctx, braidGradSyncWait(gs), gs);
      int bad = 0;
      for (size_t g = 0; g < counts.size(); ++g) {
        for (size_t i = 0; i < counts[g]; ++i) {
          const float want = static_cast<float>(ExpectedAvg(ctx.nranks, step, g, i));
          if (grads[g][i] != want && bad++ < 5) {
            BT_CHECK(ctx, false) << "step " << step << " grad " << g << "[" << i
                                 << "] = " << grads[g][i] << ", expected " << want;
          }
        }
        BT_CHECK(ctx, grads[g][counts[g]] == -1.0f) << "grad " << g << ": guard overwritten";
        ctx.ReportHash("grad" + std::to_string(g) + "step" + std::to_string(step), grads[g].data(),
                       counts[g] * sizeof(float));
      }
    }
    GS_CHECK_OK(ctx, braidGradSyncDestroy(gs), gs);
  });
}

// Gradients tiling one array (as a flat parameter store does): buckets reduce in place.
TEST_P(GradSync, ContiguousBucketsInPlaceAndSum) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    for (int flags : {0, BRAID_GRADSYNC_SUM}) {
      const std::vector<size_t> counts = {300, 5000, 17, 20000, 1};
      const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
      std::vector<double> store(total);
      braidGradSync_t gs = nullptr;
      BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 32 << 10, flags)) << GsError(nullptr);
      if (gs == nullptr) return;
      std::vector<size_t> offsets;
      size_t off = 0;
      for (size_t c : counts) {
        offsets.push_back(off);
        GS_CHECK_OK(ctx, braidGradSyncRegister(gs, store.data() + off, c, braidFloat64, nullptr),
                    gs);
        off += c;
      }
      for (int step = 0; step < 2; ++step) {
        for (size_t g = 0; g < counts.size(); ++g) {
          for (size_t i = 0; i < counts[g]; ++i) {
            store[offsets[g] + i] = InputValue(ctx.rank, step, g, i);
          }
        }
        for (int g : RankOrder(static_cast<int>(counts.size()), ctx.rank, step)) {
          GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, g, nullptr), gs);
        }
        GS_CHECK_OK(ctx, braidGradSyncWait(gs), gs);
        int bad = 0;
        for (size_t g = 0; g < counts.size(); ++g) {
          for (size_t i = 0; i < counts[g]; ++i) {
            double want = ExpectedAvg(ctx.nranks, step, g, i);
            if (flags == BRAID_GRADSYNC_SUM) want *= ctx.nranks;
            if (store[offsets[g] + i] != want && bad++ < 5) {
              BT_CHECK(ctx, false) << "flags " << flags << " step " << step << " grad " << g << "["
                                   << i << "] = " << store[offsets[g] + i] << ", expected " << want;
            }
          }
        }
        ctx.ReportHash("store" + std::to_string(flags) + "." + std::to_string(step), store.data(),
                       total * sizeof(double));
      }
      GS_CHECK_OK(ctx, braidGradSyncDestroy(gs), gs);
    }
  });
}

// Mixed dtypes make one bucket per dtype run; bf16 transport of float32 is exact for values
// bf16 holds, and close (bf16 precision) for others.
TEST_P(GradSync, MixedDtypesAndBf16Transport) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    braidGradSync_t gs = nullptr;
    BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 0, BRAID_GRADSYNC_BF16))
        << GsError(nullptr);
    if (gs == nullptr) return;
    std::vector<float> f(3000), rough(4000);
    std::vector<int32_t> ints(500);
    std::vector<double> d(700);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, f.data(), f.size(), braidFloat32, nullptr), gs);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, ints.data(), ints.size(), braidInt32, nullptr), gs);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, d.data(), d.size(), braidFloat64, nullptr), gs);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, rough.data(), rough.size(), braidFloat32, nullptr),
                gs);
    int buckets = 0;
    GS_CHECK_OK(ctx, braidGradSyncGetBucketCount(gs, &buckets), gs);
    BT_CHECK(ctx, buckets == 4) << buckets << " buckets; one per dtype run expected";
    for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(InputValue(ctx.rank, 0, 0, i));
    for (size_t i = 0; i < ints.size(); ++i) {
      ints[i] = static_cast<int32_t>(InputValue(ctx.rank, 0, 1, i)) * ctx.nranks * 2;
    }
    for (size_t i = 0; i < d.size(); ++i) d[i] = InputValue(ctx.rank, 0, 2, i) + 1e-9;
    for (size_t i = 0; i < rough.size(); ++i) {
      rough[i] = 1.0f + 0.001f * static_cast<float>(i % 97) + 0.01f * static_cast<float>(ctx.rank);
    }
    for (int g = 3; g >= 0; --g) GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, g, nullptr), gs);
    GS_CHECK_OK(ctx, braidGradSyncWait(gs), gs);
    int bad = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      const float want = static_cast<float>(ExpectedAvg(ctx.nranks, 0, 0, i));
      if (f[i] != want && bad++ < 5) {
        BT_CHECK(ctx, false) << "f[" << i << "] = " << f[i];
      }
    }
    for (size_t i = 0; i < ints.size(); ++i) {
      const auto want = static_cast<int32_t>(ExpectedAvg(ctx.nranks, 0, 1, i) * ctx.nranks * 2);
      if (ints[i] != want && bad++ < 5) {
        BT_CHECK(ctx, false) << "ints[" << i << "] = " << ints[i];
      }
    }
    for (size_t i = 0; i < d.size(); ++i) {
      const double want = ExpectedAvg(ctx.nranks, 0, 2, i) + 1e-9;
      if (std::fabs(d[i] - want) > 1e-12 && bad++ < 5) {
        BT_CHECK(ctx, false) << "d[" << i << "] = " << d[i] << " (float64 must not go bf16)";
      }
    }
    for (size_t i = 0; i < rough.size(); ++i) {
      const double want = 1.0 + 0.001 * static_cast<double>(i % 97) + 0.005 * (ctx.nranks - 1);
      if (std::fabs(rough[i] - want) > want * 1e-2 && bad++ < 5) {
        BT_CHECK(ctx, false) << "rough[" << i << "] = " << rough[i] << ", expected ~" << want;
      }
    }
    ctx.ReportHash("rough", rough.data(), rough.size() * sizeof(float));
    GS_CHECK_OK(ctx, braidGradSyncDestroy(gs), gs);
  });
}

// Each misuse is a clear error and changes nothing: the step completes afterwards.
TEST_P(GradSync, MisuseIsReportedAndRecoverable) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    braidGradSync_t gs = nullptr;
    BT_CHECK_RESULT(ctx, braidGradSyncCreate(nullptr, ctx.comm, 0, 0), braidInvalidArgument,
                    ctx.comm);
    BT_CHECK_RESULT(ctx, braidGradSyncCreate(&gs, nullptr, 0, 0), braidInvalidArgument, ctx.comm);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(nullptr), "comm is NULL")) << GsError(nullptr);
    BT_CHECK_RESULT(ctx, braidGradSyncCreate(&gs, ctx.comm, 0, 64), braidInvalidArgument, ctx.comm);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(nullptr), "unknown flags")) << GsError(nullptr);
    BT_CHECK_RESULT(ctx, braidGradSyncMarkReady(nullptr, 0, nullptr), braidInvalidArgument,
                    ctx.comm);
    BT_CHECK_RESULT(ctx, braidGradSyncWait(nullptr), braidInvalidArgument, ctx.comm);
    BT_CHECK_OK(ctx, braidGradSyncDestroy(nullptr));

    BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 1024, 0)) << GsError(nullptr);
    if (gs == nullptr) return;
    std::vector<float> a(400, 1.0f), b(400, 2.0f);
    GS_CHECK_RESULT(ctx, braidGradSyncRegister(gs, nullptr, 5, braidFloat32, nullptr),
                    braidInvalidArgument, gs);
    GS_CHECK_RESULT(
        ctx, braidGradSyncRegister(gs, a.data(), 5, static_cast<braidDataType_t>(42), nullptr),
        braidInvalidArgument, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "datatype")) << GsError(gs);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, a.data(), a.size(), braidFloat32, nullptr), gs);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, b.data(), b.size(), braidFloat32, nullptr), gs);
    BT_CHECK(ctx, std::string(GsError(gs)).empty()) << "a success leaves no error: " << GsError(gs);

    GS_CHECK_RESULT(ctx, braidGradSyncMarkReady(gs, 2, nullptr), braidInvalidArgument, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "out of range")) << GsError(gs);
    GS_CHECK_RESULT(ctx, braidGradSyncMarkReady(gs, 0, b.data()), braidInvalidUsage, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "must not move")) << GsError(gs);
    GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, 1, b.data()), gs);
    // Registration is closed once a step began.
    std::vector<float> c(10);
    GS_CHECK_RESULT(ctx, braidGradSyncRegister(gs, c.data(), c.size(), braidFloat32, nullptr),
                    braidInvalidUsage, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "already final")) << GsError(gs);
    GS_CHECK_RESULT(ctx, braidGradSyncMarkReady(gs, 1, nullptr), braidInvalidUsage, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "already marked")) << GsError(gs);
    GS_CHECK_RESULT(ctx, braidGradSyncWait(gs), braidInvalidUsage, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "1 of 2 gradients were not marked ready (0)"))
        << GsError(gs);
    // The step goes on.
    GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, 0, a.data()), gs);
    GS_CHECK_OK(ctx, braidGradSyncWait(gs), gs);
    BT_CHECK(ctx, a[0] == 1.0f && b[399] == 2.0f) << a[0] << " " << b[399];
    // And the next one, left in flight at destroy.
    GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, 0, a.data()), gs);
    GS_CHECK_OK(ctx, braidGradSyncMarkReady(gs, 1, b.data()), gs);
    GS_CHECK_OK(ctx, braidGradSyncDestroy(gs), gs);

    // Overlapping registrations are caught when the layout is fixed.
    BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 0, 0)) << GsError(nullptr);
    if (gs == nullptr) return;
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, a.data(), 100, braidFloat32, nullptr), gs);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, a.data() + 50, 100, braidFloat32, nullptr), gs);
    GS_CHECK_RESULT(ctx, braidGradSyncFinalize(gs), braidInvalidUsage, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "overlap")) << GsError(gs);
    GS_CHECK_OK(ctx, braidGradSyncDestroy(gs), gs);

    // The communicator is still fine.
    float x = 1.0f;
    BT_CHECK_OK(ctx, braidAllReduce(&x, &x, 1, braidFloat32, braidSum, ctx.comm, nullptr));
    BT_CHECK(ctx, x == static_cast<float>(ctx.nranks)) << x;
  });
}

// Ranks that register different layouts fail at Finalize, all of them, with the same message.
TEST(GradSyncLayout, MismatchAcrossRanksIsDetected) {
  RunRanks(2, [](RankContext& ctx) {
    braidGradSync_t gs = nullptr;
    BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 0, 0)) << GsError(nullptr);
    if (gs == nullptr) return;
    std::vector<float> a(100);
    GS_CHECK_OK(ctx, braidGradSyncRegister(gs, a.data(), 50 + ctx.rank, braidFloat32, nullptr), gs);
    GS_CHECK_RESULT(ctx, braidGradSyncMarkReady(gs, 0, nullptr), braidInvalidUsage, gs);
    BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "layout differs across ranks")) << GsError(gs);
    GS_CHECK_OK(ctx, braidGradSyncDestroy(gs), gs);
  });
}

// A rank that dies mid-training: the survivor's Wait fails fast with a remote error naming
// the bucket and the lost rank, and Destroy returns.
TEST(GradSyncFailure, PeerDeathFailsWaitNamingTheBucket) {
  RunOptions options;
  options.may_die = {1};
  options.destroy_comm = false;
  options.env = {{"BRAID_TIMEOUT_MS", "10000"}};
  RunRanks(
      2,
      [](RankContext& ctx) {
        braidGradSync_t gs = nullptr;
        BT_CHECK_OK(ctx, braidGradSyncCreate(&gs, ctx.comm, 0, 0)) << GsError(nullptr);
        if (gs == nullptr) return;
        std::vector<float> a(1 << 18, 1.0f);
        GS_CHECK_OK(ctx, braidGradSyncRegister(gs, a.data(), a.size(), braidFloat32, nullptr), gs);
        GS_CHECK_OK(ctx, braidGradSyncFinalize(gs), gs);
        if (ctx.rank == 1) {
          ctx.Flush();
          _exit(0);  // dies without a goodbye
        }
        const auto t0 = std::chrono::steady_clock::now();
        braidResult_t r = braidGradSyncMarkReady(gs, 0, nullptr);
        if (r == braidSuccess) r = braidGradSyncWait(gs);
        BT_CHECK(ctx, r == braidRemoteError || r == braidTimeout)
            << "got " << ResultName(r) << ": " << GsError(gs);
        BT_CHECK(ctx, SecondsSince(t0) < 15) << "took " << SecondsSince(t0) << " s";
        BT_CHECK(ctx, ContainsIgnoreCase(GsError(gs), "rank 1")) << GsError(gs);
        BT_CHECK(ctx, r != braidRemoteError || ContainsIgnoreCase(GsError(gs), "bucket 0"))
            << GsError(gs);
        braidGradSyncDestroy(gs);
        braidCommDestroy(ctx.comm);
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Ranks, GradSync, ::testing::Values(1, 2, 3), NName);

}  // namespace
}  // namespace braidtest
