"""Shared by the Python tests: import the in-tree package, find braid-run, run ranks."""

import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

import braid  # noqa: E402,F401



def optional_module(name, package):
    """Imports `name`; without it the calling test module skips (unittest.SkipTest, which ctest
    shows as a skip), except under CI (CI=true), where scripts/deps.sh installed `package` and
    its absence is an error."""
    import importlib
    import unittest
    try:
        return importlib.import_module(name)
    except ImportError as e:
        if os.environ.get("CI") == "true":
            raise ImportError("%s is missing under CI (apt-get install %s): %s" %
                              (name, package, e)) from e
        raise unittest.SkipTest("%s is not installed (apt-get install %s)" % (name, package))


try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    HAVE_TORCH = False


def braid_run():
    """braid-run next to the library under test (ctest sets BRAID_RUN), else build/."""
    path = os.environ.get("BRAID_RUN")
    if path:
        return path
    lib = os.path.dirname(braid._lib.path)
    return os.path.normpath(os.path.join(lib, "..", "tools", "braid-run", "braid-run"))


def run_ranks(n, argv, env=None, timeout=60):
    """Runs argv on n ranks under braid-run; returns (returncode, output)."""
    e = dict(os.environ)
    e["BRAID_LIBRARY"] = braid._lib.path
    e.update(env or {})
    p = subprocess.run([braid_run(), "-n", str(n), "--timeout", str(timeout), "--"] + argv,
                       env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout + 10, check=False)
    return p.returncode, p.stdout


def in_threads(n, body):
    """Runs body(comm) for ranks 0..n-1 in threads of this process, one communicator each
    (made from one unique id). Returns the results by rank; re-raises the first exception."""
    uid = braid.get_unique_id()
    results, errors = [None] * n, [None] * n

    def run(rank):
        try:
            with braid.Communicator(uid, rank, n) as comm:
                results[rank] = body(comm)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            errors[rank] = e

    threads = [threading.Thread(target=run, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        if t.is_alive():
            raise TimeoutError("a rank thread did not finish in 60 s")
    for e in errors:
        if e is not None:
            raise e
    return results
