// Reduction kernels against the machine's copy and STREAM-add bandwidth.
//
//   BM_Memcpy/<bytes>                 memcpy of <bytes>: counts 1 read + 1 write
//   BM_StreamAdd/<bytes>              c[i] = a[i] + b[i] on float32 arrays of <bytes> each
//   BM_Reduce/<type>/<op>/<bytes>     braid's ReduceFn, out = a (op) b, arrays of <bytes> each,
//                                     with the kernel variant braid picks on this CPU
//   BM_ReducePortable/<type>/<op>/... the same with the baseline-ISA kernels, when the above
//                                     is another variant (reduce_isa in the context says which)
//
// bytes_per_second counts bytes read plus bytes written (2 reads + 1 write per element for the
// add and the reductions; write-allocate traffic is not counted, as in STREAM), so a reduction
// that runs at memory speed shows the same figure as BM_StreamAdd. 64 KiB per array stays in
// cache; 64 MiB per array (192 MiB in all) does not.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "reduce/reduce.h"

namespace {

constexpr size_t kInCacheBytes = size_t{64} << 10;
constexpr size_t kOutOfCacheBytes = size_t{64} << 20;

// Three page-aligned arrays of the largest size, shared by all benchmarks.
struct Arrays {
  void* a;
  void* b;
  void* c;
};

void* allocPages(size_t bytes) {
  void* p = std::aligned_alloc(4096, bytes);
  if (p == nullptr) std::abort();
  std::memset(p, 1, bytes);  // fault the pages in now, not inside a timed loop
  return p;
}

const Arrays& arrays() {
  static const Arrays kArrays = {allocPages(kOutOfCacheBytes), allocPages(kOutOfCacheBytes),
                                 allocPages(kOutOfCacheBytes)};
  return kArrays;
}

// Finite, normal values of moderate size, so that no op (prod included) hits inf, NaN or
// subnormals, which would not be representative.
void fill(void* buf, braidDataType_t type, size_t count, uint32_t seed) {
  for (size_t i = 0; i < count; ++i) {
    const uint32_t k = static_cast<uint32_t>(i * 2654435761u + seed) >> 24;  // 0..255
    switch (type) {
      case braidInt8:
      case braidUint8:
        static_cast<uint8_t*>(buf)[i] = static_cast<uint8_t>(k);
        break;
      case braidInt32:
      case braidUint32:
        static_cast<uint32_t*>(buf)[i] = k * 16777619u;
        break;
      case braidInt64:
      case braidUint64:
        static_cast<uint64_t*>(buf)[i] = k * 1099511628211ull;
        break;
      case braidFloat16:
        static_cast<uint16_t*>(buf)[i] = static_cast<uint16_t>(0x3c00 + k);  // [1, 1.25)
        break;
      case braidBfloat16:
        static_cast<uint16_t*>(buf)[i] = static_cast<uint16_t>(0x3f80 + (k & 0x7f));  // [1, 2)
        break;
      case braidFloat32:
        static_cast<float*>(buf)[i] = 1.0f + static_cast<float>(k) / 256.0f;
        break;
      case braidFloat64:
        static_cast<double*>(buf)[i] = 1.0 + static_cast<double>(k) / 256.0;
        break;
    }
  }
}

void BM_Memcpy(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const Arrays& x = arrays();
  for (auto _ : state) {
    std::memcpy(x.c, x.a, bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(bytes));
}

__attribute__((noinline)) void streamAdd(float* __restrict__ c, const float* __restrict__ a,
                                         const float* __restrict__ b, size_t n) {
  for (size_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
}

void BM_StreamAdd(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const size_t count = bytes / sizeof(float);
  const Arrays& x = arrays();
  fill(x.a, braidFloat32, count, 1);
  fill(x.b, braidFloat32, count, 2);
  for (auto _ : state) {
    streamAdd(static_cast<float*>(x.c), static_cast<const float*>(x.a),
              static_cast<const float*>(x.b), count);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 *
                          static_cast<int64_t>(bytes));
}

void BM_Reduce(benchmark::State& state, braidDataType_t type, braidRedOp_t op,
               braid::ReduceIsa isa) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const size_t count = bytes / braid::dataTypeSize(type);
  const braid::ReduceFn reduce = braid::getReduceFn(type, op, isa);
  const Arrays& x = arrays();
  fill(x.a, type, count, 1);
  fill(x.b, type, count, 2);
  for (auto _ : state) {
    reduce(x.c, x.a, x.b, count);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 *
                          static_cast<int64_t>(bytes));
}

void registerAll() {
  const auto sizes = [](benchmark::internal::Benchmark* b) {
    b->Arg(static_cast<int64_t>(kInCacheBytes))->Arg(static_cast<int64_t>(kOutOfCacheBytes));
  };
  sizes(benchmark::RegisterBenchmark("BM_Memcpy", BM_Memcpy));
  sizes(benchmark::RegisterBenchmark("BM_StreamAdd", BM_StreamAdd));
  const braid::ReduceIsa active = braid::activeReduceIsa();
  benchmark::AddCustomContext("reduce_isa", braid::reduceIsaName(active));
  for (const auto& [prefix, isa] : {std::pair{"BM_Reduce/", active},
                                    std::pair{"BM_ReducePortable/", braid::ReduceIsa::kPortable}}) {
    if (std::string(prefix) != "BM_Reduce/" && isa == active) continue;
    for (int t = 0; t < 10; ++t) {
      for (int o = 0; o < 5; ++o) {
        const auto type = static_cast<braidDataType_t>(t);
        const auto op = static_cast<braidRedOp_t>(o);
        const std::string name =
            std::string(prefix) + braid::dataTypeName(type) + "/" + braid::redOpName(op);
        sizes(benchmark::RegisterBenchmark(name.c_str(), BM_Reduce, type, op, isa));
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  registerAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
