"""marlin runtime: the built kernel library from Python (needs torch).

``import marlin_core`` never imports torch; only this subpackage does.

- :mod:`.library`  finds and loads ``libmarlin.so`` (ctypes, plain C ABI)
- :mod:`.ops`      torch custom ops ``marlin::gemm``, ``marlin::repack_gptq``,
                   ``marlin::repack_awq`` (with fake implementations) and friendly wrappers
- :mod:`.packing`  pure-torch reference of the tile layout, scale / zero-point preparation,
                   GPTQ / AWQ checkpoint (un)packers
- :mod:`.quant`    round-to-nearest reference quantizers per scheme
"""

from marlin_core.runtime.packing import (  # noqa: F401
    awq_pack,
    awq_unpack,
    gptq_pack,
    gptq_unpack,
    marlin_pack_reference,
    prepare_scales,
    prepare_zp_float,
    prepare_zp_int,
)
from marlin_core.runtime.quant import (  # noqa: F401
    QuantizedWeight,
    quantize_awq,
    quantize_gptq,
    quantize_hqq,
)


def __getattr__(name):
    # ops needs the CUDA library only when called, but registers torch ops on import
    if name in ("ops", "library"):
        import importlib

        return importlib.import_module(f"marlin_core.runtime.{name}")
    raise AttributeError(name)
