// What every rank tells the others about itself, and the authenticated hello that opens every
// connection Braid accepts (the bootstrap's and the transports' data connections alike), encoded
// little-endian with fixed sizes and decoded with bounds checks. Base-layer: the bootstrap
// (bootstrap/wire.h adds the unique id and the frames) and the transports both speak it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/socket_address.h"
#include "core/status.h"

namespace braid {

constexpr size_t kSecretBytes = 16;
using Secret = std::array<uint8_t, kSecretBytes>;
constexpr uint16_t kProtocolVersion = 1;
constexpr size_t kHostnameBytes = 64;
constexpr size_t kHostIdBytes = 64;

// What every rank tells the others about itself.
struct RankInfo {
  int rank = -1;
  SocketAddress listen;  // where its peers connect for data connections
  uint32_t pid = 0;
  std::string hostname;
  std::string hostId;  // same value = same host (shared memory possible)
};
constexpr size_t kRankInfoBytes = 4 + SocketAddress::kWireBytes + 4 + kHostnameBytes + kHostIdBytes;
void encodeRankInfo(const RankInfo& in, uint8_t* out);
Status decodeRankInfo(const uint8_t* in, RankInfo* out);

// First message on every connection Braid accepts.
enum class HelloKind : uint16_t { kBootstrap = 1, kData = 2 };
struct Hello {
  HelloKind kind = HelloKind::kBootstrap;
  Secret secret{};
  uint32_t nranks = 0;
  uint32_t rank = 0;
  uint32_t channel = 0;  // data: socket index within the connection
  uint32_t nchannels = 0;
  RankInfo info;  // bootstrap only
};
constexpr uint32_t kHelloMagic = 0x48445242;  // "BRDH"
constexpr size_t kHelloBytes = 4 + 2 + 2 + kSecretBytes + 4 * 4 + kRankInfoBytes;
void encodeHello(const Hello& in, uint8_t out[kHelloBytes]);
// Checks magic and version; the secret is checked by the caller (constant time).
Status decodeHello(const uint8_t in[kHelloBytes], Hello* out);

bool secretsEqual(const Secret& a, const Secret& b);  // constant time

// Helpers for little-endian fields.
void putU32(uint8_t* p, uint32_t v);
uint32_t getU32(const uint8_t* p);
void putU16(uint8_t* p, uint16_t v);
uint16_t getU16(const uint8_t* p);

}  // namespace braid
