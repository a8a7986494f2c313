"""FP8 weights (e4m3), per-channel or group 128, 16-bit activations."""

from marlin_core import hookimpl
from marlin_core.spec import QuantConfig


@hookimpl
def marlin_quant_configs():
    return [QuantConfig("fp8", "kFE4M3fn", ("kFloat16", "kBFloat16"), (-1, 8),
                        description="FP8 e4m3 weights, per-channel or group 128")]
