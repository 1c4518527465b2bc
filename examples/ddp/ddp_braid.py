#!/usr/bin/python3
"""PyTorch DistributedDataParallel with Braid's gradient AllReduce (a DDP comm hook).

Run on 2 local ranks (any launcher Braid understands; torch.distributed's gloo group, which DDP
uses for its start-up broadcast, needs MASTER_ADDR / MASTER_PORT):

    MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 \
        build/tools/braid-run/braid-run -n 2 /usr/bin/python3 examples/ddp/ddp_braid.py
    torchrun --nproc-per-node 2 examples/ddp/ddp_braid.py     # Braid uses MASTER_PORT + 1

It trains the same MLP twice from the same initial weights on the same synthetic data: once
with the Braid hook and once with DDP's default gloo AllReduce, one step of each in turn, and
prints the time per step of both. --check verifies that both end with the same parameters
(rtol 1e-5) and that every rank holds bitwise the same parameters.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

import braid  # noqa: E402
import braid.torch  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3, help="steps left out of the timing")
    p.add_argument("--batch", type=int, default=32, help="samples per rank")
    p.add_argument("--in-features", type=int, default=128)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket_cap_mb")
    p.add_argument("--hook", choices=["allreduce", "bf16"], default="allreduce")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--check", action="store_true")
    return p.parse_args()


def init_process_group():
    """gloo for DDP's start-up broadcast (and the reference run). Rank and size come from the
    same variables Braid reads."""
    rank = int(os.environ.get("RANK", os.environ.get("BRAID_RANK", "0")))
    world = int(os.environ.get("WORLD_SIZE", os.environ.get("BRAID_NRANKS", "1")))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        root = os.environ.get("BRAID_ROOT_ADDR", "")
        if not root:
            sys.exit("set MASTER_ADDR and MASTER_PORT for torch.distributed")
        # Under braid-run without MASTER_PORT: the port after Braid's own.
        os.environ["MASTER_PORT"] = str(int(root.rsplit(":", 1)[1]) + 1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    return rank, world


def make_model(args):
    torch.manual_seed(1234)
    dims = [args.in_features] + [args.hidden] * args.layers
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(dims[-1], args.classes))
    return torch.nn.Sequential(*layers)


def batch(args, step, rank, world):
    """This rank's slice of the global batch of `step` (the same global batch for any world)."""
    g = torch.Generator().manual_seed(10_000 + step)
    n = args.batch * world
    x = torch.randn(n, args.in_features, generator=g)
    y = torch.randint(0, args.classes, (n,), generator=g)
    s = slice(rank * args.batch, (rank + 1) * args.batch)
    return x[s], y[s]


class Run:
    def __init__(self, args, hook, comm):
        self.model = make_model(args)
        self.ddp = DDP(self.model, bucket_cap_mb=args.bucket_mb)
        if hook is not None:
            self.ddp.register_comm_hook(comm, hook)
        self.opt = torch.optim.SGD(self.ddp.parameters(), lr=args.lr)
        self.times = []

    def step(self, x, y, timed):
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=False)
        loss = torch.nn.functional.cross_entropy(self.ddp(x), y)
        loss.backward()
        self.opt.step()
        dt = time.perf_counter() - t0
        if timed:
            self.times.append(dt)
        return loss.item()

    def flat(self):
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    rank, world = init_process_group()
    comm = braid.Communicator()  # from the same environment
    assert (comm.rank, comm.nranks) == (rank, world), (comm, rank, world)
    braid_hook = (braid.torch.allreduce_hook if args.hook == "allreduce"
                  else braid.torch.bf16_compress_hook)
    calls = [0]

    def hook(state, bucket):  # counts the buckets Braid reduced
        calls[0] += 1
        return braid_hook(state, bucket)

    with_braid = Run(args, hook, comm)
    with_gloo = Run(args, None, comm)
    nparams = sum(p.numel() for p in with_braid.model.parameters())
    if rank == 0:
        print(f"ddp_braid: {world} ranks, {nparams} parameters ({nparams * 4 / 2**20:.2f} MiB), "
              f"batch {args.batch} per rank, bucket_cap_mb {args.bucket_mb}, hook {args.hook}, "
              f"{args.threads} torch thread(s) per rank", flush=True)
    for step in range(args.steps):
        x, y = batch(args, step, rank, world)
        timed = step >= args.warmup
        # Alternate which goes first so neither always runs on a warmer cache.
        order = (with_braid, with_gloo) if step % 2 == 0 else (with_gloo, with_braid)
        losses = {id(r): r.step(x, y, timed) for r in order}
        if rank == 0 and (step % 5 == 0 or step == args.steps - 1):
            print(f"step {step:3d}  loss braid {losses[id(with_braid)]:.6f}  "
                  f"gloo {losses[id(with_gloo)]:.6f}", flush=True)
    if with_braid.times:
        tb = statistics.median(with_braid.times) * 1e3
        tg = statistics.median(with_gloo.times) * 1e3
        # The slowest rank's median decides the step time.
        med = np.array([tb, tg], dtype=np.float64)
        comm.allreduce(med, op=braid.MAX)
        if rank == 0:
            print(f"time per step (median of {len(with_braid.times)}, max over ranks): "
                  f"braid hook {med[0]:.2f} ms, gloo allreduce {med[1]:.2f} ms "
                  f"(braid/gloo {med[0] / med[1]:.2f})", flush=True)
    ok = True
    if args.check:
        a, b = with_braid.flat(), with_gloo.flat()
        # bf16 transport rounds each bucket to ~3 significant digits: compare against the
        # weights' scale rather than element by element.
        rtol = 1e-5 if args.hook == "allreduce" else 1e-2
        atol = 1e-6 if args.hook == "allreduce" else 1e-2 * b.abs().max().item()
        close = torch.allclose(a, b, rtol=rtol, atol=atol)
        worst = (a - b).abs().max().item()
        everyone = torch.zeros(world * a.numel(), dtype=a.dtype)
        comm.allgather(a.contiguous(), everyone)
        identical = all(torch.equal(everyone[r * a.numel():(r + 1) * a.numel()], a)
                        for r in range(world))
        print(f"rank {rank}: braid vs gloo max |diff| {worst:.3g} "
              f"({'within' if close else 'OUTSIDE'} rtol {rtol}); "
              f"{'bitwise identical' if identical else 'DIFFERENT'} across ranks", flush=True)
        if calls[0] < args.steps:
            print(f"rank {rank}: the Braid hook ran {calls[0]} times in {args.steps} steps")
        ok = close and identical and calls[0] >= args.steps
    dist.barrier()
    comm.destroy()
    dist.destroy_process_group()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
