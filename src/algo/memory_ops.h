// How algorithms move and reduce data. The host implementation calls the reduction kernels;
// a CUDA implementation will launch kernels on a stream. Nothing in src/algo calls memcpy or a
// CUDA API directly.
#pragma once

#include <cstddef>

#include "braid/braid.h"

namespace braid {

class MemoryOps {
 public:
  virtual ~MemoryOps() = default;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  // A copy whose destination will not be read soon (the result of a large collective): the
  // host writes it around the caches, sparing the read-for-ownership of every line. Ordered
  // before anything published afterwards.
  virtual void copyStreaming(void* dst, const void* src, size_t bytes) = 0;
  // out = a (op) b; with last == true this is the element's final reduction (avg divides).
  virtual void reduce(void* out, const void* a, const void* b, size_t count, braidDataType_t type,
                      braidRedOp_t op, bool last, int nranks) = 0;
  // Completes an element no one reduced (a single rank): avg divides by nranks.
  virtual void finish(void* buf, size_t count, braidDataType_t type, braidRedOp_t op,
                      int nranks) = 0;
};

class HostMemoryOps : public MemoryOps {
 public:
  void copy(void* dst, const void* src, size_t bytes) override;
  void copyStreaming(void* dst, const void* src, size_t bytes) override;
  void reduce(void* out, const void* a, const void* b, size_t count, braidDataType_t type,
              braidRedOp_t op, bool last, int nranks) override;
  void finish(void* buf, size_t count, braidDataType_t type, braidRedOp_t op, int nranks) override;
};

}  // namespace braid
