#include "algo/memory_ops.h"

#include <cstring>

#include "reduce/reduce.h"

namespace braid {

void HostMemoryOps::copy(void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
}

void HostMemoryOps::reduce(void* out, const void* a, const void* b, size_t count,
                           braidDataType_t type, braidRedOp_t op, bool last, int nranks) {
  if (count == 0) return;
  if (last) {
    getReduceFinalFn(type, op)(out, a, b, count, nranks);
  } else {
    getReduceFn(type, op)(out, a, b, count);
  }
}

void HostMemoryOps::finish(void* buf, size_t count, braidDataType_t type, braidRedOp_t op,
                           int nranks) {
  if (count == 0) return;
  getFinishFn(type, op)(buf, count, nranks);
}

}  // namespace braid
