"""library.gemm_args packs the same bytes as the ctypes GemmArgs constructor (no GPU, no torch)."""

import ctypes

from marlin_core.runtime import library


def test_gemm_args_matches_the_structure():
    fields = library.GemmArgs._fields_
    # distinct values per field, negative ones in the signed fields, large ones in pointers and sizes
    values = [
        (0x7F00_0000_0000 + 16 * i if t in (ctypes.c_void_p, ctypes.c_size_t) else -(i + 1) if i % 2 else i + 1)
        for i, (_, t) in enumerate(fields)
    ]
    packed, built = library.gemm_args(*values), library.GemmArgs(*values)
    assert bytes(packed) == bytes(built)
    assert [getattr(packed, f) for f, _ in fields] == values


def test_gemm_args_null_pointers_read_back_as_none():
    args = library.gemm_args(*[0] * len(library.GemmArgs._fields_))
    assert args.a is None and args.global_scale is None and args.m == 0
