// Node-local collectives over a SharedWindow (every rank on one host, memory shared).
//
// Each rank's window is cut into kStages stages of two slots (input, result) of stageBytes().
// A collective walks its buffer in stage-sized chunks, a chunk per step, round-robin over the
// stages, so up to kStages chunks are in flight and the slots stay in the cache: DRAM sees each
// rank read its input once and write its output once, which is what a single-copy scheme costs
// too, without the page pinning of CMA or any ptrace permission.
//
// Counters (SharedWindow flags), all holding step numbers:
//   kStaged  this rank's input for the step is in its input slot;
//   kReduced this rank's slice of the step's result is in its result slot;
//   kDone    this rank has read everything it needs from everyone's slots for the step.
// A rank writes a stage for step t only when every rank's kDone has reached t - kStages.
//
// oneshot (latency): every rank stages its whole input, then every rank folds all inputs in
//   rank order. One synchronization round; every rank reduces everything. Up to
//   kTaggedMaxBytes the input travels as tagged words (4 bytes of data and a 4-byte operation
//   tag per 8-byte store) in their own area at the window's start: a reader polls the data
//   itself, no counter, so the whole operation costs about one cache-line transfer.
// twoshot (bandwidth): every rank stages the slices the others own, reduces its own slice from
//   everyone's input (in rank order) into its result slot, then copies the others' results.
// Either way every element is folded in the same order by the same kernels: every rank ends
// with bitwise identical results.
#pragma once

#include <cstddef>

#include "algo/algo_context.h"
#include "braid/braid.h"

namespace braid {

constexpr int kWindowStages = 4;
// oneshot sends messages up to this size as tagged words (data and tag in one 8-byte store).
constexpr size_t kTaggedMaxBytes = 128;
// twoshot reads peers' inputs in place (process_vm_readv) from this size, where permitted.
constexpr size_t kSingleCopyMinBytes = size_t{1} << 20;
// twoshot writes results of at least this size with streaming stores (out of cache anyway).
constexpr size_t kStreamingMinBytes = size_t{16} << 20;

// Bytes per stage slot in a window of windowBytes (two slots per stage).
size_t windowStageBytes(size_t windowBytes);

Status oneshotAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                        braidDataType_t type, braidRedOp_t op);
Status twoshotAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                        braidDataType_t type, braidRedOp_t op);

// The other collectives over the window, each a step per stage-sized chunk:
// ReduceScatter: every rank stages a piece of every block; rank r folds block r's pieces
//   (in rank order) straight into its output.
// AllGather / Broadcast: the owner stages its chunk; the others copy it out.
// Reduce: twoshot, with only the root copying the results out.
Status windowReduceScatter(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t recvcount,
                           braidDataType_t type, braidRedOp_t op);
Status windowAllGather(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t sendcount,
                       braidDataType_t type);
Status windowBroadcast(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                       braidDataType_t type, int root);
Status windowReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                    braidDataType_t type, braidRedOp_t op, int root);

}  // namespace braid
