"""HQQ: 4-bit weights with float (fp16) zero points, group 64, fp16 activations."""

from marlin_core import hookimpl
from marlin_core.spec import QuantConfig, SelectorClause


@hookimpl
def marlin_quant_configs():
    return [QuantConfig("hqq", "kU4", ("kFloat16",), (4,), is_zp_float=True,
                        description="HQQ 4-bit, fp16 zero points, group 64")]


@hookimpl
def marlin_selector_clauses():
    # The kernel applies float zero points in fp16 arithmetic.
    return [SelectorClause("marlin: float zero points (HQQ) need fp16 activations",
                           a_type="kBFloat16", is_zp_float=True)]
