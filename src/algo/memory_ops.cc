#include "algo/memory_ops.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "reduce/reduce.h"

namespace braid {

void HostMemoryOps::copy(void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
}

void HostMemoryOps::copyStreaming(void* dst, const void* src, size_t bytes) {
#if defined(__x86_64__)
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  if (bytes < 4096 || d == s) {
    copy(dst, src, bytes);
    return;
  }
  // Head up to 16-byte alignment of the destination, then 64 bytes per round with SSE2
  // streaming stores (baseline x86-64: no dispatch), then the tail.
  const size_t head = (16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15;
  std::memcpy(d, s, head);
  d += head;
  s += head;
  size_t left = bytes - head;
  for (; left >= 64; left -= 64, d += 64, s += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
    const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
  }
  std::memcpy(d, s, left);
  _mm_sfence();
#else
  copy(dst, src, bytes);
#endif
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
