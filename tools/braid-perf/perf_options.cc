// The harness's command line: nccl-tests' flags plus --coll.
#include <getopt.h>

#include <limits>
#include <string>

#include "perf_harness.h"
#include "perf_internal.h"

namespace braid::perf {

using detail::lower;
using detail::parseInt;

std::string usage(const std::string& program) {
  return "USAGE: " + program +
         "\n"
         "\t[--coll allreduce|reducescatter|allgather|broadcast|reduce] (default allreduce, or\n"
         "\t  from argv[0]: all_reduce_perf reduce_scatter_perf all_gather_perf broadcast_perf\n"
         "\t  reduce_perf)\n"
         "\t[-t,--nthreads <1>] [-g,--ngpus <1>]\n"
         "\t[-b,--minbytes <min size in bytes>] [-e,--maxbytes <max size in bytes>]\n"
         "\t[-i,--stepbytes <increment size>] [-f,--stepfactor <increment factor>]\n"
         "\t[-n,--iters <iteration count>] [-m,--agg_iters <aggregated iteration count>]\n"
         "\t[-w,--warmup_iters <warmup iteration count>]\n"
         "\t[-N,--run_cycles <cycle count> run & print each cycle (default: 1; 0=infinite)]\n"
         "\t[-c,--check <check iteration count>]\n"
         "\t[-o,--op <sum/prod/min/max/avg/all>] [-d,--datatype <type/all>]\n"
         "\t[-r,--root <root/all>]\n"
         "\t[-a,--average <0/1/2/3> report average iteration time <0=RANK0/1=AVG/2=MIN/3=MAX>]\n"
         "\t[-J,--output_file <file.json|file.csv>]\n"
         "\t[-z,--blocking <0/1>] [-G,--cudagraph <n>] [-C,--report_cputime <0/1>]\n"
         "\t  (-z, -G, -p, -y, -T, -R, -S, -M are accepted and ignored)\n"
         "\t[-h,--help]\n"
         "\ttypes: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16\n";
}

bool takeLongOption(int* argc, char** argv, const std::string& name, std::string* value) {
  const std::string flag = "--" + name;
  bool found = false;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {  // leave the rest alone
      for (; i < *argc; ++i) argv[out++] = argv[i];
      break;
    }
    if (arg == flag && i + 1 < *argc) {
      *value = argv[++i];
      found = true;
      continue;
    }
    if (arg.compare(0, flag.size() + 1, flag + "=") == 0) {
      *value = arg.substr(flag.size() + 1);
      found = true;
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = nullptr;
  return found;
}

namespace {

enum { kCollOption = 1000 };

const struct option kLongOptions[] = {
    {"nthreads", required_argument, nullptr, 't'},
    {"ngpus", required_argument, nullptr, 'g'},
    {"minbytes", required_argument, nullptr, 'b'},
    {"maxbytes", required_argument, nullptr, 'e'},
    {"stepbytes", required_argument, nullptr, 'i'},
    {"stepfactor", required_argument, nullptr, 'f'},
    {"iters", required_argument, nullptr, 'n'},
    {"agg_iters", required_argument, nullptr, 'm'},
    {"warmup_iters", required_argument, nullptr, 'w'},
    {"run_cycles", required_argument, nullptr, 'N'},
    {"parallel_init", required_argument, nullptr, 'p'},
    {"check", required_argument, nullptr, 'c'},
    {"op", required_argument, nullptr, 'o'},
    {"datatype", required_argument, nullptr, 'd'},
    {"root", required_argument, nullptr, 'r'},
    {"blocking", required_argument, nullptr, 'z'},
    {"stream_null", required_argument, nullptr, 'y'},
    {"timeout", required_argument, nullptr, 'T'},
    {"cudagraph", required_argument, nullptr, 'G'},
    {"report_cputime", required_argument, nullptr, 'C'},
    {"average", required_argument, nullptr, 'a'},
    {"local_register", required_argument, nullptr, 'R'},
    {"report_timestamps", required_argument, nullptr, 'S'},
    {"memory_report", required_argument, nullptr, 'M'},
    {"output_file", required_argument, nullptr, 'J'},
    {"coll", required_argument, nullptr, kCollOption},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

constexpr const char* kShortOptions = "t:g:b:e:i:f:n:m:w:N:p:c:o:d:r:z:y:T:hG:C:a:R:S:M:J:";

// argv[0]'s basename names the program, and an nccl-tests name (all_reduce_perf, ...) the
// collective.
void takeProgramName(int argc, char** argv, Options* opts) {
  std::string program = argc > 0 && argv[0] != nullptr ? argv[0] : "braid-perf";
  const size_t slash = program.find_last_of('/');
  if (slash != std::string::npos) program = program.substr(slash + 1);
  opts->program = program;
  Collective fromName;
  if (program.size() > 5 && program.compare(program.size() - 5, 5, "_perf") == 0 &&
      parseCollective(program, &fromName)) {
    opts->coll = fromName;
    opts->collFromArgv0 = true;
  }
}

// Applies one of the numeric options (sizes, counts, and the flags accepted and ignored).
// Returns false when c is not one of them; sets *error when its value is invalid.
bool applyNumericOption(int c, const char* arg, Options* opts, std::string* error) {
  long v = 0;
  switch (c) {
    case 't':
      if (!parseInt(arg, 1, 1 << 20, &v))
        *error = "invalid -t value";
      else
        opts->nThreads = static_cast<int>(v);
      return true;
    case 'g':
      if (!parseInt(arg, 1, 1 << 20, &v))
        *error = "invalid -g value";
      else
        opts->nGpus = static_cast<int>(v);
      return true;
    case 'b':
    case 'e': {
      const double d = parseSize(arg);
      if (d < 0) {
        *error =
            std::string("invalid size specified for '") + (c == 'b' ? "minbytes'" : "maxbytes'");
      } else {
        (c == 'b' ? opts->minBytes : opts->maxBytes) = static_cast<size_t>(d);
      }
      return true;
    }
    case 'i': {
      const double d = parseSize(arg);
      if (d < 0)
        *error = "invalid size specified for 'stepbytes'";
      else
        opts->stepBytes = static_cast<size_t>(d);
      return true;
    }
    case 'f':
      if (!parseInt(arg, 0, 1 << 20, &v))
        *error = "invalid -f value";
      else
        opts->stepFactor = static_cast<size_t>(v);
      return true;
    case 'n':
      if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v))
        *error = "invalid -n";
      else
        opts->iters = static_cast<int>(v);
      return true;
    case 'm':
      if (!parseInt(arg, 1, 1 << 20, &v))
        *error = "invalid -m value";
      else
        opts->aggIters = static_cast<int>(v);
      return true;
    case 'w':
      if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v))
        *error = "invalid -w";
      else
        opts->warmupIters = static_cast<int>(v);
      return true;
    case 'N':
      if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v))
        *error = "invalid -N";
      else
        opts->runCycles = static_cast<int>(v);
      return true;
    case 'c':
      if (!parseInt(arg, 0, 1 << 20, &v))
        *error = "invalid -c value";
      else
        opts->check = static_cast<int>(v);
      return true;
    case 'a':
      if (!parseInt(arg, 0, 3, &v))
        *error = "invalid -a value (0, 1, 2 or 3)";
      else
        opts->average = static_cast<int>(v);
      return true;
    case 'z':
    case 'G':
    case 'C':
    case 'p':
    case 'y':
    case 'T':
    case 'R':
    case 'S':
    case 'M':
      if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v)) {
        *error = std::string("invalid -") + static_cast<char>(c) + " value";
        return true;
      }
      if (c == 'z') opts->blocking = static_cast<int>(v);
      if (c == 'G') opts->graph = static_cast<int>(v);
      if (c == 'C') opts->reportCpuTime = static_cast<int>(v);
      return true;
    default:
      return false;
  }
}

// Applies one of the options that name things: -o, -d, -r (each also "all"), -J, --coll.
// Same contract as applyNumericOption.
bool applyNamedOption(int c, const char* arg, Options* opts, std::string* error) {
  switch (c) {
    case 'o': {
      RedOp op;
      if (lower(arg) == "all") {
        opts->op = -1;
      } else if (parseRedOp(arg, &op)) {
        opts->op = static_cast<int>(op);
      } else {
        *error = std::string("invalid op '") + arg + "' (sum prod max min avg all)";
      }
      return true;
    }
    case 'd': {
      DataType type;
      if (lower(arg) == "all") {
        opts->type = -1;
      } else if (parseDataType(arg, &type)) {
        opts->type = static_cast<int>(type);
      } else {
        *error = std::string("invalid datatype '") + arg + "'";
      }
      return true;
    }
    case 'r': {
      long v = 0;
      if (lower(arg) == "all") {
        opts->root = -1;
      } else if (parseInt(arg, -1, 1 << 24, &v)) {
        opts->root = static_cast<int>(v);
      } else {
        *error = std::string("invalid root '") + arg + "'";
      }
      return true;
    }
    case 'J':
      opts->outputFile = arg;
      return true;
    case kCollOption: {
      Collective coll;
      if (!parseCollective(arg, &coll)) {
        *error = std::string("invalid --coll '") + arg +
                 "' (allreduce reducescatter allgather broadcast reduce)";
      } else {
        opts->coll = coll;
        opts->collFromArgv0 = false;
      }
      return true;
    }
    default:
      return false;
  }
}

// What getopt could not take: an unknown option, or one missing its value.
std::string unknownOptionMessage(char** argv) {
  const int badOpt = optopt;
  if (badOpt > 0 && badOpt < 256) {
    return std::string("invalid option '-") + static_cast<char>(badOpt) + "'";
  }
  return std::string("invalid option '") + argv[optind - 1] + "'";
}

// The checks across options, once all are read. Returns false with *error set.
bool checkOptions(const Options& opts, std::string* error) {
  if (opts.nThreads != 1 || opts.nGpus != 1) {
    *error =
        "only -t 1 -g 1 is supported: one rank per process (start N with braid-run -n N "
        "or mpirun -np N)";
    return false;
  }
  if (opts.minBytes > opts.maxBytes) {
    *error = "invalid sizes for 'minbytes' and 'maxbytes': " + std::to_string(opts.minBytes) +
             " > " + std::to_string(opts.maxBytes);
    return false;
  }
  if (opts.stepFactor <= 1 && opts.stepBytes == 0 && opts.minBytes < opts.maxBytes) {
    *error = "stepbytes 0 with no step factor would never reach maxbytes";
    return false;
  }
  return true;
}

}  // namespace

ParseResult parseOptions(int argc, char** argv, Options* opts, std::string* error) {
  takeProgramName(argc, argv, opts);
  optind = 0;  // restart getopt (GNU): parseOptions may run more than once per process
  opterr = 0;
  for (;;) {
    const int c = getopt_long(argc, argv, kShortOptions, kLongOptions, nullptr);
    if (c == -1) break;
    if (c == 'h') return ParseResult::kHelp;
    std::string why;
    if (!applyNumericOption(c, optarg, opts, &why) && !applyNamedOption(c, optarg, opts, &why)) {
      why = unknownOptionMessage(argv);
    }
    if (!why.empty()) {
      *error = why;
      return ParseResult::kError;
    }
  }
  if (optind < argc) {
    *error = std::string("unexpected argument '") + argv[optind] + "'";
    return ParseResult::kError;
  }
  return checkOptions(*opts, error) ? ParseResult::kOk : ParseResult::kError;
}

}  // namespace braid::perf
