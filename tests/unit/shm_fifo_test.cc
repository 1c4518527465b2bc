// The shared-memory FIFO connection in one process: two ShmNodes map the same memory (a memfd
// mapped twice, as two processes would), and a pair of connections moves messages of awkward
// sizes through a small FIFO (wrapping many times), in order, byte for byte; a close is seen
// by the peer only after it drained what was sent; the window's counters and doorbell work.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "transports/shm/shm_transport.h"

namespace braid {
namespace {

constexpr size_t kWindow = 64 << 10;
constexpr size_t kFifo = 64 << 10;

struct TwoNodes {
  explicit TwoNodes(const std::vector<uint32_t>& pids = {1, 2}) {
    const size_t bytes = ShmNode::segmentBytes(2, kWindow, kFifo);
    fd = memfd_create("braid-shm-test", MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
    for (int i = 0; i < 2; ++i) {
      void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      EXPECT_NE(p, MAP_FAILED);
      if (i == 0) ShmNode::initialize(static_cast<char*>(p), 2, kWindow, kFifo);
      EXPECT_TRUE(ShmNode::validate(static_cast<char*>(p), 2, kWindow, kFifo));
      node[i] = std::make_unique<ShmNode>(std::vector<int>{0, 1}, i, pids, static_cast<char*>(p),
                                          bytes, kWindow, kFifo);
    }
    conn[0] = ShmTransport::makeConnection(node[0].get(), 1);
    conn[1] = ShmTransport::makeConnection(node[1].get(), 0);
  }
  ~TwoNodes() {
    conn[0].reset();
    conn[1].reset();
    node[0].reset();
    node[1].reset();
    if (fd >= 0) close(fd);
  }
  // Drives both ends until pred() or nothing moves for many rounds; returns pred().
  template <typename Pred>
  bool pump(Pred pred, Status* error = nullptr, int only = -1) {
    int idle = 0;
    while (!pred() && idle < 1000) {
      bool moved = false;
      for (int i = 0; i < 2; ++i) {
        if (only >= 0 && i != only) continue;
        Status s = conn[i]->progress(&moved);
        if (!s) {
          if (error != nullptr) *error = s;
          return pred();
        }
      }
      idle = moved ? 0 : idle + 1;
    }
    return pred();
  }
  int fd = -1;
  std::unique_ptr<ShmNode> node[2];
  std::unique_ptr<Connection> conn[2];
};

TEST(ShmFifo, MessagesOfAwkwardSizesWrapAroundInOrder) {
  TwoNodes t;
  std::mt19937 rng(7);
  std::vector<size_t> sizes = {0, 1, 3, 4095, 65536, 65537, 200003, 7, 0, 131072 + 5};
  for (int i = 0; i < 40; ++i) sizes.push_back(rng() % 150000);
  std::vector<std::vector<uint8_t>> sent;
  std::vector<std::vector<uint8_t>> got;
  for (size_t n : sizes) {
    std::vector<uint8_t> m(n);
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    sent.push_back(std::move(m));
    got.emplace_back(n, 0xee);
  }
  // Both directions at once, everything posted up front.
  uint64_t lastSend[2] = {0, 0};
  uint64_t lastRecv[2] = {0, 0};
  for (size_t i = 0; i < sizes.size(); ++i) {
    lastSend[0] = t.conn[0]->postSend(sent[i].data(), sent[i].size());
    lastRecv[1] = t.conn[1]->postRecv(got[i].data(), got[i].size());
  }
  std::vector<uint8_t> back(300000, 0);
  std::vector<uint8_t> backGot(300000, 1);
  lastSend[1] = t.conn[1]->postSend(back.data(), back.size());
  lastRecv[0] = t.conn[0]->postRecv(backGot.data(), backGot.size());
  ASSERT_TRUE(t.pump([&] {
    return t.conn[0]->sendsDone() == lastSend[0] && t.conn[1]->recvsDone() == lastRecv[1] &&
           t.conn[1]->sendsDone() == lastSend[1] && t.conn[0]->recvsDone() == lastRecv[0];
  }));
  for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(got[i], sent[i]) << "message " << i;
  EXPECT_EQ(backGot, back);
  EXPECT_FALSE(t.conn[0]->pending());
  EXPECT_FALSE(t.conn[1]->pending());
}

TEST(ShmFifo, CloseIsSeenAfterTheDataDrains) {
  TwoNodes t;
  std::vector<uint8_t> data(1000, 42);
  std::vector<uint8_t> got(1000, 0);
  std::vector<uint8_t> more(10, 0);
  t.conn[0]->postSend(data.data(), data.size());
  bool moved = false;
  ASSERT_TRUE(t.conn[0]->progress(&moved));
  EXPECT_TRUE(moved);
  t.conn[0]->close();
  const uint64_t first = t.conn[1]->postRecv(got.data(), got.size());
  t.conn[1]->postRecv(more.data(), more.size());
  Status error;
  EXPECT_FALSE(t.pump([&] { return t.conn[1]->recvsDone() == first + 1; }, &error, 1));
  EXPECT_EQ(t.conn[1]->recvsDone(), first) << "the data sent before the close was lost";
  EXPECT_EQ(got, data);
  EXPECT_EQ(error.code(), braidRemoteError);
  EXPECT_NE(error.message().find("rank 0"), std::string::npos) << error.message();
  EXPECT_NE(error.message().find("closed"), std::string::npos) << error.message();
}

TEST(ShmWindow, CountersAreSharedAndTheDoorbellWakes) {
  TwoNodes t;
  SharedWindow& w0 = *t.node[0];
  SharedWindow& w1 = *t.node[1];
  EXPECT_EQ(w0.data(1), w0.data(0) + kWindow);
  w0.post(2, 17);
  EXPECT_EQ(w1.flag(0, 2).load(), 17u);
  EXPECT_EQ(w1.flag(1, 2).load(), 0u);
  // Rank 1 announces a sleep; rank 0 publishing rings it, so the sleep returns at once.
  const uint32_t seen = t.node[1]->beginSleep();
  w0.post(2, 18);
  const auto t0 = std::chrono::steady_clock::now();
  t.node[1]->sleep(seen, 5000);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // Without a ring the sleep times out.
  const uint32_t again = t.node[1]->beginSleep();
  const auto t1 = std::chrono::steady_clock::now();
  t.node[1]->sleep(again, 50);
  EXPECT_GE(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(40));
}

// The single-copy probe: it works where process_vm_readv reaches the peer (here both "ranks"
// are this process), and says why not where the peer's pid is not the one the bootstrap gave.
TEST(ShmWindow, CrossMemoryAttachProbe) {
  const auto self = static_cast<uint32_t>(getpid());
  {
    TwoNodes t({self, self});
    std::string why;
    EXPECT_TRUE(t.node[0]->probeCrossMemoryAttach(&why)) << why;
    t.node[0]->enableCrossMemoryAttach(true);
    std::vector<uint8_t> src(100000), dst(100000, 0);
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
    ASSERT_TRUE(
        t.node[0]->readRemote(1, dst.data(), reinterpret_cast<uintptr_t>(src.data()), src.size()));
    EXPECT_EQ(dst, src);
  }
  {
    TwoNodes t({self, 1});  // "rank 1" claims pid 1: another pid namespace, say
    std::string why;
    EXPECT_FALSE(t.node[0]->probeCrossMemoryAttach(&why));
    EXPECT_NE(why.find("pid"), std::string::npos) << why;
  }
}

}  // namespace
}  // namespace braid
