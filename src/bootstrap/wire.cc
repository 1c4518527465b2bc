#include "bootstrap/wire.h"

#include <algorithm>
#include <cstring>

namespace braid {

namespace {
constexpr uint8_t kIdMagic[4] = {'B', 'R', 'I', 'D'};
}  // namespace

void encodeUniqueId(const UniqueIdContents& in, braidUniqueId* out) {
  auto* p = reinterpret_cast<uint8_t*>(out->internal);
  std::memset(p, 0, BRAID_UNIQUE_ID_BYTES);
  std::memcpy(p, kIdMagic, 4);
  putU16(p + 4, kProtocolVersion);
  in.root.toWire(p + 8);
  std::memcpy(p + 8 + SocketAddress::kWireBytes, in.secret.data(), kSecretBytes);
}

Status decodeUniqueId(const braidUniqueId& in, UniqueIdContents* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.internal);
  if (std::memcmp(p, kIdMagic, 4) != 0) {
    return invalidArgument("the unique id is not one braidGetUniqueId made (bad magic)");
  }
  if (getU16(p + 4) != kProtocolVersion) {
    return invalidArgument("the unique id has protocol version " + std::to_string(getU16(p + 4)) +
                           ", this library speaks " + std::to_string(kProtocolVersion));
  }
  Status s = SocketAddress::fromWire(p + 8, &out->root);
  if (!s) return s.withContext("the unique id is corrupt: ");
  std::memcpy(out->secret.data(), p + 8 + SocketAddress::kWireBytes, kSecretBytes);
  return Status::ok();
}

void encodeFrameHeader(FrameType type, uint32_t length, uint8_t out[kFrameHeaderBytes]) {
  putU32(out, static_cast<uint32_t>(type));
  putU32(out + 4, length);
}

Status decodeFrameHeader(const uint8_t in[kFrameHeaderBytes], FrameType* type, uint32_t* length) {
  uint32_t t = getU32(in);
  if (t < static_cast<uint32_t>(FrameType::kTable) || t > static_cast<uint32_t>(FrameType::kGone)) {
    return invalidArgument("frame of unknown type " + std::to_string(t));
  }
  uint32_t len = getU32(in + 4);
  if (len > kMaxFramePayload) {
    return invalidArgument("frame of " + std::to_string(len) + " bytes exceeds the limit");
  }
  *type = static_cast<FrameType>(t);
  *length = len;
  return Status::ok();
}

Status FrameParser::feed(const uint8_t* data, size_t len, std::vector<Frame>* out) {
  if (!error_.isOk()) return error_;
  buf_.insert(buf_.end(), data, data + len);
  size_t off = 0;
  while (buf_.size() - off >= kFrameHeaderBytes) {
    FrameType type;
    uint32_t length = 0;
    Status s = decodeFrameHeader(buf_.data() + off, &type, &length);
    if (!s) {
      error_ = s;
      buf_.clear();
      return error_;
    }
    if (buf_.size() - off - kFrameHeaderBytes < length) break;
    const uint8_t* p = buf_.data() + off + kFrameHeaderBytes;
    out->push_back(Frame{type, std::vector<uint8_t>(p, p + length)});
    off += kFrameHeaderBytes + length;
  }
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(off));
  return Status::ok();
}

std::vector<uint8_t> encodeErrorPayload(const Status& s) {
  std::vector<uint8_t> out(4 + s.message().size());
  putU32(out.data(), static_cast<uint32_t>(s.code()));
  std::copy(s.message().begin(), s.message().end(), out.begin() + 4);
  return out;
}

namespace {

// Text from another process, made safe to print: bytes outside printable ASCII become '?'.
std::string printableText(std::vector<uint8_t>::const_iterator begin,
                          std::vector<uint8_t>::const_iterator end) {
  std::string text(begin, end);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return text;
}

}  // namespace

Status decodeErrorPayload(const std::vector<uint8_t>& p) {
  if (p.size() < 4) return remoteError("rendezvous failed (malformed error from rank 0)");
  uint32_t code = getU32(p.data());
  if (code == 0 || code > braidTimeout) code = braidRemoteError;
  return {static_cast<braidResult_t>(code), printableText(p.begin() + 4, p.end())};
}

std::vector<uint8_t> encodeFailureNotice(int failedRank, const std::string& message) {
  std::vector<uint8_t> out(4 + message.size());
  putU32(out.data(), static_cast<uint32_t>(failedRank));
  std::copy(message.begin(), message.end(), out.begin() + 4);
  return out;
}

void decodeFailureNotice(const std::vector<uint8_t>& payload, int* failedRank,
                         std::string* message) {
  message->clear();
  if (payload.size() < 4) return;
  *failedRank = static_cast<int>(getU32(payload.data()));
  *message = printableText(payload.begin() + 4, payload.end());
}

std::vector<uint8_t> encodeTable(const std::vector<RankInfo>& table) {
  std::vector<uint8_t> out(table.size() * kRankInfoBytes);
  for (size_t i = 0; i < table.size(); ++i)
    encodeRankInfo(table[i], out.data() + i * kRankInfoBytes);
  return out;
}

Status decodeTable(const std::vector<uint8_t>& payload, int nranks, std::vector<RankInfo>* out) {
  if (payload.size() != static_cast<size_t>(nranks) * kRankInfoBytes) {
    return invalidArgument("rank table of " + std::to_string(payload.size()) + " bytes, expected " +
                           std::to_string(static_cast<size_t>(nranks) * kRankInfoBytes));
  }
  out->assign(nranks, RankInfo{});
  for (int i = 0; i < nranks; ++i) {
    BRAID_RETURN_IF_ERROR(decodeRankInfo(payload.data() + i * kRankInfoBytes, &(*out)[i]));
    if ((*out)[i].rank != i)
      return invalidArgument("rank table entry " + std::to_string(i) + " is corrupt");
  }
  return Status::ok();
}

Status parseSecret(const std::string& hex, Secret* out) {
  if (hex.size() != 2 * kSecretBytes) {
    return invalidArgument("BRAID_SECRET must be 32 hexadecimal characters (got " +
                           std::to_string(hex.size()) + ")");
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < kSecretBytes; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return invalidArgument("BRAID_SECRET must be hexadecimal");
    (*out)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return Status::ok();
}

}  // namespace braid
