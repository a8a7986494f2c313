"""A third-party plugin as a user would write it: a new 4-bit weight type with its own kernels,
a veto for the Turing family and a selector clause."""

from marlin_core import hookimpl
from marlin_core.spec import QuantConfig, SelectorClause, ThreadConfig
from marlin_core.types import ScalarType

# An unsigned 4-bit code with bias 7, a type no default plugin knows.
U4B7 = ScalarType("kU4B7", "u4b7", 0, 4, False, 7, label="uint4b7")


@hookimpl
def marlin_scalar_types():
    return [U4B7]


@hookimpl
def marlin_quant_configs():
    return [QuantConfig("example-u4b7", "kU4B7", ("kFloat16", "kBFloat16"), (-1, 8),
                        m_blocks=(0.5, 1, 2), thread_configs=(ThreadConfig(64, 128, 128),))]


@hookimpl
def marlin_check_combo(config, family):
    if config.scheme == "example-u4b7" and family.name == "sm75":
        return "example-u4b7 is not tuned for Turing"
    return None


@hookimpl
def marlin_selector_clauses():
    return [SelectorClause("marlin: kU4B7 weights need 16-bit activations", a_type="kS8",
                           b_type="kU4B7")]
