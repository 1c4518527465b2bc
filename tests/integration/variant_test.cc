// The variant runs (tests/CMakeLists.txt variant.*) set BRAID_TRANSPORT, BRAID_NCHANNELS,
// BRAID_SHM_CMA or BRAID_ALGO for a whole run of tests. A setting that silently did not take
// effect would leave those runs testing the default path under another name, so every variant
// also runs this test, which proves that what the variant names ran: three fresh ranks under
// braid-run (fresh processes: the log level is read once per process) run checked collectives
// with BRAID_DEBUG=INFO, at sizes up to past the channel split, and their log must show the
// transport, the channels, the single-copy path and the forced algorithm. Without a variant
// setting it checks the defaults (shared memory on one host, one channel, the tuner's choice).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread
  return v != nullptr ? v : "";
}

// Runs a shell command; its stdout and stderr, and its exit status.
std::string RunCommand(const std::string& cmd, int* status) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const int st = pclose(f);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

std::vector<std::string> Lines(const std::string& text, const std::string& containing) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.find(containing) != std::string::npos) out.push_back(l);
  }
  return out;
}

TEST(Variant, RunsWhatItNames) {
  const std::string transport = Env("BRAID_TRANSPORT");
  const int nchannels =
      Env("BRAID_NCHANNELS").empty() ? 1 : std::atoi(Env("BRAID_NCHANNELS").c_str());
  const bool cma = Env("BRAID_SHM_CMA") == "1";
  const std::string algo = Env("BRAID_ALGO");
  const std::string dir =
      std::string(BRAID_RUN_PATH).substr(0, std::string(BRAID_RUN_PATH).rfind('/'));
  const std::string run = std::string(BRAID_RUN_PATH) + " -n 3 ";
  const std::string perf = dir + "/../braid-perf/braid-perf";
  // 8 B .. 4 MiB: small messages, the window's oneshot and twoshot, and past the channel split
  // (3 channels split a ring AllReduce from 768 KiB). -c 1: every size checked.
  const std::string args = " -b 8 -e 4M -f 8 -n 2 -w 1 -c 1 -d float -o sum";
  int status = 0;
  const std::string out =
      RunCommand("BRAID_DEBUG=INFO " + run + perf + " --coll allreduce" + args, &status);
  ASSERT_EQ(status, 0) << out;
  ASSERT_NE(out.find("Out of bounds values : 0 OK"), std::string::npos) << out;

  // The transport: "communicator ready: ... N peer(s) over shm, M over sockets" on every rank.
  const std::regex ready(
      R"(communicator ready: rank \d+ of 3, .* (\d+) peer\(s\) over shm, (\d+) over sockets)");
  const auto readyLines = Lines(out, "communicator ready");
  ASSERT_EQ(readyLines.size(), 3u) << out;
  for (const auto& l : readyLines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(l, m, ready)) << l;
    const int overShm = std::stoi(m[1]);
    const int overSockets = std::stoi(m[2]);
    if (transport == "socket") {
      EXPECT_EQ(overShm, 0) << "BRAID_TRANSPORT=socket, but: " << l;
      EXPECT_EQ(overSockets, 2) << "BRAID_TRANSPORT=socket, but: " << l;
    } else {  // shm, or the default on one host
      EXPECT_EQ(overShm, 2) << "ranks on one host"
                            << (transport.empty() ? "" : ", BRAID_TRANSPORT=" + transport)
                            << ", but: " << l;
      EXPECT_EQ(overSockets, 0) << l;
    }
  }

  // The plan of every AllReduce size class: "AllReduce of B bytes on 3 ranks (...): ALGO..., K
  // channel(s), ...".
  const std::regex planLine(
      R"(AllReduce of (\d+) bytes on 3 ranks \([^)]*\): (\S+)( \([^)]*\))?, chunk \d+ KiB, (\d+) channels?)");
  const auto plans = Lines(out, "AllReduce of ");
  ASSERT_FALSE(plans.empty()) << "no plan in the log (BRAID_DEBUG=INFO):\n" << out;
  int split = 0;
  for (const auto& l : plans) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(l, m, planLine)) << l;
    const size_t bytes = std::stoull(m[1]);
    const int k = std::stoi(m[4]);
    if (!algo.empty()) {
      // Every AllReduce shape on 3 connected ranks can run every algorithm: it must be the one
      // forced, said as forced.
      EXPECT_EQ(m[2].str() + m[3].str(), algo + " (BRAID_ALGO)") << l;
    }
    if (k > 1) {
      ++split;
      EXPECT_EQ(k, nchannels) << l;
    }
    if (nchannels > 1 && bytes >= static_cast<size_t>(nchannels) * (256 << 10)) {
      EXPECT_EQ(k, nchannels) << "BRAID_NCHANNELS=" << nchannels << ", but " << l;
    }
  }
  if (nchannels > 1) {
    EXPECT_GT(split, 0) << "BRAID_NCHANNELS=" << nchannels << ": no AllReduce was split:\n" << out;
  } else {
    EXPECT_EQ(split, 0) << out;
  }

  if (cma) {
    const auto off = Lines(out, "cross-memory attach (process_vm_readv) is not available");
    if (!off.empty())
      GTEST_SKIP() << "BRAID_SHM_CMA=1 but single copy is unavailable here: " << off[0];
    EXPECT_EQ(Lines(out, "shm: single copy on").size(), 3u)
        << "BRAID_SHM_CMA=1, but the single-copy path is not on on every rank:\n"
        << out;
  } else {
    EXPECT_TRUE(Lines(out, "shm: single copy on").empty()) << out;
  }

  if (!algo.empty()) {
    // Broadcast: a forced algorithm runs, or the ring runs and the plan says the forced one
    // could not (rabenseifner has no Broadcast) - never a silent ring.
    const std::string bout =
        RunCommand("BRAID_DEBUG=INFO " + run + perf + " --coll broadcast" + args, &status);
    ASSERT_EQ(status, 0) << bout;
    const auto bplans = Lines(bout, "Broadcast of ");
    ASSERT_FALSE(bplans.empty()) << bout;
    for (const auto& l : bplans) {
      const bool ran = l.find(": " + algo + " (BRAID_ALGO),") != std::string::npos;
      const bool said =
          l.find(": ring (BRAID_ALGO=" + algo + " cannot run this shape),") != std::string::npos;
      EXPECT_TRUE(ran || said) << "BRAID_ALGO=" << algo << ": " << l;
    }
  }
}

}  // namespace
