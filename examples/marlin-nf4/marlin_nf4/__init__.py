"""marlin scheme plugin: NF4, the 4-bit NormalFloat format of QLoRA checkpoints.

16 fixed code values (quantiles of a standard normal, scaled to [-1, 1]) times a per-group
absmax scale (group 64), fp16 and bf16 activations. The plugin brings everything the core
does not know: the scalar type, the kernel set, and the dequantization as device code
(``nf4.cuh``, a ``marlin::WeightFormat`` specialization). ``marlin_nf4.quant`` has the
reference quantizer and the packing for the runtime.
"""

from pathlib import Path

from marlin_core import hookimpl
from marlin_core.spec import CudaHeader, QuantConfig
from marlin_core.types import NAN_NONE, ScalarType

# A 4-bit code with no arithmetic meaning of its own: distinguished from kU4 by its flags
# (finite values only, no NaN), which gives it an id of its own.
NF4 = ScalarType("kNF4", "nf4", 0, 4, False, 0, finite_values_only=True, nan_repr=NAN_NONE, label="nf4")
GROUP_BLOCKS = 4  # group 64 = 4 blocks of 16 rows


@hookimpl
def marlin_scalar_types():
    return [NF4]


@hookimpl
def marlin_quant_configs():
    return [QuantConfig("nf4", NF4.name, ("kFloat16", "kBFloat16"), (GROUP_BLOCKS,),
                        description="NF4 (QLoRA) with absmax scales per 64")]


@hookimpl
def marlin_cuda_headers():
    text = (Path(__file__).with_name("nf4.cuh")).read_text().replace("@NF4_ID@", f"{NF4.id:#x}")
    return [CudaHeader("marlin_nf4.cuh", text)]
