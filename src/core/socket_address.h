// IPv4 / IPv6 socket addresses: parsing "host:port" and "[v6]:port", a fixed-size wire form,
// and the choice of a local interface (BRAID_SOCKET_IFNAME).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "core/status.h"

namespace braid {

class SocketAddress {
 public:
  static constexpr size_t kWireBytes = 20;  // family(2) port(2) address(16)

  SocketAddress() = default;

  // "1.2.3.4:5", "[::1]:5", "hostname:5". Hostnames resolve with getaddrinfo (family 0 = any).
  static Status parse(const std::string& text, int family, SocketAddress* out);
  // parse's syntax step alone, nothing resolved: the host (brackets removed) and the port.
  static Status splitHostPort(const std::string& text, std::string* host, int* port);
  // "host" alone plus a port.
  static Status resolve(const std::string& host, int port, int family, SocketAddress* out);
  static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len);

  void toWire(uint8_t out[kWireBytes]) const;
  static Status fromWire(const uint8_t in[kWireBytes], SocketAddress* out);

  std::string toString() const;  // "1.2.3.4:5" or "[::1]:5"
  std::string hostString() const;

  int family() const { return storage_.ss_family; }
  int port() const;
  void setPort(int port);
  bool isLoopback() const;
  bool valid() const { return len_ > 0; }
  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return len_; }

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

// Picks a local address for listening.
// - spec (BRAID_SOCKET_IFNAME) non-empty: the first up interface matching it ("eth" prefix,
//   "=eth0" exact, "^docker,lo" excluding), in getifaddrs order.
// - else, if target is given: a loopback target gives loopback; otherwise the interface whose
//   subnet holds target; failing that, the first non-loopback one.
// - else the first up, non-loopback, non-docker interface; failing that, loopback.
// family: 0 any, AF_INET or AF_INET6. The port of *out is 0. *ifname names the interface.
Status chooseLocalAddress(const std::string& spec, int family, const SocketAddress* target,
                          SocketAddress* out, std::string* ifname);

// True if name matches a BRAID_SOCKET_IFNAME spec (exposed for tests).
bool interfaceMatches(const std::string& spec, const std::string& name);

}  // namespace braid
