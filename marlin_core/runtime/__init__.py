"""marlin runtime: the built kernel library from Python.

``import marlin_core`` never imports torch; this package imports it only when a submodule
that needs it is used (``library`` works without torch):

- :mod:`.library`  finds and loads ``libmarlin.so`` (ctypes, plain C ABI)
- :mod:`.launch`   the eager fast path of the GEMM ops: when to skip torch.ops dispatch, current
                   device / stream, per-stream workspaces, the library call
- :mod:`.ops`      torch custom ops ``marlin::gemm``, ``marlin::repack_gptq``,
                   ``marlin::repack_awq`` (with fake implementations) and friendly wrappers
- :mod:`.packing`  pure-torch reference of the tile layout, scale / zero-point preparation,
                   GPTQ / AWQ checkpoint (un)packers
- :mod:`.quant`    round-to-nearest reference quantizers per scheme
- :mod:`.a8`       8-bit activations (W4A8): reference packer, scale order, torch ops
                   ``marlin::gemm_a8`` / ``marlin::repack_a8``, per-token activation quantization
"""

import importlib

_SUBMODULES = ("library", "launch", "ops", "packing", "quant", "a8")
_NAMES = {
    "awq_pack": "packing", "awq_unpack": "packing", "gptq_pack": "packing", "gptq_unpack": "packing",
    "marlin_pack_reference": "packing", "prepare_scales": "packing", "prepare_zp_float": "packing",
    "prepare_zp_int": "packing", "QuantizedWeight": "quant", "quantize_awq": "quant",
    "quantize_gptq": "quant", "quantize_hqq": "quant",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"marlin_core.runtime.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"marlin_core.runtime.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'marlin_core.runtime' has no attribute {name!r}")


__all__ = list(_SUBMODULES) + list(_NAMES)
