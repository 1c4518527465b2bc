// braidCommInitFromEnv: who am I and where is the rendezvous, from the launcher's environment.
//
// Rank and size, first match wins:
//   braid-run / manual : BRAID_RANK, BRAID_NRANKS (BRAID_LOCAL_RANK)
//   torchrun           : RANK, WORLD_SIZE (LOCAL_RANK)
//   Open MPI mpirun    : OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE (OMPI_COMM_WORLD_LOCAL_RANK)
//   Slurm srun         : SLURM_PROCID, SLURM_NTASKS (SLURM_LOCALID)
//   MPICH / PMI        : PMI_RANK, PMI_SIZE
// Rendezvous address: BRAID_ROOT_ADDR (host:port), else MASTER_ADDR with port MASTER_PORT + 1
// (MASTER_PORT itself is torch.distributed's store under torchrun). With neither, under mpirun,
// srun or PMI, and when Braid was built with PMIx (libpmix-dev) and a PMIx server launched the
// process: rank 0 picks an address (BRAID_SOCKET_IFNAME / BRAID_SOCKET_FAMILY) and a random
// secret and passes both through PMIx (bootstrap/pmix_exchange.h; launcher becomes "mpirun+pmix"
// etc., authenticated). Otherwise the error says what to set.
// Secret: BRAID_SECRET (32 hex characters) authenticates; without it a secret is derived from
// the address and the job's id, which keeps jobs apart but does not authenticate.
#pragma once

#include <string>

#include "bootstrap/wire.h"
#include "core/status.h"

namespace braid {

struct LaunchInfo {
  int rank = -1;
  int nranks = 0;
  int localRank = -1;
  std::string launcher;  // "braid-run", "torchrun", "mpirun", "srun", "pmi", "env";
                         // "+pmix" appended when the rendezvous came through PMIx
  SocketAddress root;
  std::string rootText;
  Secret secret{};
  bool authenticated = false;
};

Status detectLaunch(LaunchInfo* out);

// A 16-byte secret from the kernel's random pool.
Status randomSecret(Secret* out);

}  // namespace braid
