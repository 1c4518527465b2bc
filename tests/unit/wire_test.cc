// Encoding and decoding of everything the bootstrap puts on the wire, including what a
// stranger might send.
#include "bootstrap/wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace braid {
namespace {

SocketAddress addr(const char* text) {
  SocketAddress a;
  EXPECT_TRUE(SocketAddress::parse(text, 0, &a).isOk()) << text;
  return a;
}

TEST(UniqueId, RoundTripsIpv4AndIpv6) {
  for (const char* text : {"127.0.0.1:29500", "10.1.2.3:1", "[::1]:65535"}) {
    UniqueIdContents in;
    in.root = addr(text);
    for (size_t i = 0; i < kSecretBytes; ++i) in.secret[i] = static_cast<uint8_t>(i * 37 + 1);
    braidUniqueId id;
    encodeUniqueId(in, &id);
    UniqueIdContents out;
    ASSERT_TRUE(decodeUniqueId(id, &out).isOk());
    EXPECT_EQ(out.root.toString(), in.root.toString());
    EXPECT_EQ(out.secret, in.secret);
  }
}

TEST(UniqueId, RejectsGarbage) {
  braidUniqueId id;
  std::memset(&id, 0, sizeof(id));
  UniqueIdContents out;
  Status s = decodeUniqueId(id, &out);
  EXPECT_EQ(s.code(), braidInvalidArgument);
  EXPECT_NE(s.message().find("unique id"), std::string::npos);
}

TEST(Hello, RoundTrips) {
  Hello in;
  in.kind = HelloKind::kBootstrap;
  in.secret.fill(0xab);
  in.nranks = 8;
  in.rank = 5;
  in.info.rank = 5;
  in.info.listen = addr("192.168.7.9:4242");
  in.info.pid = 123456;
  in.info.hostname = "node-17";
  in.info.hostId = "boot/net:[4026531992]";
  uint8_t buf[kHelloBytes];
  encodeHello(in, buf);
  Hello out;
  ASSERT_TRUE(decodeHello(buf, &out).isOk());
  EXPECT_EQ(out.kind, HelloKind::kBootstrap);
  EXPECT_EQ(out.secret, in.secret);
  EXPECT_EQ(out.nranks, 8u);
  EXPECT_EQ(out.rank, 5u);
  EXPECT_EQ(out.info.listen.toString(), "192.168.7.9:4242");
  EXPECT_EQ(out.info.pid, 123456u);
  EXPECT_EQ(out.info.hostname, "node-17");
  EXPECT_EQ(out.info.hostId, in.info.hostId);
}

TEST(Hello, RandomBytesNeverDecodeAsHello) {
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    uint8_t buf[kHelloBytes];
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    Hello out;
    if (decodeHello(buf, &out).isOk()) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
}

TEST(Hello, OverlongStringsAreTruncatedAndSanitized) {
  Hello in;
  in.info.listen = addr("127.0.0.1:1");
  in.info.hostname = std::string(500, 'h') + "\x01\x7f";
  uint8_t buf[kHelloBytes];
  encodeHello(in, buf);
  Hello out;
  ASSERT_TRUE(decodeHello(buf, &out).isOk());
  EXPECT_EQ(out.info.hostname.size(), kHostnameBytes - 1);
  // A hostname with control characters from a peer is shown sanitized.
  buf[8 + kSecretBytes + 16 + 4 + SocketAddress::kWireBytes + 4] = 0x07;
  ASSERT_TRUE(decodeHello(buf, &out).isOk());
  EXPECT_EQ(out.info.hostname[0], '?');
}

TEST(Secret, ConstantTimeCompareIsCorrect) {
  Secret a{};
  Secret b{};
  EXPECT_TRUE(secretsEqual(a, b));
  for (size_t i = 0; i < kSecretBytes; ++i) {
    b = a;
    b[i] ^= 1;
    EXPECT_FALSE(secretsEqual(a, b)) << i;
  }
}

TEST(Frame, RejectsUnknownTypesAndHugeLengths) {
  uint8_t hdr[kFrameHeaderBytes];
  FrameType type;
  uint32_t len = 0;
  encodeFrameHeader(FrameType::kAllgather, 1234, hdr);
  ASSERT_TRUE(decodeFrameHeader(hdr, &type, &len).isOk());
  EXPECT_EQ(type, FrameType::kAllgather);
  EXPECT_EQ(len, 1234u);
  putU32(hdr, 99);
  EXPECT_FALSE(decodeFrameHeader(hdr, &type, &len).isOk());
  encodeFrameHeader(FrameType::kTable, kMaxFramePayload + 1, hdr);
  EXPECT_FALSE(decodeFrameHeader(hdr, &type, &len).isOk());
}

TEST(Table, RoundTripsAndChecksSize) {
  std::vector<RankInfo> table(3);
  for (int r = 0; r < 3; ++r) {
    table[r].rank = r;
    table[r].listen = addr("127.0.0.1:100");
    table[r].listen.setPort(100 + r);
    table[r].hostname = "h" + std::to_string(r);
  }
  std::vector<uint8_t> bytes = encodeTable(table);
  std::vector<RankInfo> out;
  ASSERT_TRUE(decodeTable(bytes, 3, &out).isOk());
  EXPECT_EQ(out[2].listen.port(), 102);
  EXPECT_EQ(out[1].hostname, "h1");
  EXPECT_FALSE(decodeTable(bytes, 4, &out).isOk());
  bytes.pop_back();
  EXPECT_FALSE(decodeTable(bytes, 3, &out).isOk());
}

TEST(Secret, ParsesHex) {
  Secret s;
  ASSERT_TRUE(parseSecret("00112233445566778899aabbccddeeff", &s).isOk());
  EXPECT_EQ(s[0], 0x00);
  EXPECT_EQ(s[15], 0xff);
  EXPECT_TRUE(parseSecret("00112233445566778899AABBCCDDEEFF", &s).isOk());
  EXPECT_FALSE(parseSecret("0011", &s).isOk());
  EXPECT_FALSE(parseSecret("zz112233445566778899aabbccddeeff", &s).isOk());
}

}  // namespace
}  // namespace braid
