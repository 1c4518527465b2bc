#include "algo/tree.h"

#include <algorithm>
#include <vector>

#include "reduce/reduce.h"
#include "topo/double_tree.h"

namespace braid {

namespace {

constexpr size_t kLag = 2;  // slices between a slice's reduce-up and its broadcast-down

struct Half {
  size_t base = 0;  // first element of this tree's half
  size_t len = 0;
  TreeLinks links;
  Connection* parent = nullptr;
  Connection* child[2] = {nullptr, nullptr};
  char* recv[2] = {nullptr, nullptr};  // children's partial sums of the current slice
  char* acc[2] = {nullptr, nullptr};   // our partial sums, alternating (sent up asynchronously)
  uint64_t accSend[2] = {0, 0};
  std::vector<uint64_t> inputSend;  // leaves: ticket of slice k's send from the input (k % ring)
};

}  // namespace

Status treeAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, braidRedOp_t op, size_t sliceBytes) {
  const int n = ctx.nranks();
  const int r = ctx.rank();
  const size_t es = dataTypeSize(type);
  MemoryOps& mem = ctx.memory();
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  const size_t slice = std::max<size_t>(1, sliceBytes / es);
  Half h[2];
  h[0].base = 0;
  h[0].len = (count + 1) / 2;
  h[1].base = h[0].len;
  h[1].len = count - h[0].len;
  for (int t = 0; t < 2; ++t) {
    Half& H = h[t];
    H.links = doubleTreeLinks(n, r, t);
    if (H.links.parent >= 0) H.parent = ctx.connectionTo(H.links.parent);
    for (int i = 0; i < 2; ++i) {
      if (H.links.children[i] >= 0) H.child[i] = ctx.connectionTo(H.links.children[i]);
      if (H.links.children[i] >= 0 && H.child[i] == nullptr) {
        return internalError("tree AllReduce: no connection to tree neighbour " +
                             std::to_string(H.links.children[i]));
      }
      H.recv[i] = ctx.scratch(t * 4 + i);
      H.acc[i] = ctx.scratch(t * 4 + 2 + i);
    }
    if (H.links.parent >= 0 && H.parent == nullptr) {
      return internalError("tree AllReduce: no connection to tree parent " +
                           std::to_string(H.links.parent));
    }
    H.inputSend.assign(kLag + 1, 0);
  }
  std::vector<std::pair<Connection*, uint64_t>> lastSends;
  auto noteSend = [&](Connection* c, uint64_t t) {
    for (auto& [conn, ticket] : lastSends) {
      if (conn == c) {
        ticket = t;
        return;
      }
    }
    lastSends.emplace_back(c, t);
  };

  auto up = [&](Half& H, size_t k) -> Status {
    const size_t off = k * slice;
    if (off >= H.len) return Status::ok();
    const size_t m = std::min(slice, H.len - off);
    const size_t bytes = m * es;
    const char* mine = in + (H.base + off) * es;
    const bool leaf = H.child[0] == nullptr && H.child[1] == nullptr;
    if (leaf) {  // send our input as it is
      const uint64_t t = H.parent->postSend(mine, bytes);
      H.inputSend[k % (kLag + 1)] = t;
      noteSend(H.parent, t);
      return Status::ok();
    }
    uint64_t tickets[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      if (H.child[i] != nullptr) tickets[i] = H.child[i]->postRecv(H.recv[i], bytes);
    }
    const bool root = H.parent == nullptr;
    char* dst = root ? out + (H.base + off) * es : H.acc[k % 2];
    if (!root && H.accSend[k % 2] != 0) {
      BRAID_RETURN_IF_ERROR(ctx.waitSend(H.parent, H.accSend[k % 2]));
    }
    // Fold in a fixed order: ours, then child 0, then child 1; the root's last fold is final.
    const int lastChild = H.child[1] != nullptr ? 1 : 0;
    const char* cur = mine;
    for (int i = 0; i < 2; ++i) {
      if (H.child[i] == nullptr) continue;
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(H.child[i], tickets[i]));
      mem.reduce(dst, cur, H.recv[i], m, type, op, root && i == lastChild, n);
      cur = dst;
    }
    if (!root) {
      H.accSend[k % 2] = H.parent->postSend(dst, bytes);
      noteSend(H.parent, H.accSend[k % 2]);
    }
    return Status::ok();
  };

  auto down = [&](Half& H, size_t k) -> Status {
    const size_t off = k * slice;
    if (off >= H.len) return Status::ok();
    const size_t bytes = std::min(slice, H.len - off) * es;
    char* region = out + (H.base + off) * es;
    if (H.parent != nullptr) {
      // In place, a leaf sent this slice up straight from the buffer: it must have left.
      const uint64_t sent = H.inputSend[k % (kLag + 1)];
      if (in == out && sent != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(H.parent, sent));
      const uint64_t t = H.parent->postRecv(region, bytes);
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(H.parent, t));
    }
    for (Connection* c : H.child) {
      if (c != nullptr) noteSend(c, c->postSend(region, bytes));
    }
    return Status::ok();
  };

  const size_t slices = (h[0].len + slice - 1) / slice;  // h[0] is the longer half
  for (size_t k = 0; k < slices + kLag; ++k) {
    if (k < slices) {
      BRAID_RETURN_IF_ERROR(up(h[0], k));
      BRAID_RETURN_IF_ERROR(up(h[1], k));
    }
    if (k >= kLag) {
      BRAID_RETURN_IF_ERROR(down(h[0], k - kLag));
      BRAID_RETURN_IF_ERROR(down(h[1], k - kLag));
    }
  }
  for (auto& [conn, ticket] : lastSends) BRAID_RETURN_IF_ERROR(ctx.waitSend(conn, ticket));
  return Status::ok();
}

}  // namespace braid
