#include "bootstrap/pmix_exchange.h"

#if BRAID_HAVE_PMIX

#include <pmix.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bootstrap/env_init.h"
#include "core/config.h"
#include "core/log.h"
#include "core/socket_io.h"

namespace braid {

namespace {

constexpr size_t kPayloadBytes = SocketAddress::kWireBytes + kSecretBytes;
constexpr size_t kMaxTagBytes = 256;

std::string pmixError(const char* what, pmix_status_t rc) {
  return std::string(what) + " failed: " + PMIx_Error_string(rc);
}

// Pairs our PMIx_Init with one PMIx_Finalize. PMIx counts initializations, so when the
// process already uses PMIx (an MPI library, say) our finalize only undoes our own init.
class PmixSession {
 public:
  PmixSession() = default;
  PmixSession(const PmixSession&) = delete;
  PmixSession& operator=(const PmixSession&) = delete;
  ~PmixSession() {
    if (!initialized_) return;
    pmix_status_t rc = PMIx_Finalize(nullptr, 0);
    if (rc != PMIX_SUCCESS) BRAID_WARN(-1, "%s", pmixError("PMIx_Finalize", rc).c_str());
  }

  pmix_status_t init(pmix_proc_t* self) {
    pmix_status_t rc = PMIx_Init(self, nullptr, 0);
    // A failed PMIx_Init may still leave a singleton initialized; finalize it as well.
    initialized_ = rc == PMIX_SUCCESS || PMIx_Initialized();
    return rc;
  }

 private:
  bool initialized_ = false;
};

std::string keyName() {
  std::string key = "braid.root";
  std::string tag;
  // Part of launch detection (see env_init.cc): read here, not through Config.
  if (getEnv("BRAID_COMM_TAG", &tag)) key += "." + tag;
  return key;
}

// Rank 0: the address to listen on and the secret, as one byte string.
Status makePayload(const std::string& ifname, int family, std::vector<uint8_t>* payload,
                   SocketAddress* root, Secret* secret) {
  SocketAddress addr;
  std::string chosen;
  Status s = chooseLocalAddress(ifname, family, nullptr, &addr, &chosen);
  if (!s) return s;
  BRAID_RETURN_IF_ERROR(pickRootPort(addr, root));
  BRAID_RETURN_IF_ERROR(randomSecret(secret));
  payload->resize(kPayloadBytes);
  root->toWire(payload->data());
  std::memcpy(payload->data() + SocketAddress::kWireBytes, secret->data(), kSecretBytes);
  BRAID_INFO(0, "PMIx rendezvous: root %s (%s)", root->toString().c_str(), chosen.c_str());
  return Status::ok();
}

Status checkJob(const pmix_proc_t& self, int rank, int nranks) {
  if (self.rank != static_cast<pmix_rank_t>(rank)) {
    return invalidArgument("PMIx reports rank " + std::to_string(self.rank) +
                           " but the launcher's environment says rank " + std::to_string(rank));
  }
  pmix_proc_t job;
  PMIX_PROC_LOAD(&job, self.nspace, PMIX_RANK_WILDCARD);
  pmix_value_t* val = nullptr;
  pmix_status_t rc = PMIx_Get(&job, PMIX_JOB_SIZE, nullptr, 0, &val);
  if (rc != PMIX_SUCCESS) return systemError(pmixError("PMIx_Get(" PMIX_JOB_SIZE ")", rc));
  int64_t size = -1;
  if (val != nullptr && val->type == PMIX_UINT32) size = val->data.uint32;
  if (val != nullptr) PMIX_VALUE_RELEASE(val);
  if (size != nranks) {
    return invalidArgument("PMIx reports a job of " + std::to_string(size) +
                           " processes but the launcher's environment says " +
                           std::to_string(nranks));
  }
  return Status::ok();
}

Status exchange(const pmix_proc_t& self, int rank, const std::string& ifname, int family,
                int64_t timeoutMs, SocketAddress* root, Secret* secret) {
  const std::string key = keyName();
  if (key.size() > kMaxTagBytes) {
    return invalidArgument("BRAID_COMM_TAG is too long (at most " +
                           std::to_string(kMaxTagBytes - 11) + " characters)");
  }
  Status local;  // rank 0's own failure, published so the others do not wait for nothing
  if (rank == 0) {
    std::vector<uint8_t> payload;
    local = makePayload(ifname, family, &payload, root, secret);
    pmix_value_t value;
    PMIX_VALUE_CONSTRUCT(&value);
    std::string error = "rank 0: " + local.message();
    if (local) {
      value.type = PMIX_BYTE_OBJECT;
      value.data.bo.bytes = reinterpret_cast<char*>(payload.data());
      value.data.bo.size = payload.size();
    } else {
      value.type = PMIX_STRING;
      value.data.string = error.data();
    }
    pmix_status_t rc = PMIx_Put(PMIX_GLOBAL, key.c_str(), &value);  // copies the value
    if (rc != PMIX_SUCCESS) return systemError(pmixError("PMIx_Put", rc));
    rc = PMIx_Commit();
    if (rc != PMIX_SUCCESS) return systemError(pmixError("PMIx_Commit", rc));
  }

  pmix_info_t info[2];
  bool collect = true;
  int timeoutS = static_cast<int>(std::clamp<int64_t>((timeoutMs + 999) / 1000, 1, INT32_MAX));
  PMIX_INFO_CONSTRUCT(&info[0]);
  PMIX_INFO_CONSTRUCT(&info[1]);
  PMIX_INFO_LOAD(&info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
  PMIX_INFO_LOAD(&info[1], PMIX_TIMEOUT, &timeoutS, PMIX_INT);
  pmix_proc_t all;
  PMIX_PROC_LOAD(&all, self.nspace, PMIX_RANK_WILDCARD);
  pmix_status_t rc = PMIx_Fence(&all, 1, info, 2);
  PMIX_INFO_DESTRUCT(&info[0]);
  PMIX_INFO_DESTRUCT(&info[1]);
  if (rc != PMIX_SUCCESS) return systemError(pmixError("PMIx_Fence", rc));
  if (rank == 0) return local;

  pmix_proc_t proc0;
  PMIX_PROC_LOAD(&proc0, self.nspace, 0);
  pmix_value_t* val = nullptr;
  rc = PMIx_Get(&proc0, key.c_str(), nullptr, 0, &val);
  if (rc != PMIX_SUCCESS) {
    return systemError(pmixError(("PMIx_Get(" + key + ") from rank 0").c_str(), rc));
  }
  Status s;
  if (val != nullptr && val->type == PMIX_STRING && val->data.string != nullptr) {
    s = systemError(std::string("rank 0 could not set up the rendezvous: ") + val->data.string);
  } else if (val == nullptr || val->type != PMIX_BYTE_OBJECT ||
             val->data.bo.size != kPayloadBytes) {
    s = internalError("PMIx_Get(" + key + ") from rank 0 returned a malformed value");
  } else {
    const auto* bytes = reinterpret_cast<const uint8_t*>(val->data.bo.bytes);
    s = SocketAddress::fromWire(bytes, root);
    if (s) std::memcpy(secret->data(), bytes + SocketAddress::kWireBytes, kSecretBytes);
  }
  if (val != nullptr) PMIX_VALUE_RELEASE(val);
  if (s) BRAID_INFO(rank, "PMIx rendezvous: root %s from rank 0", root->toString().c_str());
  return s;
}

}  // namespace

Status pmixExchangeRoot(int rank, int nranks, const std::string& ifname, int family,
                        int64_t timeoutMs, SocketAddress* root, Secret* secret, bool* available,
                        std::string* why) {
  *available = false;
  std::string ns;
  // Without a server to talk to, PMIx_Init would set up a singleton: not worth it.
  if (!getEnv("PMIX_NAMESPACE", &ns)) {
    if (why != nullptr) *why = "no PMIx server launched this process (PMIX_NAMESPACE is not set)";
    return Status::ok();
  }
  PmixSession session;
  pmix_proc_t self;
  PMIX_PROC_CONSTRUCT(&self);
  pmix_status_t rc = session.init(&self);
  if (rc != PMIX_SUCCESS) {
    if (why != nullptr) *why = pmixError("PMIx_Init", rc);
    return Status::ok();
  }
  *available = true;
  BRAID_RETURN_IF_ERROR(checkJob(self, rank, nranks).withContext("braidCommInitFromEnv: "));
  return exchange(self, rank, ifname, family, timeoutMs, root, secret)
      .withContext("braidCommInitFromEnv: PMIx rendezvous: ");
}

}  // namespace braid

#else  // !BRAID_HAVE_PMIX

namespace braid {

Status pmixExchangeRoot(int rank, int nranks, const std::string& ifname, int family,
                        int64_t timeoutMs, SocketAddress* root, Secret* secret, bool* available,
                        std::string* why) {
  *available = false;
  if (why != nullptr) {
    *why =
        "this build of Braid has no PMIx support (built without libpmix-dev or with "
        "BRAID_WITH_PMIX=OFF)";
  }
  return Status::ok();
}

}  // namespace braid

#endif  // BRAID_HAVE_PMIX
