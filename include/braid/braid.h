/*
 * Braid: a collective communication runtime.
 *
 * The public C API. NCCL-shaped on purpose (same enum values), so programs written for NCCL
 * port with a rename. Compiles as C99 and as C++.
 */
#ifndef BRAID_BRAID_H_
#define BRAID_BRAID_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BRAID_MAJOR 0
#define BRAID_MINOR 1
#define BRAID_PATCH 0
#define BRAID_VERSION_CODE (BRAID_MAJOR * 10000 + BRAID_MINOR * 100 + BRAID_PATCH)

#define BRAID_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[BRAID_UNIQUE_ID_BYTES];
} braidUniqueId;
typedef struct braidComm* braidComm_t;
typedef struct braidRequest* braidRequest_t;
typedef void* braidStream_t; /* a cudaStream_t for device buffers; NULL for host */

typedef enum {
  braidSuccess = 0,
  braidUnhandledCudaError = 1,
  braidSystemError = 2,
  braidInternalError = 3,
  braidInvalidArgument = 4,
  braidInvalidUsage = 5,
  braidRemoteError = 6,
  braidInProgress = 7,
  braidTimeout = 8
} braidResult_t;

typedef enum {
  braidInt8 = 0,
  braidUint8 = 1,
  braidInt32 = 2,
  braidUint32 = 3,
  braidInt64 = 4,
  braidUint64 = 5,
  braidFloat16 = 6,
  braidFloat32 = 7,
  braidFloat64 = 8,
  braidBfloat16 = 9
} braidDataType_t;

typedef enum { braidSum = 0, braidProd = 1, braidMax = 2, braidMin = 3, braidAvg = 4 } braidRedOp_t;

/* Errors. braidGetLastError(NULL) is the calling thread's last error from a call that had no
 * communicator (an init that failed, say). braidGetLastError(comm) is the communicator's last
 * error. The string belongs to the calling thread and stays valid until its next
 * braidGetLastError call; threads may call it at once. */
const char* braidGetErrorString(braidResult_t result);
const char* braidGetLastError(braidComm_t comm);

/* MAJOR*10000 + MINOR*100 + PATCH. */
braidResult_t braidGetVersion(int* version);

/* Makes an id holding the root's listen address and port and a 128-bit random secret. May be
 * called before fork(); rank 0 of the communicator listens at that address. */
braidResult_t braidGetUniqueId(braidUniqueId* uniqueId);
braidResult_t braidCommInitRank(braidComm_t* comm, int nranks, braidUniqueId commId, int rank);
/* torchrun / mpirun / srun / braid-run environments; see the README. */
braidResult_t braidCommInitFromEnv(braidComm_t* comm);
braidResult_t braidCommDestroy(braidComm_t comm);
braidResult_t braidCommAbort(braidComm_t comm);
braidResult_t braidCommCount(const braidComm_t comm, int* count);
braidResult_t braidCommUserRank(const braidComm_t comm, int* rank);

braidResult_t braidAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                             braidStream_t stream);
braidResult_t braidReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                 braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                 braidStream_t stream);
braidResult_t braidAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                             braidDataType_t datatype, braidComm_t comm, braidStream_t stream);
braidResult_t braidBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t datatype, int root, braidComm_t comm,
                             braidStream_t stream);
braidResult_t braidReduce(const void* sendbuff, void* recvbuff, size_t count,
                          braidDataType_t datatype, braidRedOp_t op, int root, braidComm_t comm,
                          braidStream_t stream);

/* Host buffers with stream == NULL: the call returns when recvbuff holds the result.
   In place (sendbuff == recvbuff, or at the rank's offset for the gather/scatter forms) works.
   A communicator is used by one thread at a time (braidCommAbort may come from any thread): a
   call made while another is in progress on the same communicator returns braidInvalidUsage
   and changes nothing. A communicator belongs to the process that created it: in a child made
   by fork() every call on it, destroy and abort included, returns braidInvalidUsage and leaves
   the parent's communicator untouched.
   Floats: NaN and infinities propagate as in IEEE arithmetic; max and min return NaN when any
   rank's value is NaN. Integers wrap (two's complement). */

/* Asynchronous AllReduce, run by the communicator's progress thread. */
braidResult_t braidIAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                              braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                              braidRequest_t* request);
/* Sets *done (1 when finished); never releases the request. */
braidResult_t braidTest(braidRequest_t request, int* done);
/* Waits, releases the request, and returns the operation's result. */
braidResult_t braidWait(braidRequest_t request);

/* What the tuner picks on this communicator for a collective of count elements of datatype
   (collective: 0 AllReduce, 1 ReduceScatter, 2 AllGather, 3 Broadcast, 4 Reduce; count as in
   that collective's call), as one line of text ("tree, chunk 64 KiB, 1 channel, predicted
   812.0 us"), truncated to textBytes. Local: no communication. braid-perf --show-algo uses it. */
braidResult_t braidCommDescribeTuning(braidComm_t comm, int collective, size_t count,
                                      braidDataType_t datatype, char* text, size_t textBytes);

/* ---- Gradient synchronizer (src/gradsync) -------------------------------------------------
 * DDP-style gradient synchronization for data-parallel trainers, built on braidIAllReduce.
 *
 *   braidGradSyncCreate(&gs, comm, 0, 0);          0 bytes: the default 25 MiB buckets
 *   for each gradient: braidGradSyncRegister(gs, ptr, count, dtype, &index);
 *   every step:
 *     backward: braidGradSyncMarkReady(gs, index, ptr) as each gradient is written
 *     braidGradSyncWait(gs);                       every gradient now holds the average
 *   braidGradSyncDestroy(gs);
 *
 * Gradients are grouped into buckets in reverse registration order (backward produces the last
 * layers first), one dtype per bucket, a bucket closing once it holds bucketBytes or more. When
 * every gradient of a bucket is marked, the bucket's AllReduce (braidAvg) starts on the
 * communicator's progress thread while the caller goes on computing. Buckets start in bucket
 * order on every rank (a bucket that is complete early waits for the ones before it), so the
 * ranks' collectives always match, whatever order a rank marks its gradients in. A bucket whose
 * gradients lie back to back in memory is reduced in place; others are packed into a flat
 * buffer and unpacked after the reduction.
 *
 * The layout (buffers, counts, dtypes, in registration order) is fixed by the first MarkReady
 * (or braidGradSyncFinalize) and checked to be the same on every rank with one small AllReduce;
 * after that a Register is braidInvalidUsage. Marking a gradient twice in a step, marking a
 * pointer other than the registered one (a buffer that moved), or waiting before every gradient
 * was marked, is braidInvalidUsage with a message naming the gradient; such a call changes
 * nothing, so the step can go on.
 *
 * A synchronizer, like its communicator, is used by one thread at a time, and the communicator
 * may not be used for other collectives between a step's first MarkReady and its Wait. Errors
 * are kept per synchronizer: braidGradSyncGetLastError(gs); braidGradSyncGetLastError(NULL) is
 * the calling thread's last error from a call without a synchronizer (a Create that failed).
 * Destroy the synchronizer before its communicator. */
typedef struct braidGradSync* braidGradSync_t;

#define BRAID_GRADSYNC_DEFAULT_BUCKET_BYTES ((size_t)25 << 20)

/* Flags for braidGradSyncCreate (bitwise or). */
/* float32 gradients travel as bfloat16 (round to nearest even); each hop adds in float32 and
 * rounds the partial sum to bfloat16, so expect about 3 significant decimal digits. Halves the
 * bytes on the wire. Other dtypes are unaffected. */
#define BRAID_GRADSYNC_BF16 1
/* Sum instead of average. */
#define BRAID_GRADSYNC_SUM 2

braidResult_t braidGradSyncCreate(braidGradSync_t* gradSync, braidComm_t comm, size_t bucketBytes,
                                  int flags);
/* Registers a gradient buffer of count elements; *index (may be NULL) receives its index,
 * 0, 1, 2, ... in registration order. count == 0 is allowed (the gradient only needs marking). */
braidResult_t braidGradSyncRegister(braidGradSync_t gradSync, void* grad, size_t count,
                                    braidDataType_t datatype, int* index);
/* Fixes the layout and checks it across ranks (collective: every rank calls it, or its first
 * MarkReady does). Optional. */
braidResult_t braidGradSyncFinalize(braidGradSync_t gradSync);
/* Gradient `index` holds this step's local value. grad may be NULL; otherwise it must be the
 * pointer it was registered with. May start one or more bucket reductions. */
braidResult_t braidGradSyncMarkReady(braidGradSync_t gradSync, int index, const void* grad);
/* Waits for every bucket; on success every gradient holds the average (or sum) across ranks
 * and the synchronizer is ready for the next step. */
braidResult_t braidGradSyncWait(braidGradSync_t gradSync);
/* Number of buckets; finalizes the layout first if needed (collective, see Finalize). */
braidResult_t braidGradSyncGetBucketCount(braidGradSync_t gradSync, int* buckets);
/* Waits for reductions in flight, then frees everything. gradSync may be NULL. */
braidResult_t braidGradSyncDestroy(braidGradSync_t gradSync);
/* The last error of a call on this synchronizer ("" if none); valid until its next call. NULL:
 * the calling thread's last error from a call that had no synchronizer. */
const char* braidGradSyncGetLastError(braidGradSync_t gradSync);
/* ---- end of gradient synchronizer --------------------------------------------------------- */

#ifdef __cplusplus
}
#endif

#endif /* BRAID_BRAID_H_ */
