// mpi-perf: the braid-perf table for MPI (Open MPI) collectives on host buffers.
//
//   mpirun -np 2 --mca btl tcp,self --bind-to none mpi-perf -b 8 -e 256M -f 4
//
// Collectives: MPI_Allreduce, MPI_Reduce_scatter_block, MPI_Allgather, MPI_Bcast, MPI_Reduce,
// with MPI_IN_PLACE for the in-place columns. Where MPI has no equivalent the driver adds the
// least work a user would:
//   - avg: MPI_SUM, then a local division by nranks;
//   - half and bfloat16: MPI_UINT16_T with user-defined ops that compute in float;
//   - in-place reduce-scatter: MPI leaves the block at the start of the buffer, nccl-tests wants
//     it at rank * count: one local memmove of the block;
//   - out-of-place broadcast: the root also copies its input to its output.
// The C API only: keep Open MPI's (deprecated) C++ bindings out.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "perf_harness.h"

namespace braid::perf {
namespace {

template <DataType kType, RedOp kOp>
void userOp(void* in, void* inout, int* len, MPI_Datatype* /*type*/) {
  reduceInto(inout, in, static_cast<size_t>(*len), kType, kOp);
}

template <DataType kType>
MPI_User_function* userFunction(RedOp op) {
  switch (op) {
    case RedOp::kProd:
      return &userOp<kType, RedOp::kProd>;
    case RedOp::kMax:
      return &userOp<kType, RedOp::kMax>;
    case RedOp::kMin:
      return &userOp<kType, RedOp::kMin>;
    default:
      return &userOp<kType, RedOp::kSum>;
  }
}

class MpiBackend : public Backend {
 public:
  MpiBackend() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    for (int t = 0; t < 2; ++t) {
      const DataType type = t == 0 ? DataType::kHalf : DataType::kBfloat16;
      for (int o = 0; o < 4; ++o) {
        const auto op = static_cast<RedOp>(o);
        MPI_User_function* fn = type == DataType::kHalf ? userFunction<DataType::kHalf>(op)
                                                        : userFunction<DataType::kBfloat16>(op);
        MPI_Op_create(fn, /*commute=*/1, &userOps_[t][o]);
      }
    }
  }

  ~MpiBackend() override {
    for (auto& ops : userOps_) {
      for (MPI_Op& op : ops) MPI_Op_free(&op);
    }
  }

  std::string name() const override { return "mpi"; }

  std::string description() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, static_cast<size_t>(len));
    const size_t eol = v.find_first_of(",\r\n");
    if (eol != std::string::npos) v.resize(eol);
    while (!v.empty() && (v.back() == ' ' || v.back() == ',')) v.pop_back();
    return v + " (mpi-perf)";
  }

  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }

  bool run(const CollectiveCall& call) override {
    if (call.count > static_cast<size_t>(INT32_MAX)) {
      lastError_ = "count exceeds MPI's int count";
      return false;
    }
    const int count = static_cast<int>(call.count);
    const MPI_Datatype type = mpiType(call.type);
    const MPI_Op op = mpiOp(call.type, call.op);
    const size_t elt = dataTypeSize(call.type);
    int err = MPI_SUCCESS;
    switch (call.coll) {
      case Collective::kAllReduce:
        err = MPI_Allreduce(call.inPlace ? MPI_IN_PLACE : call.send, call.recv, count, type, op,
                            MPI_COMM_WORLD);
        if (err == MPI_SUCCESS && call.op == RedOp::kAvg) {
          divideByRanks(call.recv, call.count, call.type, nranks_);
        }
        break;
      case Collective::kReduceScatter:
        if (call.inPlace) {
          // Input is the whole vector at send; MPI leaves this rank's block at its start.
          void* full = const_cast<void*>(call.send);
          err = MPI_Reduce_scatter_block(MPI_IN_PLACE, full, count, type, op, MPI_COMM_WORLD);
          if (err == MPI_SUCCESS && full != call.recv) {
            std::memmove(call.recv, full, call.count * elt);
          }
        } else {
          err = MPI_Reduce_scatter_block(call.send, call.recv, count, type, op, MPI_COMM_WORLD);
        }
        if (err == MPI_SUCCESS && call.op == RedOp::kAvg) {
          divideByRanks(call.recv, call.count, call.type, nranks_);
        }
        break;
      case Collective::kAllGather:
        err = MPI_Allgather(call.inPlace ? MPI_IN_PLACE : call.send, count, type, call.recv, count,
                            type, MPI_COMM_WORLD);
        break;
      case Collective::kBroadcast:
        if (rank_ == call.root && !call.inPlace) {
          err = MPI_Bcast(const_cast<void*>(call.send), count, type, call.root, MPI_COMM_WORLD);
          if (err == MPI_SUCCESS) std::memcpy(call.recv, call.send, call.count * elt);
        } else {
          err = MPI_Bcast(call.recv, count, type, call.root, MPI_COMM_WORLD);
        }
        break;
      case Collective::kReduce: {
        const bool root = rank_ == call.root;
        const void* send = (call.inPlace && root) ? MPI_IN_PLACE : call.send;
        err = MPI_Reduce(send, root ? call.recv : nullptr, count, type, op, call.root,
                         MPI_COMM_WORLD);
        if (err == MPI_SUCCESS && root && call.op == RedOp::kAvg) {
          divideByRanks(call.recv, call.count, call.type, nranks_);
        }
        break;
      }
    }
    return check(err);
  }

  bool barrier() override { return check(MPI_Barrier(MPI_COMM_WORLD)); }

  bool allGatherBytes(const void* in, size_t bytes, void* out) override {
    return check(MPI_Allgather(in, static_cast<int>(bytes), MPI_BYTE, out, static_cast<int>(bytes),
                               MPI_BYTE, MPI_COMM_WORLD));
  }

  std::string lastError() const override { return lastError_; }

 private:
  static MPI_Datatype mpiType(DataType type) {
    switch (type) {
      case DataType::kInt8:
        return MPI_INT8_T;
      case DataType::kUint8:
        return MPI_UINT8_T;
      case DataType::kInt32:
        return MPI_INT32_T;
      case DataType::kUint32:
        return MPI_UINT32_T;
      case DataType::kInt64:
        return MPI_INT64_T;
      case DataType::kUint64:
        return MPI_UINT64_T;
      case DataType::kFloat:
        return MPI_FLOAT;
      case DataType::kDouble:
        return MPI_DOUBLE;
      case DataType::kHalf:
      case DataType::kBfloat16:
        return MPI_UINT16_T;  // with the user ops below
    }
    return MPI_BYTE;
  }

  MPI_Op mpiOp(DataType type, RedOp op) const {
    const int o = op == RedOp::kAvg ? 0 : static_cast<int>(op);
    if (type == DataType::kHalf) return userOps_[0][o];
    if (type == DataType::kBfloat16) return userOps_[1][o];
    switch (op) {
      case RedOp::kProd:
        return MPI_PROD;
      case RedOp::kMax:
        return MPI_MAX;
      case RedOp::kMin:
        return MPI_MIN;
      default:
        return MPI_SUM;
    }
  }

  bool check(int err) {
    if (err == MPI_SUCCESS) return true;
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(err, text, &len);
    lastError_ = std::string(text, static_cast<size_t>(len));
    return false;
  }

  int rank_ = 0;
  int nranks_ = 1;
  MPI_Op userOps_[2][4] = {};  // [half, bfloat16][sum, prod, max, min]
  std::string lastError_;
};

int realMain(int argc, char** argv) {
  Options opts;
  std::string error;
  const ParseResult parsed = parseOptions(argc, argv, &opts, &error);
  if (parsed == ParseResult::kHelp) {
    std::printf("%s", usage(opts.program).c_str());
    return 0;
  }
  if (parsed == ParseResult::kError) {
    std::fprintf(stderr, "%s: %s\n%s", opts.program.c_str(), error.c_str(),
                 usage(opts.program).c_str());
    return 2;
  }
  MPI_Init(&argc, &argv);
  int status = 0;
  {
    MpiBackend backend;
    status = runBenchmark(backend, opts);
  }
  if (status == kExitFailed) {
    // A failed collective may leave peers waiting; take the job down.
    int flag = 0;
    MPI_Initialized(&flag);
    if (flag != 0) {
      std::fflush(stdout);
      MPI_Abort(MPI_COMM_WORLD, status);
    }
  }
  MPI_Finalize();
  return status;
}

}  // namespace
}  // namespace braid::perf

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  return braid::perf::realMain(argc, argv);
}
