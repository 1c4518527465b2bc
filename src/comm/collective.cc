#include "comm/collective.h"

#include "core/datatype.h"

namespace braid {

bool hasRedOp(Collective coll) {
  return coll == Collective::kAllReduce || coll == Collective::kReduceScatter ||
         coll == Collective::kReduce;
}

bool hasRoot(Collective coll) {
  return coll == Collective::kBroadcast || coll == Collective::kReduce;
}

namespace {

// Elements of the send and receive buffers, as multiples of count.
size_t sendMultiple(Collective coll, int nranks) {
  return coll == Collective::kReduceScatter ? static_cast<size_t>(nranks) : 1;
}
size_t recvMultiple(Collective coll, int nranks) {
  return coll == Collective::kAllGather ? static_cast<size_t>(nranks) : 1;
}

// count * multiple * elemSize, or false when it overflows size_t or exceeds kMaxCallBytes.
bool bufferBytes(size_t count, size_t multiple, size_t elemSize, size_t* bytes) {
  if (count == 0) {
    *bytes = 0;
    return true;
  }
  if (count > kMaxCallBytes / multiple) return false;
  const size_t elems = count * multiple;
  if (elems > kMaxCallBytes / elemSize) return false;
  *bytes = elems * elemSize;
  return true;
}

Status nullBuffer(const char* what, const char* name) {
  return invalidArgument(std::string(what) + ": " + name + " is NULL with a nonzero count");
}

}  // namespace

size_t sendBytes(const CollectiveCall& call, int rank, int nranks) {
  if (call.coll == Collective::kBroadcast && rank != call.root) return 0;
  return call.count * sendMultiple(call.coll, nranks) * dataTypeSize(call.dataType());
}

size_t recvBytes(const CollectiveCall& call, int rank, int nranks) {
  if (call.coll == Collective::kReduce && rank != call.root) return 0;
  return call.count * recvMultiple(call.coll, nranks) * dataTypeSize(call.dataType());
}

bool rangesOverlap(const void* a, size_t aBytes, const void* b, size_t bBytes) {
  if (aBytes == 0 || bBytes == 0) return false;
  const auto x = reinterpret_cast<uintptr_t>(a);
  const auto y = reinterpret_cast<uintptr_t>(b);
  // Differences, not ends: x + aBytes may wrap for a buffer at the top of the address space.
  return x >= y ? x - y < bBytes : y - x < aBytes;
}

Status checkCall(const char* what, const CollectiveCall& call, int rank, int nranks) {
  // Strings are built only on the error paths: this runs on every call, including the
  // latency-bound small ones, which must not allocate.
  auto w = [what] { return std::string(what); };
  if (!isValidDataType(call.type)) {
    return invalidArgument(w() + ": invalid datatype " + std::to_string(call.type));
  }
  if (hasRedOp(call.coll) && !isValidRedOp(call.op)) {
    return invalidArgument(w() + ": invalid reduction op " + std::to_string(call.op));
  }
  if (hasRoot(call.coll) && (call.root < 0 || call.root >= nranks)) {
    return invalidArgument(w() + ": root " + std::to_string(call.root) + " is out of range [0, " +
                           std::to_string(nranks) + ")");
  }
  if (call.stream != nullptr || call.space != MemorySpace::kHost) {
    return invalidArgument(w() + ": stream must be NULL: this build supports host buffers only");
  }
  const size_t es = dataTypeSize(call.dataType());
  size_t inBytes = 0;
  size_t outBytes = 0;
  if (!bufferBytes(call.count, sendMultiple(call.coll, nranks), es, &inBytes) ||
      !bufferBytes(call.count, recvMultiple(call.coll, nranks), es, &outBytes)) {
    const bool perRank =
        call.coll == Collective::kReduceScatter || call.coll == Collective::kAllGather;
    return invalidArgument(w() + ": count " + std::to_string(call.count) + " is too large (" +
                           (perRank ? std::to_string(nranks) + " ranks x " : std::string()) +
                           std::to_string(es) + "-byte elements exceed " +
                           std::to_string(kMaxCallBytes) + " bytes)");
  }
  if (call.count == 0) return Status::ok();
  // A non-root's sendbuff in Broadcast and recvbuff in Reduce are never used.
  const bool usesSend = call.coll != Collective::kBroadcast || rank == call.root;
  const bool usesRecv = call.coll != Collective::kReduce || rank == call.root;
  const char* const rootNote = hasRoot(call.coll) ? " (on the root)" : "";
  if (usesSend && call.sendbuff == nullptr) {
    return nullBuffer(what,
                      call.coll == Collective::kBroadcast ? "sendbuff (on the root)" : "sendbuff");
  }
  if (usesRecv && call.recvbuff == nullptr) {
    return nullBuffer(what,
                      call.coll == Collective::kReduce ? "recvbuff (on the root)" : "recvbuff");
  }
  if (!usesSend || !usesRecv) return Status::ok();
  // In place is the one overlap allowed, exactly at the documented place.
  const char* in = static_cast<const char*>(call.sendbuff);
  const char* out = static_cast<const char*>(call.recvbuff);
  const auto me = static_cast<uintptr_t>(rank);
  switch (call.coll) {
    case Collective::kReduceScatter:
      if (reinterpret_cast<uintptr_t>(out) != reinterpret_cast<uintptr_t>(in) + me * outBytes &&
          rangesOverlap(in, inBytes, out, outBytes)) {
        return invalidArgument(w() +
                               ": recvbuff overlaps sendbuff but is not at this rank's offset "
                               "(in place is recvbuff == sendbuff + rank * recvcount elements)");
      }
      break;
    case Collective::kAllGather:
      if (reinterpret_cast<uintptr_t>(in) != reinterpret_cast<uintptr_t>(out) + me * inBytes &&
          rangesOverlap(in, inBytes, out, outBytes)) {
        return invalidArgument(w() +
                               ": sendbuff overlaps recvbuff but is not at this rank's offset "
                               "(in place is sendbuff == recvbuff + rank * sendcount elements)");
      }
      break;
    default:
      if (in != out && rangesOverlap(in, inBytes, out, outBytes)) {
        return invalidArgument(w() + ": sendbuff and recvbuff overlap without being equal" +
                               rootNote + " (in place is sendbuff == recvbuff)");
      }
      break;
  }
  return Status::ok();
}

std::string describeCall(const CollectiveCall& call) {
  std::string s = std::string(collectiveName(call.coll)) + "(count " + std::to_string(call.count) +
                  ", " + (isValidDataType(call.type) ? dataTypeName(call.dataType()) : "?");
  if (hasRedOp(call.coll) && isValidRedOp(call.op))
    s += std::string(", ") + redOpName(call.redOp());
  if (hasRoot(call.coll)) s += ", root " + std::to_string(call.root);
  return s + ")";
}

}  // namespace braid
