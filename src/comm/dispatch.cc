#include "comm/dispatch.h"

#include "algo/direct.h"
#include "algo/rabenseifner.h"
#include "algo/ring.h"
#include "algo/rooted_tree.h"
#include "algo/tree.h"
#include "algo/window_collectives.h"

namespace braid {

Status runAlgorithm(AlgoContext& ctx, const CollectiveCall& call, Algo algo, size_t sliceBytes) {
  const void* in = call.sendbuff;
  void* out = call.recvbuff;
  const size_t count = call.count;
  const braidDataType_t type = call.dataType();
  const int root = call.root;
  switch (call.coll) {
    case Collective::kAllReduce: {
      const braidRedOp_t op = call.redOp();
      switch (algo) {
        case Algo::kOneShot:
          return oneshotAllReduce(ctx, in, out, count, type, op);
        case Algo::kTwoShot:
          return twoshotAllReduce(ctx, in, out, count, type, op);
        case Algo::kDirect:
          return directAllReduce(ctx, in, out, count, type, op, sliceBytes);
        case Algo::kTree:
          return treeAllReduce(ctx, in, out, count, type, op, sliceBytes);
        case Algo::kRabenseifner:
          return rabenseifnerAllReduce(ctx, in, out, count, type, op, sliceBytes);
        case Algo::kRing:
        case Algo::kWindow:
          break;
      }
      return ringAllReduce(ctx, in, out, count, type, op, sliceBytes);
    }
    case Collective::kReduceScatter:
      if (algo == Algo::kWindow)
        return windowReduceScatter(ctx, in, out, count, type, call.redOp());
      return ringReduceScatter(ctx, in, out, count, type, call.redOp(), sliceBytes);
    case Collective::kAllGather:
      if (algo == Algo::kWindow) return windowAllGather(ctx, in, out, count, type);
      return ringAllGather(ctx, in, out, count, type, sliceBytes);
    case Collective::kBroadcast:
      if (ctx.rank() != root) in = nullptr;
      if (algo == Algo::kWindow) return windowBroadcast(ctx, in, out, count, type, root);
      if (algo == Algo::kTree) return treeBroadcast(ctx, in, out, count, type, root, sliceBytes);
      return ringBroadcast(ctx, in, out, count, type, root, sliceBytes);
    case Collective::kReduce:
      if (ctx.rank() != root) out = nullptr;
      if (algo == Algo::kWindow) return windowReduce(ctx, in, out, count, type, call.redOp(), root);
      if (algo == Algo::kTree) {
        return treeReduce(ctx, in, out, count, type, call.redOp(), root, sliceBytes);
      }
      return ringReduce(ctx, in, out, count, type, call.redOp(), root, sliceBytes);
  }
  return internalError("unknown collective " + std::to_string(static_cast<int>(call.coll)));
}

}  // namespace braid
