// Rendezvous through PMIx when a launcher (Open MPI's mpirun, srun --mpi=pmix) serves it and no
// address was given: rank 0 picks its root address and a random secret, publishes them under
// the key "braid.root" (or "braid.root.<BRAID_COMM_TAG>") in the job's namespace, a fence
// collects them, and every other rank reads them back from rank 0.
//
// The fence spans the whole job, so every process of the job takes part, as a communicator
// from the environment spans the job anyway. Sequential initializations may reuse the key (each
// fence delivers rank 0's latest value). Limitation: the key is per job, not per communicator,
// so two braidCommInitFromEnv calls running concurrently in one process are not supported;
// BRAID_COMM_TAG (the same value on every rank) gives an initialization a key of its own so it
// can never read another's entry, but it cannot order their fences.
#pragma once

#include <cstdint>
#include <string>

#include "bootstrap/wire.h"
#include "core/socket_address.h"
#include "core/status.h"

namespace braid {

// rank / nranks: what the launcher's variables say; PMIx's own view must agree.
// ifname / family: BRAID_SOCKET_IFNAME and BRAID_SOCKET_FAMILY (0, 4 or 6) for rank 0's address.
// timeoutMs: how long the fence may wait for the other ranks (a hint; servers may ignore it).
// *available false (and ok) when this build has no PMIx or no PMIx server launched the
// process; *why (optional) then says which. Any failure after PMIx_Init is an error.
Status pmixExchangeRoot(int rank, int nranks, const std::string& ifname, int family,
                        int64_t timeoutMs, SocketAddress* root, Secret* secret, bool* available,
                        std::string* why);

}  // namespace braid
