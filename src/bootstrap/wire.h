// Everything the bootstrap puts on the wire, encoded little-endian with fixed sizes, and
// decoded with bounds checks: a stranger's bytes are never trusted.
//
//   unique id (128 B): "BRID" | version u16 | 0 u16 | root address (20) | secret (16) | zeros
//   address (20 B): family u16 (4 or 6) | port u16 | IPv4 (4, then 12 zeros) or IPv6 (16)
//                   address bytes in network order
//   rank info (156 B): rank u32 | listen address (20) | pid u32 | hostname (64) | host id (64);
//                   strings NUL-padded, at most 63 characters
//   hello (196 B; rank -> root, and rank -> rank for data sockets): magic u32 0x48445242
//                   ("BRDH" in memory) | version u16 | kind u16 (1 bootstrap, 2 data) |
//                   secret (16) | nranks u32 | rank u32 | channel u32 | nchannels u32 |
//                   rank info (156; only read in a bootstrap hello); the types are Hello and
//                   RankInfo in core/handshake.h
//   frame: type u32 | length u32 | payload (length bytes, at most kMaxFramePayload)
//   table payload: nranks rank infos, entry i for rank i
//   error payload: result code u32 | message (no NUL)
// tests/unit/wire_test.cc holds byte vectors written from this description.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "core/handshake.h"
#include "core/socket_address.h"
#include "core/status.h"

namespace braid {

constexpr uint32_t kMaxFramePayload = 64u << 20;

struct UniqueIdContents {
  SocketAddress root;
  Secret secret{};
};
void encodeUniqueId(const UniqueIdContents& in, braidUniqueId* out);
Status decodeUniqueId(const braidUniqueId& in, UniqueIdContents* out);

enum class FrameType : uint32_t {
  kTable = 1,      // root -> rank: all RankInfos
  kError = 2,      // root -> rank: rendezvous failed; payload is the message
  kAllgather = 3,  // rank <-> root: out-of-band allgather contribution / result
  kBye = 4,        // rank -> root / root -> rank: orderly shutdown
  kAbort = 5,      // failure notice; payload: failed rank (u32) + message
  kGone = 6,       // root -> rank: a rank's link dropped without a goodbye; same payload
};
constexpr size_t kFrameHeaderBytes = 8;
void encodeFrameHeader(FrameType type, uint32_t length, uint8_t out[kFrameHeaderBytes]);
// Rejects unknown types and lengths above kMaxFramePayload.
Status decodeFrameHeader(const uint8_t in[kFrameHeaderBytes], FrameType* type, uint32_t* length);

struct Frame {
  FrameType type;
  std::vector<uint8_t> payload;
};

// Splits a byte stream into frames. Bytes arrive in any pieces; whole frames come out in
// order. A malformed header (unknown type, length over kMaxFramePayload) poisons the parser:
// that error is returned now and on every later call, since the stream can no longer be
// trusted.
class FrameParser {
 public:
  Status feed(const uint8_t* data, size_t len, std::vector<Frame>* out);
  size_t buffered() const { return buf_.size(); }

 private:
  std::vector<uint8_t> buf_;
  Status error_;
};

std::vector<uint8_t> encodeTable(const std::vector<RankInfo>& table);
Status decodeTable(const std::vector<uint8_t>& payload, int nranks, std::vector<RankInfo>* out);

// The payload of an error frame: result code (u32) + message. A malformed one decodes to a
// braidRemoteError saying so.
std::vector<uint8_t> encodeErrorPayload(const Status& s);
Status decodeErrorPayload(const std::vector<uint8_t>& payload);

// The payload of a failure notice (kAbort, kGone): the failed rank (u32) + what happened.
std::vector<uint8_t> encodeFailureNotice(int failedRank, const std::string& message);
// Sets *failedRank when the payload names one (4 bytes or more; left alone otherwise) and
// *message to the text after it (empty when there is none), with bytes outside printable ASCII
// replaced by '?' as in error payloads: the text ends up in users' error messages and logs.
void decodeFailureNotice(const std::vector<uint8_t>& payload, int* failedRank,
                         std::string* message);

// Parses 32 hexadecimal characters (BRAID_SECRET).
Status parseSecret(const std::string& hex, Secret* out);

}  // namespace braid
