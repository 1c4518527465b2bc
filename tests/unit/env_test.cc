// Launcher detection and configuration parsing from the environment.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "bootstrap/env_init.h"
#include "core/config.h"
#include "core/socket_address.h"
#include "transports/registry.h"

namespace braid {
namespace {

// Clears every variable the detection reads, and restores nothing: each test sets its own.
class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"BRAID_RANK",
                          "BRAID_NRANKS",
                          "BRAID_LOCAL_RANK",
                          "RANK",
                          "WORLD_SIZE",
                          "LOCAL_RANK",
                          "OMPI_COMM_WORLD_RANK",
                          "OMPI_COMM_WORLD_SIZE",
                          "OMPI_COMM_WORLD_LOCAL_RANK",
                          "SLURM_PROCID",
                          "SLURM_NTASKS",
                          "SLURM_LOCALID",
                          "PMI_RANK",
                          "PMI_SIZE",
                          "MASTER_ADDR",
                          "MASTER_PORT",
                          "BRAID_ROOT_ADDR",
                          "BRAID_SECRET",
                          "BRAID_TIMEOUT_MS",
                          "BRAID_SOCKET_NSOCKS",
                          "BRAID_CHUNK_BYTES",
                          "BRAID_TRANSPORT",
                          "BRAID_ALGO",
                          "BRAID_SOCKET_FAMILY",
                          "BRAID_SOCKET_BUFFER_BYTES",
                          "TORCHELASTIC_RUN_ID",
                          "SLURM_JOB_ID"}) {
      unsetenv(v);
    }
  }
};

TEST_F(EnvTest, NothingSetSaysWhatToSet) {
  LaunchInfo info;
  Status s = detectLaunch(&info);
  EXPECT_EQ(s.code(), braidInvalidArgument);
  EXPECT_NE(s.message().find("BRAID_ROOT_ADDR"), std::string::npos) << s.message();
}

TEST_F(EnvTest, TorchrunUsesMasterPortPlusOne) {
  setenv("RANK", "3", 1);
  setenv("WORLD_SIZE", "4", 1);
  setenv("LOCAL_RANK", "1", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  LaunchInfo info;
  ASSERT_TRUE(detectLaunch(&info).isOk());
  EXPECT_EQ(info.launcher, "torchrun");
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.nranks, 4);
  EXPECT_EQ(info.localRank, 1);
  EXPECT_EQ(info.root.toString(), "127.0.0.1:29501");
  EXPECT_FALSE(info.authenticated);
}

TEST_F(EnvTest, BraidRootAddrWinsOverMaster) {
  setenv("OMPI_COMM_WORLD_RANK", "0", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  setenv("BRAID_ROOT_ADDR", "[::1]:7000", 1);
  setenv("BRAID_SECRET", "000102030405060708090a0b0c0d0e0f", 1);
  LaunchInfo info;
  ASSERT_TRUE(detectLaunch(&info).isOk());
  EXPECT_EQ(info.launcher, "mpirun");
  EXPECT_EQ(info.root.toString(), "[::1]:7000");
  EXPECT_TRUE(info.authenticated);
  EXPECT_EQ(info.secret[15], 0x0f);
}

TEST_F(EnvTest, SlurmAndBraidRun) {
  setenv("SLURM_PROCID", "5", 1);
  setenv("SLURM_NTASKS", "8", 1);
  setenv("BRAID_ROOT_ADDR", "127.0.0.1:1234", 1);
  LaunchInfo info;
  ASSERT_TRUE(detectLaunch(&info).isOk());
  EXPECT_EQ(info.launcher, "srun");
  EXPECT_EQ(info.rank, 5);
  // braid-run's variables take precedence over an outer Slurm allocation.
  setenv("BRAID_RANK", "1", 1);
  setenv("BRAID_NRANKS", "2", 1);
  ASSERT_TRUE(detectLaunch(&info).isOk());
  EXPECT_EQ(info.launcher, "braid-run");
  EXPECT_EQ(info.nranks, 2);
}

TEST_F(EnvTest, BadValuesAreNamed) {
  setenv("RANK", "4", 1);
  setenv("WORLD_SIZE", "4", 1);
  setenv("BRAID_ROOT_ADDR", "127.0.0.1:1", 1);
  LaunchInfo info;
  Status s = detectLaunch(&info);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("RANK"), std::string::npos);
  setenv("RANK", "1", 1);
  setenv("BRAID_ROOT_ADDR", "nocolon", 1);
  s = detectLaunch(&info);
  EXPECT_NE(s.message().find("BRAID_ROOT_ADDR"), std::string::npos) << s.message();
  setenv("BRAID_ROOT_ADDR", "127.0.0.1:1", 1);
  setenv("BRAID_SECRET", "short", 1);
  s = detectLaunch(&info);
  EXPECT_NE(s.message().find("BRAID_SECRET"), std::string::npos);
  unsetenv("WORLD_SIZE");
  s = detectLaunch(&info);
  EXPECT_NE(s.message().find("WORLD_SIZE"), std::string::npos) << s.message();
}

TEST_F(EnvTest, ConfigDefaultsAndOverrides) {
  Config c;
  ASSERT_TRUE(Config::fromEnv(&c).isOk());
  EXPECT_GT(c.timeoutMs, 0);
  setenv("BRAID_TIMEOUT_MS", "1500", 1);
  setenv("BRAID_SOCKET_NSOCKS", "4", 1);
  setenv("BRAID_CHUNK_BYTES", "1M", 1);
  setenv("BRAID_TRANSPORT", "socket", 1);
  ASSERT_TRUE(Config::fromEnv(&c).isOk());
  EXPECT_EQ(c.timeoutMs, 1500);
  EXPECT_EQ(c.socketNsocks, 4);
  EXPECT_EQ(c.chunkBytes, size_t{1} << 20);
  setenv("BRAID_TIMEOUT_MS", "-3", 1);
  Status s = Config::fromEnv(&c);
  EXPECT_NE(s.message().find("BRAID_TIMEOUT_MS"), std::string::npos);
  setenv("BRAID_TIMEOUT_MS", "100", 1);
  setenv("BRAID_TRANSPORT", "TCP", 1);
  ASSERT_TRUE(Config::fromEnv(&c).isOk());
  EXPECT_EQ(c.transport, "socket");
  // Which transports exist is the registry's to say; the communicator asks it before the
  // rendezvous.
  setenv("BRAID_TRANSPORT", "carrier-pigeon", 1);
  ASSERT_TRUE(Config::fromEnv(&c).isOk());
  s = checkTransportName(c.transport);
  EXPECT_EQ(s.code(), braidInvalidArgument);
  EXPECT_NE(s.message().find("BRAID_TRANSPORT=carrier-pigeon is not available (this build has: "),
            std::string::npos)
      << s.message();
}

TEST(ParseSize, Suffixes) {
  size_t v = 0;
  ASSERT_TRUE(parseSize("4K", &v).isOk());
  EXPECT_EQ(v, 4096u);
  ASSERT_TRUE(parseSize("2MiB", &v).isOk());
  EXPECT_EQ(v, 2u << 20);
  ASSERT_TRUE(parseSize("1G", &v).isOk());
  EXPECT_EQ(v, 1u << 30);
  EXPECT_FALSE(parseSize("x", &v).isOk());
  EXPECT_FALSE(parseSize("3Q", &v).isOk());
  EXPECT_FALSE(parseSize("-1", &v).isOk());
}

TEST(SocketAddress, ParsesAndFormats) {
  SocketAddress a;
  ASSERT_TRUE(SocketAddress::parse("127.0.0.1:80", 0, &a).isOk());
  EXPECT_TRUE(a.isLoopback());
  EXPECT_EQ(a.port(), 80);
  ASSERT_TRUE(SocketAddress::parse("[::1]:8080", 0, &a).isOk());
  EXPECT_EQ(a.toString(), "[::1]:8080");
  EXPECT_TRUE(a.isLoopback());
  ASSERT_TRUE(SocketAddress::parse("localhost:5", 4, &a).isOk());
  EXPECT_EQ(a.hostString(), "127.0.0.1");
  EXPECT_FALSE(SocketAddress::parse("127.0.0.1", 0, &a).isOk());
  EXPECT_FALSE(SocketAddress::parse("127.0.0.1:99999", 0, &a).isOk());
  EXPECT_FALSE(SocketAddress::parse("[::1:80", 0, &a).isOk());
  EXPECT_FALSE(SocketAddress::parse("::1:80", 0, &a).isOk());
}

TEST(SocketAddress, InterfaceSpecMatching) {
  EXPECT_TRUE(interfaceMatches("", "eth0"));
  EXPECT_TRUE(interfaceMatches("eth", "eth0"));
  EXPECT_FALSE(interfaceMatches("eth", "ib0"));
  EXPECT_TRUE(interfaceMatches("ib,eth", "eth1"));
  EXPECT_FALSE(interfaceMatches("^docker,lo", "lo"));
  EXPECT_TRUE(interfaceMatches("^docker,lo", "eth0"));
  EXPECT_TRUE(interfaceMatches("=eth0", "eth0"));
  EXPECT_FALSE(interfaceMatches("=eth0", "eth01"));
  EXPECT_FALSE(interfaceMatches("^=lo", "lo"));
  EXPECT_TRUE(interfaceMatches("^=lo", "lo1"));
}

TEST(SocketAddress, ChoosesLoopbackForLoopbackTarget) {
  SocketAddress target;
  ASSERT_TRUE(SocketAddress::parse("127.0.0.1:1", 0, &target).isOk());
  SocketAddress out;
  std::string ifname;
  ASSERT_TRUE(chooseLocalAddress("", 0, &target, &out, &ifname).isOk());
  EXPECT_TRUE(out.isLoopback());
  EXPECT_EQ(out.port(), 0);
  Status s = chooseLocalAddress("=no-such-interface", 0, nullptr, &out, &ifname);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("BRAID_SOCKET_IFNAME"), std::string::npos);
}

}  // namespace
}  // namespace braid
