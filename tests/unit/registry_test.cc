// The transport registry over a fake out-of-band channel: which transport serves a pair,
// BRAID_TRANSPORT restricting the choice, and the errors that name the unreachable rank. (The
// real selection across processes is in tests/integration/shm_test.cc.)
#include "transports/registry.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/out_of_band.h"

namespace braid {
namespace {

// Ranks on the hosts given; this process plays `rank`. No collective may run: every test
// below has at most one rank per host, where no transport needs one.
class FakeOutOfBand : public OutOfBand {
 public:
  FakeOutOfBand(int rank, const std::vector<std::string>& hosts) : rank_(rank) {
    for (size_t r = 0; r < hosts.size(); ++r) {
      RankInfo info;
      info.rank = static_cast<int>(r);
      info.hostname = hosts[r];
      info.hostId = "id-" + hosts[r];
      info.pid = 1000 + static_cast<uint32_t>(r);
      table_.push_back(info);
    }
  }
  int rank() const override { return rank_; }
  int nranks() const override { return static_cast<int>(table_.size()); }
  const Secret& secret() const override { return secret_; }
  const std::vector<RankInfo>& table() const override { return table_; }
  std::string describe(int rank) const override {
    return "rank " + std::to_string(rank) + " (" + table_[static_cast<size_t>(rank)].hostname + ")";
  }
  int listenFd() const override { return -1; }
  int64_t timeoutMs() const override { return 1000; }
  int abortFd() const override { return -1; }
  Status allgather(const void*, size_t, std::vector<uint8_t>*) override {
    ++collectives;
    return internalError("the fake out-of-band channel has no collectives");
  }
  Status barrier() override {
    ++collectives;
    return internalError("the fake out-of-band channel has no collectives");
  }

  int collectives = 0;

 private:
  int rank_;
  Secret secret_{};
  std::vector<RankInfo> table_;
};

TEST(Registry, NamesAreCheckedAgainstTheBuild) {
  EXPECT_TRUE(checkTransportName("").isOk());
  std::string names;
  for (const TransportEntry& e : transportRegistry()) {
    EXPECT_TRUE(checkTransportName(e.name).isOk()) << e.name;
    names += (names.empty() ? "" : ", ") + std::string(e.name);
  }
  EXPECT_NE(names.find("socket"), std::string::npos);
  EXPECT_NE(names.find("shm"), std::string::npos);
  Status s = checkTransportName("ucx");
  EXPECT_EQ(s.code(), braidInvalidArgument);
  EXPECT_EQ(s.message(), "BRAID_TRANSPORT=ucx is not available (this build has: " + names + ")");
}

TEST(Registry, EveryHostApartGoesOverSockets) {
  FakeOutOfBand oob(1, {"a", "b", "c"});
  Config config;
  std::unique_ptr<TransportSet> set;
  ASSERT_TRUE(TransportSet::create(&oob, config, &set).isOk());
  EXPECT_EQ(oob.collectives, 0);  // no host has two ranks: nothing to decide together
  for (int peer : {0, 2}) {
    Transport* t = nullptr;
    ASSERT_TRUE(set->choose(peer, &t).isOk());
    EXPECT_STREQ(t->name(), "socket");
    EXPECT_TRUE(t->offersChannels());
  }
  EXPECT_EQ(set->doorbell(), nullptr);
  EXPECT_EQ(set->window(), nullptr);
  // No transport reaches this rank itself.
  Transport* t = nullptr;
  Status s = set->choose(1, &t);
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "rank 1: no transport reaches rank 1 (b)");
}

TEST(Registry, ForcedSharedMemoryNamesTheRankOnAnotherHost) {
  FakeOutOfBand oob(0, {"a", "b"});
  Config config;
  config.transport = "shm";
  std::unique_ptr<TransportSet> set;
  Status s = TransportSet::create(&oob, config, &set);
  EXPECT_EQ(s.code(), braidInvalidArgument);
  EXPECT_NE(s.message().find("BRAID_TRANSPORT=shm, but rank 1 (b) is on another host than rank 0"),
            std::string::npos)
      << s.message();
}

TEST(Registry, ForcedSocketsServeEveryPeer) {
  FakeOutOfBand oob(0, {"a", "b"});
  Config config;
  config.transport = "socket";
  std::unique_ptr<TransportSet> set;
  ASSERT_TRUE(TransportSet::create(&oob, config, &set).isOk());
  Transport* t = nullptr;
  ASSERT_TRUE(set->choose(1, &t).isOk());
  EXPECT_STREQ(t->name(), "socket");
}

TEST(Registry, UnknownForcedNameFailsBeforeAnyTransportIsMade) {
  FakeOutOfBand oob(0, {"a", "b"});
  Config config;
  config.transport = "carrier-pigeon";
  std::unique_ptr<TransportSet> set;
  Status s = TransportSet::create(&oob, config, &set);
  EXPECT_EQ(s.code(), braidInvalidArgument);
  EXPECT_NE(s.message().find("BRAID_TRANSPORT=carrier-pigeon is not available"), std::string::npos);
  EXPECT_EQ(set, nullptr);
}

}  // namespace
}  // namespace braid
