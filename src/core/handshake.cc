#include "core/handshake.h"

#include <algorithm>
#include <cstring>

namespace braid {

namespace {
// Fixed-width, zero-padded, always NUL-terminated (at most cap - 1 characters).
void putString(uint8_t* p, const std::string& s, size_t cap) {
  std::memset(p, 0, cap);
  std::copy_n(s.data(), std::min(s.size(), cap - 1), reinterpret_cast<char*>(p));
}
// At most cap - 1 characters, as putString writes: a field without its NUL is cut there, so
// what decodes re-encodes to the same bytes.
std::string getString(const uint8_t* p, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap && p[n] != 0) ++n;
  std::string s(reinterpret_cast<const char*>(p), n);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return s;
}
}  // namespace

void putU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint16_t getU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void putU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t getU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

void encodeRankInfo(const RankInfo& in, uint8_t* out) {
  putU32(out, static_cast<uint32_t>(in.rank));
  in.listen.toWire(out + 4);
  putU32(out + 4 + SocketAddress::kWireBytes, in.pid);
  putString(out + 8 + SocketAddress::kWireBytes, in.hostname, kHostnameBytes);
  putString(out + 8 + SocketAddress::kWireBytes + kHostnameBytes, in.hostId, kHostIdBytes);
}

Status decodeRankInfo(const uint8_t* in, RankInfo* out) {
  out->rank = static_cast<int>(getU32(in));
  BRAID_RETURN_IF_ERROR(SocketAddress::fromWire(in + 4, &out->listen));
  out->pid = getU32(in + 4 + SocketAddress::kWireBytes);
  out->hostname = getString(in + 8 + SocketAddress::kWireBytes, kHostnameBytes);
  out->hostId = getString(in + 8 + SocketAddress::kWireBytes + kHostnameBytes, kHostIdBytes);
  return Status::ok();
}

void encodeHello(const Hello& in, uint8_t out[kHelloBytes]) {
  std::memset(out, 0, kHelloBytes);
  putU32(out, kHelloMagic);
  putU16(out + 4, kProtocolVersion);
  putU16(out + 6, static_cast<uint16_t>(in.kind));
  std::memcpy(out + 8, in.secret.data(), kSecretBytes);
  uint8_t* p = out + 8 + kSecretBytes;
  putU32(p, in.nranks);
  putU32(p + 4, in.rank);
  putU32(p + 8, in.channel);
  putU32(p + 12, in.nchannels);
  encodeRankInfo(in.info, p + 16);
}

Status decodeHello(const uint8_t in[kHelloBytes], Hello* out) {
  if (getU32(in) != kHelloMagic) return invalidArgument("not a Braid hello (bad magic)");
  if (getU16(in + 4) != kProtocolVersion) {
    return invalidArgument("hello speaks protocol version " + std::to_string(getU16(in + 4)));
  }
  uint16_t kind = getU16(in + 6);
  if (kind != static_cast<uint16_t>(HelloKind::kBootstrap) &&
      kind != static_cast<uint16_t>(HelloKind::kData)) {
    return invalidArgument("hello of unknown kind " + std::to_string(kind));
  }
  out->kind = static_cast<HelloKind>(kind);
  std::memcpy(out->secret.data(), in + 8, kSecretBytes);
  const uint8_t* p = in + 8 + kSecretBytes;
  out->nranks = getU32(p);
  out->rank = getU32(p + 4);
  out->channel = getU32(p + 8);
  out->nchannels = getU32(p + 12);
  if (out->kind == HelloKind::kBootstrap) {
    Status s = decodeRankInfo(p + 16, &out->info);
    if (!s) return s.withContext("hello: ");
  }
  return Status::ok();
}

bool secretsEqual(const Secret& a, const Secret& b) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < kSecretBytes; ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace braid
