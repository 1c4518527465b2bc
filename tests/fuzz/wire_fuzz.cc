// Fuzz target for everything Braid parses off the wire, from the environment or from files:
// hellos, frame streams split at arbitrary points, rank tables, unique ids, error payloads and
// failure notices, wire and text socket addresses, secrets, sizes, ring files and tuner cost
// files. The first input byte picks the parser (wire_fuzz.h). Parsers must never crash, hang
// or read out of bounds, and what parses must re-encode to the same meaning (checked with
// __builtin_trap, which the fuzzer reports).
#include "wire_fuzz.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "algo/tuner.h"
#include "bootstrap/wire.h"
#include "core/config.h"
#include "core/socket_address.h"
#include "topo/ring_file.h"

namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

// Text is printable ASCII only (what reaches users' messages and logs from another process).
void requirePrintable(const std::string& text) {
  for (char c : text)
    require(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e);
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
  requirePrintable(s.message());
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

// "host:port" and "[v6]:port" (BRAID_ROOT_ADDR, BRAID_SOCKET_ADDR, ...). The syntax step
// takes any text; what it accepts prints back ("[host]:port" when the host has a colon) to
// the same host and port. Only numeric hosts go on to the resolver (getaddrinfo on a name
// would ask DNS: slow, and not Braid's code): an address that parses prints back to text that
// parses to the same address, and survives the wire form.
void fuzzAddressText(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const int family = data[0] % 3 == 0 ? 0 : data[0] % 3 == 1 ? 4 : 6;  // parse(): 0 any, 4, 6
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string host;
  int port = -1;
  if (!braid::SocketAddress::splitHostPort(text, &host, &port).isOk()) return;
  require(!host.empty() && port >= 0 && port <= 65535);
  const std::string printed =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string host2;
  int port2 = -1;
  require(braid::SocketAddress::splitHostPort(printed, &host2, &port2).isOk());
  require(host2 == host && port2 == port);

  uint8_t probe[16];
  const bool numeric =
      host.find('\0') == std::string::npos && (inet_pton(AF_INET, host.c_str(), probe) == 1 ||
                                               inet_pton(AF_INET6, host.c_str(), probe) == 1);
  if (!numeric) return;
  braid::SocketAddress addr;
  if (!braid::SocketAddress::parse(text, family, &addr).isOk()) return;
  require(addr.valid() && (addr.family() == AF_INET || addr.family() == AF_INET6));
  require(addr.port() == port);
  braid::SocketAddress again;
  require(braid::SocketAddress::parse(addr.toString(), family, &again).isOk());
  require(again.toString() == addr.toString());
  uint8_t wire[braid::SocketAddress::kWireBytes];
  addr.toWire(wire);
  braid::SocketAddress fromWire;
  require(braid::SocketAddress::fromWire(wire, &fromWire).isOk());
  require(fromWire.toString() == addr.toString());
}

// BRAID_RING_FILE: what parses is a list of rings, each every rank 0..n-1 exactly once, and
// the text braid-tune would write for them parses back to the same rings.
void fuzzRingFile(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  braid::topo::RingFile file;
  if (!braid::topo::parseRingFile(text, "fuzz", &file).isOk()) return;
  require(!file.rings.empty() && file.rings.size() == file.lines.size());
  for (const auto& ring : file.rings) {
    std::vector<bool> seen(ring.size(), false);
    for (int r : ring) {
      require(r >= 0 && static_cast<size_t>(r) < ring.size() && !seen[static_cast<size_t>(r)]);
      seen[static_cast<size_t>(r)] = true;
    }
    std::vector<int> found;
    require(braid::topo::ringForSize(file, "fuzz", static_cast<int>(ring.size()), &found).isOk());
    require(found.size() == ring.size());
  }
  braid::topo::RingFile again;
  require(braid::topo::parseRingFile(braid::topo::formatRingFile(file.rings, text), "again", &again)
              .isOk());
  require(again.rings == file.rings);
}

// BRAID_TUNER_FILE, parsed over the defaults as the communicator does: every cost stays a
// finite, non-negative number, and the tuner then still makes a choice it can run.
void fuzzTunerFile(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  braid::CostModel model = braid::CostModel::defaults();
  if (!braid::parseCostModel(text, "fuzz", &model).isOk()) return;
  for (const braid::LinkCost& c : model.link) {
    for (double v : {c.alphaUs, c.gbPerS, c.reduceGbPerS, c.msgUs})
      require(std::isfinite(v) && v >= 0);
  }
  require(std::isfinite(model.cpuShare) && model.cpuShare >= 0 && model.cpuShare <= 1);
  for (int link = 0; link < braid::kLinkClasses; ++link) {
    for (auto coll : {braid::Collective::kAllReduce, braid::Collective::kBroadcast,
                      braid::Collective::kAllGather}) {
      for (size_t bytes : {size_t{8}, size_t{1} << 20, size_t{1} << 30}) {
        braid::Shape shape;
        shape.coll = coll;
        shape.bytes = bytes;
        shape.nranks = 1 + (link + 3 * static_cast<int>(bytes % 7)) % 16;
        shape.meshConnected = shape.nranks <= braid::kMeshMaxRanks;
        shape.link = static_cast<braid::LinkClass>(link);
        const braid::Choice choice = braid::choose(model, shape, {}, size_t{4} << 20);
        require(braid::algoAvailable(choice.algo, shape));
        require(choice.chunkBytes > 0 && choice.nchannels >= 1);
        require(!std::isnan(choice.predictedUs));
      }
    }
  }
}

// The failure notice a rank relays (kAbort, kGone): the rank it names and printable text,
// which re-encodes to the same notice.
void fuzzFailureNotice(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> payload(data, data + size);
  int failed = -7;
  std::string message = "unchanged";
  braid::decodeFailureNotice(payload, &failed, &message);
  if (size < 4) {
    require(failed == -7 && message.empty());
    return;
  }
  require(static_cast<uint32_t>(failed) == braid::getU32(data));
  require(message.size() == size - 4);
  requirePrintable(message);
  int failed2 = 0;
  std::string message2;
  braid::decodeFailureNotice(braid::encodeFailureNotice(failed, message), &failed2, &message2);
  require(failed2 == failed && message2 == message);
}

}  // namespace

const char* braidFuzzTargetName(uint8_t selector) {
  switch (static_cast<BraidFuzzTarget>(selector % kBraidFuzzTargets)) {
    case BraidFuzzTarget::kHello:
      return "hello";
    case BraidFuzzTarget::kFrames:
      return "frames";
    case BraidFuzzTarget::kTable:
      return "table";
    case BraidFuzzTarget::kUniqueId:
      return "unique_id";
    case BraidFuzzTarget::kText:
      return "text";
    case BraidFuzzTarget::kAddressText:
      return "address";
    case BraidFuzzTarget::kRingFile:
      return "ring_file";
    case BraidFuzzTarget::kTunerFile:
      return "tuner_file";
    case BraidFuzzTarget::kFailureNotice:
      return "failure_notice";
  }
  return "?";
}

namespace {

// BRAID_FUZZ_PARSER=<name> (scripts/fuzz SECONDS NAME): every input goes to that parser, its
// first byte ignored, so a short run spends all its time there. Read once, at start-up.
int focusedParser() {
  static const int parser = [] {
    const char* name = std::getenv("BRAID_FUZZ_PARSER");
    if (name == nullptr || *name == '\0') return -1;
    for (int t = 0; t < kBraidFuzzTargets; ++t) {
      if (std::strcmp(braidFuzzTargetName(static_cast<uint8_t>(t)), name) == 0) return t;
    }
    std::fprintf(stderr, "BRAID_FUZZ_PARSER=%s: no such parser\n", name);
    std::abort();
  }();
  return parser;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* rest = data + 1;
  const size_t n = size - 1;
  const int focused = focusedParser();
  const int parser = focused >= 0 ? focused : data[0] % kBraidFuzzTargets;
  switch (static_cast<BraidFuzzTarget>(parser)) {
    case BraidFuzzTarget::kHello:
      fuzzHello(rest, n);
      break;
    case BraidFuzzTarget::kFrames:
      fuzzFrames(rest, n);
      break;
    case BraidFuzzTarget::kTable:
      fuzzTable(rest, n);
      break;
    case BraidFuzzTarget::kUniqueId:
      fuzzUniqueId(rest, n);
      break;
    case BraidFuzzTarget::kText:
      fuzzText(rest, n);
      break;
    case BraidFuzzTarget::kAddressText:
      fuzzAddressText(rest, n);
      break;
    case BraidFuzzTarget::kRingFile:
      fuzzRingFile(rest, n);
      break;
    case BraidFuzzTarget::kTunerFile:
      fuzzTunerFile(rest, n);
      break;
    case BraidFuzzTarget::kFailureNotice:
      fuzzFailureNotice(rest, n);
      break;
  }
  return 0;
}
