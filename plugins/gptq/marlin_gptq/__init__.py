"""GPTQ: symmetric 4-bit (kU4B8, value = q - 8) and 8-bit (kU8B128) weights, with act-order
(group_blocks 0 = per-row group index), plus the W4A8 GPTQ variants."""

from marlin_core import hookimpl
from marlin_core.spec import QuantConfig

GROUPS = (-1, 0, 2, 4, 8)  # per-channel, act-order, group 32, 64, 128
W4A8_GROUPS = (-1, 2, 4, 8)
W4A8_M_BLOCKS = (1, 2, 3, 4)
ACTIVATIONS = ("kFloat16", "kBFloat16")
OUTPUTS = ("kFloat16", "kBFloat16")


@hookimpl
def marlin_quant_configs():
    return [
        QuantConfig("gptq-int4", "kU4B8", ACTIVATIONS, GROUPS, description="GPTQ 4-bit"),
        QuantConfig("gptq-int8", "kU8B128", ACTIVATIONS, GROUPS, description="GPTQ 8-bit"),
        QuantConfig("gptq-w4a8-int8", "kU4B8", ("kS8",), W4A8_GROUPS, c_types=OUTPUTS,
                    m_blocks=W4A8_M_BLOCKS, description="GPTQ 4-bit weights, int8 activations"),
        QuantConfig("gptq-w4a8-fp8", "kU4B8", ("kFE4M3fn",), W4A8_GROUPS, c_types=OUTPUTS,
                    m_blocks=W4A8_M_BLOCKS, description="GPTQ 4-bit weights, fp8 activations"),
    ]
