"""torch custom ops over libmarlin.so, with fake (meta) implementations so that
``torch.compile(fullgraph=True)`` and CUDA graph capture work.

Ops (namespace ``marlin``):
  gemm(a, b, scales, zp, g_idx, perm, bias, b_type_id, size_n, is_zp_float,
       use_fp32_reduce, thread_k, thread_n, max_m_blocks, max_slices) -> Tensor
  repack_gptq(qweight, perm, size_k, size_n, num_bits) -> Tensor
  repack_awq(qweight, size_k, size_n, num_bits) -> Tensor

Friendly wrappers: :func:`gemm`, :func:`repack_gptq`, :func:`repack_awq`,
:func:`prepare_gptq`, :func:`prepare_awq`, :func:`prepare_hqq`. In plain eager mode :func:`gemm`
runs the op's implementation without torch.ops dispatch (:func:`launch.eager` says when).
"""

from __future__ import annotations

import ctypes
from typing import Optional

import torch

from marlin_core.runtime import launch, library, packing, validate
from marlin_core.runtime.launch import ptr as _ptr

TYPE_ID = validate.TYPE_ID
_DTYPE_ID = {torch.float16: TYPE_ID["kFloat16"], torch.bfloat16: TYPE_ID["kBFloat16"]}
SCHEME_TYPE = {
    ("gptq", 4): TYPE_ID["kU4B8"],
    ("gptq", 8): TYPE_ID["kU8B128"],
    ("awq", 4): TYPE_ID["kU4"],
    ("hqq", 4): TYPE_ID["kU4"],
}


def workspace(device: torch.device, stream: Optional[int] = None) -> torch.Tensor:
    """The zero-initialised workspace for (device, raw stream): see :func:`launch.workspace`."""
    idx = device.index if device.index is not None else torch.cuda.current_device()
    return launch.workspace(idx, stream or 0)


def _gemm(
    a: torch.Tensor,
    b: torch.Tensor,
    scales: torch.Tensor,
    zp: Optional[torch.Tensor],
    g_idx: Optional[torch.Tensor],
    perm: Optional[torch.Tensor],
    bias: Optional[torch.Tensor],
    b_type_id: int,
    size_n: int,
    is_zp_float: bool,
    use_fp32_reduce: bool,
    thread_k: int,
    thread_n: int,
    max_m_blocks: int,
    max_slices: int,
    s_type_id: int = -1,
    global_scale: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """marlin::gemm's implementation; :func:`gemm` calls it directly in plain eager mode."""
    # every check before any allocation or launch (validate.py): one-line InvalidInput errors
    validate.check_gemm(a, b, scales, b_type_id, size_n, zp, g_idx, perm, bias, is_zp_float, s_type_id,
                        global_scale)
    M, K = a.shape
    c = a.new_empty((M, size_n))
    if M == 0:
        return c
    a_tmp = a.new_empty((M, K)) if perm is not None else None
    dev = a.get_device()
    stream = launch.current_stream(dev)
    ws = launch.workspace(dev, stream)
    a_type = _DTYPE_ID[a.dtype]
    args = library.gemm_args(  # every field, in GemmArgs' order
        a.data_ptr(), a.stride(0), b.data_ptr(), c.data_ptr(), scales.data_ptr(),  # a lda b c scales
        _ptr(zp), _ptr(g_idx), _ptr(perm), _ptr(a_tmp), _ptr(bias),  # zp g_idx perm a_tmp bias
        ws.data_ptr(), ws.numel(),  # workspace workspace_bytes
        a_type, b_type_id, a_type, _DTYPE_ID[scales.dtype] if s_type_id == -1 else s_type_id,  # a/b/c/s types
        M, size_n, K, scales.shape[0],  # m n k num_groups
        is_zp_float, use_fp32_reduce, 0,  # is_zp_float use_fp32_reduce use_atomic_add
        thread_k, thread_n, max_m_blocks, max_slices, _ptr(global_scale),
    )
    launch.call(dev, library.load().marlin_gemm, ctypes.byref(args), stream)
    return c


_gemm_op = torch.library.custom_op("marlin::gemm", _gemm, mutates_args=())


@_gemm_op.register_fake
def _gemm_fake(a, b, scales, zp, g_idx, perm, bias, b_type_id, size_n, is_zp_float, use_fp32_reduce,
               thread_k, thread_n, max_m_blocks, max_slices, s_type_id=-1, global_scale=None):
    return a.new_empty((a.shape[0], size_n))


@torch.library.custom_op("marlin::repack_gptq", mutates_args=())
def _repack_gptq_op(
    qweight: torch.Tensor, perm: Optional[torch.Tensor], size_k: int, size_n: int, num_bits: int
) -> torch.Tensor:
    pack = 32 // num_bits
    if qweight.dtype != torch.int32 or tuple(qweight.shape) != (size_k // pack, size_n):
        raise ValueError(f"GPTQ qweight must be int32 [{size_k // pack}, {size_n}], got {qweight.dtype} {tuple(qweight.shape)}")
    if not qweight.is_cuda:  # the library takes device pointers
        raise ValueError(f"qweight must be on a CUDA device, got {qweight.device}")
    qweight = qweight.contiguous()
    if perm is not None:
        perm = perm.to(torch.int32).contiguous()
    out = torch.empty((size_k // 16, size_n * 16 // pack), dtype=torch.int32, device=qweight.device)
    dev = qweight.get_device()
    launch.call(dev, library.load().marlin_repack_gptq, qweight.data_ptr(), _ptr(perm), out.data_ptr(), size_k,
                size_n, num_bits, launch.current_stream(dev))
    return out


@_repack_gptq_op.register_fake
def _repack_gptq_fake(qweight, perm, size_k, size_n, num_bits):
    return qweight.new_empty((size_k // 16, size_n * 16 // (32 // num_bits)))


@torch.library.custom_op("marlin::repack_awq", mutates_args=())
def _repack_awq_op(qweight: torch.Tensor, size_k: int, size_n: int, num_bits: int) -> torch.Tensor:
    if qweight.dtype != torch.int32 or tuple(qweight.shape) != (size_k, size_n // 8):
        raise ValueError(f"AWQ qweight must be int32 [{size_k}, {size_n // 8}], got {qweight.dtype} {tuple(qweight.shape)}")
    if not qweight.is_cuda:  # the library takes device pointers
        raise ValueError(f"qweight must be on a CUDA device, got {qweight.device}")
    qweight = qweight.contiguous()
    out = torch.empty((size_k // 16, size_n * 16 // 8), dtype=torch.int32, device=qweight.device)
    dev = qweight.get_device()
    launch.call(dev, library.load().marlin_repack_awq, qweight.data_ptr(), out.data_ptr(), size_k, size_n, num_bits,
                launch.current_stream(dev))
    return out


@_repack_awq_op.register_fake
def _repack_awq_fake(qweight, size_k, size_n, num_bits):
    return qweight.new_empty((size_k // 16, size_n * 2))


# ---- friendly wrappers ----------------------------------------------------------------


def type_id(t) -> int:
    """A scalar type given as its id, a ScalarType (e.g. a plugin's) or a built-in name."""
    if isinstance(t, int):
        return t
    if isinstance(t, str):  # the common case first: no hasattr (a caught AttributeError) per call
        tid = TYPE_ID.get(t)
        if tid is not None:
            return tid
    elif hasattr(t, "id"):
        return t.id
    raise validate.InvalidInput(f"unknown scalar type {t!r}: pass a built-in name ({', '.join(TYPE_ID)}), "
                                "a marlin_core.types.ScalarType or its id")


def gemm(
    a: torch.Tensor,
    b: torch.Tensor,
    scales: torch.Tensor,
    b_type,
    size_n: int,
    zp: Optional[torch.Tensor] = None,
    g_idx: Optional[torch.Tensor] = None,
    perm: Optional[torch.Tensor] = None,
    bias: Optional[torch.Tensor] = None,
    is_zp_float: bool = False,
    use_fp32_reduce: bool = True,
    thread_k: int = -1,
    thread_n: int = -1,
    max_m_blocks: int = -1,
    max_slices: int = -1,
    s_type: Optional[str] = None,
    global_scale: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """C = a @ dequant(b) (+ bias). ``a`` [..., K] float16/bfloat16; ``b_type`` one of "kU4",
    "kU4B8", "kU8B128", "kFE4M3fn", "kFE2M1f", or a plugin's ScalarType (or id); ``s_type`` None (= the activation dtype),
    "kFE4M3fn" (NVFP4) or "kFE8M0fnu" (MXFP4); other tensors prepared by :func:`prepare_gptq` /
    :func:`prepare_awq` / :func:`prepare_hqq` / :func:`prepare_fp8` / :func:`prepare_nvfp4` /
    :func:`prepare_mxfp4` (whose dicts can be passed as ``**kwargs``)."""
    flat = a.dim() == 2
    a2 = a if flat else a.reshape(-1, a.shape[-1])
    args = (b, scales, zp, g_idx, perm, bias, type_id(b_type), size_n, is_zp_float, use_fp32_reduce, thread_k,
            thread_n, max_m_blocks, max_slices, -1 if s_type is None else type_id(s_type), global_scale)
    if launch.eager(a, b, scales, zp, g_idx, perm, bias, global_scale):
        out = _gemm(a2, *args)  # skips the torch.ops dispatch, see launch.eager
    else:
        out = torch.ops.marlin.gemm(a2, *args)
    return out if flat else out.reshape(*a.shape[:-1], size_n)


def repack_gptq(qweight, size_k, size_n, num_bits, perm=None):
    return torch.ops.marlin.repack_gptq(qweight, perm, size_k, size_n, num_bits)


def repack_awq(qweight, size_k, size_n, num_bits=4):
    return torch.ops.marlin.repack_awq(qweight, size_k, size_n, num_bits)


def prepare_gptq(qweight, scales, size_k, size_n, num_bits, g_idx=None, sort_act_order=True):
    """GPTQ checkpoint (qweight int32 [K/pack, N], scales [G, N], optional g_idx [K]) -> dict of
    gemm keyword arguments. With g_idx and sort_act_order the rows are sorted by group at repack
    time (gemm then permutes A's columns); without sorting the kernel looks g_idx up per row."""
    perm = None
    gi = None
    if g_idx is not None:
        gi = g_idx.to(torch.int32).contiguous()
        if sort_act_order:
            perm = packing.act_order_perm(gi)
            gi = gi[perm.long()].contiguous()
    b = repack_gptq(qweight, size_k, size_n, num_bits, perm=perm)
    return dict(b=b, scales=packing.prepare_scales(scales), b_type="kU4B8" if num_bits == 4 else "kU8B128",
                size_n=size_n, g_idx=gi, perm=perm)


def prepare_awq(qweight, qzeros, scales, size_k, size_n):
    """AWQ checkpoint (qweight int32 [K, N/8], qzeros int32 [G, N/8], scales [G, N])."""
    return dict(b=repack_awq(qweight, size_k, size_n), scales=packing.prepare_scales(scales),
                zp=packing.prepare_awq_zeros(qzeros), b_type="kU4", size_n=size_n)


def prepare_hqq(codes, scales, zeros, size_k, size_n):
    """HQQ 4-bit: codes [K, N] (unpacked, e.g. packing.hqq_unpack_4bit_u8 then reshaped and
    transposed to [in, out]), scales and float zeros [G, N] (float16)."""
    qweight = packing.gptq_pack(codes.to(torch.int32), 4).to(codes.device)
    return dict(b=repack_gptq(qweight, size_k, size_n, 4), scales=packing.prepare_scales(scales),
                zp=packing.prepare_zp_float(zeros), is_zp_float=True, b_type="kU4", size_n=size_n)


def _fp_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    if codes.dtype == torch.float8_e4m3fn:
        codes = codes.view(torch.uint8)
    if codes.dim() != 2:
        raise ValueError(f"codes must be [K, N], got {tuple(codes.shape)}")
    return codes.to(torch.int32) & ((1 << bits) - 1)


def prepare_fp8(codes, scales, size_k, size_n):
    """FP8 e4m3fn weights: codes [K, N] (uint8 bits or float8_e4m3fn, natural order, as from
    quant_fp.quantize_fp8), scales [num_groups, N] in the activation dtype (1 group = per
    channel, else K / 128 groups; a per-tensor scale or block scales [K / bk, N / bn] are expanded
    by packing.fp8_expand_scales). Packed GPTQ-style on the codes' device and repacked as 8-bit
    codes; the scales take the 2^8 / 2^120 exponent-bias fold (packing.prepare_fp8_scales)."""
    q = _fp_codes(codes, 8)
    b = repack_gptq(packing.gptq_pack(q, 8).to(q.device), size_k, size_n, 8)
    scales = packing.prepare_fp8_scales(packing.fp8_expand_scales(scales, size_n))
    return dict(b=b, scales=scales.to(b.device), b_type="kFE4M3fn", size_n=size_n)


def prepare_nvfp4(codes, scales, global_scale, size_k, size_n):
    """NVFP4: e2m1 codes [K, N] (uint8 nibbles, sign in bit 3), e4m3fn scale bits uint8
    [K / 16, N], float32 per-tensor global scale."""
    q = packing.nvfp4_zero_codes_of_zero_scales(_fp_codes(codes, 4), scales.to(torch.uint8).to(codes.device))
    b = repack_gptq(packing.gptq_pack(q, 4).to(q.device), size_k, size_n, 4)
    return dict(b=b, scales=packing.prepare_nvfp4_scales(scales).to(b.device), b_type="kFE2M1f",
                s_type="kFE4M3fn", global_scale=packing.prepare_nvfp4_global_scale(global_scale).to(b.device),
                size_n=size_n)


def prepare_mxfp4(codes, scales, size_k, size_n):
    """MXFP4 (bfloat16 activations): e2m1 codes [K, N], e8m0 exponents uint8 [K / 32, N]."""
    q = _fp_codes(codes, 4)
    b = repack_gptq(packing.gptq_pack(q, 4).to(q.device), size_k, size_n, 4)
    return dict(b=b, scales=packing.prepare_mxfp4_scales(scales).to(b.device), b_type="kFE2M1f",
                s_type="kFE8M0fnu", size_n=size_n)
