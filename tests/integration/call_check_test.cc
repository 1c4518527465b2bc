// The two argument checks added with the call descriptor, through the C API: a count too large
// for its buffers and partially overlapping send/receive buffers. The rules themselves are
// probed without processes in tests/unit/collective_test.cc; this shows every entry point
// applies them before any communication (only one rank makes the bad calls, and the next
// collective still matches up) and leaves the communicator usable.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

void OverlapAndTooLargeCalls(RankContext& ctx) {
  braidComm_t comm = ctx.comm;
  const int me = ctx.rank;
  const auto n = static_cast<size_t>(ctx.nranks);
  std::vector<float> a(64 * n + 64, 1.0f);
  std::vector<float> other(64, 0.0f);
  float* p = a.data();
  float* q = other.data();
  auto expect = [&](const char* what, braidResult_t r, const char* keyword) {
    BT_CHECK(ctx, r == braidInvalidArgument)
        << what << " returned " << ResultName(r) << ", expected braidInvalidArgument";
    const std::string msg = LastError(comm);
    BT_CHECK(ctx, ContainsIgnoreCase(msg, keyword))
        << what << ": the message does not say \"" << keyword << "\": \"" << msg << "\"";
  };
  // Partial overlaps: one element apart, and one byte apart (not element-aligned).
  void* byteOff = reinterpret_cast<char*>(p) + 1;
  expect("AllReduce recvbuff = sendbuff + 1 element",
         braidAllReduce(p, p + 1, 8, braidFloat32, braidSum, comm, nullptr), "overlap");
  expect("AllReduce recvbuff = sendbuff + 1 byte",
         braidAllReduce(p, byteOff, 8, braidFloat32, braidSum, comm, nullptr), "overlap");
  braidRequest_t req = nullptr;
  expect("IAllReduce recvbuff = sendbuff - 3 elements",
         braidIAllReduce(p + 3, p, 8, braidFloat32, braidSum, comm, &req), "overlap");
  BT_CHECK(ctx, req == nullptr) << "a rejected braidIAllReduce returned a request";
  // In place is recvbuff == sendbuff + rank * recvcount; one element off is an error.
  const size_t wrong = static_cast<size_t>(me) * 8 + 1;
  expect("ReduceScatter recvbuff off its offset",
         braidReduceScatter(p, p + wrong, 8, braidFloat32, braidSum, comm, nullptr), "offset");
  expect("AllGather sendbuff off its offset",
         braidAllGather(p + wrong, p, 8, braidFloat32, comm, nullptr), "offset");
  expect("Broadcast on the root, overlapping",
         braidBroadcast(p, p + 2, 8, braidFloat32, me, comm, nullptr), "overlap");
  expect("Reduce on the root, overlapping",
         braidReduce(p + 2, p, 8, braidFloat32, braidSum, me, comm, nullptr), "overlap");
  // Counts too large (the pointers are never used): count * 4 wraps to a small number; the
  // ReduceScatter input is nranks times the count.
  expect("AllReduce count SIZE_MAX",
         braidAllReduce(p, p, SIZE_MAX, braidFloat32, braidSum, comm, nullptr), "too large");
  expect("AllReduce count SIZE_MAX / 4 + 2",
         braidAllReduce(p, p, SIZE_MAX / 4 + 2, braidFloat32, braidSum, comm, nullptr),
         "too large");
  expect("Broadcast count 2^62 floats",
         braidBroadcast(p, p, size_t{1} << 62, braidFloat32, 0, comm, nullptr), "too large");
  if (n > 1) {
    const size_t perRank = SIZE_MAX / 4 / n + 1;  // x 4 bytes fits, x nranks does not
    expect("ReduceScatter recvcount x nranks overflowing",
           braidReduceScatter(p, q, perRank, braidFloat32, braidSum, comm, nullptr), "too large");
    expect("AllGather sendcount x nranks overflowing",
           braidAllGather(p, q, perRank, braidFloat32, comm, nullptr), "too large");
  }
}

class CallChecks : public ::testing::TestWithParam<int> {};

TEST_P(CallChecks, OverlapAndTooLargeRejectedBeforeAnyCommunication) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    if (ctx.rank == ctx.nranks - 1) OverlapAndTooLargeCalls(ctx);
    SanityAllReduce(ctx, ctx.comm, 1000, 7, "after one rank's rejected calls");
    OverlapAndTooLargeCalls(ctx);
    // In place at the documented offsets is accepted.
    CollCase c;
    c.dt = braidFloat32;
    c.op = braidSum;
    c.count = 64;
    c.in_place = true;
    CheckedReduceScatter(ctx, c);
    CheckedAllGather(ctx, c);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, CallChecks, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return "n" + std::to_string(i.param);
                         });

}  // namespace
}  // namespace braidtest
