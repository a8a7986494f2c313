"""FP4 (e2m1) weights: NVFP4 (e4m3 scales per 16, plus a global scale), MXFP4 (e8m0 scales per
32, bf16 only) and MXFP4 with fp8 activations."""

from marlin_core import hookimpl
from marlin_core.spec import QuantConfig, SelectorClause


@hookimpl
def marlin_quant_configs():
    return [
        QuantConfig("nvfp4", "kFE2M1f", ("kFloat16", "kBFloat16"), (1,), s_type="kFE4M3fn",
                    description="NVFP4: e2m1 with e4m3 scales per 16 and a global scale"),
        QuantConfig("mxfp4", "kFE2M1f", ("kBFloat16",), (2,), s_type="kFE8M0fnu",
                    description="MXFP4: e2m1 with e8m0 scales per 32"),
        QuantConfig("mxfp4-w4a8-fp8", "kFE2M1f", ("kFE4M3fn",), (2,), c_types=("kBFloat16",),
                    s_type="kFE8M0fnu", m_blocks=(1, 2, 3, 4),
                    description="MXFP4 weights, fp8 activations, bf16 output"),
    ]


@hookimpl
def marlin_selector_clauses():
    # e8m0 scales are powers of two spanning bf16's exponent range; fp16 cannot hold them.
    return [SelectorClause("marlin: MXFP4 (e8m0 scales) takes bf16 activations only",
                           a_type="kFloat16", b_type="kFE2M1f", s_type="kFE8M0fnu")]
