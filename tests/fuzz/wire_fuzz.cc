// Fuzz target for everything Braid parses off the wire or from the environment: hellos, frame
// streams split at arbitrary points, rank tables, unique ids, error payloads, addresses,
// secrets, sizes. Decoders must never crash, hang or read out of bounds, and what decodes must
// re-encode to the same meaning (checked with __builtin_trap, which the fuzzer reports).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bootstrap/wire.h"
#include "core/config.h"
#include "core/socket_address.h"

namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

void fuzzHello(const uint8_t* data, size_t size) {
  uint8_t buf[braid::kHelloBytes] = {};
  std::memcpy(buf, data, std::min(size, sizeof(buf)));
  braid::Hello hello;
  if (!braid::decodeHello(buf, &hello).isOk()) return;
  uint8_t again[braid::kHelloBytes];
  braid::encodeHello(hello, again);
  braid::Hello hello2;
  require(braid::decodeHello(again, &hello2).isOk());
  require(hello2.rank == hello.rank && hello2.nranks == hello.nranks &&
          hello2.secret == hello.secret);
  require(hello2.info.hostname == hello.info.hostname);
}

void fuzzFrames(const uint8_t* data, size_t size) {
  // The first byte picks the piece size the stream arrives in.
  if (size == 0) return;
  const size_t piece = 1 + data[0] % 64;
  braid::FrameParser parser;
  std::vector<braid::Frame> frames;
  size_t fed = 0;
  bool failed = false;
  for (size_t off = 1; off < size && !failed; off += piece) {
    const size_t n = std::min(piece, size - off);
    failed = !parser.feed(data + off, n, &frames).isOk();
    fed += n;
  }
  // Whole frames plus what is buffered account for every byte fed, unless poisoned.
  if (!failed) {
    size_t total = parser.buffered();
    for (const auto& f : frames) total += braid::kFrameHeaderBytes + f.payload.size();
    require(total == fed);
  }
  for (const auto& f : frames) require(f.payload.size() <= braid::kMaxFramePayload);
}

void fuzzTable(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const int nranks = 1 + data[0] % 8;
  std::vector<uint8_t> payload(data + 1, data + size);
  std::vector<braid::RankInfo> table;
  if (!braid::decodeTable(payload, nranks, &table).isOk()) return;
  require(table.size() == static_cast<size_t>(nranks));
  std::vector<braid::RankInfo> again;
  require(braid::decodeTable(braid::encodeTable(table), nranks, &again).isOk());
  for (int r = 0; r < nranks; ++r)
    require(again[r].listen.toString() == table[r].listen.toString());
}

void fuzzUniqueId(const uint8_t* data, size_t size) {
  braidUniqueId id;
  std::memset(&id, 0, sizeof(id));
  std::memcpy(id.internal, data, std::min(size, sizeof(id.internal)));
  braid::UniqueIdContents contents;
  if (!braid::decodeUniqueId(id, &contents).isOk()) return;
  braidUniqueId again;
  braid::encodeUniqueId(contents, &again);
  braid::UniqueIdContents contents2;
  require(braid::decodeUniqueId(again, &contents2).isOk());
  require(contents2.root.toString() == contents.root.toString() &&
          contents2.secret == contents.secret);
}

void fuzzText(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  braid::Secret secret;
  (void)braid::parseSecret(text, &secret);
  size_t bytes = 0;
  (void)braid::parseSize(text, &bytes);
  (void)braid::interfaceMatches(text, "eth0");
  std::vector<uint8_t> payload(data, data + size);
  braid::Status s = braid::decodeErrorPayload(payload);
  require(!s.isOk());
  for (char c : s.message())
    require(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e);
  uint8_t wire[braid::SocketAddress::kWireBytes] = {};
  std::memcpy(wire, data, std::min(size, sizeof(wire)));
  braid::SocketAddress addr;
  if (braid::SocketAddress::fromWire(wire, &addr).isOk()) {
    uint8_t again[braid::SocketAddress::kWireBytes];
    addr.toWire(again);
    braid::SocketAddress addr2;
    require(braid::SocketAddress::fromWire(again, &addr2).isOk());
    require(addr2.toString() == addr.toString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  switch (data[0] % 5) {
    case 0:
      fuzzHello(data + 1, size - 1);
      break;
    case 1:
      fuzzFrames(data + 1, size - 1);
      break;
    case 2:
      fuzzTable(data + 1, size - 1);
      break;
    case 3:
      fuzzUniqueId(data + 1, size - 1);
      break;
    default:
      fuzzText(data + 1, size - 1);
      break;
  }
  return 0;
}
