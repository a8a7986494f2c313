"""launch.eager decides when the GEMM wrappers may skip torch.ops: plain eager calls only, never
while something (compile, export, make_fx, jit.trace, vmap, a dispatch or function mode, fake /
meta tensors, autograd, the profiler) has to see the op. Also the device switch, the call's error
and the per-stream workspace. No GPU needed."""

import contextlib

import pytest

torch = pytest.importorskip("torch")

from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from marlin_core.runtime import launch, library


def x(*shape, **kw):
    return torch.zeros(*shape or (4, 8), dtype=torch.float16, **kw)


def test_plain_tensors_parameters_and_none_are_eager():
    assert launch.eager(x(), None, torch.nn.Parameter(x(), requires_grad=False), None)
    with torch.inference_mode():
        assert launch.eager(x(), x())


def test_autograd_needs_the_op_only_while_recording():
    w = torch.nn.Parameter(x())  # requires grad
    assert not launch.eager(x(), w)
    assert not launch.eager(x().requires_grad_())
    with torch.no_grad():
        assert launch.eager(x(), w)


def test_fake_meta_and_other_subclasses_need_the_op():
    from torch._subclasses.fake_tensor import FakeTensorMode

    class Sub(torch.Tensor):
        pass

    assert not launch.eager(x(), x(device="meta"))
    assert not launch.eager(x().as_subclass(Sub))
    assert not launch.eager(x(), "not a tensor")
    mode = FakeTensorMode()
    with mode:
        fake = x()
        assert not launch.eager(fake)  # the mode is active
    assert not launch.eager(fake)  # a fake tensor outside its mode


def test_dispatch_and_function_modes_need_the_op_but_default_device_does_not():
    class Dispatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    class Function(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    with Dispatch():
        assert not launch.eager(x())
    with Function():
        assert not launch.eager(x())
    with torch.device("cpu"):  # a DeviceContext only: the implementations name their device
        assert launch.eager(x())
        with Function():
            assert not launch.eager(x())


@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated")
def test_tracers_transforms_and_profiler_need_the_op():
    from torch.fx.experimental.proxy_tensor import make_fx

    seen = []

    def probe(t):
        seen.append(launch.eager(t))
        return t + 1

    make_fx(probe)(x())
    torch.jit.trace(probe, x(), check_trace=False)  # the check would rerun probe eagerly
    torch.vmap(probe)(x(3, 4))
    with torch.profiler.profile():
        probe(x())
    assert seen == [False] * 4


def test_compile_folds_to_the_op_path():
    torch._dynamo.reset()

    def f(t):
        return t + 1 if launch.eager(t) else t - 1

    t = x()
    assert torch.equal(f(t), t + 1)
    assert torch.equal(torch.compile(f, fullgraph=True, backend="eager")(t), t - 1)


class _Lib:
    def __init__(self):
        self.sizes = []

    def marlin_workspace_size(self, device):
        self.sizes.append(device)
        return 32

    def marlin_last_error(self):
        return b"marlin_gemm: boom"


def test_call_switches_device_only_when_needed(monkeypatch):
    entered = []

    @contextlib.contextmanager
    def device(idx):
        entered.append(idx)
        yield

    monkeypatch.setattr(launch, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", device)
    got = []
    launch.call(0, lambda *a: got.append(a) or 0, 1, 2)
    assert got == [(1, 2)] and entered == []
    launch.call(1, lambda *a: got.append(a) or 0, 3)
    assert got == [(1, 2), (3,)] and entered == [1]


def test_call_raises_the_library_error(monkeypatch):
    monkeypatch.setattr(launch, "current_device", lambda: 0)
    monkeypatch.setattr(library, "load", lambda: _Lib())
    with pytest.raises(library.MarlinError, match="boom"):
        launch.call(0, lambda: 3)


def test_one_zeroed_workspace_per_device_and_stream(monkeypatch):
    lib = _Lib()
    made = []
    zeros = torch.zeros

    def cpu_zeros(n, dtype, device):
        assert device.type == "cuda"
        made.append(device.index)
        return zeros(n, dtype=dtype)

    monkeypatch.setattr(library, "load", lambda: lib)
    monkeypatch.setattr(torch, "zeros", cpu_zeros)
    monkeypatch.setattr(launch, "_workspaces", {})
    w1 = launch.workspace(0, 11)
    assert w1.numel() == 32 and w1.dtype == torch.uint8 and not w1.any()
    assert launch.workspace(0, 11) is w1
    w2, w3 = launch.workspace(0, 12), launch.workspace(1, 11)
    assert len({w1.data_ptr(), w2.data_ptr(), w3.data_ptr()}) == 3
    assert made == [0, 0, 1] and lib.sizes == [0, 0, 1]


def test_ptr():
    t = x()
    assert launch.ptr(None) == 0 and launch.ptr(t) == t.data_ptr()
