// TCP transport: each connection is BRAID_SOCKET_NSOCKS non-blocking sockets per direction
// (a socket carries one direction only), messages split into segments striped round-robin
// over them (both sides derive the same striping from the message sizes, so segments need no
// headers). TCP_NODELAY always; large messages are written
// and read in segment-sized calls straight from and into the user's buffers.
//
// Set-up: the lower rank of a pair connects to the higher rank's listener (from the bootstrap
// table) and sends an authenticated hello per socket; the higher rank accepts, checks the
// secret, the rank and the socket index, and drops anything else with a warning.
//
// In the registry (transports/registry.cc) sockets reach every rank, at the lowest priority.
#pragma once

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/out_of_band.h"
#include "transports/transport.h"

namespace braid {

class SocketTransport final : public Transport {
 public:
  // bootstrap: the out-of-band channel (its table gives each peer's listen address).
  SocketTransport(OutOfBand* bootstrap, const Config& config, int abortFd)
      : bootstrap_(bootstrap), config_(config), abortFd_(abortFd) {}
  // The registry's factory: no collective step, sockets need none.
  static Status create(OutOfBand* oob, const Config& config, std::unique_ptr<Transport>* out);

  const char* name() const override { return "socket"; }
  int priority(int peer) const override { return peer != bootstrap_->rank() ? 0 : -1; }
  Status connect(const std::vector<int>& peers,
                 std::vector<std::unique_ptr<Connection>>* out) override;
  // nchannels independent connections to each peer, in one set-up round (so sockets of
  // different channels cannot be confused): (*out)[c] holds channel c's, in the order of peers.
  bool offersChannels() const override { return true; }
  Status connectChannels(const std::vector<int>& peers, int nchannels,
                         std::vector<std::vector<std::unique_ptr<Connection>>>* out) override;

 private:
  OutOfBand* bootstrap_;
  Config config_;
  int abortFd_;
};

}  // namespace braid
