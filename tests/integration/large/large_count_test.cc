// One real AllReduce of more than 2^31 int8 elements on 2 ranks (about 2 GiB per rank, in
// place), so that every size and offset computation on the way (the argument checks, the
// algorithms' chunk and slice arithmetic, the transports' segment loops) runs past 32 bits.
// Four runs: the tuner's choice over shared memory, the ring forced, TCP, and TCP split over
// three channels (BRAID_NCHANNELS); each prints what the tuner ran. A separate executable
// (ctest: integration.large_count, run serially): it needs ~5 GiB of memory.
//
// The pattern needs no second buffer: rank r's byte i is h(i) + 37 r with h mixing all of i's
// bytes, bit 31 included, so an element reduced at the offset of another (a count or offset
// cut to 32 bits) comes out wrong; the sum is 2 h(i) + 37 (mod 256, int8 wraps).
#include <gtest/gtest.h>
#include <sys/sysinfo.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../harness.h"
#include "braid/braid.h"

namespace braidtest {
namespace {

inline uint8_t H(uint64_t i) {
  return static_cast<uint8_t>(i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24) ^ ((i >> 31) * 0x55));
}

struct How {
  const char* name;
  std::vector<std::pair<std::string, std::string>> env;
};
class LargeCount : public ::testing::TestWithParam<How> {};

size_t CountWrong(const uint8_t* buf, size_t count, size_t* first) {
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i) {
    if (buf[i] != static_cast<uint8_t>(2 * H(i) + 37)) {
      if (bad++ == 0) *first = i;
    }
  }
  return bad;
}

TEST_P(LargeCount, AllReduceAndBroadcastOver2Pow31Int8) {
  const size_t count = (size_t{1} << 31) + (size_t{1} << 20) + 7;
  struct sysinfo si {};
  ASSERT_EQ(sysinfo(&si), 0);
  const uint64_t avail = static_cast<uint64_t>(si.freeram + si.bufferram) * si.mem_unit;
  if (avail < 3 * count) {
    GTEST_SKIP() << "needs about " << (3 * count >> 20) << " MiB of free memory, have "
                 << (avail >> 20) << " MiB";
  }
  RunOptions opts;
  opts.timeout_ms = 1500000;
  opts.env = GetParam().env;
  RunResult res = RunRanks(
      2,
      [count](RankContext& ctx) {
        std::unique_ptr<uint8_t[]> buf(new (std::nothrow) uint8_t[count]);
        BT_CHECK(ctx, buf != nullptr) << "cannot allocate " << count << " bytes";
        if (!buf) return;
        const auto add = static_cast<uint8_t>(37 * ctx.rank);
        for (size_t i = 0; i < count; ++i) buf[i] = static_cast<uint8_t>(H(i) + add);
        char tuning[200] = {};
        BT_CHECK_OK(ctx,
                    braidCommDescribeTuning(ctx.comm, 0, count, braidInt8, tuning, sizeof(tuning)));
        ctx.Record("tuning", tuning);
        const auto t0 = std::chrono::steady_clock::now();
        BT_CHECK_OK(ctx, braidAllReduce(buf.get(), buf.get(), count, braidInt8, braidSum, ctx.comm,
                                        nullptr));
        ctx.Record("seconds", std::to_string(SecondsSince(t0)));
        size_t first = 0;
        size_t bad = CountWrong(buf.get(), count, &first);
        BT_CHECK(ctx, bad == 0) << "AllReduce: " << bad << " of " << count
                                << " elements wrong, the first at " << first << ": got "
                                << int{buf[first]} << ", expected "
                                << int{static_cast<uint8_t>(2 * H(first) + 37)};
        // Broadcast the result from rank 1 over a zeroed buffer on rank 0.
        if (ctx.rank == 0) std::memset(buf.get(), 0, count);
        BT_CHECK_OK(ctx,
                    braidBroadcast(buf.get(), buf.get(), count, braidInt8, 1, ctx.comm, nullptr));
        bad = CountWrong(buf.get(), count, &first);
        BT_CHECK(ctx, bad == 0) << "Broadcast: " << bad << " of " << count
                                << " elements wrong, the first at " << first;
      },
      opts);
  if (!res.records.empty() && res.records[0].count("seconds")) {
    RecordProperty("allreduce_seconds", res.records[0]["seconds"]);
    std::printf("AllReduce of %zu int8 on 2 ranks (%s): %s s (whole test %.1f s)\n", count,
                res.records[0]["tuning"].c_str(), res.records[0]["seconds"].c_str(), res.seconds);
  }
}

INSTANTIATE_TEST_SUITE_P(How, LargeCount,
                         ::testing::Values(How{"tuner", {}}, How{"ring", {{"BRAID_ALGO", "ring"}}},
                                           How{"socket", {{"BRAID_TRANSPORT", "socket"}}},
                                           How{"channels",
                                               {{"BRAID_TRANSPORT", "socket"},
                                                {"BRAID_ALGO", "ring"},
                                                {"BRAID_NCHANNELS", "3"}}}),
                         [](const ::testing::TestParamInfo<How>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace braidtest
