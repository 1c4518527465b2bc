"""Braid from Python: collectives on numpy arrays and CPU torch tensors, over libbraid.so.

    import braid, numpy as np
    comm = braid.Communicator()            # from braid-run / torchrun / mpirun / srun variables
    x = np.arange(4, dtype=np.float32)
    comm.allreduce(x, op=braid.AVG)        # in place; returns x

Without a launcher: ``uid = braid.get_unique_id()`` (bytes) on one process, handed to every rank,
then ``braid.Communicator(uid, rank, nranks)``. Buffers are C-contiguous numpy arrays or
contiguous CPU torch tensors; every failure raises :class:`BraidError` with Braid's message.
A communicator is used by one thread at a time (calls on one are serialized by a lock).
``braid.torch`` holds the PyTorch DistributedDataParallel comm hooks.
"""

import ctypes
import threading

from . import _lib

__all__ = [
    "BraidError", "Communicator", "Request", "GradSync", "get_unique_id", "version",
    "SUM", "PROD", "MAX", "MIN", "AVG",
]

SUM, PROD, MAX, MIN, AVG = 0, 1, 2, 3, 4
_OPS = {"sum": SUM, "prod": PROD, "max": MAX, "min": MIN, "avg": AVG, "mean": AVG}

_RESULT_NAMES = {
    0: "braidSuccess", 1: "braidUnhandledCudaError", 2: "braidSystemError",
    3: "braidInternalError", 4: "braidInvalidArgument", 5: "braidInvalidUsage",
    6: "braidRemoteError", 7: "braidInProgress", 8: "braidTimeout",
}

# braidDataType_t by numpy dtype name and by torch dtype name.
_NUMPY_DTYPES = {
    "int8": 0, "uint8": 1, "int32": 2, "uint32": 3, "int64": 4, "uint64": 5,
    "float16": 6, "float32": 7, "float64": 8, "bfloat16": 9,
}
_TORCH_DTYPES = {
    "torch.int8": 0, "torch.uint8": 1, "torch.int32": 2, "torch.int64": 4,
    "torch.float16": 6, "torch.float32": 7, "torch.float64": 8, "torch.bfloat16": 9,
}
_DTYPE_SIZES = {0: 1, 1: 1, 2: 4, 3: 4, 4: 8, 5: 8, 6: 2, 7: 4, 8: 8, 9: 2}


class BraidError(RuntimeError):
    """A Braid call failed. ``code`` is the braidResult_t, ``code_name`` its name."""

    def __init__(self, code, message):
        self.code = code
        self.code_name = _RESULT_NAMES.get(code, f"braidResult {code}")
        super().__init__(f"{message} [{self.code_name}]")


def _text(c_str):
    return c_str.decode("utf-8", "replace") if c_str else ""


def _check(result, what, comm_handle=None):
    if result != 0:
        msg = _text(_lib.braidGetLastError(comm_handle))
        raise BraidError(result, msg or f"{what}: {_text(_lib.braidGetErrorString(result))}")


def version():
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    v = ctypes.c_int()
    _check(_lib.braidGetVersion(ctypes.byref(v)), "braidGetVersion")
    return v.value


def get_unique_id():
    """A new unique id (128 bytes) for ``Communicator(uid, rank, nranks)``. Rank 0 of that
    communicator listens at the address it holds; may be made before fork()."""
    uid = _lib.UniqueId()
    _check(_lib.braidGetUniqueId(ctypes.byref(uid)), "braidGetUniqueId")
    return ctypes.string_at(ctypes.addressof(uid), _lib.UNIQUE_ID_BYTES)


def _op(op):
    if isinstance(op, str):
        if op.lower() not in _OPS:
            raise ValueError(f"unknown reduction {op!r}; one of {sorted(_OPS)}")
        return _OPS[op.lower()]
    return int(op)


class _Buf:
    """A buffer's address, element count and braidDataType_t, plus the object kept alive."""

    __slots__ = ("obj", "ptr", "count", "dtype", "kind")

    def __init__(self, obj, what, writable):
        self.obj = obj
        mod = type(obj).__module__ or ""
        if mod.startswith("torch"):
            self._from_torch(obj, what)
        elif hasattr(obj, "__array_interface__") and hasattr(obj, "dtype"):
            self._from_numpy(obj, what, writable)
        else:
            raise TypeError(f"{what}: expected a numpy array or a torch tensor, got "
                            f"{type(obj).__name__}")

    def _from_numpy(self, arr, what, writable):
        if not arr.flags["C_CONTIGUOUS"]:
            raise ValueError(f"{what}: the array is not C-contiguous (use numpy.ascontiguousarray)")
        if writable and not arr.flags["WRITEABLE"]:
            raise ValueError(f"{what}: the array is read-only")
        name = arr.dtype.name
        if name not in _NUMPY_DTYPES or arr.dtype.byteorder == ">":
            raise TypeError(f"{what}: dtype {arr.dtype} is not supported (supported: "
                            f"{', '.join(sorted(_NUMPY_DTYPES))}, native byte order)")
        self.ptr = arr.__array_interface__["data"][0]
        self.count = int(arr.size)
        self.dtype = _NUMPY_DTYPES[name]
        self.kind = "numpy"

    def _from_torch(self, t, what):
        if t.device.type != "cpu":
            raise ValueError(f"{what}: the tensor is on {t.device}; this build of Braid moves "
                             "host memory only (use a CPU tensor)")
        if not t.is_contiguous():
            raise ValueError(f"{what}: the tensor is not contiguous (use .contiguous())")
        name = str(t.dtype)
        if name not in _TORCH_DTYPES:
            raise TypeError(f"{what}: dtype {t.dtype} is not supported (supported: "
                            f"{', '.join(sorted(_TORCH_DTYPES))})")
        self.ptr = t.data_ptr()
        self.count = int(t.numel())
        self.dtype = _TORCH_DTYPES[name]
        self.kind = "torch"


class Request:
    """An asynchronous AllReduce. ``wait()`` returns the output buffer (or raises BraidError);
    a Request dropped without wait() is waited for, so its buffers never go away in flight."""

    def __init__(self, handle, comm, keep, result):
        self._handle = handle
        self._comm = comm
        self._keep = keep
        self._result = result

    def test(self):
        """True when finished (never releases; call wait())."""
        if self._handle is None:
            return True
        done = ctypes.c_int()
        _check(_lib.braidTest(self._handle, ctypes.byref(done)), "braidTest")
        return bool(done.value)

    def wait(self):
        if self._handle is None:
            return self._result
        handle, self._handle = self._handle, None
        r = _lib.braidWait(handle)  # releases the GIL while it waits
        self._keep = None
        if r != 0:
            msg = _text(_lib.braidGetLastError(self._comm._handle)) if self._comm._handle else ""
            raise BraidError(r, msg or f"braidWait: {_text(_lib.braidGetErrorString(r))}")
        return self._result

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            try:
                self.wait()
            except Exception:  # noqa: BLE001 - nothing to report to in a finalizer
                pass


class _Owned:
    """A handle to a Braid object: usable in `with`, destroyed when garbage-collected.
    Subclasses set self._handle and define destroy()."""

    _handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            try:
                self.destroy()
            except Exception:  # noqa: BLE001
                pass


class Communicator(_Owned):
    """A Braid communicator.

    ``Communicator()`` (or ``from_env=True``) joins the job described by the launcher's
    environment (braid-run, torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT — Braid uses
    MASTER_PORT + 1 — mpirun, srun). ``Communicator(uid, rank, nranks)`` joins the communicator
    of a unique id from :func:`get_unique_id`.
    """

    def __init__(self, unique_id=None, rank=None, nranks=None, *, from_env=None):
        self._handle = None
        self._lock = threading.RLock()
        if from_env is None:
            from_env = unique_id is None
        handle = ctypes.c_void_p()
        if from_env:
            if unique_id is not None:
                raise ValueError("pass either from_env=True or a unique id, not both")
            _check(_lib.braidCommInitFromEnv(ctypes.byref(handle)), "braidCommInitFromEnv")
        else:
            if unique_id is None or rank is None or nranks is None:
                raise ValueError("Communicator(unique_id, rank, nranks) needs all three")
            if not isinstance(unique_id, (bytes, bytearray)) or len(unique_id) != _lib.UNIQUE_ID_BYTES:
                raise ValueError(f"unique_id must be the {_lib.UNIQUE_ID_BYTES} bytes "
                                 "get_unique_id() returned")
            uid = _lib.UniqueId.from_buffer_copy(bytes(unique_id))
            _check(_lib.braidCommInitRank(ctypes.byref(handle), int(nranks), uid, int(rank)),
                   "braidCommInitRank")
        self._handle = handle
        r, n = ctypes.c_int(), ctypes.c_int()
        self._call(_lib.braidCommUserRank, "braidCommUserRank", ctypes.byref(r))
        self._call(_lib.braidCommCount, "braidCommCount", ctypes.byref(n))
        self.rank = r.value
        self.nranks = n.value

    @property
    def size(self):
        return self.nranks

    def _h(self):
        if self._handle is None:
            raise BraidError(5, "the communicator was destroyed")
        return self._handle

    def _call(self, fn, what, *args):
        with self._lock:
            h = self._h()
            _check(fn(h, *args), what, h)

    # ---- collectives ------------------------------------------------------------------------
    def allreduce(self, send, recv=None, op=SUM):
        """AllReduce; in place when recv is None. Returns the output buffer."""
        out = send if recv is None else recv
        s, r = _Buf(send, "allreduce sendbuff", recv is None), _Buf(out, "allreduce recvbuff", True)
        _same(s, r, "allreduce")
        with self._lock:
            h = self._h()
            _check(_lib.braidAllReduce(s.ptr, r.ptr, s.count, s.dtype, _op(op), h, None),
                   "braidAllReduce", h)
        return out

    def reduce_scatter(self, send, recv, op=SUM):
        """ReduceScatter: send holds nranks * recv.size elements; rank r gets block r."""
        s, r = _Buf(send, "reduce_scatter sendbuff", False), _Buf(recv, "reduce_scatter recvbuff", True)
        _dtypes(s, r, "reduce_scatter")
        if s.count != r.count * self.nranks:
            raise ValueError(f"reduce_scatter: send has {s.count} elements, expected "
                             f"{self.nranks} x {r.count}")
        with self._lock:
            h = self._h()
            _check(_lib.braidReduceScatter(s.ptr, r.ptr, r.count, s.dtype, _op(op), h, None),
                   "braidReduceScatter", h)
        return recv

    def allgather(self, send, recv):
        """AllGather: recv holds nranks * send.size elements, rank r's at block r."""
        s, r = _Buf(send, "allgather sendbuff", False), _Buf(recv, "allgather recvbuff", True)
        _dtypes(s, r, "allgather")
        if r.count != s.count * self.nranks:
            raise ValueError(f"allgather: recv has {r.count} elements, expected "
                             f"{self.nranks} x {s.count}")
        with self._lock:
            h = self._h()
            _check(_lib.braidAllGather(s.ptr, r.ptr, s.count, s.dtype, h, None),
                   "braidAllGather", h)
        return recv

    def broadcast(self, buf, root=0, recv=None):
        """Broadcast from root; in place when recv is None. Returns the output buffer."""
        out = buf if recv is None else recv
        s, r = _Buf(buf, "broadcast sendbuff", recv is None), _Buf(out, "broadcast recvbuff", True)
        _same(s, r, "broadcast")
        with self._lock:
            h = self._h()
            _check(_lib.braidBroadcast(s.ptr, r.ptr, s.count, s.dtype, int(root), h, None),
                   "braidBroadcast", h)
        return out

    def reduce(self, send, recv=None, root=0, op=SUM):
        """Reduce to root; in place when recv is None. recv is only written on root."""
        out = send if recv is None else recv
        s, r = _Buf(send, "reduce sendbuff", recv is None), _Buf(out, "reduce recvbuff", True)
        _same(s, r, "reduce")
        with self._lock:
            h = self._h()
            _check(_lib.braidReduce(s.ptr, r.ptr, s.count, s.dtype, _op(op), int(root), h, None),
                   "braidReduce", h)
        return out

    def iallreduce(self, send, recv=None, op=SUM):
        """Asynchronous AllReduce on the communicator's progress thread; returns a Request.
        The buffers must stay untouched until Request.wait()."""
        out = send if recv is None else recv
        s, r = _Buf(send, "iallreduce sendbuff", recv is None), _Buf(out, "iallreduce recvbuff", True)
        _same(s, r, "iallreduce")
        req = ctypes.c_void_p()
        with self._lock:
            h = self._h()
            _check(_lib.braidIAllReduce(s.ptr, r.ptr, s.count, s.dtype, _op(op), h,
                                        ctypes.byref(req)), "braidIAllReduce", h)
        return Request(req, self, (send, out), out)

    def barrier(self):
        import array  # noqa: PLC0415 - tiny, stdlib
        one = array.array("i", [0])
        addr, _ = one.buffer_info()
        with self._lock:
            h = self._h()
            _check(_lib.braidAllReduce(addr, addr, 1, 2, SUM, h, None), "barrier", h)

    # ---- life -------------------------------------------------------------------------------
    def destroy(self):
        """Waits for queued async work and frees the communicator. Idempotent."""
        with self._lock:
            if self._handle is None:
                return
            h, self._handle = self._handle, None
            _check(_lib.braidCommDestroy(h), "braidCommDestroy")

    close = destroy

    def abort(self):
        """Fails every call in flight on this communicator (from any thread) and frees it."""
        h, self._handle = self._handle, None
        if h is not None:
            _check(_lib.braidCommAbort(h), "braidCommAbort")


    def __repr__(self):
        state = "destroyed" if self._handle is None else f"rank {self.rank} of {self.nranks}"
        return f"<braid.Communicator {state}>"


def _dtypes(s, r, what):
    if s.dtype != r.dtype:
        raise TypeError(f"{what}: send and recv dtypes differ")


def _same(s, r, what):
    _dtypes(s, r, what)
    if s.count != r.count:
        raise ValueError(f"{what}: send has {s.count} elements, recv {r.count}")


class GradSync(_Owned):
    """The gradient synchronizer (braidGradSync*): register gradient buffers once, mark each
    ready as backward produces it, wait() for all to hold the average across ranks.

    Buckets of ``bucket_bytes`` (default 25 MiB) fill in reverse registration order and reduce
    asynchronously as soon as complete. ``bf16=True`` sends float32 gradients as bfloat16.
    """

    def __init__(self, comm, bucket_bytes=0, bf16=False, sum=False):  # noqa: A002
        self._comm = comm
        self._bufs = []
        self._handle = None
        flags = (1 if bf16 else 0) | (2 if sum else 0)
        h = ctypes.c_void_p()
        r = _lib.braidGradSyncCreate(ctypes.byref(h), comm._h(), int(bucket_bytes), flags)
        if r != 0:
            raise BraidError(r, _text(_lib.braidGradSyncGetLastError(None)))
        self._handle = h

    def _check(self, r):
        if r != 0:
            raise BraidError(r, _text(_lib.braidGradSyncGetLastError(self._handle)))

    def register(self, grad):
        """Registers a gradient buffer (numpy array or CPU tensor); returns its index."""
        b = _Buf(grad, "GradSync.register", True)
        idx = ctypes.c_int()
        self._check(_lib.braidGradSyncRegister(self._handle, b.ptr, b.count, b.dtype,
                                               ctypes.byref(idx)))
        self._bufs.append(b)
        return idx.value

    def mark_ready(self, index):
        b = self._bufs[index] if 0 <= index < len(self._bufs) else None
        with self._comm._lock:
            self._check(_lib.braidGradSyncMarkReady(self._handle, int(index),
                                                    b.ptr if b is not None else None))

    def wait(self):
        with self._comm._lock:
            self._check(_lib.braidGradSyncWait(self._handle))

    @property
    def bucket_count(self):
        n = ctypes.c_int()
        with self._comm._lock:
            self._check(_lib.braidGradSyncGetBucketCount(self._handle, ctypes.byref(n)))
        return n.value

    def destroy(self):
        if self._handle is not None:
            h, self._handle = self._handle, None
            r = _lib.braidGradSyncDestroy(h)
            self._bufs = []
            if r != 0:
                raise BraidError(r, _text(_lib.braidGradSyncGetLastError(None)))

    close = destroy

