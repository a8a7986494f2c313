"""AWQ: 4-bit weights with integer zero points (kU4), 16-bit activations, plus W4A8 variants
with int8 (per-token scaled) or fp8 activations."""

from marlin_core import hookimpl
from marlin_core.spec import QuantConfig

GROUPS = (-1, 2, 4, 8)  # per-channel, group 32, 64, 128
W4A8_M_BLOCKS = (1, 2, 3, 4)  # 8-bit activations have no 8-row tile
OUTPUTS = ("kFloat16", "kBFloat16")


@hookimpl
def marlin_quant_configs():
    return [
        QuantConfig("awq-int4", "kU4", ("kFloat16", "kBFloat16"), GROUPS,
                    description="AWQ 4-bit, integer zero points"),
        QuantConfig("awq-w4a8-int8", "kU4", ("kS8",), GROUPS, c_types=OUTPUTS,
                    m_blocks=W4A8_M_BLOCKS, description="AWQ 4-bit weights, int8 activations"),
        QuantConfig("awq-w4a8-fp8", "kU4", ("kFE4M3fn",), GROUPS, c_types=OUTPUTS,
                    m_blocks=W4A8_M_BLOCKS, description="AWQ 4-bit weights, fp8 activations"),
    ]
