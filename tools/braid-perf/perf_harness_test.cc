// Tests of the braid-perf harness: nccl-tests' size and bandwidth rules, the command line, and a
// whole run over a fake backend (ranks as threads in one process) for every collective, type and
// op, checking that correct results count 0 wrong and corrupted ones do not.
#include "perf_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace braid::perf {
namespace {

// ---- a fake library: nranks threads sharing memory ----------------------------------------

struct Group {
  explicit Group(int n)
      : nranks(n), sync(n), calls(static_cast<size_t>(n)), gatherIn(static_cast<size_t>(n)) {}
  int nranks;
  std::barrier<> sync;
  std::vector<CollectiveCall> calls;
  std::vector<const void*> gatherIn;
};

class FakeBackend : public Backend {
 public:
  FakeBackend(Group* group, int rank, bool corrupt) : g_(group), rank_(rank), corrupt_(corrupt) {}

  std::string name() const override { return "fake"; }
  int rank() const override { return rank_; }
  int nranks() const override { return g_->nranks; }

  bool run(const CollectiveCall& call) override {
    const size_t elt = dataTypeSize(call.type);
    const size_t n = static_cast<size_t>(g_->nranks);
    g_->calls[static_cast<size_t>(rank_)] = call;
    g_->sync.arrive_and_wait();

    std::vector<char> result;
    auto reduceFrom = [&](size_t offsetElems, size_t count) {
      result.assign(count * elt, 0);
      if (count == 0) return;  // buffers may be NULL
      const size_t off = offsetElems * elt;
      std::memcpy(result.data(), static_cast<const char*>(g_->calls[0].send) + off, count * elt);
      for (size_t r = 1; r < n; ++r) {
        reduceInto(result.data(), static_cast<const char*>(g_->calls[r].send) + off, count,
                   call.type, call.op);
      }
      if (call.op == RedOp::kAvg) divideByRanks(result.data(), count, call.type, g_->nranks);
    };
    bool write = true;
    switch (call.coll) {
      case Collective::kAllReduce:
        reduceFrom(0, call.count);
        break;
      case Collective::kReduceScatter:
        reduceFrom(static_cast<size_t>(rank_) * call.count, call.count);
        break;
      case Collective::kReduce:
        if (rank_ == call.root) {
          reduceFrom(0, call.count);
        } else {
          write = false;
        }
        break;
      case Collective::kAllGather:
        result.resize(n * call.count * elt);
        for (size_t r = 0; r < n && call.count > 0; ++r) {
          std::memcpy(result.data() + r * call.count * elt, g_->calls[r].send, call.count * elt);
        }
        break;
      case Collective::kBroadcast:
        result.resize(call.count * elt);
        if (call.count > 0) {
          std::memcpy(result.data(), g_->calls[static_cast<size_t>(call.root)].send,
                      call.count * elt);
        }
        break;
    }
    g_->sync.arrive_and_wait();  // everyone has read the inputs
    if (write && !result.empty()) {
      std::memcpy(call.recv, result.data(), result.size());
      if (corrupt_ && rank_ == g_->nranks - 1) static_cast<unsigned char*>(call.recv)[0] ^= 0x40;
    }
    return true;
  }

  bool barrier() override {
    g_->sync.arrive_and_wait();
    return true;
  }

  bool allGatherBytes(const void* in, size_t bytes, void* out) override {
    g_->gatherIn[static_cast<size_t>(rank_)] = in;
    g_->sync.arrive_and_wait();
    for (size_t r = 0; r < g_->gatherIn.size(); ++r) {
      std::memcpy(static_cast<char*>(out) + r * bytes, g_->gatherIn[r], bytes);
    }
    g_->sync.arrive_and_wait();
    return true;
  }

  std::string lastError() const override { return "none"; }

 private:
  Group* g_;
  int rank_;
  bool corrupt_;
};

Options parse(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Options opts;
  std::string error;
  EXPECT_EQ(parseOptions(static_cast<int>(args.size()), argv.data(), &opts, &error),
            ParseResult::kOk)
      << error;
  return opts;
}

struct RunOutput {
  std::string stdoutText;
  std::vector<int> status;
};

RunOutput runGroup(int nranks, const Options& opts, bool corrupt = false) {
  Group group(nranks);
  RunOutput out;
  out.status.assign(static_cast<size_t>(nranks), -1);
  testing::internal::CaptureStdout();
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) {
    threads.emplace_back([&, r] {
      FakeBackend backend(&group, r, corrupt);
      out.status[static_cast<size_t>(r)] = runBenchmark(backend, opts);
    });
  }
  for (std::thread& t : threads) t.join();
  out.stdoutText = testing::internal::GetCapturedStdout();
  return out;
}

std::vector<std::string> dataRows(const std::string& text) {
  std::vector<std::string> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') rows.push_back(line);
  }
  return rows;
}

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> fields;
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

// ---- pure pieces ------------------------------------------------------------------------------

TEST(PerfHarness, CollCountsFollowNcclTests) {
  // allreduce: size / eltsize elements, nothing rounded further.
  CollCounts c = collCounts(Collective::kAllReduce, 3, 4, 2);
  EXPECT_EQ(c.sendCount, 3u);
  EXPECT_EQ(c.recvCount, 3u);
  EXPECT_EQ(c.paramCount, 3u);
  // allgather: per-rank count rounded down to 16 bytes; printed size is base * nranks.
  c = collCounts(Collective::kAllGather, 1000, 4, 3);  // 333 -> 332
  EXPECT_EQ(c.sendCount, 332u);
  EXPECT_EQ(c.recvCount, 996u);
  EXPECT_EQ(c.paramCount, 332u);
  EXPECT_EQ(c.sendInplaceOffset, 332u);
  EXPECT_EQ(c.recvInplaceOffset, 0u);
  c = collCounts(Collective::kReduceScatter, 1000, 2, 3);  // 333 -> 328 (8 elements of 2 B)
  EXPECT_EQ(c.sendCount, 984u);
  EXPECT_EQ(c.recvCount, 328u);
  EXPECT_EQ(c.paramCount, 328u);
  EXPECT_EQ(c.sendInplaceOffset, 0u);
  EXPECT_EQ(c.recvInplaceOffset, 328u);
  // Too small to give each rank 16 bytes: zero.
  c = collCounts(Collective::kReduceScatter, 2, 4, 2);
  EXPECT_EQ(c.paramCount, 0u);
  c = collCounts(Collective::kAllGather, 8, 1, 2);  // 8 bytes of int8 over 2 ranks -> 0
  EXPECT_EQ(c.paramCount, 0u);
  c = collCounts(Collective::kAllGather, 64, 1, 2);
  EXPECT_EQ(c.paramCount, 32u);
}

TEST(PerfHarness, BandwidthFactors) {
  double alg = 0;
  double bus = 0;
  bandwidth(Collective::kAllReduce, 1000, 4, 1e-6, 4, &alg, &bus);
  EXPECT_DOUBLE_EQ(alg, 4.0);
  EXPECT_DOUBLE_EQ(bus, 4.0 * 2 * 3 / 4);
  bandwidth(Collective::kAllGather, 1000, 4, 1e-6, 4, &alg, &bus);
  EXPECT_DOUBLE_EQ(alg, 16.0);
  EXPECT_DOUBLE_EQ(bus, 12.0);
  bandwidth(Collective::kReduceScatter, 1000, 4, 1e-6, 2, &alg, &bus);
  EXPECT_DOUBLE_EQ(alg, 8.0);
  EXPECT_DOUBLE_EQ(bus, 4.0);
  bandwidth(Collective::kBroadcast, 1000, 4, 1e-6, 8, &alg, &bus);
  EXPECT_DOUBLE_EQ(bus, alg);
  bandwidth(Collective::kReduce, 1000, 4, 1e-6, 8, &alg, &bus);
  EXPECT_DOUBLE_EQ(bus, alg);
}

TEST(PerfHarness, SizesAndParsing) {
  EXPECT_EQ(parseSize("8"), 8.0);
  EXPECT_EQ(parseSize("32M"), 32.0 * 1024 * 1024);
  EXPECT_EQ(parseSize("1k"), 1024.0);
  EXPECT_EQ(parseSize("2G"), 2.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(parseSize("1.5K"), 1536.0);
  EXPECT_LT(parseSize("x"), 0);
  EXPECT_LT(parseSize("3Q"), 0);

  Options o = parse({"braid-perf", "-b", "8", "-e", "256M", "-f", "4"});
  std::vector<size_t> sizes = sizeSequence(o);
  ASSERT_EQ(sizes.size(), 13u);
  EXPECT_EQ(sizes.front(), 8u);
  EXPECT_EQ(sizes.back(), 128u << 20);  // 8 * 4^12 = 128M; 512M > 256M
  o = parse({"braid-perf", "-b", "1K", "-e", "4K", "-i", "1K"});
  EXPECT_EQ(sizeSequence(o), (std::vector<size_t>{1024, 2048, 3072, 4096}));
  o = parse({"braid-perf"});
  EXPECT_EQ(sizeSequence(o), (std::vector<size_t>{32u << 20}));
}

TEST(PerfHarness, FormatFloatLikeNcclTests) {
  EXPECT_EQ(formatFloat(12.3456, 7), "  12.35");
  EXPECT_EQ(formatFloat(12345.6, 7), "12345.6");
  EXPECT_EQ(formatFloat(123456.7, 7), " 123457");
  EXPECT_EQ(formatFloat(0.0, 6), "  0.00");
  EXPECT_EQ(formatFloat(1234.5, 6), "1234.5");
  EXPECT_EQ(formatFloat(12345678.0, 7), "1.2e+07");
}

TEST(PerfHarness, HalfAndBfloat16) {
  for (int i = -2048; i <= 2048; ++i) {
    EXPECT_EQ(halfToFloat(floatToHalf(static_cast<float>(i))), static_cast<float>(i));
  }
  for (int i = -256; i <= 256; ++i) {
    EXPECT_EQ(bfloat16ToFloat(floatToBfloat16(static_cast<float>(i))), static_cast<float>(i));
  }
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65536.0f), 0x7c00);
  EXPECT_EQ(floatToHalf(2049.0f), floatToHalf(2048.0f));  // ties to even
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBfloat16(257.0f), floatToBfloat16(256.0f));
}

TEST(PerfHarness, ParseOptions) {
  Options o = parse({"/x/y/reduce_scatter_perf", "-d", "all", "-o", "max"});
  EXPECT_EQ(o.coll, Collective::kReduceScatter);
  EXPECT_EQ(o.type, -1);
  EXPECT_EQ(o.op, static_cast<int>(RedOp::kMax));
  EXPECT_EQ(o.program, "reduce_scatter_perf");

  o = parse({"braid-perf", "--coll", "broadcast", "-r", "all", "-d", "bf16", "-J", "x.csv"});
  EXPECT_EQ(o.coll, Collective::kBroadcast);
  EXPECT_EQ(o.root, -1);
  EXPECT_EQ(o.type, static_cast<int>(DataType::kBfloat16));
  EXPECT_EQ(o.outputFile, "x.csv");

  o = parse({"braid-perf", "--coll=all_gather", "-z", "1", "-G", "5", "-w", "3", "-N", "2"});
  EXPECT_EQ(o.coll, Collective::kAllGather);
  EXPECT_EQ(o.warmupIters, 3);
  EXPECT_EQ(o.runCycles, 2);

  o = parse({"braid-perf"});
  EXPECT_EQ(o.coll, Collective::kAllReduce);
  EXPECT_EQ(o.minBytes, 32u << 20);
  EXPECT_EQ(o.maxBytes, 32u << 20);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmupIters, 1);
  EXPECT_EQ(o.check, 1);
  EXPECT_EQ(o.average, 1);
  EXPECT_EQ(o.type, static_cast<int>(DataType::kFloat));
  EXPECT_EQ(o.op, static_cast<int>(RedOp::kSum));

  for (std::vector<std::string> bad :
       {std::vector<std::string>{"braid-perf", "-d", "complex"},
        std::vector<std::string>{"braid-perf", "-o", "mulsum"},
        std::vector<std::string>{"braid-perf", "--coll", "alltoall"},
        std::vector<std::string>{"braid-perf", "-b", "1M", "-e", "1K"},
        std::vector<std::string>{"braid-perf", "-q", "1"},
        std::vector<std::string>{"braid-perf", "-g", "2"},
        std::vector<std::string>{"braid-perf", "stray"}}) {
    std::vector<char*> argv;
    for (std::string& a : bad) argv.push_back(a.data());
    argv.push_back(nullptr);
    Options opts;
    std::string error;
    EXPECT_EQ(parseOptions(static_cast<int>(bad.size()), argv.data(), &opts, &error),
              ParseResult::kError)
        << bad[1];
    EXPECT_FALSE(error.empty());
  }
}

TEST(PerfHarness, TakeLongOption) {
  std::vector<std::string> args = {"gloo-perf", "-b", "8",  "--gloo-algo",
                                   "bcube",     "-e", "1M", "--gloo-iface=lo"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  std::string value;
  EXPECT_TRUE(takeLongOption(&argc, argv.data(), "gloo-algo", &value));
  EXPECT_EQ(value, "bcube");
  EXPECT_TRUE(takeLongOption(&argc, argv.data(), "gloo-iface", &value));
  EXPECT_EQ(value, "lo");
  EXPECT_FALSE(takeLongOption(&argc, argv.data(), "absent", &value));
  ASSERT_EQ(argc, 5);
  EXPECT_STREQ(argv[3], "-e");
  EXPECT_EQ(argv[5], nullptr);
}

TEST(PerfHarness, ReductionKernels) {
  int8_t a[3] = {100, -5, 7};
  const int8_t b[3] = {100, 3, 7};
  reduceInto(a, b, 3, DataType::kInt8, RedOp::kSum);  // wraps, no UB
  EXPECT_EQ(a[0], static_cast<int8_t>(-56));
  EXPECT_EQ(a[1], -2);
  int32_t c[2] = {7, -7};
  divideByRanks(c, 2, DataType::kInt32, 2);
  EXPECT_EQ(c[0], 3);
  EXPECT_EQ(c[1], -3);  // toward zero
  uint16_t h[1] = {floatToHalf(3.0f)};
  const uint16_t h2[1] = {floatToHalf(5.0f)};
  reduceInto(h, h2, 1, DataType::kHalf, RedOp::kProd);
  EXPECT_EQ(halfToFloat(h[0]), 15.0f);
}

// ---- whole runs -------------------------------------------------------------------------------

TEST(PerfHarness, TableAndCheckForEveryCollective) {
  for (const char* coll : {"allreduce", "reducescatter", "allgather", "broadcast", "reduce"}) {
    SCOPED_TRACE(coll);
    const Options opts = parse({"braid-perf", "--coll", coll, "-b", "8", "-e", "64K", "-f", "8",
                                "-n", "2", "-w", "1", "-d", "all", "-o", "all", "-r", "all"});
    const RunOutput out = runGroup(3, opts);
    for (int s : out.status) EXPECT_EQ(s, 0);
    EXPECT_NE(out.stdoutText.find("# Out of bounds values : 0 OK"), std::string::npos)
        << out.stdoutText;
    EXPECT_NE(out.stdoutText.find("# Avg bus bandwidth    : "), std::string::npos);
    EXPECT_NE(out.stdoutText.find("# nThread 1 nGpus 1 minBytes 8 maxBytes 65536 step: 8(factor)"
                                  " warmup iters: 1 iters: 2 agg iters: 1 validation: 1 graph: 0"),
              std::string::npos);
    EXPECT_NE(out.stdoutText.find("#  Rank  2 Group  0 Pid"), std::string::npos);
    const Collective c = [&] {
      Collective x;
      parseCollective(coll, &x);
      return x;
    }();
    const size_t ops = collectiveHasOp(c) ? 5 : 1;
    const size_t roots = collectiveHasRoot(c) ? 3 : 1;
    const std::vector<std::string> rows = dataRows(out.stdoutText);
    ASSERT_EQ(rows.size(), 10 * ops * roots * 5) << out.stdoutText;  // 8 64 512 4K 32K
  }
}

TEST(PerfHarness, RowFieldsAndSizes) {
  const Options opts =
      parse({"all_gather_perf", "-b", "8", "-e", "1K", "-f", "2", "-n", "1", "-d", "float"});
  const RunOutput out = runGroup(2, opts);
  const std::vector<std::string> rows = dataRows(out.stdoutText);
  ASSERT_EQ(rows.size(), 8u);  // 8 16 32 64 128 256 512 1024
  // 8 bytes of float over 2 ranks: 1 element each, rounded down to 16 bytes -> 0.
  std::vector<std::string> f = split(rows[0]);
  ASSERT_EQ(f.size(), 13u);
  EXPECT_EQ(f[0], "0");
  EXPECT_EQ(f[1], "0");
  EXPECT_EQ(f[2], "float32");  // -d float is an alias; the table prints the C API name
  EXPECT_EQ(f[3], "none");
  EXPECT_EQ(f[4], "-1");
  EXPECT_EQ(f[8], "0");
  EXPECT_EQ(f[12], "0");
  // 1 KiB: 128 floats per rank, total 1024 bytes printed.
  f = split(rows[7]);
  EXPECT_EQ(f[0], "1024");
  EXPECT_EQ(f[1], "128");
}

TEST(PerfHarness, WrongValuesAreCountedAndFail) {
  const Options opts = parse({"braid-perf", "-b", "1K", "-e", "1K", "-n", "1"});
  const RunOutput out = runGroup(2, opts, /*corrupt=*/true);
  for (int s : out.status) EXPECT_EQ(s, 1);
  const std::vector<std::string> rows = dataRows(out.stdoutText);
  ASSERT_EQ(rows.size(), 1u);
  const std::vector<std::string> f = split(rows[0]);
  EXPECT_EQ(f[8], "1");
  EXPECT_EQ(f[12], "1");
  EXPECT_NE(out.stdoutText.find("# Out of bounds values : 2 FAILED"), std::string::npos)
      << out.stdoutText;
}

TEST(PerfHarness, NoCheckPrintsNA) {
  const Options opts = parse({"braid-perf", "-b", "64", "-e", "64", "-n", "1", "-c", "0"});
  const RunOutput out = runGroup(2, opts, /*corrupt=*/true);
  for (int s : out.status) EXPECT_EQ(s, 0);
  const std::vector<std::string> f = split(dataRows(out.stdoutText).at(0));
  EXPECT_EQ(f[8], "N/A");
  EXPECT_EQ(f[12], "N/A");
}

TEST(PerfHarness, JsonAndCsvOutput) {
  char dir[] = "/tmp/braid_perf_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string json = std::string(dir) + "/out.json";
  const std::string csv = std::string(dir) + "/out.csv";
  for (const std::string& file : {json, csv}) {
    const Options opts =
        parse({"braid-perf", "-b", "64", "-e", "256", "-f", "2", "-n", "1", "-J", file});
    const RunOutput out = runGroup(2, opts);
    for (int s : out.status) EXPECT_EQ(s, 0);
  }
  std::ifstream j(json);
  const std::string js((std::istreambuf_iterator<char>(j)), std::istreambuf_iterator<char>());
  EXPECT_NE(js.find("\"backend\": \"fake\""), std::string::npos) << js;
  EXPECT_NE(js.find("\"nranks\": 2"), std::string::npos);
  EXPECT_NE(js.find("{\"bytes\": 256, \"count\": 64, \"type\": \"float32\", \"op\": \"sum\""),
            std::string::npos)
      << js;
  EXPECT_NE(js.find("\"oop_wrong\": 0"), std::string::npos);
  std::ifstream c(csv);
  std::string header;
  std::getline(c, header);
  EXPECT_EQ(header.rfind("backend,collective,nranks,bytes,count,type,op,root,oop_time_us", 0), 0u);
  int lines = 0;
  for (std::string line; std::getline(c, line);) ++lines;
  EXPECT_EQ(lines, 3);
  std::remove(json.c_str());
  std::remove(csv.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace braid::perf
