// Bootstrap robustness and launcher environments: strangers at the root's port (port scanners,
// garbage, huge length prefixes, an impostor with the wrong secret), duplicate / missing ranks,
// mismatched nranks, and braidCommInitFromEnv under torchrun, Open MPI, Slurm and braid-run
// variables.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";
constexpr const char* kOtherSecret = "fedcba9876543210fedcba9876543210";

void SetEnv(const std::string& k, const std::string& v) { ::setenv(k.c_str(), v.c_str(), 1); }

// Waits for one byte on fd, up to `seconds`.
bool WaitByte(int fd, double seconds) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(seconds * 1000)) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) == 1;
}

int ConnectWithRetry(int port, double seconds) {
  auto t0 = std::chrono::steady_clock::now();
  while (SecondsSince(t0) < seconds) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// Sends as much of data as the peer takes within `seconds` (non-blocking).
void SendSome(int fd, const std::vector<unsigned char>& data, double seconds) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  size_t off = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (off < data.size() && SecondsSince(t0) < seconds) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 20);
    } else {
      return;  // the root closed it: fine
    }
  }
}

std::vector<unsigned char> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

enum class Stranger {
  kConnectAndClose,
  kSilent,
  kGarbage,
  kMegabyte,
  kHugeLength,
  kHttp,
  kAll,
};

const char* StrangerName(Stranger s) {
  switch (s) {
    case Stranger::kConnectAndClose:
      return "ConnectAndClose";
    case Stranger::kSilent:
      return "Silent";
    case Stranger::kGarbage:
      return "Garbage";
    case Stranger::kMegabyte:
      return "OneMegabyteOfGarbage";
    case Stranger::kHugeLength:
      return "HugeLengthPrefix";
    case Stranger::kHttp:
      return "HttpRequest";
    case Stranger::kAll:
      return "AllAtOnce";
  }
  return "?";
}

// Opens the strangers' connections to the root (retrying until it listens); returns the fds to
// keep open. Adds nothing to the test's failures (the strangers are adversaries, not checks).
std::vector<int> OpenStrangers(Stranger kind, int port) {
  std::vector<int> keep;
  auto one = [&](Stranger s) {
    if (s == Stranger::kConnectAndClose) {
      for (int i = 0; i < 5; ++i) {
        int fd = ConnectWithRetry(port, 15);
        if (fd >= 0) ::close(fd);
      }
      return;
    }
    int fd = ConnectWithRetry(port, 15);
    if (fd < 0) return;
    keep.push_back(fd);
    switch (s) {
      case Stranger::kGarbage:
        SendSome(fd, RandomBytes(100, 1), 1);
        break;
      case Stranger::kMegabyte:
        SendSome(fd, RandomBytes(1 << 20, 2), 2);
        break;
      case Stranger::kHugeLength: {
        std::vector<unsigned char> huge(8, 0xff);
        SendSome(fd, huge, 1);
        int fd2 = ConnectWithRetry(port, 15);
        if (fd2 >= 0) {
          keep.push_back(fd2);
          std::vector<unsigned char> len = {0x7f, 0xff, 0xff, 0xf0, 'B', 'R', 'I', 'D'};
          SendSome(fd2, len, 1);
        }
        break;
      }
      case Stranger::kHttp: {
        const char* req = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
        SendSome(fd, std::vector<unsigned char>(req, req + std::strlen(req)), 1);
        break;
      }
      default:
        break;
    }
  };
  if (kind == Stranger::kAll) {
    for (Stranger s :
         {Stranger::kSilent, Stranger::kConnectAndClose, Stranger::kGarbage, Stranger::kMegabyte,
          Stranger::kHugeLength, Stranger::kHttp, Stranger::kSilent}) {
      one(s);
    }
  } else {
    one(kind);
  }
  return keep;
}

class Strangers : public ::testing::TestWithParam<Stranger> {};

// Rank 0 starts and listens; the strangers connect to it; only then do ranks 1 and 2 start.
// The real ranks must init (quickly: a silent stranger must not cost a timeout) and AllReduce.
TEST_P(Strangers, RealRanksStillInit) {
  const Stranger kind = GetParam();
  const int port = FindFreePort();
  ASSERT_GT(port, 0);
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  RunOptions opts;
  opts.init_comm = false;
  opts.clear_launcher_env = true;
  opts.timeout_ms = 50000;
  opts.env = {{"BRAID_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)},
              {"BRAID_SECRET", kSecret},
              {"BRAID_NRANKS", "3"},
              {"BRAID_TIMEOUT_MS", "20000"}};
  opts.parent_thread = [&](const std::vector<pid_t>&, const std::atomic<bool>& finished) {
    std::vector<int> keep = OpenStrangers(kind, port);
    char bytes[2] = {'g', 'g'};
    if (::write(go[1], bytes, 2) != 2) return;
    while (!finished) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (int fd : keep) ::close(fd);
  };
  RunRanks(
      3,
      [&](RankContext& ctx) {
        if (ctx.rank != 0) {
          BT_CHECK(ctx, WaitByte(go[0], 30)) << "the strangers never got to connect";
        }
        SetEnv("BRAID_RANK", std::to_string(ctx.rank));
        SetEnv("BRAID_LOCAL_RANK", std::to_string(ctx.rank));
        SetEnv("BRAID_LOCAL_SIZE", "3");
        auto t0 = std::chrono::steady_clock::now();
        braidResult_t r = braidCommInitFromEnv(&ctx.comm);
        BT_CHECK(ctx, r == braidSuccess)
            << "init with " << StrangerName(kind) << " strangers: " << ResultName(r) << ": "
            << LastError(nullptr);
        if (r != braidSuccess) {
          ctx.comm = nullptr;
          return;
        }
        BT_CHECK(ctx, SecondsSince(t0) < 10)
            << "init took " << SecondsSince(t0) << " s with " << StrangerName(kind)
            << " strangers at the root's port";
        SanityAllReduce(ctx, ctx.comm, 10007, 1, "after init with strangers");
        BT_CHECK_OK(ctx, braidCommDestroy(ctx.comm));
      },
      opts);
  ::close(go[0]);
  ::close(go[1]);
}

INSTANTIATE_TEST_SUITE_P(Kinds, Strangers,
                         ::testing::Values(Stranger::kConnectAndClose, Stranger::kSilent,
                                           Stranger::kGarbage, Stranger::kMegabyte,
                                           Stranger::kHugeLength, Stranger::kHttp, Stranger::kAll),
                         [](const ::testing::TestParamInfo<Stranger>& i) {
                           return std::string(StrangerName(i.param));
                         });

// A Braid process with the wrong secret claims rank 1 before the real rank 1 arrives: it must be
// refused, and the real ranks must init and work.
TEST(Bootstrap, ImpostorWithWrongSecretIsRefused) {
  const int port = FindFreePort();
  ASSERT_GT(port, 0);
  RunOptions opts;
  opts.init_comm = false;
  opts.clear_launcher_env = true;
  opts.timeout_ms = 50000;
  opts.env = {{"BRAID_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)},
              {"BRAID_NRANKS", "3"},
              {"BRAID_TIMEOUT_MS", "15000"}};
  RunRanks(
      4,
      [&](RankContext& ctx) {
        const bool impostor = ctx.rank == 3;
        SetEnv("BRAID_RANK", impostor ? "1" : std::to_string(ctx.rank));
        SetEnv("BRAID_SECRET", impostor ? kOtherSecret : kSecret);
        if (impostor) SetEnv("BRAID_TIMEOUT_MS", "4000");
        // Let the impostor go first (the outcome must be the same in any order).
        if (ctx.rank == 1 || ctx.rank == 2) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        auto t0 = std::chrono::steady_clock::now();
        braidComm_t comm = nullptr;
        braidResult_t r = braidCommInitFromEnv(&comm);
        if (impostor) {
          BT_CHECK(ctx, r != braidSuccess) << "an impostor with the wrong secret was accepted";
          BT_CHECK(ctx, SecondsSince(t0) < 4 + 10) << "impostor init took " << SecondsSince(t0);
          if (r == braidSuccess) braidCommAbort(comm);
          return;
        }
        BT_CHECK(ctx, r == braidSuccess)
            << "real rank init: " << ResultName(r) << ": " << LastError(nullptr);
        if (r != braidSuccess) return;
        SanityAllReduce(ctx, comm, 1001, 3, "after the impostor was refused");
        BT_CHECK_RESULT(ctx, braidCommDestroy(comm), braidSuccess, nullptr);
      },
      opts);
}

// Every child calls braidCommInitRank(comm, nranks[child], id, rank[child]) with a short
// timeout and must get an error (not success) in time, with a message that mentions `keyword`.
void ExpectInitFailures(const std::vector<int>& ranks, const std::vector<int>& nranks,
                        int timeout_ms, const std::string& keyword,
                        const std::vector<int>& must_name = {}) {
  RunOptions opts;
  opts.init_comm = false;
  opts.timeout_ms = timeout_ms + 30000;
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(timeout_ms)}};
  RunRanks(
      static_cast<int>(ranks.size()),
      [&](RankContext& ctx) {
        const int rank = ranks[static_cast<size_t>(ctx.rank)];
        const int n = nranks[static_cast<size_t>(ctx.rank)];
        auto t0 = std::chrono::steady_clock::now();
        braidComm_t comm = nullptr;
        braidResult_t r = braidCommInitRank(&comm, n, ctx.ids[0], rank);
        const double took = SecondsSince(t0);
        const std::string msg = LastError(nullptr);
        ctx.Record("result", ResultName(r));
        ctx.Record("message", msg);
        ctx.Record("seconds", std::to_string(took));
        BT_CHECK(ctx, r != braidSuccess)
            << "braidCommInitRank(nranks=" << n << ", rank=" << rank << ") succeeded";
        if (r == braidSuccess) {
          braidCommAbort(comm);
          return;
        }
        BT_CHECK(ctx, took < timeout_ms / 1000.0 + 10)
            << "the error took " << took << " s (BRAID_TIMEOUT_MS=" << timeout_ms << ")";
        BT_CHECK(ctx, ContainsIgnoreCase(msg, keyword))
            << "claimed rank " << rank << " of " << n << ": " << ResultName(r)
            << ", message does not mention \"" << keyword << "\": " << msg;
        // must_name[i]: the rank child i's message must name, never its own (every message
        // starts with "rank <own rank>:", so its own would prove nothing).
        if (static_cast<size_t>(ctx.rank) < must_name.size()) {
          const int other = must_name[static_cast<size_t>(ctx.rank)];
          BT_CHECK(ctx, other != rank)
              << "test bug: child " << ctx.rank << " must name another rank";
          BT_CHECK(ctx, NamesRank(msg, other))
              << "claimed rank " << rank << ": the message does not name rank " << other << ": "
              << msg;
        }
      },
      opts);
}

TEST(Bootstrap, DuplicateRankFailsEveryone) {
  // Two children claim rank 1 of 3; nobody claims rank 2.
  ExpectInitFailures({0, 1, 1}, {3, 3, 3}, 5000, "duplicate rank 1");
}

// Each side names the other rank.
TEST(Bootstrap, MismatchedNranksFails) {
  ExpectInitFailures({0, 1}, {2, 3}, 5000, "mismatched nranks", {1, 0});
}

TEST(Bootstrap, MismatchedNranksOtherWayFails) {
  ExpectInitFailures({0, 1}, {3, 2}, 5000, "mismatched nranks", {1, 0});
}

TEST(Bootstrap, MissingRankTimesOutNamingIt) {
  // 3 ranks expected, only 0 and 1 start.
  ExpectInitFailures({0, 1}, {3, 3}, 3000, "missing rank", {2, 2});
}

// ---- braidCommInitFromEnv under launchers --------------------------------------------------

using EnvFn = std::function<std::vector<std::pair<std::string, std::string>>(int rank, int n)>;

void ExpectEnvInitWorks(int n, const EnvFn& env_for, const char* launcher) {
  RunOptions opts;
  opts.init_comm = false;
  opts.clear_launcher_env = true;
  opts.timeout_ms = 40000;
  RunRanks(
      n,
      [&](RankContext& ctx) {
        for (const auto& [k, v] : env_for(ctx.rank, ctx.nranks)) SetEnv(k, v);
        SetEnv("BRAID_TIMEOUT_MS", "20000");
        braidResult_t r = braidCommInitFromEnv(&ctx.comm);
        BT_CHECK(ctx, r == braidSuccess)
            << launcher << " environment: braidCommInitFromEnv: " << ResultName(r) << ": "
            << LastError(nullptr);
        if (r != braidSuccess) {
          ctx.comm = nullptr;
          return;
        }
        int count = -1, me = -1;
        BT_CHECK_OK(ctx, braidCommCount(ctx.comm, &count));
        BT_CHECK_OK(ctx, braidCommUserRank(ctx.comm, &me));
        BT_CHECK(ctx, count == ctx.nranks) << launcher << ": count " << count;
        BT_CHECK(ctx, me == ctx.rank) << launcher << ": rank " << me;
        SanityAllReduce(ctx, ctx.comm, 4099, 11, std::string("under ") + launcher);
        BT_CHECK_OK(ctx, braidCommDestroy(ctx.comm));
      },
      opts);
}

TEST(EnvInit, Torchrun) {
  // torch.distributed's store owns MASTER_PORT; Braid's rendezvous is at MASTER_PORT + 1.
  const int port = FindFreePortPair();
  ASSERT_GT(port, 0);
  int store = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::bind(store, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(store, 16), 0);
  ExpectEnvInitWorks(
      3,
      [port](int rank, int n) {
        return std::vector<std::pair<std::string, std::string>>{
            {"RANK", std::to_string(rank)},
            {"WORLD_SIZE", std::to_string(n)},
            {"LOCAL_RANK", std::to_string(rank)},
            {"LOCAL_WORLD_SIZE", std::to_string(n)},
            {"GROUP_RANK", "0"},
            {"MASTER_ADDR", "127.0.0.1"},
            {"MASTER_PORT", std::to_string(port)},
            {"TORCHELASTIC_RUN_ID", "braid-it"}};
      },
      "torchrun");
  ::close(store);
}

TEST(EnvInit, OpenMpi) {
  const int port = FindFreePort();
  ASSERT_GT(port, 0);
  ExpectEnvInitWorks(
      3,
      [port](int rank, int n) {
        return std::vector<std::pair<std::string, std::string>>{
            {"OMPI_COMM_WORLD_RANK", std::to_string(rank)},
            {"OMPI_COMM_WORLD_SIZE", std::to_string(n)},
            {"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(rank)},
            {"OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(n)},
            {"BRAID_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)}};
      },
      "Open MPI");
}

TEST(EnvInit, Slurm) {
  const int port = FindFreePort();
  ASSERT_GT(port, 0);
  ExpectEnvInitWorks(
      3,
      [port](int rank, int n) {
        return std::vector<std::pair<std::string, std::string>>{
            {"SLURM_PROCID", std::to_string(rank)},
            {"SLURM_NTASKS", std::to_string(n)},
            {"SLURM_LOCALID", std::to_string(rank)},
            {"SLURM_JOB_ID", "4242"},
            {"BRAID_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)}};
      },
      "Slurm");
}

TEST(EnvInit, BraidRunVariables) {
  const int port = FindFreePort();
  ASSERT_GT(port, 0);
  ExpectEnvInitWorks(
      2,
      [port](int rank, int n) {
        return std::vector<std::pair<std::string, std::string>>{
            {"BRAID_RANK", std::to_string(rank)},
            {"BRAID_NRANKS", std::to_string(n)},
            {"BRAID_LOCAL_RANK", std::to_string(rank)},
            {"BRAID_LOCAL_SIZE", std::to_string(n)},
            {"BRAID_SECRET", kSecret},
            {"BRAID_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)}};
      },
      "braid-run");
}

// A misconfigured environment fails fast with a message that says what to set.
void ExpectEnvInitError(const std::vector<std::pair<std::string, std::string>>& env,
                        const std::vector<std::string>& any_keyword, const char* what) {
  RunOptions opts;
  opts.init_comm = false;
  opts.clear_launcher_env = true;
  opts.timeout_ms = 30000;
  opts.env = env;
  RunRanks(
      1,
      [&](RankContext& ctx) {
        auto t0 = std::chrono::steady_clock::now();
        braidComm_t comm = nullptr;
        braidResult_t r = braidCommInitFromEnv(&comm);
        BT_CHECK(ctx, r != braidSuccess) << what << ": braidCommInitFromEnv succeeded";
        if (r == braidSuccess) {
          braidCommDestroy(comm);
          return;
        }
        BT_CHECK(ctx, SecondsSince(t0) < 5) << what << ": the error took " << SecondsSince(t0);
        const std::string msg = LastError(nullptr);
        bool ok = false;
        for (const auto& k : any_keyword) ok = ok || msg.find(k) != std::string::npos;
        BT_CHECK(ctx, ok) << what << ": " << ResultName(r)
                          << ", the message does not say what to set: \"" << msg << "\"";
      },
      opts);
}

TEST(EnvInit, NothingSetSaysWhatToSet) {
  ExpectEnvInitError({}, {"BRAID_ROOT_ADDR", "MASTER_ADDR", "BRAID_RANK"}, "empty environment");
}

TEST(EnvInit, RankWithoutAddressSaysWhatToSet) {
  ExpectEnvInitError({{"RANK", "0"}, {"WORLD_SIZE", "2"}}, {"BRAID_ROOT_ADDR", "MASTER_ADDR"},
                     "RANK and WORLD_SIZE only");
}

TEST(EnvInit, AddressWithoutRankSaysWhatToSet) {
  ExpectEnvInitError({{"BRAID_ROOT_ADDR", "127.0.0.1:1"}},
                     {"BRAID_RANK", "RANK", "BRAID_NRANKS", "WORLD_SIZE"}, "BRAID_ROOT_ADDR only");
}

TEST(EnvInit, MalformedSecretIsRejected) {
  ExpectEnvInitError({{"BRAID_ROOT_ADDR", "127.0.0.1:1"},
                      {"BRAID_RANK", "0"},
                      {"BRAID_NRANKS", "2"},
                      {"BRAID_SECRET", "not-hex"}},
                     {"BRAID_SECRET"}, "BRAID_SECRET=not-hex");
}

TEST(EnvInit, MalformedRootAddrIsRejected) {
  ExpectEnvInitError({{"BRAID_ROOT_ADDR", "no-port-here"},
                      {"BRAID_RANK", "0"},
                      {"BRAID_NRANKS", "2"},
                      {"BRAID_SECRET", kSecret}},
                     {"BRAID_ROOT_ADDR"}, "BRAID_ROOT_ADDR=no-port-here");
}

}  // namespace
}  // namespace braidtest
