"""Loads libbraid.so and declares the C API's signatures for ctypes.

Search order: the BRAID_LIBRARY environment variable (a path to the library), then the build
tree next to this package (../../build/lib, ../../build-*/lib), then the system's loader
(ctypes.util.find_library / LD_LIBRARY_PATH / an installed libbraid.so.0).
"""

import ctypes
import ctypes.util
import glob
import os

UNIQUE_ID_BYTES = 128


class UniqueId(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_char * UNIQUE_ID_BYTES)]


def _candidates():
    env = os.environ.get("BRAID_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    yield os.path.join(root, "build", "lib", "libbraid.so")
    for path in sorted(glob.glob(os.path.join(root, "build*", "lib", "libbraid.so"))):
        yield path
    found = ctypes.util.find_library("braid")
    if found:
        yield found
    yield "libbraid.so.0"
    yield "libbraid.so"


def _load():
    errors = []
    explicit = bool(os.environ.get("BRAID_LIBRARY"))
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            errors.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
            if explicit:
                break
    raise OSError(
        "braid: cannot load libbraid.so (set BRAID_LIBRARY to its path, or build it into "
        "build/ next to the python/ directory). Tried:\n  " + "\n  ".join(errors))


lib, path = _load()

c_int_p = ctypes.POINTER(ctypes.c_int)
_comm = ctypes.c_void_p
_req = ctypes.c_void_p
_gs = ctypes.c_void_p
_res = ctypes.c_int
_size = ctypes.c_size_t
_ptr = ctypes.c_void_p


def _decl(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


braidGetErrorString = _decl("braidGetErrorString", ctypes.c_char_p, _res)
braidGetLastError = _decl("braidGetLastError", ctypes.c_char_p, _comm)
braidGetVersion = _decl("braidGetVersion", _res, c_int_p)
braidGetUniqueId = _decl("braidGetUniqueId", _res, ctypes.POINTER(UniqueId))
braidCommInitRank = _decl("braidCommInitRank", _res, ctypes.POINTER(_comm), ctypes.c_int,
                          UniqueId, ctypes.c_int)
braidCommInitFromEnv = _decl("braidCommInitFromEnv", _res, ctypes.POINTER(_comm))
braidCommDestroy = _decl("braidCommDestroy", _res, _comm)
braidCommAbort = _decl("braidCommAbort", _res, _comm)
braidCommCount = _decl("braidCommCount", _res, _comm, c_int_p)
braidCommUserRank = _decl("braidCommUserRank", _res, _comm, c_int_p)
braidAllReduce = _decl("braidAllReduce", _res, _ptr, _ptr, _size, ctypes.c_int, ctypes.c_int,
                       _comm, _ptr)
braidReduceScatter = _decl("braidReduceScatter", _res, _ptr, _ptr, _size, ctypes.c_int,
                           ctypes.c_int, _comm, _ptr)
braidAllGather = _decl("braidAllGather", _res, _ptr, _ptr, _size, ctypes.c_int, _comm, _ptr)
braidBroadcast = _decl("braidBroadcast", _res, _ptr, _ptr, _size, ctypes.c_int, ctypes.c_int,
                       _comm, _ptr)
braidReduce = _decl("braidReduce", _res, _ptr, _ptr, _size, ctypes.c_int, ctypes.c_int,
                    ctypes.c_int, _comm, _ptr)
braidIAllReduce = _decl("braidIAllReduce", _res, _ptr, _ptr, _size, ctypes.c_int, ctypes.c_int,
                        _comm, ctypes.POINTER(_req))
braidTest = _decl("braidTest", _res, _req, c_int_p)
braidWait = _decl("braidWait", _res, _req)

braidGradSyncCreate = _decl("braidGradSyncCreate", _res, ctypes.POINTER(_gs), _comm, _size,
                            ctypes.c_int)
braidGradSyncRegister = _decl("braidGradSyncRegister", _res, _gs, _ptr, _size, ctypes.c_int,
                              c_int_p)
braidGradSyncFinalize = _decl("braidGradSyncFinalize", _res, _gs)
braidGradSyncMarkReady = _decl("braidGradSyncMarkReady", _res, _gs, ctypes.c_int, _ptr)
braidGradSyncWait = _decl("braidGradSyncWait", _res, _gs)
braidGradSyncGetBucketCount = _decl("braidGradSyncGetBucketCount", _res, _gs, c_int_p)
braidGradSyncDestroy = _decl("braidGradSyncDestroy", _res, _gs)
braidGradSyncGetLastError = _decl("braidGradSyncGetLastError", ctypes.c_char_p, _gs)
