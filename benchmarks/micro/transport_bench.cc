// Transports, one Connection between two ranks: ping-pong latency and streaming bandwidth.
//
//   BM_PingPong/<transport>/<bytes>     rank 0 sends <bytes>, rank 1 sends them back; one_way_us
//                                       is half the round trip (8 B .. 64 KiB)
//   BM_Stream/<transport>/<bytes>       rank 0 sends messages of <bytes> back to back, rank 1
//                                       receives them; the last iteration waits for rank 1's
//                                       1-byte acknowledgement of the whole stream, so every
//                                       byte counted has arrived (64 KiB .. 64 MiB)
//   BM_StreamBidir/<transport>/<bytes>  both ranks send and receive <bytes> per iteration at once
//   BM_RawTcpPingPong/<bytes>           baseline: blocking send()/recv() on one loopback TCP
//                                       socket pair (TCP_NODELAY), no Braid code, same protocol
//
// The two ranks are two threads of this process, each with its own Bootstrap (a full
// authenticated rendezvous on loopback) and its own Transport, connected once and reused by
// every benchmark (nothing in Braid is global, so this is what two processes would do, minus
// the process boundary). Each side waits as the communicator does (progress, a few yielding
// spins, then poll()), so the figures are what a collective sees from the transport.
// GB/s counters are decimal (1e9 bytes/s): per_dir_GBps counts the bytes one direction carried,
// total_GBps both directions. Times are wall-clock (UseRealTime).
//
// Placement (BRAID_BENCH_PIN): where the two ranks' threads run decides the result on a VM, so
// it is fixed. "spread" (default): rank 0 on the first allowed CPU, rank 1 on the second, as two
// busy processes on two cores usually end up; "same": both on the first CPU (every message is
// a hand-off on one core); "none": the scheduler decides (and may change its mind between runs:
// a cross-CPU wake-up of a sleeping thread costs tens of microseconds under KVM, a same-CPU one
// a few). The choice is printed in the context block (and the JSON) as "pinning".
//
// Transports: "socket" (TCP loopback, BRAID_SOCKET_* variables apply). A new transport adds a
// line to kTransports.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/config.h"
#include "core/socket_io.h"
#include "transports/socket/socket_transport.h"
#include "transports/transport.h"

namespace braid {
namespace {

using TransportFactory =
    std::function<std::unique_ptr<Transport>(Bootstrap* bootstrap, const Config& config)>;

struct TransportEntry {
  const char* name;
  TransportFactory make;
};

const std::vector<TransportEntry>& transports() {
  static const std::vector<TransportEntry> kTransports = {
      {"socket",
       [](Bootstrap* b, const Config& c) { return std::make_unique<SocketTransport>(b, c, -1); }},
  };
  return kTransports;
}

[[noreturn]] void die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "transport_bench: %s: %s\n", what.c_str(), s.message().c_str());
  std::exit(2);
}

// CPUs for rank 0 and rank 1 (-1: leave to the scheduler), from BRAID_BENCH_PIN.
struct Placement {
  std::string mode = "spread";
  int cpu[2] = {-1, -1};
};

const Placement& placement() {
  static const Placement kPlacement = [] {
    Placement p;
    const char* env = std::getenv("BRAID_BENCH_PIN");  // NOLINT(concurrency-mt-unsafe)
    if (env != nullptr && *env != 0) p.mode = env;
    if (p.mode != "spread" && p.mode != "same" && p.mode != "none") {
      std::fprintf(stderr, "transport_bench: BRAID_BENCH_PIN=%s: use spread, same or none\n", env);
      std::exit(2);
    }
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (p.mode == "none" || sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
      p.mode = "none";
      return p;
    }
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
    if (cpus.empty()) {
      p.mode = "none";
      return p;
    }
    p.cpu[0] = cpus[0];
    p.cpu[1] = p.mode == "same" || cpus.size() < 2 ? cpus[0] : cpus[1];
    if (p.mode == "spread" && cpus.size() < 2) p.mode = "same (one CPU allowed)";
    return p;
  }();
  return kPlacement;
}

// Pins the calling thread where rank `rank` runs.
void placeRank(int rank) {
  const int cpu = placement().cpu[rank];
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

std::string placementText() {
  const Placement& p = placement();
  if (p.cpu[0] < 0) return p.mode;
  return p.mode + ": rank 0 on CPU " + std::to_string(p.cpu[0]) + ", rank 1 on CPU " +
         std::to_string(p.cpu[1]);
}

// Two ranks, one connection each way, set up once per transport.
struct Pair {
  std::unique_ptr<Bootstrap> bootstrap[2];
  std::unique_ptr<Transport> transport[2];
  std::unique_ptr<Connection> conn[2];
};

Pair* connectPair(const TransportEntry& t) {
  SocketAddress any;
  Status s = SocketAddress::parse("127.0.0.1:0", 4, &any);
  if (!s) die("address", s);
  Fd probe;
  SocketAddress root;
  s = listenOn(any, &probe, &root);  // a free port; closed here, rank 0 binds it again
  if (!s) die("listen", s);
  probe = Fd();
  Config config;
  s = Config::fromEnv(&config);
  if (!s) die("config", s);
  config.timeoutMs = 60000;
  auto* p = new Pair();  // lives until exit: benchmarks reuse it
  Status st[2];
  std::thread ranks[2];
  for (int r = 0; r < 2; ++r) {
    ranks[r] = std::thread([&, r] {
      placeRank(r);
      BootstrapParams bp;
      bp.rank = r;
      bp.nranks = 2;
      bp.root = root;
      bp.secret.fill(0x5a);
      bp.timeoutMs = 60000;
      st[r] = Bootstrap::create(bp, &p->bootstrap[r]);
      if (!st[r]) return;
      p->transport[r] = t.make(p->bootstrap[r].get(), config);
      std::vector<std::unique_ptr<Connection>> conns;
      st[r] = p->transport[r]->connect({1 - r}, &conns);
      if (st[r]) p->conn[r] = std::move(conns[0]);
    });
  }
  ranks[0].join();
  ranks[1].join();
  for (int r = 0; r < 2; ++r) {
    if (!st[r]) die(std::string(t.name) + " rank " + std::to_string(r), st[r]);
  }
  return p;
}

Pair& pair(const TransportEntry& t) {
  static std::map<std::string, Pair*> pairs;  // touched only by the benchmark's main thread
  Pair*& p = pairs[t.name];
  if (p == nullptr) p = connectPair(t);
  return *p;
}

// The communicator's wait: progress; if nothing moved, up to 32 yielding spins, then poll().
void waitFor(Connection* c, uint64_t sendTicket, uint64_t recvTicket) {
  constexpr int kSpinRounds = 32;
  int spins = 0;
  std::vector<pollfd> fds;
  for (;;) {
    bool moved = false;
    Status s = c->progress(&moved);
    if (!s) die("progress", s);
    if (c->sendsDone() >= sendTicket && c->recvsDone() >= recvTicket) return;
    if (moved) {
      spins = 0;
      continue;
    }
    if (++spins < kSpinRounds) {
      sched_yield();
      continue;
    }
    spins = 0;
    fds.clear();
    c->appendPollFds(&fds);
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) {
      die("poll", systemError(errnoMessage("poll", errno)));
    }
  }
}

// Page-aligned, pre-faulted buffer.
struct Buffer {
  explicit Buffer(size_t bytes) : size(bytes == 0 ? 1 : bytes) {
    const size_t rounded = (size + 4095) / 4096 * 4096;
    data = static_cast<char*>(std::aligned_alloc(4096, rounded));
    if (data == nullptr) std::abort();
    std::memset(data, 0x3c, rounded);
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  size_t size;
  char* data;
};

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void BM_PingPong(benchmark::State& state, const TransportEntry* t) {
  Pair& p = pair(*t);
  const size_t n = static_cast<size_t>(state.range(0));
  const int64_t iters = static_cast<int64_t>(state.max_iterations);
  Buffer send0(n), recv0(n), buf1(n);
  placeRank(0);
  std::thread echo([&] {
    placeRank(1);
    Connection* c = p.conn[1].get();
    for (int64_t i = 0; i < iters; ++i) {
      const uint64_t r = c->postRecv(buf1.data, n);
      waitFor(c, 0, r);
      const uint64_t s = c->postSend(buf1.data, n);
      waitFor(c, s, 0);
    }
  });
  Connection* c = p.conn[0].get();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const uint64_t s = c->postSend(send0.data, n);
    const uint64_t r = c->postRecv(recv0.data, n);
    waitFor(c, s, r);
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start);
  echo.join();
  state.counters["one_way_us"] = elapsed * 1e6 / static_cast<double>(iters) / 2.0;
  state.counters["per_dir_GBps"] = n * static_cast<double>(iters) / elapsed / 1e9;
}

void BM_Stream(benchmark::State& state, const TransportEntry* t) {
  Pair& p = pair(*t);
  const size_t n = static_cast<size_t>(state.range(0));
  const int64_t iters = static_cast<int64_t>(state.max_iterations);
  Buffer send0(n), recv1(n);
  char ack = 0;
  placeRank(0);
  std::thread sink([&] {
    placeRank(1);
    Connection* c = p.conn[1].get();
    for (int64_t i = 0; i < iters; ++i) waitFor(c, 0, c->postRecv(recv1.data, n));
    waitFor(c, c->postSend(&ack, 1), 0);
  });
  Connection* c = p.conn[0].get();
  int64_t i = 0;
  char got = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const uint64_t s = c->postSend(send0.data, n);
    if (++i == iters) {
      waitFor(c, s, c->postRecv(&got, 1));  // everything arrived
    } else {
      waitFor(c, s, 0);  // handed to the transport; the buffer may be reused
    }
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start);
  sink.join();
  const double bytes = static_cast<double>(n) * static_cast<double>(iters);
  state.counters["per_dir_GBps"] = bytes / elapsed / 1e9;
  state.counters["total_GBps"] = bytes / elapsed / 1e9;
}

void BM_StreamBidir(benchmark::State& state, const TransportEntry* t) {
  Pair& p = pair(*t);
  const size_t n = static_cast<size_t>(state.range(0));
  const int64_t iters = static_cast<int64_t>(state.max_iterations);
  Buffer send0(n), recv0(n), send1(n), recv1(n);
  placeRank(0);
  std::thread other([&] {
    placeRank(1);
    Connection* c = p.conn[1].get();
    for (int64_t i = 0; i < iters; ++i) {
      const uint64_t r = c->postRecv(recv1.data, n);
      const uint64_t s = c->postSend(send1.data, n);
      waitFor(c, s, r);
    }
  });
  Connection* c = p.conn[0].get();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const uint64_t r = c->postRecv(recv0.data, n);
    const uint64_t s = c->postSend(send0.data, n);
    waitFor(c, s, r);  // rank 0 has received all of rank 1's bytes too
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start);
  other.join();
  const double bytes = static_cast<double>(n) * static_cast<double>(iters);
  state.counters["per_dir_GBps"] = bytes / elapsed / 1e9;
  state.counters["total_GBps"] = 2 * bytes / elapsed / 1e9;
}

// --- baseline: plain blocking TCP on loopback --------------------------------------------

void sendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) die("raw send", systemError(errnoMessage("send", errno)));
    p += k;
    n -= static_cast<size_t>(k);
  }
}

void recvAll(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) die("raw recv", systemError(errnoMessage("recv", errno)));
    p += k;
    n -= static_cast<size_t>(k);
  }
}

struct RawPair {
  int fd[2] = {-1, -1};
};

RawPair& rawPair() {
  static RawPair* raw = [] {
    auto* rp = new RawPair();
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::listen(lfd, 1) != 0 || ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      die("raw listen", systemError(errnoMessage("listen", errno)));
    }
    rp->fd[0] = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(rp->fd[0], reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      die("raw connect", systemError(errnoMessage("connect", errno)));
    }
    rp->fd[1] = ::accept(lfd, nullptr, nullptr);
    if (rp->fd[1] < 0) die("raw accept", systemError(errnoMessage("accept", errno)));
    ::close(lfd);
    const int one = 1;
    for (int fd : rp->fd) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return rp;
  }();
  return *raw;
}

void BM_RawTcpPingPong(benchmark::State& state) {
  RawPair& rp = rawPair();
  const size_t n = static_cast<size_t>(state.range(0));
  const int64_t iters = static_cast<int64_t>(state.max_iterations);
  Buffer send0(n), recv0(n), buf1(n);
  placeRank(0);
  std::thread echo([&] {
    placeRank(1);
    for (int64_t i = 0; i < iters; ++i) {
      recvAll(rp.fd[1], buf1.data, n);
      sendAll(rp.fd[1], buf1.data, n);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    sendAll(rp.fd[0], send0.data, n);
    recvAll(rp.fd[0], recv0.data, n);
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start);
  echo.join();
  state.counters["one_way_us"] = elapsed * 1e6 / static_cast<double>(iters) / 2.0;
  state.counters["per_dir_GBps"] = n * static_cast<double>(iters) / elapsed / 1e9;
}

const std::vector<int64_t> kLatencySizes = {8, 64, 512, 4 << 10, 16 << 10, 64 << 10};
const std::vector<int64_t> kBandwidthSizes = {64 << 10, 256 << 10, 1 << 20,
                                              4 << 20,  16 << 20,  64 << 20};

// Short runs: the development machine has two cores; --benchmark_min_time overrides.
constexpr double kMinTime = 0.2;

[[maybe_unused]] const bool kRegistered = [] {
  for (const TransportEntry& t : transports()) {
    auto* b = benchmark::RegisterBenchmark((std::string("BM_PingPong/") + t.name).c_str(),
                                           BM_PingPong, &t);
    for (int64_t s : kLatencySizes) b->Arg(s);
    b->UseRealTime()->MinTime(kMinTime);
    b = benchmark::RegisterBenchmark((std::string("BM_Stream/") + t.name).c_str(), BM_Stream, &t);
    for (int64_t s : kBandwidthSizes) b->Arg(s);
    b->UseRealTime()->MinTime(kMinTime);
    b = benchmark::RegisterBenchmark((std::string("BM_StreamBidir/") + t.name).c_str(),
                                     BM_StreamBidir, &t);
    for (int64_t s : kBandwidthSizes) b->Arg(s);
    b->UseRealTime()->MinTime(kMinTime);
  }
  auto* raw = benchmark::RegisterBenchmark("BM_RawTcpPingPong", BM_RawTcpPingPong);
  for (int64_t s : kLatencySizes) raw->Arg(s);
  raw->UseRealTime()->MinTime(kMinTime);
  return true;
}();

}  // namespace
}  // namespace braid

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("pinning", braid::placementText());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
