"""The braid Python package (ctypes over libbraid.so): collectives on numpy arrays
(CPU torch tensors: test_torch.py), asynchronous AllReduce, the gradient synchronizer, errors. Ranks run as threads
of this process (one communicator each) or as processes under braid-run.

    BRAID_LIBRARY=build/lib/libbraid.so /usr/bin/python3 -m unittest tests/python/test_braid.py
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import in_threads, optional_module, run_ranks  # noqa: E402

import braid  # noqa: E402

# Without numpy every test here skips, and ctest shows the skip (SKIP_REGULAR_EXPRESSION); under
# CI (scripts/deps.sh installs it) a missing numpy is an error.
np = optional_module("numpy", "python3-numpy")


class Basics(unittest.TestCase):
    def test_version_and_unique_id(self):
        self.assertGreaterEqual(braid.version(), 100)
        uid = braid.get_unique_id()
        self.assertIsInstance(uid, bytes)
        self.assertEqual(len(uid), 128)
        self.assertNotEqual(uid, braid.get_unique_id())

    def test_single_rank_and_errors(self):
        with braid.Communicator(braid.get_unique_id(), 0, 1) as comm:
            self.assertEqual((comm.rank, comm.nranks, comm.size), (0, 1, 1))
            x = np.arange(10, dtype=np.float64)
            self.assertIs(comm.allreduce(x, op="avg"), x)
            np.testing.assert_array_equal(x, np.arange(10))
            # Argument errors raise BraidError with Braid's message and leave comm usable.
            with self.assertRaises(braid.BraidError) as cm:
                comm.broadcast(x, root=3)
            self.assertEqual(cm.exception.code_name, "braidInvalidArgument")
            self.assertIn("root", str(cm.exception))
            with self.assertRaises(TypeError):
                comm.allreduce(np.zeros(4, dtype=np.complex64))
            with self.assertRaises(ValueError):
                comm.allreduce(np.zeros((4, 4), dtype=np.float32)[:, 1])
            with self.assertRaises(ValueError):
                comm.allreduce(np.zeros(4, np.float32), np.zeros(5, np.float32))
            with self.assertRaises(ValueError):
                comm.allreduce(x, op="median")
            comm.allreduce(x)
        with self.assertRaises(braid.BraidError):
            comm.allreduce(x)  # destroyed
        with self.assertRaises(ValueError):
            braid.Communicator(b"short", 0, 1)

    def test_init_error_names_the_problem(self):
        env = {k: v for k, v in os.environ.items()}
        saved = {}
        for k in list(env):
            if k.startswith(("BRAID_RANK", "BRAID_NRANKS", "BRAID_ROOT", "RANK", "WORLD_SIZE",
                             "MASTER_", "OMPI_", "SLURM_", "PMI")):
                saved[k] = os.environ.pop(k)
        try:
            with self.assertRaises(braid.BraidError) as cm:
                braid.Communicator()
            self.assertTrue(str(cm.exception))
        finally:
            os.environ.update(saved)


class Collectives(unittest.TestCase):
    N = 3

    def test_all_five_numpy(self):
        n = self.N

        def body(comm):
            r = comm.rank
            out = {}
            x = np.arange(12, dtype=np.float32) * (r + 1)
            out["allreduce"] = comm.allreduce(x.copy(), op=braid.SUM)
            out["avg"] = comm.allreduce(x, np.empty_like(x), op=braid.AVG)
            i = np.full(7, r + 1, dtype=np.int32)
            out["max"] = comm.allreduce(i, op="max")
            rs = np.empty(4, dtype=np.float64)
            out["reduce_scatter"] = comm.reduce_scatter(np.arange(4 * n, dtype=np.float64) + r, rs)
            ag = np.empty(2 * n, dtype=np.uint8)
            out["allgather"] = comm.allgather(np.array([r, 10 + r], dtype=np.uint8), ag)
            b = np.full(5, r, dtype=np.int64)
            out["broadcast"] = comm.broadcast(b, root=n - 1)
            red = np.full(3, float(r + 1), dtype=np.float16)
            comm.reduce(red, root=0, op=braid.PROD)
            out["reduce"] = red
            req = comm.iallreduce(np.full(1000, r, dtype=np.float32), op=braid.SUM)
            # test() reports completion by itself: the progress thread finishes the operation
            # and test() turns True without wait() (a deadline only against a hang).
            first = req.test()
            self.assertIsInstance(first, bool)
            deadline = time.monotonic() + 60
            while not req.test():
                self.assertLess(time.monotonic(), deadline, "req.test() never returned True")
                time.sleep(0.001)
            out["iallreduce"] = req.wait()
            self.assertTrue(req.test())
            comm.barrier()
            return out

        res = in_threads(n, body)
        s = sum(range(1, n + 1))
        for r, out in enumerate(res):
            np.testing.assert_array_equal(out["allreduce"], np.arange(12) * s)
            np.testing.assert_allclose(out["avg"], np.arange(12) * s / n, rtol=1e-6)
            np.testing.assert_array_equal(out["max"], np.full(7, n))
            np.testing.assert_array_equal(out["reduce_scatter"],
                                          np.arange(4 * r, 4 * r + 4) * n + sum(range(n)))
            np.testing.assert_array_equal(out["allgather"],
                                          np.array([[q, 10 + q] for q in range(n)]).reshape(-1))
            np.testing.assert_array_equal(out["broadcast"], np.full(5, n - 1))
            if r == 0:
                np.testing.assert_array_equal(out["reduce"], np.full(3, float(np.prod(range(1, n + 1)))))
            np.testing.assert_array_equal(out["iallreduce"], np.full(1000, sum(range(n))))
            # Bitwise identical across ranks.
            self.assertEqual(out["avg"].tobytes(), res[0]["avg"].tobytes())


class GradSyncPy(unittest.TestCase):
    def test_buckets_average_and_misuse(self):
        def body(comm):
            grads = [np.full(n, comm.rank + 1, dtype=np.float32) for n in (1000, 3, 50000, 7)]
            with braid.GradSync(comm, bucket_bytes=8192) as gs:
                idx = [gs.register(g) for g in grads]
                self.assertEqual(idx, [0, 1, 2, 3])
                self.assertGreaterEqual(gs.bucket_count, 2)
                for step in range(2):
                    for g in grads:
                        g[:] = comm.rank + 1 + step
                    for i in reversed(idx):
                        gs.mark_ready(i)
                    gs.wait()
                    for g in grads:
                        np.testing.assert_array_equal(g, np.full(g.size, 1.5 + step, np.float32))
                gs.mark_ready(0)
                with self.assertRaises(braid.BraidError) as cm:
                    gs.mark_ready(0)
                self.assertIn("already marked", str(cm.exception))
                with self.assertRaises(braid.BraidError) as cm:
                    gs.wait()
                self.assertIn("not marked ready", str(cm.exception))
                self.assertEqual(cm.exception.code_name, "braidInvalidUsage")
                for i in (1, 2, 3):
                    gs.mark_ready(i)
                gs.wait()
                with self.assertRaises(braid.BraidError):
                    gs.register(np.zeros(3, np.float32))
            return True

        in_threads(2, body)


class Launcher(unittest.TestCase):
    def test_from_env_under_braid_run(self):
        code = ("import sys; sys.path.insert(0, %r); import braid, numpy as np; "
                "c = braid.Communicator(); x = np.full(3, c.rank, np.int64); "
                "c.allreduce(x); print('sum', int(x[0]), 'of', c.nranks); c.destroy()"
                % os.path.join(helpers.ROOT, "python"))
        rc, out = run_ranks(3, [sys.executable, "-c", code], timeout=30)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("sum 3 of 3"), 3, out)


if __name__ == "__main__":
    unittest.main()
