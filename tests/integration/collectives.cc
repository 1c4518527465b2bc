#include "collectives.h"

#include <cstring>
#include <sstream>
#include <vector>

namespace braidtest {

std::string Describe(const char* coll, const CollCase& c, int nranks) {
  std::ostringstream os;
  os << coll << "(" << DtypeName(c.dt);
  if (std::strcmp(coll, "AllGather") != 0 && std::strcmp(coll, "Broadcast") != 0) {
    os << " " << OpName(c.op);
  }
  os << " count=" << c.count << " nranks=" << nranks
     << (c.in_place ? " in-place" : " out-of-place");
  if (std::strcmp(coll, "Broadcast") == 0 || std::strcmp(coll, "Reduce") == 0) {
    os << " root=" << c.root << " non-root="
       << (c.non_root == NonRootBuffer::kNull
               ? "NULL"
               : (c.non_root == NonRootBuffer::kBuffer ? "buffer" : "same"));
  }
  if (c.misalign_elems) os << " misaligned+" << c.misalign_elems;
  if (c.misalign_bytes) os << " address+" << c.misalign_bytes << "B";
  if (c.random_floats) os << " random-floats";
  os << " seed=" << c.seed << ")";
  return os.str();
}

namespace {

// Byte offsets of the data pointers from 8-byte alignment. With misalign_bytes set, send and
// recv sit at different odd offsets (1 -> 3, 3 -> 5, 7 -> 1), so no copy between them is
// aligned either.
size_t SendOffset(const CollCase& c, size_t sz) { return c.misalign_elems * sz + c.misalign_bytes; }
size_t RecvOffset(const CollCase& c, size_t sz) {
  return c.misalign_elems * sz + (c.misalign_bytes == 0 ? 0 : (c.misalign_bytes + 2) % 8);
}

Pattern PatternOf(const CollCase& c) {
  return c.random_floats ? Pattern::kRandomFloat : PatternFor(c.op);
}

void CheckGuards(RankContext& ctx, const std::string& label, const TestBuffer& b,
                 const char* which) {
  BT_CHECK(ctx, b.GuardsIntact()) << label << ": bytes written outside " << which;
}

void CheckUnchanged(RankContext& ctx, const std::string& label, const TestBuffer& b,
                    const std::vector<unsigned char>& copy, const char* which) {
  BT_CHECK(ctx, copy.empty() || std::memcmp(b.data(), copy.data(), copy.size()) == 0)
      << label << ": " << which << " was modified";
}

std::vector<unsigned char> CopyOf(const TestBuffer& b) {
  const auto* p = static_cast<const unsigned char*>(b.data());
  return std::vector<unsigned char>(p, p + b.size());
}

}  // namespace

void CheckedAllReduce(RankContext& ctx, const CollCase& c) {
  const std::string label = Describe("AllReduce", c, ctx.nranks);
  const size_t sz = DtypeSize(c.dt);
  const size_t bytes = c.count * sz;
  const Pattern p = PatternOf(c);
  TestBuffer send(bytes, SendOffset(c, sz));
  TestBuffer recv(bytes, RecvOffset(c, sz));
  FillInputs(c.dt, p, c.seed, ctx.rank, 0, c.count, send.data());
  std::vector<unsigned char> send_copy = CopyOf(send);
  braidResult_t r;
  if (c.in_place) {
    std::memcpy(recv.data(), send.data(), bytes);
    r = braidAllReduce(recv.data(), recv.data(), c.count, c.dt, c.op, ctx.comm, nullptr);
  } else {
    r = braidAllReduce(send.data(), recv.data(), c.count, c.dt, c.op, ctx.comm, nullptr);
  }
  BT_CHECK(ctx, r == braidSuccess)
      << label << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
  if (r != braidSuccess) return;
  if (c.random_floats) {
    CheckApproxSum(ctx, label, c.dt, c.op, c.seed, ctx.nranks, recv.data(), c.count);
  } else {
    std::vector<unsigned char> expected(bytes + 1);
    FillExpectedReduction(c.dt, c.op, p, c.seed, ctx.nranks, 0, c.count, expected.data());
    CheckElements(ctx, label, c.dt, recv.data(), expected.data(), c.count);
  }
  if (!c.in_place) CheckUnchanged(ctx, label, send, send_copy, "sendbuff");
  CheckGuards(ctx, label, recv, "recvbuff");
  CheckGuards(ctx, label, send, "sendbuff");
  ctx.ReportHash(label, recv.data(), bytes);
}

void CheckedReduceScatter(RankContext& ctx, const CollCase& c) {
  const std::string label = Describe("ReduceScatter", c, ctx.nranks);
  const size_t sz = DtypeSize(c.dt);
  const size_t n = static_cast<size_t>(ctx.nranks);
  const size_t my_offset = static_cast<size_t>(ctx.rank) * c.count;
  const Pattern p = PatternOf(c);
  TestBuffer send(n * c.count * sz, SendOffset(c, sz));
  TestBuffer recv(c.in_place ? 0 : c.count * sz, RecvOffset(c, sz));
  FillInputs(c.dt, p, c.seed, ctx.rank, 0, n * c.count, send.data());
  std::vector<unsigned char> send_copy = CopyOf(send);
  void* out = c.in_place ? static_cast<char*>(send.data()) + my_offset * sz : recv.data();
  braidResult_t r = braidReduceScatter(send.data(), out, c.count, c.dt, c.op, ctx.comm, nullptr);
  BT_CHECK(ctx, r == braidSuccess)
      << label << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
  if (r != braidSuccess) return;
  std::vector<unsigned char> expected(c.count * sz + 1);
  FillExpectedReduction(c.dt, c.op, p, c.seed, ctx.nranks, my_offset, c.count, expected.data());
  CheckElements(ctx, label, c.dt, out, expected.data(), c.count);
  if (!c.in_place) CheckUnchanged(ctx, label, send, send_copy, "sendbuff");
  CheckGuards(ctx, label, send, "sendbuff");
  CheckGuards(ctx, label, recv, "recvbuff");
}

void CheckedAllGather(RankContext& ctx, const CollCase& c) {
  const std::string label = Describe("AllGather", c, ctx.nranks);
  const size_t sz = DtypeSize(c.dt);
  const size_t n = static_cast<size_t>(ctx.nranks);
  TestBuffer send(c.in_place ? 0 : c.count * sz, SendOffset(c, sz));
  TestBuffer recv(n * c.count * sz, RecvOffset(c, sz));
  void* in = c.in_place
                 ? static_cast<char*>(recv.data()) + static_cast<size_t>(ctx.rank) * c.count * sz
                 : send.data();
  FillInputs(c.dt, Pattern::kFullRange, c.seed, ctx.rank, 0, c.count, in);
  std::vector<unsigned char> send_copy = CopyOf(send);
  braidResult_t r = braidAllGather(in, recv.data(), c.count, c.dt, ctx.comm, nullptr);
  BT_CHECK(ctx, r == braidSuccess)
      << label << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
  if (r != braidSuccess) return;
  std::vector<unsigned char> expected(n * c.count * sz + 1);
  for (int k = 0; k < ctx.nranks; ++k) {
    FillInputs(c.dt, Pattern::kFullRange, c.seed, k, 0, c.count,
               expected.data() + static_cast<size_t>(k) * c.count * sz);
  }
  CheckElements(ctx, label, c.dt, recv.data(), expected.data(), n * c.count);
  if (!c.in_place) CheckUnchanged(ctx, label, send, send_copy, "sendbuff");
  CheckGuards(ctx, label, send, "sendbuff");
  CheckGuards(ctx, label, recv, "recvbuff");
  ctx.ReportHash(label, recv.data(), n * c.count * sz);
}

void CheckedBroadcast(RankContext& ctx, const CollCase& c) {
  const std::string label = Describe("Broadcast", c, ctx.nranks);
  const size_t sz = DtypeSize(c.dt);
  const size_t bytes = c.count * sz;
  const bool root = ctx.rank == c.root;
  TestBuffer send(bytes, SendOffset(c, sz), 0x3c);
  TestBuffer recv(bytes, RecvOffset(c, sz));
  const void* in = send.data();
  if (root) {
    FillInputs(c.dt, Pattern::kFullRange, c.seed, ctx.rank, 0, c.count, send.data());
    if (c.in_place) {
      std::memcpy(recv.data(), send.data(), bytes);
      in = recv.data();
    }
  } else if (c.non_root == NonRootBuffer::kNull) {
    in = nullptr;
  } else if (c.non_root == NonRootBuffer::kSameAsOther) {
    in = recv.data();
  }
  std::vector<unsigned char> send_copy = CopyOf(send);
  braidResult_t r = braidBroadcast(in, recv.data(), c.count, c.dt, c.root, ctx.comm, nullptr);
  BT_CHECK(ctx, r == braidSuccess)
      << label << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
  if (r != braidSuccess) return;
  std::vector<unsigned char> expected(bytes + 1);
  FillInputs(c.dt, Pattern::kFullRange, c.seed, c.root, 0, c.count, expected.data());
  CheckElements(ctx, label, c.dt, recv.data(), expected.data(), c.count);
  CheckUnchanged(ctx, label, send, send_copy,
                 root ? "the root's sendbuff" : "the (ignored) sendbuff of a non-root rank");
  CheckGuards(ctx, label, send, "sendbuff");
  CheckGuards(ctx, label, recv, "recvbuff");
  ctx.ReportHash(label, recv.data(), bytes);
}

void CheckedReduce(RankContext& ctx, const CollCase& c) {
  const std::string label = Describe("Reduce", c, ctx.nranks);
  const size_t sz = DtypeSize(c.dt);
  const size_t bytes = c.count * sz;
  const bool root = ctx.rank == c.root;
  const Pattern p = PatternOf(c);
  TestBuffer send(bytes, SendOffset(c, sz));
  TestBuffer recv(bytes, RecvOffset(c, sz), 0x3c);
  FillInputs(c.dt, p, c.seed, ctx.rank, 0, c.count, send.data());
  std::vector<unsigned char> send_copy = CopyOf(send);
  std::vector<unsigned char> recv_copy = CopyOf(recv);
  void* out = recv.data();
  const void* in = send.data();
  if (root && c.in_place) {
    std::memcpy(recv.data(), send.data(), bytes);
    in = recv.data();
  } else if (!root && c.non_root == NonRootBuffer::kNull) {
    out = nullptr;
  }
  braidResult_t r = braidReduce(in, out, c.count, c.dt, c.op, c.root, ctx.comm, nullptr);
  BT_CHECK(ctx, r == braidSuccess)
      << label << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
  if (r != braidSuccess) return;
  if (root) {
    std::vector<unsigned char> expected(bytes + 1);
    FillExpectedReduction(c.dt, c.op, p, c.seed, ctx.nranks, 0, c.count, expected.data());
    CheckElements(ctx, label, c.dt, recv.data(), expected.data(), c.count);
  } else if (out != nullptr) {
    CheckUnchanged(ctx, label, recv, recv_copy,
                   "the recvbuff of a non-root rank (ignored by contract)");
  }
  if (!(root && c.in_place)) CheckUnchanged(ctx, label, send, send_copy, "sendbuff");
  CheckGuards(ctx, label, send, "sendbuff");
  CheckGuards(ctx, label, recv, "recvbuff");
}

void SanityAllReduce(RankContext& ctx, braidComm_t comm, size_t count, uint64_t seed,
                     const std::string& what) {
  int rank = ctx.rank;
  braidCommUserRank(comm, &rank);
  std::vector<float> buf(count + 1);
  FillInputs(braidFloat32, Pattern::kSmall, seed, rank, 0, count, buf.data());
  braidResult_t r =
      braidAllReduce(buf.data(), buf.data(), count, braidFloat32, braidSum, comm, nullptr);
  BT_CHECK(ctx, r == braidSuccess)
      << "AllReduce " << what << " returned " << ResultName(r) << ": " << LastError(comm);
  if (r != braidSuccess) return;
  int nranks = ctx.nranks;
  braidCommCount(comm, &nranks);
  std::vector<float> expected(count + 1);
  FillExpectedReduction(braidFloat32, braidSum, Pattern::kSmall, seed, nranks, 0, count,
                        expected.data());
  CheckElements(ctx, "AllReduce " + what, braidFloat32, buf.data(), expected.data(), count);
}

}  // namespace braidtest
