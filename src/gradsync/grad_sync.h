// The gradient synchronizer behind braidGradSync*: DDP-style buckets in reverse registration
// order, each reduced with braidIAllReduce as soon as all its gradients are marked ready.
//
// Layering: this class talks to the communicator only through the public C API
// (braidIAllReduce / braidTest / braidWait / braidAllReduce / braidCommCount), as a user's
// trainer would; besides braid/braid.h it includes only base files of src/core (the datatype
// table, the bfloat16 conversion), never the communicator, the algorithms or the reduction
// kernels. It keeps its own last-error string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "braid/braid.h"

namespace braid {

class GradSync {
 public:
  GradSync(braidComm_t comm, size_t bucketBytes, int flags);
  ~GradSync();  // waits for reductions in flight
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // dtype: a braidDataType_t's value, checked here (an int, so a bad value is no UB).
  braidResult_t registerGrad(void* grad, size_t count, int dtype, int* index);
  braidResult_t finalize();
  braidResult_t markReady(int index, const void* grad);
  braidResult_t wait();
  braidResult_t bucketCount(int* buckets);
  // Waits for every request still in flight (destroy); returns the first error.
  braidResult_t drain();

  const std::string& lastError() const { return lastError_; }
  void clearError() { lastError_.clear(); }
  braidResult_t fail(braidResult_t code, const std::string& message);

 private:
  struct Grad {
    void* ptr = nullptr;
    size_t count = 0;
    braidDataType_t dtype = braidFloat32;
    size_t bytes = 0;
    int bucket = -1;
    size_t offset = 0;  // element offset in the bucket's flat buffer
    bool ready = false;
  };
  enum class BucketState { kFilling, kInFlight, kDone };
  struct Bucket {
    std::vector<int> grads;  // in bucket order (reverse registration)
    braidDataType_t gradDtype = braidFloat32;
    braidDataType_t wireDtype = braidFloat32;
    size_t count = 0;  // elements
    size_t bytes = 0;  // gradient bytes (not wire bytes)
    bool inPlace = false;
    void* base = nullptr;  // in place: the lowest gradient address
    std::unique_ptr<uint64_t[]> flat;
    int pending = 0;  // gradients not yet marked this step
    BucketState state = BucketState::kFilling;
    braidRequest_t request = nullptr;
  };

  braidResult_t launch(int b);
  braidResult_t finish(int b);  // braidWait and unpack
  braidResult_t pollFinished();
  braidResult_t checkLayoutAcrossRanks();
  void resetStep();
  std::string bucketName(int b) const;
  std::string commError() const;

  braidComm_t comm_;
  size_t bucketBytes_;
  int flags_;
  braidRedOp_t op_;
  bool finalized_ = false;
  std::vector<Grad> grads_;
  std::vector<Bucket> buckets_;
  int nextLaunch_ = 0;  // buckets start in order, so ranks issue matching collectives
  int nextFinish_ = 0;
  int marked_ = 0;
  braidResult_t stepError_ = braidSuccess;
  std::string stepErrorText_;
  std::string lastError_;
};

}  // namespace braid
