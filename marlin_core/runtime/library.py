"""Find and load libmarlin.so (plain C ABI, csrc/include/marlin/capi.h) with ctypes.

Search order: $MARLIN_LIBRARY (a file), then libmarlin.so in: this package directory,
<repo>/build, <repo>/build/csrc, <repo>/csrc/build, <repo>/build/dev.
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from pathlib import Path

ABI_VERSION = 1

_lock = threading.Lock()
_lib = None


class GemmArgs(ctypes.Structure):
    _fields_ = [
        ("a", ctypes.c_void_p),
        ("lda", ctypes.c_int64),
        ("b", ctypes.c_void_p),
        ("c", ctypes.c_void_p),
        ("scales", ctypes.c_void_p),
        ("zp", ctypes.c_void_p),
        ("g_idx", ctypes.c_void_p),
        ("perm", ctypes.c_void_p),
        ("a_tmp", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("workspace", ctypes.c_void_p),
        ("workspace_bytes", ctypes.c_size_t),
        ("a_type", ctypes.c_int64),
        ("b_type", ctypes.c_int64),
        ("c_type", ctypes.c_int64),
        ("s_type", ctypes.c_int64),
        ("m", ctypes.c_int32),
        ("n", ctypes.c_int32),
        ("k", ctypes.c_int32),
        ("num_groups", ctypes.c_int32),
        ("is_zp_float", ctypes.c_int32),
        ("use_fp32_reduce", ctypes.c_int32),
        ("use_atomic_add", ctypes.c_int32),
        ("thread_k", ctypes.c_int32),
        ("thread_n", ctypes.c_int32),
        ("max_m_blocks", ctypes.c_int32),
        ("max_slices", ctypes.c_int32),
        ("global_scale", ctypes.c_void_p),
    ]


# GemmArgs' layout as a struct format: packing the values and copying them in costs about half of
# GemmArgs(*values), and every GEMM call builds one
_FORMAT_CODE = {ctypes.c_void_p: "P", ctypes.c_int64: "q", ctypes.c_size_t: "N", ctypes.c_int32: "i"}
_GEMM_ARGS = struct.Struct("@" + "".join(_FORMAT_CODE[t] for _, t in GemmArgs._fields_))
assert _GEMM_ARGS.size == ctypes.sizeof(GemmArgs)


def gemm_args(*values: int) -> GemmArgs:
    """A GemmArgs from all its field values, in field order (pointers as ints, 0 for NULL)."""
    return GemmArgs.from_buffer_copy(_GEMM_ARGS.pack(*values))


class MarlinError(RuntimeError):
    pass


def candidate_paths() -> list[Path]:
    env = os.environ.get("MARLIN_LIBRARY")
    if env:
        return [Path(env)]
    here = Path(__file__).resolve().parent
    repo = here.parent.parent
    return [
        here / "libmarlin.so",
        repo / "build" / "libmarlin.so",
        repo / "build" / "csrc" / "libmarlin.so",
        repo / "csrc" / "build" / "libmarlin.so",
        repo / "build" / "dev" / "libmarlin.so",
    ]


def _declare(lib: ctypes.CDLL) -> None:
    vp, i32, i64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
    lib.marlin_gemm.argtypes = [ctypes.POINTER(GemmArgs), vp]
    lib.marlin_gemm.restype = ctypes.c_int
    lib.marlin_workspace_size.argtypes = [ctypes.c_int]
    lib.marlin_workspace_size.restype = ctypes.c_size_t
    lib.marlin_repack_gptq.argtypes = [vp, vp, vp, i32, i32, i32, vp]
    lib.marlin_repack_gptq.restype = ctypes.c_int
    lib.marlin_repack_awq.argtypes = [vp, vp, i32, i32, i32, vp]
    lib.marlin_repack_awq.restype = ctypes.c_int
    lib.marlin_permute_cols.argtypes = [vp, i64, vp, vp, i32, i32, vp]
    lib.marlin_permute_cols.restype = ctypes.c_int
    for name in ("marlin_last_error", "marlin_built_arch_list", "marlin_built_schemes"):
        getattr(lib, name).argtypes = []
        getattr(lib, name).restype = ctypes.c_char_p
    lib.marlin_abi_version.argtypes = []
    lib.marlin_abi_version.restype = ctypes.c_int


def load() -> ctypes.CDLL:
    """The loaded library (cached). Raises MarlinError naming the paths searched."""
    global _lib
    lib = _lib  # lock-free once loaded: every op call comes through here
    if lib is not None:
        return lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for p in candidate_paths():
            tried.append(str(p))
            if p.is_file():
                lib = ctypes.CDLL(str(p))
                _declare(lib)
                if lib.marlin_abi_version() != ABI_VERSION:
                    raise MarlinError(
                        f"{p}: ABI version {lib.marlin_abi_version()} != expected {ABI_VERSION}; rebuild"
                    )
                _lib = lib
                return lib
        raise MarlinError(
            "libmarlin.so not found (build it with `marlin build` or set MARLIN_LIBRARY); tried: "
            + ", ".join(tried)
        )


def check(rc: int) -> None:
    if rc != 0:
        raise MarlinError(load().marlin_last_error().decode(errors="replace"))


def built_info() -> dict:
    lib = load()
    return {
        "arch_list": lib.marlin_built_arch_list().decode(),
        "schemes": lib.marlin_built_schemes().decode(),
    }
