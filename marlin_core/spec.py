"""The data plugins contribute and the planner produces. All frozen, all comparable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ThreadConfig:
    """A tile shape of the kernel: K and N extent of the block tile, and threads per block."""

    thread_k: int
    thread_n: int
    threads: int


DEFAULT_THREAD_CONFIGS: tuple[ThreadConfig, ...] = (
    ThreadConfig(128, 128, 256),
    ThreadConfig(64, 256, 256),
    ThreadConfig(64, 128, 128),
    ThreadConfig(128, 64, 128),
)
# 0.5 is the 8-row tile (m_block_size_8): one 16-row block with a transposed MMA.
DEFAULT_M_BLOCKS: tuple[float, ...] = (0.5, 1, 2, 3, 4)


@dataclass(frozen=True)
class QuantConfig:
    """One scheme's kernel set, as a plugin contributes it.

    Type fields hold scalar-type names (``kU4B8``). ``c_types`` empty means "the activation
    type" (16-bit activations); ``s_type`` empty means "the output type".
    """

    scheme: str
    b_type: str
    a_types: tuple[str, ...]
    group_blocks: tuple[int, ...]
    c_types: tuple[str, ...] = ()
    s_type: str = ""
    m_blocks: tuple[float, ...] = DEFAULT_M_BLOCKS
    thread_configs: tuple[ThreadConfig, ...] = DEFAULT_THREAD_CONFIGS
    is_zp_float: bool = False
    description: str = ""


@dataclass(frozen=True)
class SelectorClause:
    """A dispatch line for kernel_selector.h: requests matching every given field fail with
    ``message`` before the lookup. Empty type fields and ``is_zp_float=None`` match anything."""

    message: str
    a_type: str = ""
    b_type: str = ""
    c_type: str = ""
    s_type: str = ""
    is_zp_float: bool | None = None

    TYPE_FIELDS = ("a_type", "b_type", "c_type", "s_type")


@dataclass(frozen=True, order=True)
class KernelKey:
    """The 12 template parameters of one instantiation, in template order."""

    a_type: str
    b_type: str
    c_type: str
    s_type: str
    threads: int
    thread_m_blocks: int
    thread_n_blocks: int
    thread_k_blocks: int
    m_block_size_8: bool
    stages: int
    group_blocks: int
    is_zp_float: bool


@dataclass(frozen=True)
class KernelSpec:
    """A kernel to generate: its template key, the file it goes in and where it comes from."""

    key: KernelKey
    family: str
    file: str
    scheme: str
    plugin: str


@dataclass(frozen=True)
class CudaHeader:
    """Device code a plugin adds to every generated kernel file, e.g. the dequantization of its
    weight type as a specialization of ``marlin::WeightFormat`` (csrc/include/marlin/weight_format.h).
    ``name`` is a plain file name ending in .h or .cuh; the generator writes ``text`` under it."""

    name: str
    text: str
