"""PyTorch DistributedDataParallel with braid.torch's comm hooks, on CPU: training with the
Braid hook ends with the same parameters as with DDP's default gloo AllReduce (rtol 1e-5),
bitwise identical on every rank (examples/ddp/ddp_braid.py --check). Skipped without torch.
"""

import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import HAVE_TORCH, run_ranks  # noqa: E402

EXAMPLE = os.path.join(helpers.ROOT, "examples", "ddp", "ddp_braid.py")
SMALL = ["--steps", "5", "--warmup", "1", "--hidden", "128", "--layers", "3", "--batch", "16",
         "--bucket-mb", "0.1", "--check"]


def free_port_pair():
    """A port p with p and p + 1 free a moment ago (gloo's store, Braid's rendezvous)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            if p >= 65535:
                continue
            try:
                with socket.socket() as b:
                    b.bind(("127.0.0.1", p + 1))
                    return p
            except OSError:
                continue
    raise RuntimeError("no free port pair")


@unittest.skipUnless(HAVE_TORCH, "torch is not installed (apt-get install python3-torch)")
class DDP(unittest.TestCase):
    def check(self, rc, out, n):
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("bitwise identical across ranks"), n, out)
        self.assertNotIn("OUTSIDE", out)

    def run_braid_run(self, n, extra=()):
        env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port_pair())}
        return run_ranks(n, [sys.executable, EXAMPLE] + SMALL + list(extra), env=env, timeout=50)

    def test_two_ranks(self):
        rc, out = self.run_braid_run(2)
        self.check(rc, out, 2)

    def test_four_ranks(self):
        rc, out = self.run_braid_run(4)
        self.check(rc, out, 4)

    def test_bf16_hook_two_ranks(self):
        rc, out = self.run_braid_run(2, ["--hook", "bf16"])
        self.check(rc, out, 2)

    def test_torchrun_environment(self):
        """RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT only, as torchrun sets them: gloo
        takes MASTER_PORT and Braid MASTER_PORT + 1."""
        n, port = 2, free_port_pair()
        base = {k: v for k, v in os.environ.items() if not k.startswith("BRAID_")}
        base["BRAID_LIBRARY"] = helpers.braid._lib.path
        procs = []
        for r in range(n):
            env = dict(base, RANK=str(r), WORLD_SIZE=str(n), LOCAL_RANK=str(r),
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            procs.append(subprocess.Popen([sys.executable, EXAMPLE] + SMALL, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True))
        outs, rcs = [], []
        for p in procs:
            try:
                outs.append(p.communicate(timeout=50)[0])
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise
            rcs.append(p.returncode)
        self.check(max(rcs), "".join(outs), n)


if __name__ == "__main__":
    unittest.main()
