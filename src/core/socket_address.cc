#include "core/socket_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>

#include <cstring>
#include <vector>

namespace braid {

namespace {

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool sameSubnet(const sockaddr* addr, const sockaddr* mask, const SocketAddress& target) {
  if (addr->sa_family != target.family() || mask == nullptr) return false;
  if (addr->sa_family == AF_INET) {
    auto a = reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr;
    auto m = reinterpret_cast<const sockaddr_in*>(mask)->sin_addr.s_addr;
    auto t = reinterpret_cast<const sockaddr_in*>(target.sockaddrPtr())->sin_addr.s_addr;
    return (a & m) == (t & m);
  }
  if (addr->sa_family == AF_INET6) {
    auto a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
    auto m = reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr.s6_addr;
    auto t = reinterpret_cast<const sockaddr_in6*>(target.sockaddrPtr())->sin6_addr.s6_addr;
    for (int i = 0; i < 16; ++i) {
      if ((a[i] & m[i]) != (t[i] & m[i])) return false;
    }
    return true;
  }
  return false;
}

bool isLinkLocal6(const sockaddr* sa) {
  if (sa->sa_family != AF_INET6) return false;
  return IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
}

}  // namespace

bool interfaceMatches(const std::string& spec, const std::string& name) {
  if (spec.empty()) return true;
  bool exclude = spec[0] == '^';
  std::string rest = exclude ? spec.substr(1) : spec;
  bool exact = !rest.empty() && rest[0] == '=';
  if (exact) rest = rest.substr(1);
  bool matched = false;
  for (const std::string& item : splitList(rest)) {
    if (exact ? name == item : name.compare(0, item.size(), item) == 0) {
      matched = true;
      break;
    }
  }
  return exclude ? !matched : matched;
}

Status SocketAddress::resolve(const std::string& host, int port, int family, SocketAddress* out) {
  if (port < 0 || port > 65535)
    return invalidArgument("port " + std::to_string(port) + " is out of range");
  addrinfo hints{};
  hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return invalidArgument("cannot resolve host '" + host + "': " + gai_strerror(rc));
  }
  *out = fromSockaddr(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  out->setPort(port);
  return Status::ok();
}

Status SocketAddress::splitHostPort(const std::string& text, std::string* hostOut, int* portOut) {
  std::string host;
  std::string portText;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalidArgument("address '" + text + "' is not of the form [v6addr]:port");
    }
    host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return invalidArgument("address '" + text +
                             "' is not of the form host:port (IPv6: [addr]:port)");
    }
    host = text.substr(0, colon);
    portText = text.substr(colon + 1);
  }
  // A host (name or address) never holds a bracket: "[[]:1" or "a]:1" is malformed, not a
  // name for the resolver to refuse.
  if (host.empty() || host.find_first_of("[]") != std::string::npos || portText.empty() ||
      portText.size() > 5 || portText.find_first_not_of("0123456789") != std::string::npos) {
    return invalidArgument("address '" + text + "' is not of the form host:port");
  }
  int port = std::stoi(portText);
  if (port > 65535) return invalidArgument("port in '" + text + "' is out of range");
  *hostOut = host;
  *portOut = port;
  return Status::ok();
}

Status SocketAddress::parse(const std::string& text, int family, SocketAddress* out) {
  std::string host;
  int port = 0;
  BRAID_RETURN_IF_ERROR(splitHostPort(text, &host, &port));
  return resolve(host, port, family, out);
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  socklen_t n = sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (len < n) n = len;
  std::memcpy(&a.storage_, sa, n);
  a.len_ = n;
  return a;
}

int SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void SocketAddress::setPort(int port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

bool SocketAddress::isLoopback() const {
  if (family() == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr) >> 24) == 127;
  }
  if (family() == AF_INET6) {
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
  }
  return false;
}

void SocketAddress::toWire(uint8_t out[kWireBytes]) const {
  std::memset(out, 0, kWireBytes);
  uint16_t fam = family() == AF_INET6 ? 6 : family() == AF_INET ? 4 : 0;
  uint16_t p = static_cast<uint16_t>(port());
  out[0] = static_cast<uint8_t>(fam & 0xff);
  out[1] = static_cast<uint8_t>(fam >> 8);
  out[2] = static_cast<uint8_t>(p & 0xff);
  out[3] = static_cast<uint8_t>(p >> 8);
  if (fam == 4) {
    std::memcpy(out + 4, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, 4);
  } else if (fam == 6) {
    std::memcpy(out + 4, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, 16);
  }
}

Status SocketAddress::fromWire(const uint8_t in[kWireBytes], SocketAddress* out) {
  uint16_t fam = static_cast<uint16_t>(in[0] | (in[1] << 8));
  uint16_t p = static_cast<uint16_t>(in[2] | (in[3] << 8));
  SocketAddress a;
  if (fam == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage_);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, in + 4, 4);
    a.len_ = sizeof(sockaddr_in);
  } else if (fam == 6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, in + 4, 16);
    a.len_ = sizeof(sockaddr_in6);
  } else {
    return invalidArgument("malformed address (family " + std::to_string(fam) + ")");
  }
  a.setPort(p);
  *out = a;
  return Status::ok();
}

std::string SocketAddress::hostString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
              sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof(buf));
  } else {
    return "<none>";
  }
  return buf;
}

std::string SocketAddress::toString() const {
  if (family() == AF_INET6) return "[" + hostString() + "]:" + std::to_string(port());
  return hostString() + ":" + std::to_string(port());
}

Status chooseLocalAddress(const std::string& spec, int family, const SocketAddress* target,
                          SocketAddress* out, std::string* ifname) {
  int want = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  if (target != nullptr && target->valid()) want = target->family();
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return systemError(errnoMessage("getifaddrs", errno));
  struct Candidate {
    std::string name;
    SocketAddress addr;
    bool loopback;
    bool subnetMatch;
  };
  std::vector<Candidate> candidates;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || !(it->ifa_flags & IFF_UP)) continue;
    int fam = it->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (want != AF_UNSPEC && fam != want) continue;
    if (isLinkLocal6(it->ifa_addr)) continue;  // needs a scope id; not worth the trouble
    std::string name = it->ifa_name;
    if (!spec.empty() && !interfaceMatches(spec, name)) continue;
    Candidate c{name,
                SocketAddress::fromSockaddr(
                    it->ifa_addr, fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)),
                (it->ifa_flags & IFF_LOOPBACK) != 0, false};
    if (target != nullptr && target->valid())
      c.subnetMatch = sameSubnet(it->ifa_addr, it->ifa_netmask, *target);
    candidates.push_back(c);
  }
  freeifaddrs(list);
  if (candidates.empty()) {
    std::string why =
        spec.empty() ? "no interface is up" : "no interface matches BRAID_SOCKET_IFNAME=" + spec;
    return systemError(why);
  }
  const Candidate* pick = nullptr;
  if (spec.empty() && target != nullptr && target->valid()) {
    if (target->isLoopback()) {
      for (auto& c : candidates)
        if (c.loopback) {
          pick = &c;
          break;
        }
    }
    if (pick == nullptr)
      for (auto& c : candidates)
        if (c.subnetMatch) {
          pick = &c;
          break;
        }
  }
  if (pick == nullptr && spec.empty()) {
    for (auto& c : candidates) {
      if (!c.loopback && c.name.compare(0, 6, "docker") != 0) {
        pick = &c;
        break;
      }
    }
  }
  if (pick == nullptr) {
    // With a spec: its first match. Without: loopback (prefer IPv4).
    for (auto& c : candidates)
      if (c.addr.family() == AF_INET) {
        pick = &c;
        break;
      }
    if (pick == nullptr) pick = &candidates.front();
  }
  *out = pick->addr;
  out->setPort(0);
  *ifname = pick->name;
  return Status::ok();
}

}  // namespace braid
