"""Arch lists as CMake and torch spell them, and the kernel families they select."""

from __future__ import annotations

import re
from dataclasses import dataclass

from marlin_core.errors import UsageError

MIN_ARCH = (7, 5)
DEFAULT_ARCHS = "7.5,8.0,8.6,8.9,9.0"

_SEPARATORS = re.compile(r"[,;\s]+")
# 8.0  80  sm_80  compute_80  8.6+PTX  9.0a  12.0f  (case-insensitive suffixes)
_ARCH = re.compile(r"^(?:sm_|compute_)?(\d{1,3})(?:\.(\d))?([af]?)(\+ptx)?$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Arch:
    major: int
    minor: int
    suffix: str = ""  # "a" (arch-specific) or "f" (family-specific) features
    ptx: bool = False  # also embed PTX for this arch

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}{self.suffix}" + ("+PTX" if self.ptx else "")

    @property
    def cc(self) -> int:
        return self.major * 10 + self.minor

    @property
    def sass_suffix(self) -> str:
        """Suffix of the SASS target. Hopper (9.0) machine code is built arch-specific (sm_90a):
        every 9.0 GPU runs it, and only that target has wgmma, which the kernels use there.
        PTX stays plain compute_90, the form newer GPUs can JIT."""
        return "a" if (self.major, self.minor) == (9, 0) else self.suffix

    @property
    def gencode(self) -> tuple[str, ...]:
        """nvcc flags: SASS for this arch, plus PTX when asked (the driver JITs it for newer GPUs)."""
        v = f"{self.cc}{self.sass_suffix}"
        sass = f"-gencode=arch=compute_{v},code=sm_{v}"
        if not self.ptx:
            return (sass,)
        p = f"{self.cc}{self.suffix}"
        return (sass, f"-gencode=arch=compute_{p},code=compute_{p}")

    @property
    def cmake(self) -> str:
        """The CMake CUDA_ARCHITECTURES entry (a CMake list): real code, plus PTX when asked."""
        real = f"{self.cc}{self.sass_suffix}-real"
        return f"{real};{self.cc}{self.suffix}-virtual" if self.ptx else real


def parse_arch(item: str) -> Arch:
    m = _ARCH.match(item)
    if not m:
        raise UsageError(f"invalid arch '{item}': expected forms like 8.0, 80, sm_80, 8.6+PTX, 9.0a, 12.0")
    digits, minor = m.group(1), m.group(2)
    if minor is None:
        # CMake style: "80" is 8.0, "120" is 12.0; a lone digit says nothing of the minor.
        if len(digits) < 2:
            raise UsageError(f"invalid arch '{item}': write it as {digits}.0 or {digits}0")
        digits, minor = digits[:-1], digits[-1]
    arch = Arch(int(digits), int(minor), m.group(3).lower(), bool(m.group(4)))
    if (arch.major, arch.minor) < MIN_ARCH:
        raise UsageError(f"arch '{item}' is below 7.5: Marlin kernels need Turing (7.5) or newer")
    return arch


def parse_arch_list(text: str) -> tuple[Arch, ...]:
    """Parse "7.5,8.0;8.6+PTX 9.0a" into sorted, de-duplicated archs."""
    items = [s for s in _SEPARATORS.split(text.strip()) if s]
    if not items:
        raise UsageError("empty arch list: give at least one arch, e.g. --arch 8.0")
    return tuple(sorted(set(parse_arch(s) for s in items)))


def format_arch_list(archs: tuple[Arch, ...]) -> str:
    return ",".join(str(a) for a in archs)


@dataclass(frozen=True)
class ArchFamily:
    """A kernel family: one code path of the template, compiled for a band of archs.

    ``activations``/``outputs`` are what its tensor-core instructions can take and give;
    which archs it is compiled for is decided by ``selects``.
    """

    name: str
    stages: int
    activations: frozenset[str]
    outputs: frozenset[str]
    needs: str  # the archs that select it, for messages

    def archs(self, archs: tuple[Arch, ...]) -> tuple[Arch, ...]:
        return tuple(a for a in archs if _FAMILY_SELECTS[self.name](a))


_FAMILY_SELECTS = {
    # Turing: no bf16 MMA and no cp.async, so fp16/int8 in, fp16 out, two stages.
    "sm75": lambda a: (7, 5) <= (a.major, a.minor) < (8, 0),
    "sm80": lambda a: a.major >= 8,
    # fp8 MMA is native on Ada (8.9) and consumer Blackwell (12.x) only; Hopper and
    # datacenter Blackwell would emulate it, slower than 16-bit activations.
    "sm89": lambda a: (a.major, a.minor) == (8, 9) or a.major == 12,
}

FAMILIES: tuple[ArchFamily, ...] = (
    ArchFamily("sm75", 2, frozenset({"kFloat16", "kS8"}), frozenset({"kFloat16"}), "7.5"),
    ArchFamily("sm80", 4, frozenset({"kFloat16", "kBFloat16", "kS8"}),
               frozenset({"kFloat16", "kBFloat16"}), "8.0 or newer"),
    ArchFamily("sm89", 4, frozenset({"kFE4M3fn"}), frozenset({"kFloat16", "kBFloat16"}),
               "8.9 or 12.x"),
)


def families_for(archs: tuple[Arch, ...]) -> tuple[ArchFamily, ...]:
    return tuple(f for f in FAMILIES if f.archs(archs))
