// Shared-memory transport: the ranks of a communicator that share a host map one POSIX
// shared-memory segment, created by the host's lowest rank and unlinked as soon as every local
// rank has attached (a crash afterwards leaves nothing in /dev/shm).
//
// The segment holds, for each local rank:
//   - a control block: a futex doorbell and a "sleeping" flag, each on its own cache lines;
//   - kWindowFlags monotonically increasing counters (one per 128-byte line, written only by
//     their owner) and a window of data, which the SharedWindow interface hands to the
//     node-local algorithms (src/algo/window_collectives.cc);
// and, for each ordered pair of local ranks, a single-producer/single-consumer byte FIFO (head
// and tail on their own lines, data 128-byte aligned) that ShmConnection streams messages
// through, so every Connection-based algorithm (ring, tree, direct) runs over shared memory too.
//
// Waiting: a rank spins briefly, then yields, then sleeps on its futex doorbell. Whoever
// publishes something (FIFO data or space, a window counter) rings the doorbells of the ranks
// that are asleep, and only theirs: an awake rank costs its publishers one load.
//
// There is no connection reset in shared memory: a rank that closes its connections marks its
// FIFOs closed (its peers fail at once), and a rank that dies is seen by the bootstrap star
// (its TCP link to rank 0 drops) and by a pid liveness check in the waits.
//
// In the registry (transports/registry.cc) shared memory reaches the ranks of this host, ahead
// of sockets.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/out_of_band.h"
#include "transports/doorbell.h"
#include "transports/shared_window.h"
#include "transports/transport.h"

namespace braid {

class ShmNode;

class ShmTransport final : public Transport {
 public:
  static constexpr int kPriority = 100;  // ahead of sockets wherever both reach a peer

  const char* name() const override { return "shm"; }
  // kPriority for the other ranks of this host, -1 for the rest.
  int priority(int peer) const override;
  // Connects to peers on this host through the node's FIFOs (peers must be local).
  Status connect(const std::vector<int>& peers,
                 std::vector<std::unique_ptr<Connection>>* out) override;
  Doorbell* doorbell() override;
  // The window shared by all ranks, when every rank of the communicator is on this host.
  SharedWindow* window() override;

  // Collective over ALL ranks of the communicator (two out-of-band allgathers). On success
  // *out is the attached node, or nullptr when shared memory is unavailable on this host
  // (logged; both ranks of every pair then agree the pair uses sockets).
  // BRAID_TRANSPORT=shm with a rank on another host is an error naming that rank.
  static Status create(OutOfBand* oob, const Config& config, std::unique_ptr<Transport>* out);

  ~ShmTransport() override;
  // A FIFO connection from node's rank to its local rank peerIndex (unit tests build nodes
  // over memory of their own).
  static std::unique_ptr<Connection> makeConnection(ShmNode* node, int peerIndex);
  bool isLocal(int rank) const;

 private:
  ShmTransport() = default;
  std::unique_ptr<ShmNode> node_;
  std::vector<int> local_;
  int rank_ = 0;
  int nranks_ = 0;
};

// The mapped segment and its synchronization, shared by the FIFOs and the window.
class ShmNode final : public SharedWindow, public Doorbell {
 public:
  static constexpr size_t kLine = 128;  // two cache lines: adjacent-line prefetch stays out

  ShmNode(std::vector<int> local, int myIndex, std::vector<uint32_t> pids, char* base, size_t bytes,
          size_t windowBytes, size_t fifoBytes);
  ~ShmNode() override;
  ShmNode(const ShmNode&) = delete;
  ShmNode& operator=(const ShmNode&) = delete;

  static size_t segmentBytes(int nlocal, size_t windowBytes, size_t fifoBytes);
  // Lays out a fresh segment (the creator does this before anyone attaches).
  static void initialize(char* base, int nlocal, size_t windowBytes, size_t fifoBytes);
  static bool validate(const char* base, int nlocal, size_t windowBytes, size_t fifoBytes);
  // Counts an attach; true for the one that completes the host's set.
  static bool attachedByAll(char* base, int nlocal);

  int nlocal() const { return static_cast<int>(local_.size()); }
  int myIndex() const { return me_; }
  int indexOf(int rank) const;  // -1 when not local
  int rankOf(int index) const { return local_[static_cast<size_t>(index)]; }
  uint32_t pidOf(int index) const { return pids_[static_cast<size_t>(index)]; }

  // SharedWindow (indices are local indices; equal to ranks when every rank is local).
  char* data(int index) override;
  size_t bytes() const override { return windowBytes_; }
  std::atomic<uint64_t>& flag(int index, int which) override;
  void post(int which, uint64_t value) override;
  void notify() override;
  bool canReadRemote() const override { return cma_; }
  Status readRemote(int rank, void* dst, uint64_t remoteAddress, size_t bytes) override;
  // Probes cross-memory attach (process_vm_readv) on every local peer: reads each one's
  // control block at the address it published and compares it with this mapping.
  bool probeCrossMemoryAttach(std::string* why);
  void enableCrossMemoryAttach(bool on) { cma_ = on; }

  // Doorbell: the futex this rank sleeps on.
  uint32_t beginSleep() override;
  void sleep(uint32_t seen, int64_t timeoutMs) override;
  void endSleep() override;
  void wakeSelf() override;
  int sharers() const override { return nlocal(); }
  // Wakes local rank `index` if it sleeps (call after publishing, with a seq_cst fence before).
  void wakeIfSleeping(int index);
  void wakeAllSleeping();

  struct Fifo {
    alignas(kLine) std::atomic<uint64_t> tail;  // bytes written, by the producer
    alignas(kLine) std::atomic<uint64_t> head;  // bytes read, by the consumer
    alignas(kLine) std::atomic<uint32_t> closed;
    char pad[kLine - sizeof(std::atomic<uint32_t>)];
  };
  Fifo* fifo(int from, int to);
  char* fifoData(int from, int to);
  size_t fifoBytes() const { return fifoBytes_; }

 private:
  struct Control {
    alignas(kLine) std::atomic<uint32_t> doorbell;
    alignas(kLine) std::atomic<uint32_t> sleeping;
    std::atomic<uint32_t> pid;     // the owner's pid, as it sees it
    std::atomic<uint64_t> mapped;  // where the owner mapped this segment
    char pad[kLine - 2 * sizeof(std::atomic<uint64_t>)];
  };
  Control* control(int index);

  std::vector<int> local_;
  int me_;
  std::vector<uint32_t> pids_;
  char* base_;
  size_t bytes_;
  size_t windowBytes_;
  size_t fifoBytes_;
  bool cma_ = false;
  // Where each part of the segment starts in this mapping (computed once: the hot paths use
  // them on every publish and wait).
  char* controls_ = nullptr;
  char* flags_ = nullptr;
  char* windows_ = nullptr;
  char* fifos_ = nullptr;
  char* fifoData_ = nullptr;
};

}  // namespace braid
