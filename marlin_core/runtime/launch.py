"""The eager fast path shared by the GEMM ops (:func:`ops.gemm`, :func:`a8.gemm_a8`).

Going through ``torch.ops`` costs a Python custom op ~10 us of dispatch per call, several times
that with grad mode on (measured on an H100 host: benchmarks/bench_call.py). The friendly
wrappers call the op's implementation directly when :func:`eager` says nothing needs to see the
op; otherwise they call ``torch.ops.marlin.*``, so that torch.compile / export / make_fx /
jit.trace record it, fake and meta tensors get the fake implementation, vmap gets its fallback,
autograd marks the output (and refuses to backward through it) and the profiler names it.
Also here: the current device / stream without ``torch.cuda`` wrappers, the per-(device, stream)
workspace, and the library call under the right current device.
"""

from __future__ import annotations

import threading

import torch
from torch.utils._device import DeviceContext

from marlin_core.runtime import library

_C = torch._C
_PLAIN = (torch.Tensor, torch.nn.Parameter)  # no __torch_dispatch__ / __torch_function__ of their own


def _device_modes_only() -> bool:
    # torch.set_default_device / `with torch.device(...)` push a DeviceContext: it only fills in the
    # device of factory calls, and the implementations name the device themselves
    return all(type(_C._get_function_stack_at(i)) is DeviceContext for i in range(_C._len_torch_function_stack()))


def eager(*tensors) -> bool:
    """True when a call with these arguments (None allowed) may skip torch.ops and run the
    implementation directly: plain eager mode, and every tensor a plain, non-meta tensor that
    autograd does not need to track. ``torch.compiler.is_compiling()`` comes first: dynamo
    folds it to a constant and never traces the rest."""
    if (torch.compiler.is_compiling() or _C._len_torch_dispatch_stack() or _C._are_functorch_transforms_active()
            or _C._get_tracing_state() is not None or _C._autograd._profiler_enabled()
            or (_C._is_torch_function_mode_enabled() and not _device_modes_only())):
        return False
    grad = torch.is_grad_enabled()
    for t in tensors:
        if t is not None and (type(t) not in _PLAIN or t.is_meta or (grad and t.requires_grad)):
            return False
    return True


def ptr(t: torch.Tensor | None) -> int:
    """A tensor's data pointer, 0 (NULL) for None."""
    return 0 if t is None else t.data_ptr()


# torch.cuda.current_device() / current_stream(d).cuda_stream without the Python wrappers (the
# latter builds a Stream object per call); looked up per call since CPU builds lack them
def current_device() -> int:
    return _C._cuda_getDevice()


def current_stream(device: int) -> int:
    return _C._cuda_getCurrentRawStream(device)


_ws_lock = threading.Lock()
_workspaces: dict[tuple[int, int], torch.Tensor] = {}


def workspace(device: int, stream: int) -> torch.Tensor:
    """The zero-initialised workspace of (device index, raw stream): kernels leave it zeroed, so
    one per stream is enough and streams never share one. (A first call inside CUDA graph capture
    allocates it from the graph's pool; its zero-fill is then part of the graph.)"""
    key = (device, stream)
    ws = _workspaces.get(key)  # lock-free hit: entries are only ever added
    if ws is None:
        with _ws_lock:
            ws = _workspaces.get(key)
            if ws is None:
                nbytes = library.load().marlin_workspace_size(device)
                ws = torch.zeros(nbytes, dtype=torch.uint8, device=torch.device("cuda", device))
                _workspaces[key] = ws
    return ws


def call(device: int, fn, *args) -> None:
    """``fn(*args)``, a libmarlin entry point, with ``device`` current (the library launches on
    the current device); switches device only when it is not current. Raises MarlinError."""
    if current_device() == device:
        rc = fn(*args)
    else:
        with torch.cuda.device(device):
            rc = fn(*args)
    if rc:
        library.check(rc)
