#include "algo/rooted_tree.h"

#include <algorithm>
#include <string>

#include "reduce/reduce.h"

namespace braid {

RootedTreeLinks rootedTreeLinks(int nranks, int rank, int root) {
  RootedTreeLinks l;
  const int v = ((rank - root) % nranks + nranks) % nranks;
  auto real = [&](int label) { return (label + root) % nranks; };
  if (v > 0) l.parent = real((v - 1) / 2);
  for (int c : {2 * v + 1, 2 * v + 2}) {
    if (c < nranks) l.children.push_back(real(c));
  }
  return l;
}

namespace {

struct Links {
  Connection* parent = nullptr;
  Connection* child[2] = {nullptr, nullptr};
  int nchildren = 0;
};

Status connect(AlgoContext& ctx, int root, Links* out) {
  const RootedTreeLinks l = rootedTreeLinks(ctx.nranks(), ctx.rank(), root);
  if (l.parent >= 0) {
    out->parent = ctx.connectionTo(l.parent);
    if (out->parent == nullptr)
      return internalError("tree: no connection to parent rank " + std::to_string(l.parent));
  }
  for (int c : l.children) {
    Connection* conn = ctx.connectionTo(c);
    if (conn == nullptr)
      return internalError("tree: no connection to child rank " + std::to_string(c));
    out->child[out->nchildren++] = conn;
  }
  return Status::ok();
}

}  // namespace

Status treeBroadcast(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, int root, size_t sliceBytes) {
  const int n = ctx.nranks();
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (count == 0) return Status::ok();
  const bool isRoot = ctx.rank() == root;
  if (isRoot) ctx.memory().copy(out, in, count * es);
  if (n == 1) return Status::ok();
  Links links;
  BRAID_RETURN_IF_ERROR(connect(ctx, root, &links));
  const size_t slice = std::max<size_t>(1, sliceBytes / es);
  const size_t nslices = (count + slice - 1) / slice;
  // Every receive is posted at once (into its final place), so slices stream in while earlier
  // ones are forwarded; the root sends straight from its input.
  std::vector<uint64_t> recvs;
  if (!isRoot) {
    recvs.resize(nslices);
    for (size_t k = 0; k < nslices; ++k) {
      const size_t base = k * slice;
      recvs[k] = links.parent->postRecv(out + base * es, std::min(slice, count - base) * es);
    }
  }
  uint64_t lastSend[2] = {0, 0};
  for (size_t k = 0; k < nslices; ++k) {
    const size_t base = k * slice;
    const size_t bytes = std::min(slice, count - base) * es;
    if (!isRoot) BRAID_RETURN_IF_ERROR(ctx.waitRecv(links.parent, recvs[k]));
    const char* src = (isRoot ? in : out) + base * es;
    for (int i = 0; i < links.nchildren; ++i) lastSend[i] = links.child[i]->postSend(src, bytes);
  }
  for (int i = 0; i < links.nchildren; ++i) {
    if (lastSend[i] != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(links.child[i], lastSend[i]));
  }
  return Status::ok();
}

Status treeReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                  braidDataType_t type, braidRedOp_t op, int root, size_t sliceBytes) {
  const int n = ctx.nranks();
  const size_t es = dataTypeSize(type);
  MemoryOps& mem = ctx.memory();
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  const bool isRoot = ctx.rank() == root;
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  Links links;
  BRAID_RETURN_IF_ERROR(connect(ctx, root, &links));
  const size_t slice = std::max<size_t>(1, sliceBytes / es);
  const size_t nslices = (count + slice - 1) / slice;
  // Children's partial sums of slice k land in recv[k % 2][i]; our partial sum of slice k goes
  // up from acc[k % 2] (a leaf sends its input as it is).
  char* recv[2][2] = {{ctx.scratch(0), ctx.scratch(1)}, {ctx.scratch(2), ctx.scratch(3)}};
  char* acc[2] = {ctx.scratch(4), ctx.scratch(5)};
  uint64_t accSend[2] = {0, 0};
  uint64_t recvTicket[2][2] = {{0, 0}, {0, 0}};
  uint64_t lastSend = 0;
  auto postRecvs = [&](size_t k) {
    const size_t base = k * slice;
    const size_t bytes = std::min(slice, count - base) * es;
    for (int i = 0; i < links.nchildren; ++i)
      recvTicket[k % 2][i] = links.child[i]->postRecv(recv[k % 2][i], bytes);
  };
  if (links.nchildren > 0) postRecvs(0);
  for (size_t k = 0; k < nslices; ++k) {
    const size_t base = k * slice;
    const size_t m = std::min(slice, count - base);
    const char* mine = in + base * es;
    if (links.nchildren == 0) {  // a leaf
      lastSend = links.parent->postSend(mine, m * es);
      continue;
    }
    if (k + 1 < nslices) postRecvs(k + 1);  // the next slice streams in meanwhile
    char* dst = isRoot ? out + base * es : acc[k % 2];
    if (!isRoot && accSend[k % 2] != 0)
      BRAID_RETURN_IF_ERROR(ctx.waitSend(links.parent, accSend[k % 2]));
    // Fold in a fixed order: ours, child 0, child 1; the root's last fold is final (avg).
    const char* cur = mine;
    for (int i = 0; i < links.nchildren; ++i) {
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(links.child[i], recvTicket[k % 2][i]));
      mem.reduce(dst, cur, recv[k % 2][i], m, type, op, isRoot && i == links.nchildren - 1, n);
      cur = dst;
    }
    if (!isRoot) {
      accSend[k % 2] = links.parent->postSend(dst, m * es);
      lastSend = accSend[k % 2];
    }
  }
  if (lastSend != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(links.parent, lastSend));
  return Status::ok();
}

}  // namespace braid
