"""Input checks of the GEMM op, run before anything is launched: every bad input gets a
one-line ``InvalidInput`` (a ValueError) that names the tensor, what was expected and what came.

Order: structure first (dtypes, ranks, shapes, sizes, contiguity, alignment), devices last, so
the message names the most specific problem.
"""

from __future__ import annotations

from typing import Optional

import torch

from marlin_core.types import BUILTIN_TYPES

TYPE_ID = {t.name: t.id for t in BUILTIN_TYPES}
ID_NAME = {t.id: t.name for t in BUILTIN_TYPES}
FLOAT16 = (torch.float16, torch.bfloat16)

# looked up once: check_gemm runs on every call, its success path should cost little
_INT32, _UINT8, _FLOAT32 = (torch.int32,), (torch.uint8,), (torch.float32,)
_F16, _BF16 = TYPE_ID["kFloat16"], TYPE_ID["kBFloat16"]
_U4, _U8 = TYPE_ID["kU4"], TYPE_ID.get("kU8")
_FE4M3, _FE8M0, _FE2M1 = TYPE_ID["kFE4M3fn"], TYPE_ID["kFE8M0fnu"], TYPE_ID["kFE2M1f"]
_BYTE_SCALES = (_FE4M3, _FE8M0)
_SCALE_TYPES = (-1, _F16, _BF16) + _BYTE_SCALES
_FP_GROUP_ROWS = {_FE4M3: 16, _FE8M0: 32}
_DEVICE_NAMES = ("b", "scales", "zp", "g_idx", "perm", "bias", "global_scale")


class InvalidInput(ValueError):
    """A GEMM argument the kernels cannot take."""


def type_bits(type_id: int) -> int:
    """Code width of a scalar type from its id (exponent + mantissa + sign bits)."""
    return (type_id & 0xFF) + ((type_id >> 8) & 0xFF) + ((type_id >> 16) & 1)


def _name(type_id: int) -> str:
    return ID_NAME.get(type_id, f"type {type_id:#x}")


def _fail(msg: str) -> None:
    raise InvalidInput(msg)


def _tensor(name: str, t, dtypes, rank: int) -> None:
    if not isinstance(t, torch.Tensor):
        _fail(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in dtypes:
        _fail(f"{name} must be {' or '.join(str(d).removeprefix('torch.') for d in dtypes)}, got "
              f"{str(t.dtype).removeprefix('torch.')}")
    if t.dim() != rank:
        _fail(f"{name} must be {rank}-D, got shape {tuple(t.shape)}")


def _contiguous(name: str, t: torch.Tensor) -> None:
    if not t.is_contiguous():
        _fail(f"{name} must be contiguous (strides {t.stride()} for shape {tuple(t.shape)}); call .contiguous()")


def _aligned(name: str, t: torch.Tensor, nbytes: int = 16) -> None:
    if t.data_ptr() % nbytes:
        _fail(f"{name} must start on a {nbytes}-byte boundary (data_ptr % {nbytes} = {t.data_ptr() % nbytes}); "
              "pass a tensor that owns its storage or .clone() it")


def check_gemm(a: torch.Tensor, b: torch.Tensor, scales: torch.Tensor, b_type_id: int, size_n: int,
               zp: Optional[torch.Tensor] = None, g_idx: Optional[torch.Tensor] = None,
               perm: Optional[torch.Tensor] = None, bias: Optional[torch.Tensor] = None,
               is_zp_float: bool = False, s_type_id: int = -1,
               global_scale: Optional[torch.Tensor] = None) -> None:
    """Raise InvalidInput unless the 16-bit-activation GEMM can run on these tensors.
    ``s_type_id`` -1 means scales in a's dtype; kFE4M3fn (NVFP4) / kFE8M0fnu (MXFP4) take the
    prepared uint8 scale bytes (ops.prepare_nvfp4 / prepare_mxfp4)."""
    _tensor("a", a, FLOAT16, 2)
    M, K = a.shape
    a_strides = a.stride()
    if a_strides[1] != 1:
        _fail(f"a must have unit stride along K, got strides {a_strides}")
    if M > 1 and a_strides[0] % 8:
        _fail(f"a's row stride must be a multiple of 8 elements, got {a_strides[0]}")
    _aligned("a", a)
    if K % 16:
        _fail(f"K = {K} must be a multiple of 16")
    if size_n <= 0 or size_n % 64:
        _fail(f"N = {size_n} must be a positive multiple of 64")
    bits = type_bits(b_type_id)
    if bits not in (4, 8):
        _fail(f"b_type {_name(b_type_id)} has {bits}-bit codes; the kernels take 4- or 8-bit weights")
    _tensor("b", b, _INT32, 2)
    want_b = (K // 16, size_n * 16 * bits // 32)
    if b.shape != want_b:
        _fail(f"b must be the repacked weight int32 {list(want_b)} for K = {K}, N = {size_n}, "
              f"{bits}-bit codes; got {list(b.shape)}")
    _contiguous("b", b)
    _aligned("b", b)

    byte_scales = s_type_id in _BYTE_SCALES
    if s_type_id not in _SCALE_TYPES:
        _fail(f"s_type {_name(s_type_id)} is not a scale type of the 16-bit-activation kernels")
    if byte_scales:
        if b_type_id != _FE2M1:
            _fail(f"{_name(s_type_id)} scales go with kFE2M1f weights (NVFP4 / MXFP4), not {_name(b_type_id)}")
        if s_type_id == _FE8M0 and a.dtype != torch.bfloat16:
            _fail("MXFP4 (kFE8M0fnu scales) needs bfloat16 activations")
        _tensor("scales", scales, _UINT8, 2)
    elif b_type_id == _FE2M1:
        _fail("kFE2M1f weights need s_type kFE4M3fn (NVFP4) or kFE8M0fnu (MXFP4) byte scales")
    else:
        _tensor("scales", scales, FLOAT16, 2)
        if scales.dtype != a.dtype:
            _fail(f"scales must have a's dtype ({str(a.dtype).removeprefix('torch.')}), got "
                  f"{str(scales.dtype).removeprefix('torch.')}")
    G, scales_n = scales.shape
    if scales_n != size_n or G < 1:
        _fail(f"scales must be [num_groups, N = {size_n}], got {list(scales.shape)}")
    if K % G or (G > 1 and (K // G) % 16):
        _fail(f"{G} scale groups do not split K = {K} into groups of a multiple of 16 rows")
    _contiguous("scales", scales)
    _aligned("scales", scales)
    if byte_scales:
        rows = _FP_GROUP_ROWS[s_type_id]
        if K // G != rows:
            _fail(f"{_name(s_type_id)} scales must cover {rows} rows each ([K / {rows}, N]), got {G} groups "
                  f"for K = {K}")
    nvfp4 = s_type_id == _FE4M3
    if nvfp4 and global_scale is None:
        _fail("NVFP4 needs global_scale (ops.prepare_nvfp4)")
    if not nvfp4 and global_scale is not None:
        _fail("global_scale is only used with NVFP4 (kFE2M1f weights, kFE4M3fn scales)")
    if global_scale is not None:
        _tensor("global_scale", global_scale, _FLOAT32, global_scale.dim())
        if global_scale.numel() != 1:
            _fail(f"global_scale must hold one float32 value, got {global_scale.numel()}")
    if g_idx is not None and b_type_id in (_FE4M3, _FE2M1):
        _fail("act-order (g_idx) is not supported with floating-point weights")

    has_zp = b_type_id == _U4 or b_type_id == _U8
    if has_zp and zp is None:
        _fail(f"{_name(b_type_id)} weights need zero points (zp)")
    if not has_zp and zp is not None:
        _fail(f"{_name(b_type_id)} weights take no zero points; zp must be None")
    if zp is not None:
        if is_zp_float:
            if a.dtype != torch.float16:
                _fail("float zero points (HQQ) need float16 activations")
            _tensor("zp", zp, (torch.float16,), 2)
            want = (G, size_n)
        else:
            _tensor("zp", zp, _INT32, 2)
            want = (G, size_n * bits // 32)
        if zp.shape != want:
            _fail(f"zp must be {list(want)} (prepared zero points for {G} groups), got {list(zp.shape)}")
        _contiguous("zp", zp)
        _aligned("zp", zp)
    elif is_zp_float:
        _fail("is_zp_float is set but no zero points were given")

    if g_idx is None:
        if perm is not None:
            _fail("perm needs g_idx (act-order)")
    else:
        for name, t in (("g_idx", g_idx), ("perm", perm)):
            if t is not None:
                _tensor(name, t, _INT32, 1)
                if t.numel() != K:
                    _fail(f"{name} must have K = {K} entries, got {t.numel()}")
                _contiguous(name, t)
    if bias is not None:
        _tensor("bias", bias, (a.dtype,), 1)
        if bias.numel() != size_n:
            _fail(f"bias must have N = {size_n} entries, got {bias.numel()}")
        _contiguous("bias", bias)

    if not a.is_cuda:
        _fail(f"a must be on a CUDA device, got {a.device}")
    device = a.device
    for name, t in zip(_DEVICE_NAMES, (b, scales, zp, g_idx, perm, bias, global_scale)):
        if t is not None and t.device != device:
            _fail(f"{name} is on {t.device} but a is on {device}: all tensors must be on one device")
