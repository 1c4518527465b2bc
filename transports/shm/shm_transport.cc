#include "transports/shm/shm_transport.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>

#include "core/log.h"

namespace braid {

namespace {

constexpr uint64_t kMagic = 0x0064696172622d31ULL;  // "1-braid\0", little-endian
constexpr size_t kLine = ShmNode::kLine;

size_t roundUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

struct Header {
  std::atomic<uint64_t> magic;
  uint32_t nlocal;
  std::atomic<uint32_t> attached;  // the rank that attaches last unlinks the name
  uint64_t windowBytes;
  uint64_t fifoBytes;
};

// Offsets of the parts of a segment.
struct Layout {
  size_t control;   // nlocal control blocks
  size_t flags;     // nlocal x kFlags lines
  size_t window;    // nlocal x windowBytes
  size_t fifos;     // nlocal x nlocal FIFO headers
  size_t fifoData;  // nlocal x nlocal x fifoBytes
  size_t total;
};

Layout layoutFor(int nlocal, size_t windowBytes, size_t fifoBytes) {
  const size_t n = static_cast<size_t>(nlocal);
  Layout l{};
  l.control = roundUp(sizeof(Header), kLine);
  l.flags = l.control + n * 2 * kLine;
  l.window = l.flags + n * SharedWindow::kFlags * kLine;
  l.fifos = l.window + n * windowBytes;
  l.fifoData = l.fifos + n * n * sizeof(ShmNode::Fifo);
  l.total = roundUp(l.fifoData + n * n * fifoBytes, 4096);
  return l;
}

// A store-load barrier between publishing and checking whether a peer sleeps (and, on the
// sleeper's side, between announcing the sleep and looking once more). GCC's ThreadSanitizer
// rejects atomic_thread_fence; it does not see other processes' accesses anyway, so under it
// a sequentially consistent read-modify-write stands in (a full barrier on x86 too).
inline void storeLoadFence() {
#if defined(__SANITIZE_THREAD__)
  thread_local std::atomic<int> dummy{0};
  dummy.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

long futexCall(void* addr, int op, uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, 0);
}

std::string segmentName(const Secret& secret, int leaderRank, uint32_t leaderPid) {
  static const char* hex = "0123456789abcdef";
  std::string name = "/braid-";
  for (size_t i = 0; i < 8; ++i) {
    name += hex[secret[i] >> 4];
    name += hex[secret[i] & 15];
  }
  return name + "-" + std::to_string(leaderPid) + "-" + std::to_string(leaderRank);
}

// A mapping that unmaps (and, while we still own the name, unlinks) itself.
struct Mapping {
  char* base = nullptr;
  size_t bytes = 0;
  std::string unlinkName;  // non-empty while this process should unlink the name
  ~Mapping() {
    if (!unlinkName.empty()) shm_unlink(unlinkName.c_str());
    if (base != nullptr) munmap(base, bytes);
  }
  void unlinkNow() {
    if (!unlinkName.empty()) shm_unlink(unlinkName.c_str());
    unlinkName.clear();
  }
};

Status createSegment(const std::string& name, size_t bytes, Mapping* m) {
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return systemError(errnoMessage("shm_open(" + name + ")", errno));
  m->unlinkName = name;
  // Reserve the pages now: a full /dev/shm is an error here, not a SIGBUS mid-collective.
  int rc = ftruncate(fd, static_cast<off_t>(bytes));
  if (rc == 0)
    rc = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  else
    rc = errno;
  if (rc != 0) {
    close(fd);
    return systemError(errnoMessage(
        "reserving " + std::to_string(bytes >> 10) + " KiB for " + name + " in /dev/shm", rc));
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) return systemError(errnoMessage("mmap(" + name + ")", err));
  m->base = static_cast<char*>(p);
  m->bytes = bytes;
  return Status::ok();
}

Status attachSegment(const std::string& name, size_t bytes, Mapping* m) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return systemError(errnoMessage("shm_open(" + name + ")", errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != bytes) {
    close(fd);
    return systemError("shared-memory segment " + name + " has an unexpected size");
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) return systemError(errnoMessage("mmap(" + name + ")", err));
  m->base = static_cast<char*>(p);
  m->bytes = bytes;
  return Status::ok();
}

// A FIFO-backed connection to a rank on this host.
class ShmConnection : public Connection {
 public:
  ShmConnection(ShmNode* node, int peerIndex, int peerRank, std::string description)
      : Connection(peerRank, std::move(description)),
        node_(node),
        peer_(peerIndex),
        out_(node->fifo(node->myIndex(), peerIndex)),
        in_(node->fifo(peerIndex, node->myIndex())),
        outData_(node->fifoData(node->myIndex(), peerIndex)),
        inData_(node->fifoData(peerIndex, node->myIndex())),
        cap_(node->fifoBytes()) {
    tail_ = out_->tail.load(std::memory_order_relaxed);
    head_ = in_->head.load(std::memory_order_relaxed);
  }
  ~ShmConnection() override { close(); }

  uint64_t postSend(const void* buf, size_t bytes) override {
    sends_.push_back({const_cast<char*>(static_cast<const char*>(buf)), bytes, 0});
    return ++sendPosted_;
  }
  uint64_t postRecv(void* buf, size_t bytes) override {
    recvs_.push_back({static_cast<char*>(buf), bytes, 0});
    return ++recvPosted_;
  }
  uint64_t sendsDone() const override { return sendDone_; }
  uint64_t recvsDone() const override { return recvDone_; }

  Status progress(bool* moved) override {
    if (!broken_.isOk()) return broken_;
    if (sends_.empty() && recvs_.empty()) return Status::ok();
    bool published = false;
    // Producer: copy into free space, publishing in pieces so the consumer starts early.
    while (!sends_.empty()) {
      Msg& m = sends_.front();
      if (m.done < m.len) {
        const uint64_t head = out_->head.load(std::memory_order_acquire);
        const size_t space = cap_ - static_cast<size_t>(tail_ - head);
        if (space == 0) break;
        const size_t pos = static_cast<size_t>(tail_ % cap_);
        const size_t n = std::min({space, cap_ - pos, m.len - m.done, kPiece});
        std::memcpy(outData_ + pos, m.ptr + m.done, n);
        m.done += n;
        tail_ += n;
        out_->tail.store(tail_, std::memory_order_release);
        published = true;
      }
      if (m.done < m.len) continue;
      sends_.pop_front();
      ++sendDone_;
    }
    // Consumer.
    while (!recvs_.empty()) {
      Msg& m = recvs_.front();
      if (m.done < m.len) {
        const uint64_t tail = in_->tail.load(std::memory_order_acquire);
        const size_t avail = static_cast<size_t>(tail - head_);
        if (avail == 0) break;
        const size_t pos = static_cast<size_t>(head_ % cap_);
        const size_t n = std::min({avail, cap_ - pos, m.len - m.done});
        std::memcpy(m.ptr + m.done, inData_ + pos, n);
        m.done += n;
        head_ += n;
        in_->head.store(head_, std::memory_order_release);
        published = true;
      }
      if (m.done < m.len) continue;
      recvs_.pop_front();
      ++recvDone_;
    }
    if (published) {
      *moved = true;
      storeLoadFence();
      node_->wakeIfSleeping(peer_);
      return Status::ok();
    }
    // Nothing moved: the peer may have closed (its data already drained above).
    if (in_->closed.load(std::memory_order_acquire) != 0 ||
        out_->closed.load(std::memory_order_acquire) != 0) {
      return fail(description() + " closed the connection while this rank was " +
                  (recvs_.empty() ? "sending to" : "receiving from") + " it");
    }
    return Status::ok();
  }

  // Shared memory has no fds: the communicator sleeps on the node's futex doorbell instead.
  void appendPollFds(std::vector<pollfd>* /*fds*/) const override {}
  bool pending() const override { return !sends_.empty() || !recvs_.empty(); }
  bool usesSharedMemory() const override { return true; }

  void close() override {
    if (closed_) return;
    closed_ = true;
    out_->closed.store(1, std::memory_order_release);
    in_->closed.store(1, std::memory_order_release);
    storeLoadFence();
    node_->wakeIfSleeping(peer_);
    sends_.clear();
    recvs_.clear();
    if (broken_.isOk()) broken_ = remoteError("connection to " + description() + " was closed");
  }

 private:
  // Largest copy before publishing: the consumer copies out while the producer copies in.
  static constexpr size_t kPiece = 64 << 10;
  struct Msg {
    char* ptr;
    size_t len;
    size_t done;
  };
  Status fail(std::string message) {
    if (broken_.isOk()) broken_ = remoteError(std::move(message));
    return broken_;
  }

  ShmNode* node_;
  int peer_;
  ShmNode::Fifo* out_;
  ShmNode::Fifo* in_;
  char* outData_;
  char* inData_;
  size_t cap_;
  uint64_t tail_ = 0;  // our copy of out_->tail (we are its only writer)
  uint64_t head_ = 0;  // our copy of in_->head
  std::deque<Msg> sends_;
  std::deque<Msg> recvs_;
  uint64_t sendPosted_ = 0;
  uint64_t recvPosted_ = 0;
  uint64_t sendDone_ = 0;
  uint64_t recvDone_ = 0;
  bool closed_ = false;
  Status broken_;
};

}  // namespace

// ---- ShmNode ----

ShmNode::ShmNode(std::vector<int> local, int myIndex, std::vector<uint32_t> pids, char* base,
                 size_t bytes, size_t windowBytes, size_t fifoBytes)
    : local_(std::move(local)),
      me_(myIndex),
      pids_(std::move(pids)),
      base_(base),
      bytes_(bytes),
      windowBytes_(windowBytes),
      fifoBytes_(fifoBytes) {
  const Layout l = layoutFor(nlocal(), windowBytes_, fifoBytes_);
  controls_ = base_ + l.control;
  flags_ = base_ + l.flags;
  windows_ = base_ + l.window;
  fifos_ = base_ + l.fifos;
  fifoData_ = base_ + l.fifoData;
  Control* c = control(me_);
  c->pid.store(static_cast<uint32_t>(getpid()), std::memory_order_relaxed);
  c->mapped.store(reinterpret_cast<uintptr_t>(base_), std::memory_order_release);
}

ShmNode::~ShmNode() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

size_t ShmNode::segmentBytes(int nlocal, size_t windowBytes, size_t fifoBytes) {
  return layoutFor(nlocal, windowBytes, fifoBytes).total;
}

void ShmNode::initialize(char* base, int nlocal, size_t windowBytes, size_t fifoBytes) {
  // The pages are fresh (zero) from ftruncate/fallocate; atomics with zero bits are zero.
  auto* h = reinterpret_cast<Header*>(base);
  h->nlocal = static_cast<uint32_t>(nlocal);
  h->windowBytes = windowBytes;
  h->fifoBytes = fifoBytes;
  h->attached.store(1, std::memory_order_relaxed);  // the creator
  h->magic.store(kMagic, std::memory_order_release);
}

bool ShmNode::attachedByAll(char* base, int nlocal) {
  auto* h = reinterpret_cast<Header*>(base);
  return h->attached.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<uint32_t>(nlocal);
}

bool ShmNode::validate(const char* base, int nlocal, size_t windowBytes, size_t fifoBytes) {
  const auto* h = reinterpret_cast<const Header*>(base);
  return h->magic.load(std::memory_order_acquire) == kMagic &&
         h->nlocal == static_cast<uint32_t>(nlocal) && h->windowBytes == windowBytes &&
         h->fifoBytes == fifoBytes;
}

int ShmNode::indexOf(int rank) const {
  auto it = std::lower_bound(local_.begin(), local_.end(), rank);
  return it != local_.end() && *it == rank ? static_cast<int>(it - local_.begin()) : -1;
}

ShmNode::Control* ShmNode::control(int index) {
  return reinterpret_cast<Control*>(controls_ + static_cast<size_t>(index) * 2 * kLine);
}

char* ShmNode::data(int index) { return windows_ + static_cast<size_t>(index) * windowBytes_; }

std::atomic<uint64_t>& ShmNode::flag(int index, int which) {
  return *reinterpret_cast<std::atomic<uint64_t>*>(
      flags_ + (static_cast<size_t>(index) * kFlags + static_cast<size_t>(which)) * kLine);
}

void ShmNode::post(int which, uint64_t value) {
  flag(me_, which).store(value, std::memory_order_release);
  storeLoadFence();
  wakeAllSleeping();
}

Status ShmNode::readRemote(int index, void* dst, uint64_t remoteAddress, size_t bytes) {
  auto* d = static_cast<char*>(dst);
  while (bytes > 0) {
    iovec local{d, bytes};
    // An address in the other process: never dereferenced here, only handed to the kernel.
    iovec remote{reinterpret_cast<void*>(  // NOLINT(performance-no-int-to-ptr)
                     static_cast<uintptr_t>(remoteAddress)),
                 bytes};
    const ssize_t n = process_vm_readv(static_cast<pid_t>(pidOf(index)), &local, 1, &remote, 1, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return remoteError(errnoMessage("reading the buffer of rank " +
                                          std::to_string(rankOf(index)) + " (pid " +
                                          std::to_string(pidOf(index)) + ") with process_vm_readv",
                                      n < 0 ? errno : EIO));
    }
    d += n;
    remoteAddress += static_cast<uint64_t>(n);
    bytes -= static_cast<size_t>(n);
  }
  return Status::ok();
}

bool ShmNode::probeCrossMemoryAttach(std::string* why) {
  for (int i = 0; i < nlocal(); ++i) {
    if (i == me_) continue;
    Control* c = control(i);
    const uint64_t theirs = c->mapped.load(std::memory_order_acquire);
    if (c->pid.load(std::memory_order_acquire) != pidOf(i)) {
      *why = "rank " + std::to_string(rankOf(i)) +
             " is in another pid namespace (its pid differs from the bootstrap's)";
      return false;
    }
    Control copy;
    Status s = readRemote(
        i, &copy, theirs + static_cast<uint64_t>(reinterpret_cast<char*>(c) - base_), sizeof(copy));
    if (!s) {
      *why = s.message();
      return false;
    }
    if (copy.mapped.load() != theirs) {
      *why = "process_vm_readv on rank " + std::to_string(rankOf(i)) + " read unexpected data";
      return false;
    }
  }
  return true;
}

void ShmNode::notify() {
  storeLoadFence();
  wakeAllSleeping();
}

ShmNode::Fifo* ShmNode::fifo(int from, int to) {
  const size_t i = static_cast<size_t>(from) * local_.size() + static_cast<size_t>(to);
  return reinterpret_cast<Fifo*>(fifos_ + i * sizeof(Fifo));
}

char* ShmNode::fifoData(int from, int to) {
  const size_t i = static_cast<size_t>(from) * local_.size() + static_cast<size_t>(to);
  return fifoData_ + i * fifoBytes_;
}

uint32_t ShmNode::beginSleep() {
  Control* c = control(me_);
  const uint32_t seen = c->doorbell.load(std::memory_order_acquire);
  c->sleeping.store(1, std::memory_order_seq_cst);
  storeLoadFence();
  return seen;
}

void ShmNode::sleep(uint32_t seen, int64_t timeoutMs) {
  Control* c = control(me_);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeoutMs / 1000);
  ts.tv_nsec = static_cast<long>((timeoutMs % 1000) * 1000000);
  // Shared (not FUTEX_PRIVATE): the waker is another process.
  futexCall(&c->doorbell, FUTEX_WAIT, seen, &ts);
  c->sleeping.store(0, std::memory_order_relaxed);
}

void ShmNode::endSleep() { control(me_)->sleeping.store(0, std::memory_order_relaxed); }

void ShmNode::wakeIfSleeping(int index) {
  Control* c = control(index);
  if (c->sleeping.load(std::memory_order_seq_cst) == 0) return;
  c->doorbell.fetch_add(1, std::memory_order_seq_cst);
  futexCall(&c->doorbell, FUTEX_WAKE, INT_MAX, nullptr);
}

void ShmNode::wakeAllSleeping() {
  for (int i = 0; i < nlocal(); ++i) {
    if (i != me_) wakeIfSleeping(i);
  }
}

void ShmNode::wakeSelf() {
  Control* c = control(me_);
  c->doorbell.fetch_add(1, std::memory_order_seq_cst);
  futexCall(&c->doorbell, FUTEX_WAKE, INT_MAX, nullptr);
}

// ---- ShmTransport ----

ShmTransport::~ShmTransport() = default;

bool ShmTransport::isLocal(int rank) const {
  return std::binary_search(local_.begin(), local_.end(), rank);
}

int ShmTransport::priority(int peer) const {
  return peer != rank_ && isLocal(peer) ? kPriority : -1;
}

Doorbell* ShmTransport::doorbell() { return node_.get(); }

SharedWindow* ShmTransport::window() {
  return node_ && static_cast<int>(local_.size()) == nranks_ ? node_.get() : nullptr;
}

Status ShmTransport::connect(const std::vector<int>& peers,
                             std::vector<std::unique_ptr<Connection>>* out) {
  if (!node_) return internalError("shared-memory transport used without a segment");
  for (int p : peers) {
    const int idx = node_->indexOf(p);
    if (idx < 0 || p == rank_) {
      return internalError("shared-memory transport asked to connect rank " +
                           std::to_string(rank_) + " to rank " + std::to_string(p) +
                           ", which is not on this host");
    }
    out->push_back(makeConnection(node_.get(), idx));
  }
  return Status::ok();
}

std::unique_ptr<Connection> ShmTransport::makeConnection(ShmNode* node, int peerIndex) {
  const int peerRank = node->rankOf(peerIndex);
  return std::make_unique<ShmConnection>(node, peerIndex, peerRank,
                                         "rank " + std::to_string(peerRank) + " (pid " +
                                             std::to_string(node->pidOf(peerIndex)) + ") over shm");
}

Status ShmTransport::create(OutOfBand* oob, const Config& config, std::unique_ptr<Transport>* out) {
  out->reset();
  const std::vector<RankInfo>& table = oob->table();
  const int rank = oob->rank();
  const int nranks = oob->nranks();
  const std::string& myHost = table[static_cast<size_t>(rank)].hostId;
  std::vector<int> local;
  std::vector<uint32_t> pids;
  for (const RankInfo& info : table) {
    if (info.hostId == myHost) {
      local.push_back(info.rank);
      pids.push_back(info.pid);
    }
  }
  // Whether any host has two ranks: every rank computes the same answer from the table, so
  // either all ranks run the exchange below or none does.
  bool anyShared = false;
  for (const RankInfo& a : table) {
    int same = 0;
    for (const RankInfo& b : table) same += a.hostId == b.hostId ? 1 : 0;
    anyShared = anyShared || same > 1;
  }
  const bool forced = config.transport == "shm";
  if (forced && static_cast<int>(local.size()) != nranks) {
    for (const RankInfo& info : table) {
      if (info.hostId != myHost) {
        return invalidArgument("BRAID_TRANSPORT=shm, but rank " + std::to_string(info.rank) + " (" +
                               info.hostname + ") is on another host than rank " +
                               std::to_string(rank));
      }
    }
  }
  if (!anyShared || nranks == 1) return Status::ok();

  const bool wanted = config.transport != "socket" && local.size() > 1;
  const int nlocal = static_cast<int>(local.size());
  const int myIndex = static_cast<int>(std::find(local.begin(), local.end(), rank) - local.begin());
  const bool leader = myIndex == 0;
  const size_t bytes = ShmNode::segmentBytes(nlocal, config.shmWindowBytes, config.shmFifoBytes);
  const std::string name =
      segmentName(oob->secret(), local[0], table[static_cast<size_t>(local[0])].pid);

  // Round 1: leaders create the segment; every rank says whether it wants shared memory.
  Mapping mapping;
  uint8_t ok = wanted ? 1 : 0;
  Status why;
  if (wanted && leader) {
    why = createSegment(name, bytes, &mapping);
    if (why) ShmNode::initialize(mapping.base, nlocal, config.shmWindowBytes, config.shmFifoBytes);
    ok = why ? 1 : 0;
  }
  std::vector<uint8_t> all;
  BRAID_RETURN_IF_ERROR(oob->allgather(&ok, 1, &all));
  auto hostReady = [&]() {
    for (int r : local) {
      if (all[static_cast<size_t>(r)] == 0) return false;
    }
    return true;
  };
  bool usable = hostReady();
  // Round 2: the others attach; once everyone has answered, the name goes away.
  ok = 1;
  if (usable && !leader) {
    why = attachSegment(name, bytes, &mapping);
    if (why &&
        !ShmNode::validate(mapping.base, nlocal, config.shmWindowBytes, config.shmFifoBytes)) {
      why = systemError("shared-memory segment " + name + " does not match this communicator");
    }
    ok = why ? 1 : 0;
    // The last rank to attach removes the name at once (before anyone's init returns); the
    // leader removes it below in any case, for when some rank never attached.
    if (why && ShmNode::attachedByAll(mapping.base, nlocal)) shm_unlink(name.c_str());
  }
  Status exchanged = oob->allgather(&ok, 1, &all);
  mapping.unlinkNow();
  BRAID_RETURN_IF_ERROR(exchanged);
  usable = usable && hostReady();
  if (!usable) {
    const std::string msg = "shared memory is not available between the " + std::to_string(nlocal) +
                            " ranks on this host" + (why ? std::string() : ": " + why.message()) +
                            (wanted ? "" : " (BRAID_TRANSPORT=socket on some rank)");
    if (forced) return systemError("BRAID_TRANSPORT=shm: " + msg);
    if (wanted) BRAID_WARN(rank, "%s; using sockets", msg.c_str());
    return Status::ok();
  }
  std::unique_ptr<ShmTransport> t(new ShmTransport());
  t->rank_ = rank;
  t->nranks_ = nranks;
  t->local_ = local;
  t->node_ = std::make_unique<ShmNode>(local, myIndex, pids, mapping.base, mapping.bytes,
                                       config.shmWindowBytes, config.shmFifoBytes);
  mapping.base = nullptr;  // owned by the node now
  // Cross-memory attach for the window's single-copy path: every rank probes every peer,
  // and only if all succeed do all use it (the ranks must agree on the algorithm).
  if (nlocal == nranks && config.shmCma) {
    // Every rank has published its pid and mapping address (constructor above); wait for all.
    BRAID_RETURN_IF_ERROR(oob->barrier());
    std::string cmaWhy;
    uint8_t cmaOk = t->node_->probeCrossMemoryAttach(&cmaWhy) ? 1 : 0;
    BRAID_RETURN_IF_ERROR(oob->allgather(&cmaOk, 1, &all));
    const bool allOk = std::all_of(all.begin(), all.end(), [](uint8_t v) { return v == 1; });
    t->node_->enableCrossMemoryAttach(allOk);
    // Said when on, so a run with BRAID_SHM_CMA=1 can show it used the single-copy path.
    if (allOk) BRAID_INFO(rank, "shm: single copy on (cross-memory attach, process_vm_readv)");
    if (!cmaOk) {
      BRAID_INFO(rank,
                 "shm: cross-memory attach (process_vm_readv) is not available: %s; large "
                 "collectives stage through shared memory instead",
                 cmaWhy.c_str());
    }
  }
  BRAID_INFO(rank,
             "shm: %d ranks on this host share %zu KiB (window %zu KiB and %zu KiB FIFOs "
             "per rank)",
             nlocal, bytes >> 10, config.shmWindowBytes >> 10,
             config.shmFifoBytes * static_cast<size_t>(nlocal - 1) >> 10);
  *out = std::move(t);
  return Status::ok();
}

}  // namespace braid
