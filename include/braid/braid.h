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
 * communicator (an init that failed, say). The string stays valid until the next call on the
 * same communicator (or, for NULL, the next such call on the same thread). */
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
   In place (sendbuff == recvbuff, or at the rank's offset for the gather/scatter forms) works. */

/* Asynchronous AllReduce, run by the communicator's progress thread. */
braidResult_t braidIAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                              braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                              braidRequest_t* request);
/* Sets *done (1 when finished); never releases the request. */
braidResult_t braidTest(braidRequest_t request, int* done);
/* Waits, releases the request, and returns the operation's result. */
braidResult_t braidWait(braidRequest_t request);

#ifdef __cplusplus
}
#endif

#endif /* BRAID_BRAID_H_ */
