// The collective call descriptor's checks (comm/collective.h): a pure function, so every rule
// is probed here without processes, including counts and addresses no test could allocate.
#include "comm/collective.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace braid {
namespace {

// An address that is never dereferenced: checkCall only compares pointers.
void* at(uintptr_t address) { return reinterpret_cast<void*>(address); }

constexpr uintptr_t kBase = uintptr_t{1} << 40;
// Past any buffer of at most kMaxCallBytes that starts at kBase.
constexpr uintptr_t kFar = kBase + (uintptr_t{1} << 57);

CollectiveCall callOf(Collective coll, const void* send, void* recv, size_t count,
                      braidDataType_t type = braidFloat32, int root = -1) {
  CollectiveCall c;
  c.coll = coll;
  c.sendbuff = send;
  c.recvbuff = recv;
  c.count = count;
  c.type = static_cast<int>(type);
  c.op = hasRedOp(coll) ? static_cast<int>(braidSum) : -1;
  c.root = root;
  return c;
}

// The status's message when it failed with braidInvalidArgument, or a note saying otherwise.
std::string rejection(const Status& s) {
  if (s.isOk()) return "(accepted)";
  if (s.code() != braidInvalidArgument) return "(wrong code) " + s.message();
  return s.message();
}

bool mentions(const Status& s, const std::string& word) {
  return !s.isOk() && s.code() == braidInvalidArgument &&
         s.message().find(word) != std::string::npos;
}

TEST(CheckCall, AcceptsOrdinaryCallsInAndOutOfPlace) {
  const Collective all[] = {Collective::kAllReduce, Collective::kReduceScatter,
                            Collective::kAllGather, Collective::kBroadcast, Collective::kReduce};
  for (Collective coll : all) {
    const int root = hasRoot(coll) ? 1 : -1;
    // Far apart: out of place.
    EXPECT_TRUE(
        checkCall("t", callOf(coll, at(kBase), at(kBase << 1), 1000, braidFloat32, root), 1, 4)
            .isOk())
        << collectiveName(coll);
  }
  // In place, exactly as documented.
  EXPECT_TRUE(checkCall("t", callOf(Collective::kAllReduce, at(kBase), at(kBase), 1000), 2, 4));
  EXPECT_TRUE(checkCall(
      "t", callOf(Collective::kBroadcast, at(kBase), at(kBase), 10, braidFloat32, 2), 2, 4));
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kReduce, at(kBase), at(kBase), 10, braidInt8, 2), 2, 4));
  // ReduceScatter: recvbuff at sendbuff + rank * recvcount elements.
  EXPECT_TRUE(checkCall(
      "t", callOf(Collective::kReduceScatter, at(kBase), at(kBase + 3 * 100 * 4), 100), 3, 4));
  // AllGather: sendbuff at recvbuff + rank * sendcount elements.
  EXPECT_TRUE(checkCall(
      "t", callOf(Collective::kAllGather, at(kBase + 2 * 100 * 8), at(kBase), 100, braidFloat64), 2,
      4));
  // Adjacent but not overlapping.
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kAllReduce, at(kBase), at(kBase + 4000), 1000), 0, 2));
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kAllReduce, at(kBase + 4000), at(kBase), 1000), 0, 2));
}

TEST(CheckCall, RejectsBadEnumsRootsAndStreams) {
  CollectiveCall c = callOf(Collective::kAllReduce, at(kBase), at(kBase), 8);
  c.type = 42;
  EXPECT_TRUE(mentions(checkCall("braidAllReduce", c, 0, 2), "datatype"))
      << rejection(checkCall("braidAllReduce", c, 0, 2));
  c.type = -1;
  EXPECT_TRUE(mentions(checkCall("braidAllReduce", c, 0, 2), "datatype"));
  c.type = braidFloat32;
  c.op = 5;
  EXPECT_TRUE(mentions(checkCall("braidAllReduce", c, 0, 2), "reduction op"));
  c.op = -1;
  EXPECT_TRUE(mentions(checkCall("braidAllReduce", c, 0, 2), "reduction op"));
  // AllGather and Broadcast take no op: whatever is there is ignored.
  CollectiveCall g = callOf(Collective::kAllGather, at(kBase << 1), at(kBase), 8);
  g.op = 99;
  EXPECT_TRUE(checkCall("braidAllGather", g, 0, 2).isOk());
  for (int root : {-1, 4, 1000}) {
    for (Collective coll : {Collective::kBroadcast, Collective::kReduce}) {
      const Status s =
          checkCall("t", callOf(coll, at(kBase), at(kBase), 8, braidFloat32, root), 0, 4);
      EXPECT_TRUE(mentions(s, "root"))
          << collectiveName(coll) << " root " << root << ": " << rejection(s);
    }
  }
  c.op = braidSum;
  int stream = 0;
  c.stream = reinterpret_cast<braidStream_t>(&stream);
  EXPECT_TRUE(mentions(checkCall("braidAllReduce", c, 0, 2), "stream"));
  // Messages name the entry point.
  EXPECT_EQ(checkCall("braidAllReduce", c, 0, 2).message().rfind("braidAllReduce: ", 0), 0u);
}

TEST(CheckCall, NullBuffersAndTheCountZeroAndNonRootRules) {
  // Count 0: NULL is fine everywhere.
  for (Collective coll : {Collective::kAllReduce, Collective::kReduceScatter,
                          Collective::kAllGather, Collective::kBroadcast, Collective::kReduce}) {
    EXPECT_TRUE(checkCall("t", callOf(coll, nullptr, nullptr, 0, braidFloat32, 0), 0, 3).isOk())
        << collectiveName(coll);
  }
  EXPECT_TRUE(mentions(checkCall("t", callOf(Collective::kAllReduce, nullptr, at(kBase), 1), 0, 2),
                       "sendbuff"));
  EXPECT_TRUE(mentions(checkCall("t", callOf(Collective::kAllReduce, at(kBase), nullptr, 1), 0, 2),
                       "recvbuff"));
  // Broadcast: only the root needs a sendbuff, and only the root's is compared with recvbuff.
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kBroadcast, nullptr, at(kBase), 8, braidInt8, 1), 0, 2)
          .isOk());
  EXPECT_TRUE(checkCall("t",
                        callOf(Collective::kBroadcast, at(kBase + 1), at(kBase), 8, braidInt8, 1),
                        0, 2)
                  .isOk());
  EXPECT_TRUE(mentions(
      checkCall("t", callOf(Collective::kBroadcast, nullptr, at(kBase), 8, braidInt8, 1), 1, 2),
      "sendbuff"));
  // Reduce: only the root needs a recvbuff.
  EXPECT_TRUE(checkCall("t", callOf(Collective::kReduce, at(kBase), nullptr, 8, braidInt8, 1), 0, 2)
                  .isOk());
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kReduce, at(kBase), at(kBase + 1), 8, braidInt8, 1), 0, 2)
          .isOk());
  EXPECT_TRUE(mentions(
      checkCall("t", callOf(Collective::kReduce, at(kBase), nullptr, 8, braidInt8, 1), 1, 2),
      "recvbuff"));
}

TEST(CheckCall, CountsBeyond32BitsAreAccepted) {
  // 2^31 + 1 and 2^32 + 1 elements: the checks' arithmetic is size_t throughout.
  for (size_t count : {(size_t{1} << 31) + 1, (size_t{1} << 32) + 1, size_t{1} << 40}) {
    const uintptr_t far = kBase + (uintptr_t{1} << 46);
    EXPECT_TRUE(
        checkCall("t", callOf(Collective::kAllReduce, at(kBase), at(far), count, braidInt8), 0, 2)
            .isOk())
        << count;
    EXPECT_TRUE(checkCall("t",
                          callOf(Collective::kAllReduce, at(kBase), at(kBase), count, braidFloat64),
                          0, 2)
                    .isOk())
        << count;
    EXPECT_EQ(
        sendBytes(callOf(Collective::kReduceScatter, at(kBase), at(far), count, braidInt32), 0, 4),
        count * 16);
    EXPECT_EQ(
        recvBytes(callOf(Collective::kAllGather, at(kBase), at(far), count, braidInt32), 0, 4),
        count * 16);
  }
  // A partial overlap far beyond 2^32 bytes is still seen.
  const size_t big = (size_t{1} << 32) + 1;
  EXPECT_TRUE(mentions(
      checkCall("t", callOf(Collective::kAllReduce, at(kBase), at(kBase + big - 1), big, braidInt8),
                0, 2),
      "overlap"));
}

TEST(CheckCall, RejectsACountTooLarge) {
  // The largest accepted buffer is kMaxCallBytes; one element more is too large.
  const size_t maxFloats = kMaxCallBytes / 4;
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kAllReduce, at(kBase), at(kBase), maxFloats), 0, 2).isOk());
  EXPECT_TRUE(mentions(
      checkCall("t", callOf(Collective::kAllReduce, at(kBase), at(kBase), maxFloats + 1), 0, 2),
      "too large"));
  // count * elemsize overflowing size_t (it would wrap to a small number).
  for (size_t count : {SIZE_MAX, SIZE_MAX / 2 + 1, SIZE_MAX / 8 + 2}) {
    for (auto type : {braidInt8, braidFloat16, braidFloat32, braidFloat64}) {
      const Status s =
          checkCall("braidAllReduce",
                    callOf(Collective::kAllReduce, at(kBase), at(kBase), count, type), 0, 2);
      EXPECT_TRUE(mentions(s, "too large")) << count << ": " << rejection(s);
    }
  }
  // count * nranks * elemsize overflowing where count * elemsize alone does not: the
  // ReduceScatter input and the AllGather output hold nranks times the count.
  const size_t perRank = (SIZE_MAX / 8) / 3 + 1;  // x 8 bytes fits, x 3 ranks x 8 wraps
  const Status rs = checkCall(
      "braidReduceScatter",
      callOf(Collective::kReduceScatter, at(kBase), at(kBase << 1), perRank, braidFloat64), 0, 3);
  EXPECT_TRUE(mentions(rs, "too large")) << rejection(rs);
  EXPECT_TRUE(mentions(rs, "3 ranks")) << rejection(rs);
  const Status ag = checkCall(
      "braidAllGather",
      callOf(Collective::kAllGather, at(kBase), at(kBase << 1), perRank, braidFloat64), 0, 3);
  EXPECT_TRUE(mentions(ag, "too large")) << rejection(ag);
  // Within size_t but past the algorithms' headroom (kMaxCallBytes) with all ranks' parts.
  const size_t justFits = kMaxCallBytes / 4 / 16;
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kAllGather, at(kFar), at(kBase), justFits), 0, 16).isOk());
  EXPECT_TRUE(mentions(
      checkCall("t", callOf(Collective::kAllGather, at(kBase), at(kBase << 1), justFits + 1), 0,
                16),
      "too large"));
}

TEST(CheckCall, RejectsPartialOverlaps) {
  // AllReduce, Broadcast (root) and Reduce (root): equal or disjoint only.
  for (Collective coll : {Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce}) {
    for (uintptr_t shift : {uintptr_t{1}, uintptr_t{4}, uintptr_t{3996}}) {
      const Status up =
          checkCall("t", callOf(coll, at(kBase), at(kBase + shift), 1000, braidFloat32, 0), 0, 2);
      EXPECT_TRUE(mentions(up, "overlap"))
          << collectiveName(coll) << " +" << shift << ": " << rejection(up);
      const Status down =
          checkCall("t", callOf(coll, at(kBase + shift), at(kBase), 1000, braidFloat32, 0), 0, 2);
      EXPECT_TRUE(mentions(down, "overlap")) << collectiveName(coll) << " -" << shift;
    }
  }
  // ReduceScatter on rank 2 of 4, recvcount 100 floats: recvbuff must sit at byte 800 of the
  // 1600-byte input to be in place; anywhere else inside it is an error.
  for (uintptr_t offset : {uintptr_t{0}, uintptr_t{400}, uintptr_t{796}, uintptr_t{801},
                           uintptr_t{1200}, uintptr_t{1599}}) {
    const Status s =
        checkCall("braidReduceScatter",
                  callOf(Collective::kReduceScatter, at(kBase), at(kBase + offset), 100), 2, 4);
    EXPECT_TRUE(mentions(s, "offset")) << "recvbuff at +" << offset << ": " << rejection(s);
  }
  // recvbuff just below the input, its end overlapping the input's start.
  EXPECT_TRUE(mentions(
      checkCall("t", callOf(Collective::kReduceScatter, at(kBase + 200), at(kBase), 100), 2, 4),
      "overlap"));
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kReduceScatter, at(kBase), at(kBase + 800), 100), 2, 4)
          .isOk());
  // AllGather on rank 1 of 4, sendcount 100 floats: sendbuff at byte 400 of the output.
  for (uintptr_t offset :
       {uintptr_t{0}, uintptr_t{399}, uintptr_t{401}, uintptr_t{800}, uintptr_t{1599}}) {
    const Status s = checkCall(
        "braidAllGather", callOf(Collective::kAllGather, at(kBase + offset), at(kBase), 100), 1, 4);
    EXPECT_TRUE(mentions(s, "offset")) << "sendbuff at +" << offset << ": " << rejection(s);
  }
  EXPECT_TRUE(
      checkCall("t", callOf(Collective::kAllGather, at(kBase + 400), at(kBase), 100), 1, 4).isOk());
}

TEST(CheckCall, RangesOverlapDoesNotWrap) {
  const uintptr_t top = UINTPTR_MAX - 15;
  EXPECT_TRUE(rangesOverlap(at(top), 16, at(top + 8), 8));
  EXPECT_FALSE(rangesOverlap(at(top), 8, at(top + 8), 8));
  EXPECT_FALSE(rangesOverlap(at(0), 16, at(top), 16));
  EXPECT_FALSE(rangesOverlap(at(kBase), 0, at(kBase), 16));
  EXPECT_TRUE(rangesOverlap(at(kBase), 1, at(kBase), 1));
}

TEST(CheckCall, DescribesTheCall) {
  EXPECT_EQ(describeCall(callOf(Collective::kReduce, nullptr, nullptr, 8, braidFloat16, 3)),
            "Reduce(count 8, float16, sum, root 3)");
  EXPECT_EQ(describeCall(callOf(Collective::kAllGather, nullptr, nullptr, 5, braidInt32)),
            "AllGather(count 5, int32)");
}

}  // namespace
}  // namespace braid
