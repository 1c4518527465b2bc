// braid-tune: measures the real links of a running job, searches the ring order with the best
// predicted bus bandwidth, writes it as a ring file (BRAID_RING_FILE), and measures AllReduce
// with the current ring and the tuned one, side by side in the same run.
//
// Run it like any Braid program: braid-run -n 4 braid-tune, mpirun -np 4 braid-tune, srun ...
//
// Link measurement: the tool makes its own bootstrap (from the launcher's environment) and
// connects every pair over the socket transport, the transport the communicator uses. Pairs
// are measured in rounds of a round-robin tournament (disjoint pairs at once, a barrier between
// rounds), each ordered pair by streaming --bytes --iters times and waiting for the receiver's
// acknowledgement, and the latency by 8-byte ping-pongs. Every rank ends with the same matrix
// (an allgather), so every rank computes the same ring (topo::bestRing: exact up to 9 ranks,
// 2-opt from a max-bottleneck greedy start beyond).
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/env_init.h"
#include "braid/braid.h"
#include "comm/comm_ring.h"
#include "core/config.h"
#include "core/fd.h"
#include "topo/plan.h"
#include "topo/ring_file.h"
#include "transports/socket/socket_transport.h"

namespace {

using braid::Bootstrap;
using braid::Connection;
using braid::Status;

struct Options {
  size_t bytes = size_t{4} << 20;
  int iters = 3;
  size_t busbwBytes = size_t{32} << 20;
  int busbwIters = 5;
  int rounds = 0;  // 0: all (every pair)
  std::string out = "braid-ring.txt";
  bool measureBusbw = true;
  double minGain = 1.1;  // switch rings only for a predicted gain above measurement noise
};

void usage(FILE* f) {
  std::fprintf(f,
               "usage: braid-tune [options]   (under braid-run, mpirun or srun)\n"
               "Measures every ordered pair's bandwidth and latency over the real transport,\n"
               "searches the ring with the best predicted busbw, writes it as a ring file, and\n"
               "measures AllReduce busbw with the current ring and the tuned one.\n\n"
               "  --bytes SIZE        bytes per message when measuring a link (default 4M)\n"
               "  --iters N           messages per ordered pair (default 3)\n"
               "  --rounds N          measure only the first N rounds of the pairing (a sample;\n"
               "                      unmeasured pairs count as 0.9 x the median); default: all\n"
               "  --busbw-bytes SIZE  AllReduce size for the before/after check (default 32M)\n"
               "  --busbw-iters N     AllReduce repetitions (default 5)\n"
               "  --no-busbw          skip the before/after AllReduce\n"
               "  --min-gain X        keep the current ring unless the tuned one is predicted\n"
               "                      X times faster (default 1.1: measurement noise)\n"
               "  -o, --out FILE      the ring file to write (rank 0; default braid-ring.txt)\n");
}

double nowSec() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Waits until conn's sends (or receives) reach ticket, driving every connection.
Status waitFor(std::vector<std::unique_ptr<Connection>>& conns, Connection* conn, bool send,
               uint64_t ticket, int64_t timeoutMs) {
  const double deadline = nowSec() + static_cast<double>(timeoutMs) / 1000.0;
  std::vector<pollfd> fds;
  for (;;) {
    bool moved = false;
    for (auto& c : conns) BRAID_RETURN_IF_ERROR(c->progress(&moved));
    if ((send ? conn->sendsDone() : conn->recvsDone()) >= ticket) return Status::ok();
    if (moved) continue;
    if (nowSec() > deadline) return braid::timeoutError("no progress with " + conn->description());
    fds.clear();
    for (auto& c : conns) c->appendPollFds(&fds);
    if (::poll(fds.data(), fds.size(), 100) < 0 && errno != EINTR)
      return braid::systemError(braid::errnoMessage("poll", errno));
  }
}

struct Link {
  double gbps = 0;
  double latencyUs = 0;
};

// Streams iters x bytes from `from` to `to` and waits for a one-byte acknowledgement.
Status measurePair(std::vector<std::unique_ptr<Connection>>& conns, Connection* peer, bool sender,
                   const Options& o, std::vector<char>& buf, int64_t timeoutMs, Link* out) {
  char ack = 1;
  if (sender) {
    const double t0 = nowSec();
    uint64_t last = 0;
    for (int i = 0; i < o.iters; ++i) last = peer->postSend(buf.data(), o.bytes);
    const uint64_t a = peer->postRecv(&ack, 1);
    BRAID_RETURN_IF_ERROR(waitFor(conns, peer, false, a, timeoutMs));
    BRAID_RETURN_IF_ERROR(waitFor(conns, peer, true, last, timeoutMs));
    const double t = nowSec() - t0;
    out->gbps = static_cast<double>(o.bytes) * o.iters / t / 1e9;
  } else {
    uint64_t last = 0;
    for (int i = 0; i < o.iters; ++i) last = peer->postRecv(buf.data(), o.bytes);
    BRAID_RETURN_IF_ERROR(waitFor(conns, peer, false, last, timeoutMs));
    BRAID_RETURN_IF_ERROR(waitFor(conns, peer, true, peer->postSend(&ack, 1), timeoutMs));
  }
  return Status::ok();
}

Status pingPong(std::vector<std::unique_ptr<Connection>>& conns, Connection* peer, bool first,
                int64_t timeoutMs, double* latencyUs) {
  constexpr int kRounds = 20;
  uint64_t word = 0;
  const double t0 = nowSec();
  for (int i = 0; i < kRounds; ++i) {
    if (first) {
      BRAID_RETURN_IF_ERROR(waitFor(conns, peer, true, peer->postSend(&word, 8), timeoutMs));
      BRAID_RETURN_IF_ERROR(waitFor(conns, peer, false, peer->postRecv(&word, 8), timeoutMs));
    } else {
      BRAID_RETURN_IF_ERROR(waitFor(conns, peer, false, peer->postRecv(&word, 8), timeoutMs));
      BRAID_RETURN_IF_ERROR(waitFor(conns, peer, true, peer->postSend(&word, 8), timeoutMs));
    }
  }
  *latencyUs = (nowSec() - t0) / kRounds / 2 * 1e6;
  return Status::ok();
}

// Round r of the circle method: the pairs (i, j) that meet in round r (m even, rounds m - 1).
std::vector<std::pair<int, int>> roundPairs(int n, int r) {
  const int m = n % 2 == 0 ? n : n + 1;  // a bye when odd
  std::vector<int> seat(static_cast<size_t>(m));
  seat[0] = 0;
  for (int i = 1; i < m; ++i) seat[static_cast<size_t>(i)] = 1 + (i - 1 + r) % (m - 1);
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < m / 2; ++i) {
    const int a = seat[static_cast<size_t>(i)], b = seat[static_cast<size_t>(m - 1 - i)];
    if (a < n && b < n) pairs.emplace_back(std::min(a, b), std::max(a, b));
  }
  return pairs;
}

std::string ringText(const std::vector<int>& ring) {
  std::string s;
  for (int r : ring) s += (s.empty() ? "" : " ") + std::to_string(r);
  return s;
}

// Slowest hop of a ring under the measured matrix, as "a -> b x.xxx GB/s".
std::string slowestHop(const braid::topo::BwMatrix& bw, const std::vector<int>& ring) {
  size_t worst = 0;
  const size_t n = ring.size();
  for (size_t i = 0; i < n; ++i) {
    if (bw[ring[i]][ring[(i + 1) % n]] < bw[ring[worst]][ring[(worst + 1) % n]]) worst = i;
  }
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%d -> %d at %.3f GB/s", ring[worst], ring[(worst + 1) % n],
                bw[ring[worst]][ring[(worst + 1) % n]]);
  return buf;
}

// AllReduce busbw with a fresh communicator whose ring comes from ringFile ("" = whatever the
// environment gives: BRAID_RING_FILE as the user set it, or the plan).
Status measureBusbw(Bootstrap* boot, const std::string& ringFile, bool useEnv, const Options& o,
                    double* busbw) {
  const int n = boot->nranks(), rank = boot->rank();
  std::string saved;
  const bool had = braid::getEnv("BRAID_RING_FILE", &saved);
  if (!useEnv) setenv("BRAID_RING_FILE", ringFile.c_str(), 1);
  setenv("BRAID_ALGO", "ring", 1);  // measure the ring, not direct / tree
  braidUniqueId id{};
  if (rank == 0 && braidGetUniqueId(&id) != braidSuccess)
    return braid::systemError(std::string("braidGetUniqueId: ") + braidGetLastError(nullptr));
  std::vector<uint8_t> all;
  BRAID_RETURN_IF_ERROR(boot->allgather(&id, sizeof(id), &all));
  std::memcpy(&id, all.data(), sizeof(id));  // rank 0's
  braidComm_t comm = nullptr;
  braidResult_t r = braidCommInitRank(&comm, n, id, rank);
  if (had)
    setenv("BRAID_RING_FILE", saved.c_str(), 1);
  else
    unsetenv("BRAID_RING_FILE");
  if (r != braidSuccess)
    return braid::systemError(std::string("braidCommInitRank: ") + braidGetLastError(nullptr));
  const size_t count = o.busbwBytes / sizeof(float);
  std::vector<float> buf(count, 1.0f);
  Status s = Status::ok();
  r = braidAllReduce(buf.data(), buf.data(), count, braidFloat32, braidSum, comm, nullptr);
  double elapsed = 0;
  if (r == braidSuccess) {
    s = boot->barrier();
    const double t0 = nowSec();
    for (int i = 0; i < o.busbwIters && r == braidSuccess && s; ++i)
      r = braidAllReduce(buf.data(), buf.data(), count, braidFloat32, braidSum, comm, nullptr);
    elapsed = nowSec() - t0;
  }
  if (r != braidSuccess)
    s = braid::remoteError(std::string("AllReduce: ") + braidGetLastError(comm));
  braidCommDestroy(comm);
  BRAID_RETURN_IF_ERROR(s);
  BRAID_RETURN_IF_ERROR(boot->allgather(&elapsed, sizeof(elapsed), &all));
  double slowest = 0;
  for (int i = 0; i < n; ++i) {
    double t = 0;
    std::memcpy(&t, all.data() + static_cast<size_t>(i) * sizeof(t), sizeof(t));
    slowest = std::max(slowest, t);
  }
  const double algbw = static_cast<double>(o.busbwBytes) * o.busbwIters / slowest / 1e9;
  *busbw = algbw * 2.0 * (n - 1) / n;
  return Status::ok();
}

int fail(int rank, const Status& s) {
  std::fprintf(stderr, "braid-tune: rank %d: %s\n", rank, s.message().c_str());
  return 1;
}

// Reads the command line into *o. Returns -1 to go on, else the exit status (help: 0, a bad
// option: 2).
int parseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "braid-tune: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto size = [&](size_t* out) {
      const std::string v = next();
      if (!braid::parseSize(v, out).isOk() || *out == 0 || *out > (size_t{1} << 34)) {
        std::fprintf(stderr, "braid-tune: %s %s: expected a size like 4M\n", a.c_str(), v.c_str());
        std::exit(2);
      }
    };
    auto count = [&](int* out, int lo, int hi) {
      const std::string v = next();
      *out = std::atoi(v.c_str());
      if (*out < lo || *out > hi) {
        std::fprintf(stderr, "braid-tune: %s %s: expected %d..%d\n", a.c_str(), v.c_str(), lo, hi);
        std::exit(2);
      }
    };
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "--bytes") {
      size(&o->bytes);
    } else if (a == "--iters") {
      count(&o->iters, 1, 1000);
    } else if (a == "--rounds") {
      count(&o->rounds, 1, 100000);
    } else if (a == "--busbw-bytes") {
      size(&o->busbwBytes);
      o->busbwBytes = std::max<size_t>(o->busbwBytes / 4 * 4, 4);
    } else if (a == "--busbw-iters") {
      count(&o->busbwIters, 1, 1000);
    } else if (a == "--min-gain") {
      o->minGain = std::atof(next().c_str());
      if (o->minGain < 1.0 || o->minGain > 100) {
        std::fprintf(stderr, "braid-tune: --min-gain: expected 1..100\n");
        return 2;
      }
    } else if (a == "--no-busbw") {
      o->measureBusbw = false;
    } else if (a == "-o" || a == "--out") {
      o->out = next();
    } else {
      std::fprintf(stderr, "braid-tune: unknown option '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  return -1;
}

// What this rank measured: its sending bandwidth and its latency to each rank (0 = not
// measured: itself, or a pair outside the sampled rounds).
struct MyLinks {
  std::vector<double> bw;
  std::vector<double> lat;
};

// Connects every pair over the socket transport and measures, round by round, the pairs this
// rank is in.
Status measureLinks(Bootstrap* boot, const braid::Config& config, const Options& o, MyLinks* mine) {
  const int n = boot->nranks(), rank = boot->rank();
  braid::SocketTransport transport(boot, config, -1);
  std::vector<int> peers;
  for (int p = 0; p < n; ++p) {
    if (p != rank) peers.push_back(p);
  }
  std::vector<std::unique_ptr<Connection>> conns;
  BRAID_RETURN_IF_ERROR(transport.connect(peers, &conns));
  std::vector<Connection*> to(static_cast<size_t>(n), nullptr);
  for (auto& c : conns) to[static_cast<size_t>(c->peer())] = c.get();

  const int m = n % 2 == 0 ? n : n + 1;
  const int rounds = o.rounds > 0 ? std::min(o.rounds, m - 1) : m - 1;
  mine->bw.assign(static_cast<size_t>(n), 0);
  mine->lat.assign(static_cast<size_t>(n), 0);
  std::vector<char> buf(o.bytes, 'b');
  const int64_t timeoutMs = config.timeoutMs;
  if (rank == 0) {
    std::printf("braid-tune: %d ranks; measuring %s ordered pairs (%d x %zu bytes each) over %s\n",
                n, rounds == m - 1 ? "all" : "a sample of", o.iters, o.bytes, transport.name());
    std::fflush(stdout);
  }
  for (int r = 0; r < rounds; ++r) {
    BRAID_RETURN_IF_ERROR(boot->barrier());
    for (const auto& [a, b] : roundPairs(n, r)) {
      if (rank != a && rank != b) continue;
      const int other = rank == a ? b : a;
      Connection* c = to[static_cast<size_t>(other)];
      Link l;
      // a -> b, then b -> a, then the latency.
      BRAID_RETURN_IF_ERROR(measurePair(conns, c, rank == a, o, buf, timeoutMs, &l));
      BRAID_RETURN_IF_ERROR(measurePair(conns, c, rank == b, o, buf, timeoutMs, &l));
      BRAID_RETURN_IF_ERROR(pingPong(conns, c, rank == a, timeoutMs, &l.latencyUs));
      mine->bw[static_cast<size_t>(other)] = l.gbps;
      mine->lat[static_cast<size_t>(other)] = l.latencyUs;
    }
  }
  for (auto& c : conns) c->close();
  return Status::ok();
}

// The whole job's measurements, the same on every rank.
struct Matrices {
  braid::topo::BwMatrix bw;   // row: from, column: to
  braid::topo::BwMatrix lat;  // row: who measured
  std::vector<std::vector<bool>> wasMeasured;
  int guessed = 0;  // pairs not measured, counted as 0.9 x the median
};

// Gathers every rank's row (row i = what rank i measured sending) and fills the pairs a sample
// left out.
Status gatherMatrices(Bootstrap* boot, const MyLinks& mine, Matrices* out) {
  const int n = boot->nranks();
  std::vector<uint8_t> all, allLat;
  BRAID_RETURN_IF_ERROR(boot->allgather(mine.bw.data(), mine.bw.size() * sizeof(double), &all));
  BRAID_RETURN_IF_ERROR(
      boot->allgather(mine.lat.data(), mine.lat.size() * sizeof(double), &allLat));
  braid::topo::BwMatrix& bw = out->bw;
  braid::topo::BwMatrix& lat = out->lat;
  bw.assign(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n)));
  lat = bw;
  out->wasMeasured.assign(static_cast<size_t>(n), std::vector<bool>(static_cast<size_t>(n), true));
  std::vector<double> measured;
  for (int i = 0; i < n; ++i) {
    std::memcpy(bw[static_cast<size_t>(i)].data(),
                all.data() + static_cast<size_t>(i * n) * sizeof(double),
                static_cast<size_t>(n) * sizeof(double));
    std::memcpy(lat[static_cast<size_t>(i)].data(),
                allLat.data() + static_cast<size_t>(i * n) * sizeof(double),
                static_cast<size_t>(n) * sizeof(double));
    for (int j = 0; j < n; ++j) {
      if (i != j && bw[i][j] > 0) measured.push_back(bw[i][j]);
    }
  }
  // A sample: unmeasured pairs count as a little less than the median measured link, so that a
  // measured good link is preferred to an unknown one.
  std::sort(measured.begin(), measured.end());
  const double median = measured.empty() ? 1 : measured[measured.size() / 2];
  out->guessed = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j && bw[i][j] <= 0) {
        bw[i][j] = 0.9 * median;
        out->wasMeasured[static_cast<size_t>(i)][static_cast<size_t>(j)] = false;
        ++out->guessed;
      }
    }
  }
  return Status::ok();
}

// Prints the bandwidth and latency matrices (at most 32 x 32).
void printMatrices(const Matrices& mx, int n) {
  const braid::topo::BwMatrix& bw = mx.bw;
  const braid::topo::BwMatrix& lat = mx.lat;
  std::printf("\nbandwidth, GB/s (row: from, column: to)%s\n      ",
              mx.guessed > 0 ? "; * = not measured: 0.9 x the median" : "");
  for (int j = 0; j < n && j < 32; ++j) std::printf(" %7d", j);
  std::printf("\n");
  for (int i = 0; i < n && i < 32; ++i) {
    std::printf("  %-4d", i);
    for (int j = 0; j < n && j < 32; ++j) {
      if (i == j)
        std::printf(" %7s", "-");
      else
        std::printf(" %6.3f%s", bw[i][j],
                    mx.wasMeasured[static_cast<size_t>(i)][static_cast<size_t>(j)] ? " " : "*");
    }
    std::printf("\n");
  }
  std::printf("\nlatency, us (8-byte ping-pong / 2)\n      ");
  for (int j = 0; j < n && j < 32; ++j) std::printf(" %7d", j);
  std::printf("\n");
  for (int i = 0; i < n && i < 32; ++i) {
    std::printf("  %-4d", i);
    for (int j = 0; j < n && j < 32; ++j) {
      const double v = lat[i][j] > 0 ? lat[i][j] : lat[j][i];
      if (i == j || v <= 0)
        std::printf(" %7s", "-");
      else
        std::printf(" %7.1f", v);
    }
    std::printf("\n");
  }
}

// The current ring (what a communicator would run now), the tuned one, and the one to use.
struct Rings {
  std::vector<int> current;
  std::vector<int> tuned;
  double curBottleneck = 0;
  double newBottleneck = 0;
  bool keep = false;  // the tuned ring is not enough better: keep the current one
  const std::vector<int>& best() const { return keep ? current : tuned; }
};

// Rank 0: the rings and their predictions, and the ring file written.
void reportRings(const Matrices& mx, const Rings& rings, int n, const Options& o) {
  std::printf("\ncurrent ring: %s\n  predicted busbw %.3f GB/s (slowest hop %s)\n",
              ringText(rings.current).c_str(), rings.curBottleneck,
              slowestHop(mx.bw, rings.current).c_str());
  std::printf(
      "tuned ring:   %s\n  predicted busbw %.3f GB/s (slowest hop %s)%s\n",
      ringText(rings.tuned).c_str(), rings.newBottleneck, slowestHop(mx.bw, rings.tuned).c_str(),
      rings.keep
          ? "\n  not enough better than the current ring (--min-gain): keeping the current one"
          : "");
  char comment[256];
  std::snprintf(comment, sizeof(comment),
                "written by braid-tune: %d ranks, predicted busbw %.3f GB/s (was %.3f)", n,
                std::max(rings.newBottleneck, rings.curBottleneck), rings.curBottleneck);
  std::ofstream f(o.out);
  f << braid::topo::formatRingFile({rings.best()}, comment);
  f.close();
  if (!f) {
    std::fprintf(stderr, "braid-tune: cannot write %s\n", o.out.c_str());
  } else {
    std::printf("wrote %s (use it with BRAID_RING_FILE=%s)\n", o.out.c_str(), o.out.c_str());
  }
  std::fflush(stdout);
}

// AllReduce busbw with the current ring and the chosen one, side by side. Every rank measures
// with its own copy of the chosen ring, through BRAID_RING_FILE, so no shared file system is
// needed.
Status compareBusbw(Bootstrap* boot, const Rings& rings, const Options& o) {
  char path[] = "/tmp/braid-tune-ring-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return braid::systemError(braid::errnoMessage("mkstemp", errno));
  const std::string text = braid::topo::formatRingFile({rings.best()}, "braid-tune (temporary)");
  const bool wrote = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  const std::string ringFile = path;
  double before = 0, after = 0;
  Status s = wrote ? Status::ok() : braid::systemError("cannot write " + ringFile);
  if (s) s = measureBusbw(boot, "", true, o, &before);
  if (s) s = measureBusbw(boot, ringFile, false, o, &after);
  unlink(path);
  BRAID_RETURN_IF_ERROR(s);
  if (boot->rank() == 0) {
    std::printf("\nAllReduce busbw (%zu bytes float32 x %d, BRAID_ALGO=ring), measured now:\n",
                o.busbwBytes, o.busbwIters);
    std::printf("  current ring %-24s %9.4f GB/s\n", ringText(rings.current).c_str(), before);
    std::printf("  tuned ring   %-24s %9.4f GB/s  (%.2fx)\n", ringText(rings.best()).c_str(), after,
                before > 0 ? after / before : 0.0);
  }
  return Status::ok();
}

// The job's bootstrap, from the launcher's environment.
Status makeBootstrap(const braid::LaunchInfo& launch, const braid::Config& config,
                     std::unique_ptr<Bootstrap>* boot) {
  braid::BootstrapParams bp;
  bp.rank = launch.rank;
  bp.nranks = launch.nranks;
  bp.root = launch.root;
  bp.secret = launch.secret;
  bp.timeoutMs = config.timeoutMs;
  bp.ifname = config.socketIfname;
  bp.family = config.socketFamily;
  bp.hostId = config.hostId;
  return Bootstrap::create(bp, boot);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int exitStatus = parseArgs(argc, argv, &o); exitStatus >= 0) return exitStatus;

  braid::LaunchInfo launch;
  Status s = braid::detectLaunch(&launch);
  if (!s) return fail(-1, s);
  braid::Config config;
  s = braid::Config::fromEnv(&config);
  if (!s) return fail(launch.rank, s);
  const int n = launch.nranks, rank = launch.rank;
  std::unique_ptr<Bootstrap> boot;
  s = makeBootstrap(launch, config, &boot);
  if (!s) return fail(rank, s);
  if (n < 2) {
    if (rank == 0) std::printf("braid-tune: one rank, nothing to tune\n");
    return 0;
  }

  MyLinks mine;
  s = measureLinks(boot.get(), config, o, &mine);
  if (!s) return fail(rank, s);
  Matrices mx;
  s = gatherMatrices(boot.get(), mine, &mx);
  if (!s) return fail(rank, s);

  Rings rings;
  s = braid::communicatorRing(boot.get(), config, &rings.current);
  if (!s) return fail(rank, s);
  rings.tuned = braid::topo::bestRing(mx.bw);
  rings.curBottleneck = braid::topo::ringBottleneck(mx.bw, rings.current);
  rings.newBottleneck = braid::topo::ringBottleneck(mx.bw, rings.tuned);
  // A ring AllReduce moves 2(n-1)/n of the data over every hop: its busbw is the slowest hop.
  rings.keep = rings.newBottleneck <= rings.curBottleneck * o.minGain;

  if (rank == 0) {
    printMatrices(mx, n);
    reportRings(mx, rings, n, o);
  }
  if (!o.measureBusbw) return 0;
  s = compareBusbw(boot.get(), rings, o);
  if (!s) return fail(rank, s);
  boot->sayGoodbye();
  return 0;
}
