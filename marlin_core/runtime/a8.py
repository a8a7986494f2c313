"""8-bit activations (W4A8): the weight layout, scale order and torch ops of the
8-bit-activation kernels (docs/kernel.md, "8-bit activations").

- :func:`pack_a8_reference` pure-torch reference of the 32x64 tile layout (the GPU repack,
  ``marlin_repack_a8``, must match it bit for bit)
- :func:`prepare_scales_a8` the a8 scale column order (accumulator ownership)
- :func:`quantize_activations` per-token int8 / fp8 quantization on any device
- torch ops ``marlin::gemm_a8`` and ``marlin::repack_a8`` (with fake implementations) and
  friendly wrappers :func:`gemm_a8`, :func:`linear_a8`, :func:`prepare_gptq_a8`,
  :func:`prepare_awq_a8`, :func:`prepare_mxfp4_a8`

Integer zero points (AWQ) use the 16-bit kernels' order (:func:`packing.prepare_zp_int`).
"""

from __future__ import annotations

import ctypes
from typing import Optional

import torch

from marlin_core.runtime import launch, library, packing, quant_fp
from marlin_core.runtime.launch import ptr as _ptr
from marlin_core.runtime.validate import TYPE_ID

TILE_K = 32
TILE_N = 64
_DECLARED = False


def _lib() -> ctypes.CDLL:
    global _DECLARED
    lib = library.load()
    if not _DECLARED:
        vp, i32 = ctypes.c_void_p, ctypes.c_int32
        lib.marlin_gemm_a8.argtypes = [ctypes.POINTER(library.GemmArgs), vp, vp]
        lib.marlin_gemm_a8.restype = ctypes.c_int
        lib.marlin_repack_a8.argtypes = [vp, vp, i32, i32, i32, vp]
        lib.marlin_repack_a8.restype = ctypes.c_int
        lib.marlin_a8_last_launch.argtypes = [ctypes.POINTER(ctypes.c_int32)]
        lib.marlin_a8_last_launch.restype = ctypes.c_int
        _DECLARED = True
    return lib


# ---- reference layout ------------------------------------------------------------------


def pack_a8_reference(q: torch.Tensor) -> torch.Tensor:
    """4-bit codes ``q`` [K, N] (K % 32 == 0, N % 64 == 0; u4, u4b8 or e2m1 nibbles) -> int32
    [K / 32, 4 N].

    32x64 tiles, row-major over tiles, 256 words each. Word ``h*128 + l*4 + q`` of a tile
    (h in 0..1, lane l in 0..31, q in 0..3) belongs to lane l and n8 tile j = 4 h + q: column
    c = 8 j + l // 4, t = l % 4; its nibble 2 i holds B(4 t + i, c) and nibble 2 i + 1 holds
    B(16 + 4 t + i, c), i = 0..3 (the two B registers of mma m16n8k32 for 8-bit operands).
    """
    if q.dim() != 2:
        raise ValueError(f"codes must be 2-D [K, N], got {tuple(q.shape)}")
    K, N = q.shape
    if K % TILE_K or N % TILE_N:
        raise ValueError(f"K={K} must be a multiple of {TILE_K} and N={N} of {TILE_N}")
    q = q.to(torch.int64)
    if int(q.min()) < 0 or int(q.max()) > 15:
        raise ValueError("4-bit codes must be in [0, 15]")
    dev = q.device
    tiles = q.reshape(K // 32, 32, N // 64, 64).permute(0, 2, 1, 3)  # [kt, nt, 32, 64]
    h = torch.arange(2, device=dev)[:, None, None]
    ln = torch.arange(32, device=dev)[None, :, None]
    qq = torch.arange(4, device=dev)[None, None, :]
    col = (8 * (4 * h + qq) + ln // 4).expand(2, 32, 4)  # [h, l, q]
    t = (ln % 4).expand(2, 32, 4)
    word = torch.zeros(K // 32, N // 64, 2, 32, 4, dtype=torch.int64, device=dev)
    for i in range(4):
        word |= tiles[:, :, 4 * t + i, col] << (8 * i)
        word |= tiles[:, :, 16 + 4 * t + i, col] << (8 * i + 4)
    return packing._to_int32(word.reshape(K // 32, 4 * N))


def unpack_a8_reference(packed: torch.Tensor, K: int, N: int) -> torch.Tensor:
    """Inverse of :func:`pack_a8_reference` written from the fragment point of view (what lane l
    feeds to the MMA of n8 tile j): codes int32 [K, N]."""
    w = packed.to(torch.int64).reshape(K // 32, N // 64, 2, 32, 4) & 0xFFFFFFFF
    out = torch.empty(K, N, dtype=torch.int32)
    for kt in range(K // 32):
        for nt in range(N // 64):
            for h in range(2):
                for ln in range(32):
                    for qq in range(4):
                        x = int(w[kt, nt, h, ln, qq])
                        c = nt * 64 + 8 * (4 * h + qq) + ln // 4
                        t = ln % 4
                        reg0, reg1 = x & 0x0F0F0F0F, (x >> 4) & 0x0F0F0F0F  # the kernel's extraction
                        for i in range(4):
                            out[kt * 32 + 4 * t + i, c] = (reg0 >> (8 * i)) & 0xF
                            out[kt * 32 + 16 + 4 * t + i, c] = (reg1 >> (8 * i)) & 0xF
    return out


def _scale_perm(n: int, device) -> torch.Tensor:
    """Stored position chunk*64 + 16 t + 2 j + e holds column chunk*64 + 8 j + 2 t + e (t 0..3,
    j 0..7, e 0..1): the 16 accumulator columns of lanes with lane % 4 == t are contiguous."""
    if n % 64:
        raise ValueError(f"N={n} must be a multiple of 64")
    t = torch.arange(4, device=device)[:, None, None]
    j = torch.arange(8, device=device)[None, :, None]
    e = torch.arange(2, device=device)[None, None, :]
    p = (8 * j + 2 * t + e).reshape(64)
    return (torch.arange(n // 64, device=device)[:, None] * 64 + p[None, :]).reshape(n)


def prepare_scales_a8(scales: torch.Tensor) -> torch.Tensor:
    """Weight scales [num_groups, N] (fp16 / bf16, or uint8 e8m0) -> the a8 kernels' order."""
    if scales.dim() != 2:
        raise ValueError(f"scales must be [num_groups, N], got {tuple(scales.shape)}")
    return scales[:, _scale_perm(scales.shape[1], scales.device)].contiguous()


def quantize_activations(a: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token quantization on a's device: kind "int8" (kS8) or "fp8" (kFE4M3fn). Returns
    (q [M, K] int8 / float8_e4m3fn, scales float32 [M]); a ~ q * scales[:, None]."""
    x = a.reshape(-1, a.shape[-1])
    qa = quant_fp.quantize_act_int8(x) if kind == "int8" else quant_fp.quantize_act_fp8(x)
    return qa.q.contiguous(), qa.scales.contiguous()


# ---- torch ops -------------------------------------------------------------------------

_A_TYPE = {torch.int8: TYPE_ID["kS8"], torch.float8_e4m3fn: TYPE_ID["kFE4M3fn"]}
_C_TYPE = {torch.float16: TYPE_ID["kFloat16"], torch.bfloat16: TYPE_ID["kBFloat16"]}
_S_TYPE = {**_C_TYPE, torch.uint8: TYPE_ID["kFE8M0fnu"]}  # the scale type an s_type of None means


def _gemm_a8(
    a: torch.Tensor,
    a_scales: torch.Tensor,
    b: torch.Tensor,
    scales: torch.Tensor,
    zp: Optional[torch.Tensor],
    bias: Optional[torch.Tensor],
    b_type_id: int,
    s_type_id: int,
    size_n: int,
    out_dtype: torch.dtype,
    use_fp32_reduce: bool,
    thread_k: int,
    thread_n: int,
    max_m_blocks: int,
    max_slices: int,
) -> torch.Tensor:
    """marlin::gemm_a8's implementation; :func:`gemm_a8` calls it directly in plain eager mode."""
    if a.dim() != 2 or a.dtype not in _A_TYPE or not a.is_cuda:
        raise ValueError(f"a must be a 2-D CUDA int8 / float8_e4m3fn tensor, got {a.dtype} {tuple(a.shape)}")
    if out_dtype not in _C_TYPE:
        raise ValueError(f"out_dtype must be float16 or bfloat16, got {out_dtype}")
    if a.stride(1) != 1 or a.stride(0) % 16:
        a = a.contiguous()
    if a.data_ptr() % 16:  # e.g. a row-offset view: the kernel copies 16-byte units
        a = a.clone(memory_format=torch.contiguous_format)
    M, K = a.shape
    c = torch.empty((M, size_n), dtype=out_dtype, device=a.device)
    if M == 0:
        return c
    a_scales = a_scales.to(torch.float32).contiguous()
    if a_scales.numel() != M:
        raise ValueError(f"a_scales must have M={M} elements, got {a_scales.numel()}")
    if b.dtype != torch.int32 or tuple(b.shape) != (K // 32, 4 * size_n) or not b.is_contiguous():
        raise ValueError(f"b must be the repacked int32 [{K // 32}, {4 * size_n}] tensor, got {b.dtype} {tuple(b.shape)}")
    scales = scales.contiguous()
    if bias is not None:
        bias = bias.to(out_dtype).contiguous()
    if zp is not None:
        zp = zp.contiguous()
    dev = a.get_device()
    stream = launch.current_stream(dev)
    ws = launch.workspace(dev, stream)
    args = library.gemm_args(  # every field, in GemmArgs' order
        a.data_ptr(), a.stride(0), b.data_ptr(), c.data_ptr(), scales.data_ptr(),  # a lda b c scales
        _ptr(zp), 0, 0, 0, _ptr(bias),  # zp g_idx perm a_tmp bias
        ws.data_ptr(), ws.numel(),  # workspace workspace_bytes
        _A_TYPE[a.dtype], b_type_id, _C_TYPE[out_dtype], s_type_id,  # a/b/c/s types
        M, size_n, K, scales.shape[0],  # m n k num_groups
        0, use_fp32_reduce, 0,  # is_zp_float use_fp32_reduce use_atomic_add
        thread_k, thread_n, max_m_blocks, max_slices, 0,  # ... global_scale (NVFP4 only)
    )
    launch.call(dev, _lib().marlin_gemm_a8, ctypes.byref(args), a_scales.data_ptr(), stream)
    return c


_gemm_a8_op = torch.library.custom_op("marlin::gemm_a8", _gemm_a8, mutates_args=())


@_gemm_a8_op.register_fake
def _gemm_a8_fake(a, a_scales, b, scales, zp, bias, b_type_id, s_type_id, size_n, out_dtype, use_fp32_reduce,
                  thread_k, thread_n, max_m_blocks, max_slices):
    return a.new_empty((a.shape[0], size_n), dtype=out_dtype)


@torch.library.custom_op("marlin::repack_a8", mutates_args=())
def _repack_a8_op(qweight: torch.Tensor, size_k: int, size_n: int, awq: bool) -> torch.Tensor:
    shape = (size_k, size_n // 8) if awq else (size_k // 8, size_n)
    if qweight.dtype != torch.int32 or tuple(qweight.shape) != shape:
        raise ValueError(f"qweight must be int32 {list(shape)}, got {qweight.dtype} {tuple(qweight.shape)}")
    if not qweight.is_cuda:  # the library takes device pointers
        raise ValueError(f"qweight must be on a CUDA device, got {qweight.device}")
    qweight = qweight.contiguous()
    out = torch.empty((size_k // 32, 4 * size_n), dtype=torch.int32, device=qweight.device)
    dev = qweight.get_device()
    launch.call(dev, _lib().marlin_repack_a8, qweight.data_ptr(), out.data_ptr(), size_k, size_n, int(awq),
                launch.current_stream(dev))
    return out


@_repack_a8_op.register_fake
def _repack_a8_fake(qweight, size_k, size_n, awq):
    return qweight.new_empty((size_k // 32, 4 * size_n))


def repack_a8(qweight: torch.Tensor, size_k: int, size_n: int, awq: bool = False) -> torch.Tensor:
    """GPTQ-style int32 [K/8, N] (or AWQ int32 [K, N/8] with awq=True) -> int32 [K/32, 4N]."""
    return torch.ops.marlin.repack_a8(qweight, size_k, size_n, awq)


def last_launch() -> dict:
    """What the last gemm_a8 launch on this thread ran (stages, PTX / binary version)."""
    out = (ctypes.c_int32 * 4)()
    library.check(_lib().marlin_a8_last_launch(out))
    return {"stages": out[0], "ptx_version": out[1], "binary_version": out[2], "thread_m_blocks": out[3]}


def gemm_a8(
    a: torch.Tensor,
    a_scales: torch.Tensor,
    b: torch.Tensor,
    scales: torch.Tensor,
    b_type: str,
    size_n: int,
    out_dtype: torch.dtype,
    zp: Optional[torch.Tensor] = None,
    bias: Optional[torch.Tensor] = None,
    s_type: Optional[str] = None,
    use_fp32_reduce: bool = True,
    thread_k: int = -1,
    thread_n: int = -1,
    max_m_blocks: int = -1,
    max_slices: int = -1,
) -> torch.Tensor:
    """C = (a * a_scales[:, None]) @ dequant(b) (+ bias) with ``a`` int8 / float8_e4m3fn
    [..., K] (see :func:`quantize_activations`); other tensors from :func:`prepare_gptq_a8`,
    :func:`prepare_awq_a8` or :func:`prepare_mxfp4_a8`."""
    flat = a.dim() == 2
    a2 = a if flat else a.reshape(-1, a.shape[-1])
    s_id = TYPE_ID[s_type] if s_type else _S_TYPE[scales.dtype]
    args = (a_scales if a_scales.dim() == 1 else a_scales.reshape(-1), b, scales, zp, bias, TYPE_ID[b_type], s_id,
            size_n, out_dtype, use_fp32_reduce, thread_k, thread_n, max_m_blocks, max_slices)
    if launch.eager(a, a_scales, b, scales, zp, bias):
        out = _gemm_a8(a2, *args)  # skips torch.ops dispatch, see launch.eager
    else:
        out = torch.ops.marlin.gemm_a8(a2, *args)
    return out if flat else out.reshape(*a.shape[:-1], size_n)


def linear_a8(x: torch.Tensor, weight: dict, act: str = "int8", bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """y = x @ W (+ bias) for 16-bit ``x`` [..., K]: quantizes x per token to ``act`` ("int8" or
    "fp8", :func:`quantize_activations`, plain torch on x's device), then :func:`gemm_a8` with the
    prepared ``weight`` (from a ``prepare_*_a8``); the output dtype is x's."""
    q, s = quantize_activations(x, act)
    out = gemm_a8(q, s, out_dtype=x.dtype, bias=bias, **weight)
    return out.reshape(*x.shape[:-1], out.shape[-1])


def prepare_gptq_a8(qweight, scales, size_k, size_n):
    """GPTQ 4-bit checkpoint (qweight int32 [K/8, N], scales [G, N] fp16/bf16, no act-order)."""
    return dict(b=repack_a8(qweight, size_k, size_n), scales=prepare_scales_a8(scales), b_type="kU4B8",
                size_n=size_n)


def prepare_awq_a8(qweight, qzeros, scales, size_k, size_n):
    """AWQ checkpoint (qweight int32 [K, N/8], qzeros int32 [G, N/8], scales [G, N])."""
    return dict(b=repack_a8(qweight, size_k, size_n, awq=True), scales=prepare_scales_a8(scales),
                zp=packing.prepare_awq_zeros(qzeros), b_type="kU4", size_n=size_n)


def prepare_mxfp4_a8(codes, scales_e8m0, size_k, size_n):
    """MXFP4 for fp8 activations: e2m1 codes uint8 [K, N], e8m0 scales uint8 [K/32, N]
    (``quant_fp.quantize_mxfp4``); bfloat16 output."""
    qweight = packing.gptq_pack(codes.to(torch.int32), 4).to(codes.device)
    return dict(b=repack_a8(qweight, size_k, size_n), scales=prepare_scales_a8(scales_e8m0.to(torch.uint8)),
                b_type="kFE2M1f", s_type="kFE8M0fnu", size_n=size_n)
