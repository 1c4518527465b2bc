// Strangers at an established communicator: while the ranks run checked AllReduces, the
// parent connects to every port the ranks listen on and sends garbage, wrong-secret hellos,
// nothing at all, or closes at once. The collectives must neither fail nor slow to a halt.
// The ranks run over TCP (BRAID_TRANSPORT=socket), so the listeners attacked are those of a
// communicator with live TCP data connections; the test checks that those connections exist.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {
namespace {

// "ip:port" of every TCP socket the given processes listen on (from `ss -ltnpH`).
std::vector<std::pair<std::string, int>> listeningPorts(const std::vector<pid_t>& pids) {
  std::vector<std::pair<std::string, int>> out;
  FILE* f = popen("ss -ltnpH 2>/dev/null", "r");
  if (f == nullptr) return out;
  char line[1024];
  while (fgets(line, sizeof(line), f) != nullptr) {
    std::string l(line);
    bool ours = false;
    for (pid_t p : pids) {
      if (l.find("pid=" + std::to_string(p) + ",") != std::string::npos) ours = true;
    }
    if (!ours) continue;
    // Columns: State Recv-Q Send-Q Local:Port Peer:Port Process
    char local[256] = {0};
    if (std::sscanf(line, "%*s %*s %*s %255s", local) != 1) continue;
    std::string addr(local);
    const size_t colon = addr.rfind(':');
    if (colon == std::string::npos) continue;
    std::string host = addr.substr(0, colon);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    out.emplace_back(host, std::stoi(addr.substr(colon + 1)));
  }
  pclose(f);
  return out;
}

int connectTo(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int rc = -1;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(Strangers, AtEstablishedConnectionsChangeNothing) {
  int done[2];  // the parent writes a byte here when it has finished attacking
  ASSERT_EQ(pipe(done), 0);
  int ready[2];  // rank 0 writes a byte here once the first AllReduce is done
  ASSERT_EQ(pipe(ready), 0);
  std::atomic<int> attacks{0};
  std::atomic<int> ports{0};
  std::atomic<bool> tcpData{false};
  RunOptions opts;
  // Over TCP: ranks on one host would otherwise move their data over shared memory, and there
  // would be no TCP data connection behind the listeners attacked.
  opts.env = {{"BRAID_TIMEOUT_MS", "20000"}, {"BRAID_TRANSPORT", "socket"}};
  opts.parent_thread = [&](const std::vector<pid_t>& pids, const std::atomic<bool>& finished) {
    // Attack once the communicator is up (an event, not a guess at how long set-up takes).
    pollfd pr{ready[0], POLLIN, 0};
    while (!finished && poll(&pr, 1, 50) <= 0) {
    }
    if (finished) return;
    // Ranks 1 and 2 talk to each other only over a data connection (the bootstrap's links
    // all go to rank 0).
    tcpData = ConnectedByTcp(pids[1], pids[2]);
    auto targets = listeningPorts(pids);
    ports = static_cast<int>(targets.size());
    std::mt19937 rng(3);
    std::vector<int> silent;
    for (int round = 0; !finished && round < 60; ++round) {
      for (const auto& [host, port] : targets) {
        int fd = connectTo(host, port);
        if (fd < 0) continue;
        ++attacks;
        switch (round % 4) {
          case 0: {  // garbage
            std::vector<char> junk(65536);
            for (auto& c : junk) c = static_cast<char>(rng());
            (void)!write(fd, junk.data(), junk.size());
            close(fd);
            break;
          }
          case 1: {  // something shaped like a hello: Braid's magic, then noise
            std::vector<unsigned char> h(240);
            for (auto& c : h) c = static_cast<unsigned char>(rng());
            h[0] = 'B';
            h[1] = 'R';
            h[2] = 'D';
            h[3] = 'H';
            h[4] = 1;
            h[5] = 0;
            (void)!write(fd, h.data(), h.size());
            close(fd);
            break;
          }
          case 2:  // connects and stays silent
            silent.push_back(fd);
            break;
          default:
            close(fd);
            break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int fd : silent) close(fd);
    (void)!write(done[1], "x", 1);
  };
  RunRanks(
      3,
      [&done, &ready](RankContext& ctx) {
        // Every rank must call the same collectives: rank 0 decides when to stop (once the
        // parent has finished) and the decision travels in an AllReduce.
        for (int i = 0;; ++i) {
          int32_t stop = 0;
          if (ctx.rank == 0) {
            pollfd pfd{done[0], POLLIN, 0};
            stop = poll(&pfd, 1, 0) > 0 || i >= 100000 ? 1 : 0;
          }
          int32_t agreed = 0;
          BT_CHECK_OK(ctx,
                      braidAllReduce(&stop, &agreed, 1, braidInt32, braidMax, ctx.comm, nullptr));
          if (agreed != 0 || ctx.failures() > 0) return;
          if (i == 1 && ctx.rank == 0) (void)!write(ready[1], "r", 1);
          const size_t n = 1 + static_cast<size_t>(i % 7) * 50000;
          std::vector<int32_t> in(n, ctx.rank + i);
          std::vector<int32_t> out(n, 0);
          BT_CHECK_OK(ctx, braidAllReduce(in.data(), out.data(), n, braidInt32, braidSum, ctx.comm,
                                          nullptr));
          if (ctx.failures() > 0) return;
          BT_CHECK(ctx, out[0] == 3 + 3 * i && out[n - 1] == 3 + 3 * i) << "iteration " << i;
        }
      },
      opts);
  EXPECT_TRUE(tcpData.load()) << "ranks 1 and 2 share no TCP connection: the data did not go "
                                 "over sockets, so no TCP data connection was attacked";
  EXPECT_GT(ports.load(), 0) << "found no listening port of the ranks (is `ss` installed?)";
  EXPECT_GT(attacks.load(), 10);
  for (int fd : {done[0], done[1], ready[0], ready[1]}) close(fd);
}

}  // namespace
}  // namespace braidtest
