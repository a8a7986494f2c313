"""Fixtures of the runtime tests (no GPU): a stand-in for libmarlin.so and the CUDA-only pieces
of the launch path, so the op implementations run to their library call on CPU tensors."""

from __future__ import annotations

import pytest


class FakeLib:
    """Records each library call (GemmArgs read back field by field) and returns 0."""

    WORKSPACE_BYTES = 64

    def __init__(self):
        self.calls = []

    def _record(self, name, args, *rest):
        struct = args._obj  # ctypes.byref(...) keeps the structure it points to
        self.calls.append((name, {f: getattr(struct, f) for f, _ in struct._fields_}, rest))
        return 0

    def marlin_gemm(self, args, stream):
        return self._record("marlin_gemm", args, stream)

    def marlin_gemm_a8(self, args, a_scales, stream):
        return self._record("marlin_gemm_a8", args, a_scales, stream)

    def marlin_workspace_size(self, device):
        return self.WORKSPACE_BYTES


@pytest.fixture
def fake_launch(monkeypatch):
    """libmarlin.so replaced by a FakeLib, current device -1 (a CPU tensor's get_device()),
    stream 7 with its workspace, and validate.check_gemm accepting CPU tensors: every other check
    still runs and raises. Returns the FakeLib."""
    torch = pytest.importorskip("torch")
    from marlin_core.runtime import a8, launch, library, validate

    lib = FakeLib()
    monkeypatch.setattr(library, "load", lambda: lib)
    monkeypatch.setattr(a8, "_lib", lambda: lib)
    monkeypatch.setattr(launch, "current_device", lambda: -1)
    monkeypatch.setattr(launch, "current_stream", lambda device: 7)
    monkeypatch.setitem(launch._workspaces, (-1, 7), torch.zeros(lib.WORKSPACE_BYTES, dtype=torch.uint8))
    check = validate.check_gemm

    def check_on_cpu(*args, **kwargs):
        try:
            check(*args, **kwargs)
        except validate.InvalidInput as e:
            if not str(e).startswith("a must be on a CUDA device"):
                raise

    monkeypatch.setattr(validate, "check_gemm", check_on_cpu)
    return lib


@pytest.fixture
def recording_backend():
    """A torch.compile backend that keeps each FX graph it is given (and runs it as is), with
    dynamo reset first. Returns (backend, graphs)."""
    torch = pytest.importorskip("torch")
    torch._dynamo.reset()
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    return backend, graphs
