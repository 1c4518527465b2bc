#include "transports/registry.h"

#include "transports/shm/shm_transport.h"
#include "transports/socket/socket_transport.h"

namespace braid {

const std::vector<TransportEntry>& transportRegistry() {
  // Order matters only for creation (every rank runs the factories' collectives in this order);
  // the choice per pair goes by priority.
  static const std::vector<TransportEntry> kRegistry = {
      {"shm", &ShmTransport::create},
      {"socket", &SocketTransport::create},
  };
  return kRegistry;
}

Status checkTransportName(const std::string& name) {
  if (name.empty()) return Status::ok();
  std::string names;
  for (const TransportEntry& e : transportRegistry()) {
    if (name == e.name) return Status::ok();
    names += (names.empty() ? "" : ", ") + std::string(e.name);
  }
  return invalidArgument("BRAID_TRANSPORT=" + name + " is not available (this build has: " + names +
                         ")");
}

Status TransportSet::create(OutOfBand* oob, const Config& config,
                            std::unique_ptr<TransportSet>* out) {
  BRAID_RETURN_IF_ERROR(checkTransportName(config.transport));
  std::unique_ptr<TransportSet> set(new TransportSet());
  set->oob_ = oob;
  set->forced_ = config.transport;
  for (const TransportEntry& e : transportRegistry()) {
    std::unique_ptr<Transport> t;
    BRAID_RETURN_IF_ERROR(e.create(oob, config, &t));
    if (!t) continue;
    if (set->doorbell_ == nullptr) set->doorbell_ = t->doorbell();
    if (set->window_ == nullptr) set->window_ = t->window();
    set->transports_.push_back(std::move(t));
  }
  *out = std::move(set);
  return Status::ok();
}

Status TransportSet::choose(int peer, Transport** out) const {
  Transport* best = nullptr;
  int bestPriority = -1;
  for (const auto& t : transports_) {
    if (!forced_.empty() && forced_ != t->name()) continue;
    const int p = t->priority(peer);
    if (p > bestPriority) {
      best = t.get();
      bestPriority = p;
    }
  }
  if (best == nullptr) {
    return invalidArgument("rank " + std::to_string(oob_->rank()) + ": " +
                           (forced_.empty() ? std::string("no transport reaches ")
                                            : "BRAID_TRANSPORT=" + forced_ + " cannot reach ") +
                           oob_->describe(peer));
  }
  *out = best;
  return Status::ok();
}

Status TransportSet::connect(const std::vector<int>& peers,
                             std::vector<std::unique_ptr<Connection>>* out) {
  // One connect call per transport, with all of its peers: a transport sets up its
  // connections in one round (sockets connect all, then accept all).
  std::vector<std::vector<int>> byTransport(transports_.size());
  for (int p : peers) {
    Transport* t = nullptr;
    BRAID_RETURN_IF_ERROR(choose(p, &t));
    for (size_t i = 0; i < transports_.size(); ++i) {
      if (transports_[i].get() == t) byTransport[i].push_back(p);
    }
  }
  for (size_t i = 0; i < transports_.size(); ++i) {
    if (!byTransport[i].empty())
      BRAID_RETURN_IF_ERROR(transports_[i]->connect(byTransport[i], out));
  }
  return Status::ok();
}

}  // namespace braid
