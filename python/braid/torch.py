"""PyTorch DistributedDataParallel comm hooks on Braid.

    import braid, braid.torch
    comm = braid.Communicator()                     # same ranks as torch.distributed
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    ddp.register_comm_hook(comm, braid.torch.allreduce_hook)

DDP still needs a torch.distributed process group (gloo) for its start-up broadcast of the
parameters; the hook replaces the gradient AllReduce. Each bucket is averaged in place with
braidIAllReduce(braidAvg) on Braid's progress thread; the returned torch.futures.Future is
completed by a small waiter thread, so the reduction overlaps the rest of backward (DDP waits
on the futures at the end of backward). ``bf16_compress_hook`` sends float32 buckets as
bfloat16 (half the bytes; about 3 significant digits), like torch's bf16_compress_hook.

The state argument is a :class:`braid.Communicator` or a :class:`HookState` (which adds
``synchronous=True``: reduce before returning, for debugging).
"""

import queue
import threading

import torch

from . import AVG, BraidError, Communicator

__all__ = ["HookState", "allreduce_hook", "bf16_compress_hook"]


class _Completer:
    """One daemon thread per communicator: waits for requests in issue order (that is the
    order they complete in) and completes their futures."""

    def __init__(self):
        self._q = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="braid-ddp-hook", daemon=True)
        self._thread.start()

    def submit(self, request, future, finish):
        self._q.put((request, future, finish))

    def _run(self):
        while True:
            request, future, finish = self._q.get()
            try:
                request.wait()
                value = finish()
            except BaseException as e:  # noqa: BLE001 - handed to the future
                future.set_exception(e)
            else:
                future.set_result(value)


class HookState:
    """State for the hooks: the communicator, and whether to reduce synchronously."""

    def __init__(self, comm, synchronous=False):
        if not isinstance(comm, Communicator):
            raise TypeError("HookState needs a braid.Communicator")
        self.comm = comm
        self.synchronous = synchronous


_completers = {}
_completers_lock = threading.Lock()


def _state(state):
    if isinstance(state, HookState):
        return state
    if isinstance(state, Communicator):
        return HookState(state)
    raise TypeError("the comm hook's state must be a braid.Communicator or braid.torch.HookState, "
                    f"got {type(state).__name__}")


def _completer(comm):
    with _completers_lock:
        c = _completers.get(id(comm))
        if c is None or c[0] is not comm:
            c = (comm, _Completer())
            _completers[id(comm)] = c
        return c[1]


def _run(state, wire, finish):
    st = _state(state)
    fut = torch.futures.Future()
    if st.synchronous:
        try:
            st.comm.allreduce(wire, op=AVG)
            fut.set_result(finish())
        except BraidError as e:
            fut.set_exception(e)
        return fut
    request = st.comm.iallreduce(wire, op=AVG)
    _completer(st.comm).submit(request, fut, finish)
    return fut


def allreduce_hook(state, bucket):
    """Averages the bucket across ranks in place; returns a Future of the bucket tensor."""
    tensor = bucket.buffer()
    return _run(state, tensor, lambda: tensor)


def bf16_compress_hook(state, bucket):
    """Like allreduce_hook, but float32 buckets travel as bfloat16."""
    tensor = bucket.buffer()
    if tensor.dtype != torch.float32:
        return allreduce_hook(state, bucket)
    wire = tensor.to(torch.bfloat16)

    def finish():
        tensor.copy_(wire)
        return tensor

    return _run(state, wire, finish)
