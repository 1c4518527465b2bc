// The transports this build has, and the choice of one per pair.
//
// Each transport is one entry in transports/registry.cc: a name and a factory. At init every
// rank creates every transport, in registry order (a factory may run out-of-band collectives,
// as shared memory does to decide per host), and each pair is served by the transport of the
// highest priority that reaches it (Transport::priority). BRAID_TRANSPORT=<name> restricts the
// choice to that transport; a peer it cannot reach is an error naming the peer.
//
// Adding a transport is a folder under transports/ and one line in the registry; nothing above
// this layer names a concrete transport.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/out_of_band.h"
#include "core/status.h"
#include "transports/transport.h"

namespace braid {

struct TransportEntry {
  const char* name;  // what BRAID_TRANSPORT names it by
  // Collective over all ranks of the communicator. Sets *out to nullptr when the transport has
  // nothing to offer this communicator (no other rank on this host, say); an error fails the
  // communicator's init.
  Status (*create)(OutOfBand* oob, const Config& config, std::unique_ptr<Transport>* out);
};

// Every transport of this build, in creation order.
const std::vector<TransportEntry>& transportRegistry();

// An error unless name is empty (automatic) or a transport of this build: checked before the
// rendezvous, so a typo fails at once on the rank that has it.
Status checkTransportName(const std::string& name);

// The transports of one communicator.
class TransportSet {
 public:
  // Creates every transport of the registry (collective over all ranks).
  static Status create(OutOfBand* oob, const Config& config, std::unique_ptr<TransportSet>* out);

  // The transport serving the pair (this rank, peer): an error naming the peer when none can.
  Status choose(int peer, Transport** out) const;
  // Connects to every rank in peers, each over its chosen transport (collective among the
  // ranks involved); appends the connections to out.
  Status connect(const std::vector<int>& peers, std::vector<std::unique_ptr<Connection>>* out);
  // The first doorbell / window any transport offers, or nullptr.
  Doorbell* doorbell() const { return doorbell_; }
  SharedWindow* window() const { return window_; }

 private:
  TransportSet() = default;

  OutOfBand* oob_ = nullptr;
  std::string forced_;  // BRAID_TRANSPORT, or empty
  std::vector<std::unique_ptr<Transport>> transports_;
  Doorbell* doorbell_ = nullptr;
  SharedWindow* window_ = nullptr;
};

}  // namespace braid
