"""The braid Python package with CPU torch tensors: every dtype through AllReduce, bfloat16
through AllGather, and the errors for strided and unsupported tensors. Without torch the test
skips and ctest shows the skip; under CI (scripts/deps.sh installs python3-torch) it fails."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import in_threads, optional_module  # noqa: E402

import braid  # noqa: E402

torch = optional_module("torch", "python3-torch")


class TorchTensors(unittest.TestCase):
    def test_torch_tensors_all_dtypes(self):
        dtypes = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32,
                  torch.int64, torch.int8, torch.uint8]

        def body(comm):
            out = []
            for dt in dtypes:
                t = torch.full((33,), comm.rank + 1, dtype=dt)
                comm.allreduce(t, op=braid.SUM)
                out.append(t)
            g = torch.empty(2 * comm.nranks, dtype=torch.bfloat16)
            comm.allgather(torch.tensor([comm.rank, comm.rank], dtype=torch.bfloat16), g)
            out.append(g)
            with self.assertRaises(ValueError):
                comm.allreduce(torch.zeros(4, 4)[:, 0])
            with self.assertRaises(TypeError):
                comm.allreduce(torch.zeros(4, dtype=torch.complex64))
            return out

        n = 2
        for out in in_threads(n, body):
            for dt, t in zip(dtypes, out):
                self.assertTrue(torch.equal(t, torch.full((33,), 3, dtype=dt)), (dt, t))
            self.assertTrue(torch.equal(out[-1], torch.tensor([0, 0, 1, 1], dtype=torch.bfloat16)))


if __name__ == "__main__":
    unittest.main()
