// Rendezvous and the out-of-band channel of a communicator.
//
// Rank 0 listens on the root address of the unique id. Every other rank connects, proves it
// knows the secret, and sends its rank and its own listen address; rank 0 answers with the
// table of all ranks, or with an error every rank receives (duplicate rank, mismatched
// nranks, ranks that never arrived). Connections whose first bytes are not an authenticated
// hello are dropped and logged; they never derail the rendezvous of the real ranks.
//
// The connections to rank 0 (a star) stay open for the communicator's life: out-of-band
// allgather and barrier run over them, and so do failure notices: a rank that fails tells
// rank 0, which tells everyone; a rank whose connection drops without a goodbye is dead.
//
// Transports see the bootstrap only through core/out_of_band.h. The failure watch
// (appendPollFds, checkRemote, peerGone) is read by every waiting thread of a communicator
// (the calling thread and the channels' threads), so the link state is under a lock; it is
// taken only when a wait goes to sleep or every kRemoteCheckEvery collectives, never per message.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bootstrap/wire.h"
#include "core/fd.h"
#include "core/out_of_band.h"
#include "core/socket_address.h"
#include "core/status.h"

namespace braid {

struct BootstrapParams {
  int rank = 0;
  int nranks = 0;
  SocketAddress root;
  Secret secret{};
  int64_t timeoutMs = 300000;
  std::string ifname;  // BRAID_SOCKET_IFNAME
  int family = 0;
  int abortFd = -1;    // readable when the communicator is aborted
  std::string hostId;  // BRAID_HOST_ID, or empty for localHostId()'s own answer
};

class Bootstrap final : public OutOfBand {
 public:
  static Status create(const BootstrapParams& params, std::unique_ptr<Bootstrap>* out);
  // A process given a rank outside [0, nranks) tells rank 0 (best effort, a few seconds at
  // most), so every rank fails at once with a message naming it instead of at the timeout.
  static void reportInvalidRank(const BootstrapParams& params);
  ~Bootstrap() override;
  Bootstrap(const Bootstrap&) = delete;
  Bootstrap& operator=(const Bootstrap&) = delete;

  // OutOfBand.
  int rank() const override { return params_.rank; }
  int nranks() const override { return params_.nranks; }
  const Secret& secret() const override { return params_.secret; }
  const std::vector<RankInfo>& table() const override { return table_; }
  // "rank 3 (host:pid 1234)"
  std::string describe(int rank) const override;
  int listenFd() const override { return listen_.get(); }
  int64_t timeoutMs() const override { return params_.timeoutMs; }
  int abortFd() const override { return params_.abortFd; }
  Status allgather(const void* mine, size_t bytes, std::vector<uint8_t>* out) override;
  Status barrier() override;

  // Failure detection: fds that become readable when a notice or a disconnect arrives.
  void appendPollFds(std::vector<pollfd>* fds) const;
  // Reads what has arrived without blocking; returns the first failure another rank reported
  // (a rank that failed says so at once), if any.
  Status checkRemote();
  // Whether a failure notice is recorded (read without the lock: a thread whose poll missed the
  // notice, another thread having read it, learns of it here).
  bool hasNotice() const { return notice_.load(std::memory_order_acquire); }
  // A rank whose link dropped without a goodbye: it died, or it exited without
  // braidCommDestroy right after its last collective, its data already sent. Callers treat it
  // as fatal for the next operation, and for the current one once nothing moves for a moment.
  Status peerGone() const;
  // Tells the others this rank failed (best effort, never blocks for long).
  void notifyFailure(const std::string& message);
  // Orderly goodbye before closing, so peers do not take the close for a crash.
  void sayGoodbye();

 private:
  struct Link {
    Fd fd;
    int rank = -1;
    FrameParser parser;
    std::vector<std::vector<uint8_t>> allgatherFrames;
    bool departed = false;
    bool closed = false;
  };

  explicit Bootstrap(const BootstrapParams& params) : params_(params) {}
  Status rendezvousRoot(const RankInfo& self);
  Status rendezvousRank(const RankInfo& self);
  Status allgatherLocked(const void* mine, size_t bytes, std::vector<uint8_t>* out);
  Status pump(Link* link);  // reads available bytes, handles control frames
  Status waitAllgatherFrame(Link* link, std::vector<uint8_t>* payload);
  Status sendFrame(Link* link, FrameType type, const std::vector<uint8_t>& payload);
  void recordFailure(Status status);
  void relay(FrameType type, int failedRank, const std::string& message, const Link* except);

  BootstrapParams params_;
  // Guards the links and the failure state once the rendezvous is over (see above).
  mutable std::mutex mu_;
  Fd listen_;
  std::vector<RankInfo> table_;
  std::vector<std::unique_ptr<Link>> links_;  // root: one per rank (nullptr for itself); rank: one
  Status remoteFailure_;
  std::atomic<bool> notice_{false};  // remoteFailure_ is set
  Status peerGone_;
  bool saidGoodbye_ = false;
};

// Host identity: configured (BRAID_HOST_ID, through Config) if not empty, else boot id plus
// network namespace (two namespaces on one machine are two hosts: they cannot share
// memory-mapped segments by name reliably).
std::string localHostId(const std::string& configured);
std::string localHostname();

}  // namespace braid
