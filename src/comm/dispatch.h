// The one place a collective call meets an algorithm: the call's collective and the tuner's
// algorithm pick the function, which runs with the tuner's slice on `ctx`. A new algorithm or
// collective is a case here; the entry points and executors never name algorithms.
#pragma once

#include <cstddef>

#include "algo/algo_context.h"
#include "algo/tuner.h"
#include "comm/collective.h"
#include "core/status.h"

namespace braid {

// Runs `call` (accepted by checkCall) with `algo` on ctx. sliceBytes: the pipeline slice, the
// tuner's chunk (at most ctx.scratchBytes()). A non-root's unused buffer (Broadcast's
// sendbuff, Reduce's recvbuff) reaches the algorithm as nullptr.
Status runAlgorithm(AlgoContext& ctx, const CollectiveCall& call, Algo algo, size_t sliceBytes);

}  // namespace braid
