"""Scalar types: bit layouts and the 64-bit ids shared with csrc/include/marlin/scalar_type.h."""

from __future__ import annotations

from dataclasses import dataclass

from marlin_core.errors import MarlinError

NAN_NONE = 0
NAN_IEEE_754 = 1
NAN_EXTD_RANGE_MAX_MIN = 2

# Field widths of the id, LSB first; must match make_scalar_type_id() in scalar_type.h.
_ID_FIELDS = (("exponent", 8), ("mantissa", 8), ("signed", 1), ("bias", 32),
              ("finite_values_only", 1), ("nan_repr", 8))


@dataclass(frozen=True)
class ScalarType:
    """A number format. ``name`` is the C++-style name (``kU4B8``); ``token`` names it in files."""

    name: str
    token: str
    exponent: int
    mantissa: int
    signed: bool
    bias: int = 0
    finite_values_only: bool = False
    nan_repr: int = NAN_IEEE_754
    label: str = ""  # what people call it in messages ("fp8"); the token if empty

    @property
    def display(self) -> str:
        return self.label or self.token

    @property
    def size_bits(self) -> int:
        return self.exponent + self.mantissa + int(self.signed)

    @property
    def is_float(self) -> bool:
        return self.exponent > 0

    @property
    def id(self) -> int:
        value, offset = 0, 0
        for field, width in _ID_FIELDS:
            value |= (int(getattr(self, field)) & ((1 << width) - 1)) << offset
            offset += width
        return value

    @property
    def cpp(self) -> str:
        """How generated C++ names this type's id."""
        if self.name in BUILTIN_NAMES:
            return f"marlin::type_id::{self.name}"
        # Plugin types have no constant in csrc: spell the id, keep the name for readers.
        return f"static_cast<marlin::ScalarTypeId>({self.id:#x}ll) /* {self.name} */"


def _int(name: str, token: str, bits: int, signed: bool, bias: int = 0, label: str = "") -> ScalarType:
    return ScalarType(name, token, 0, bits - int(signed), signed, bias, label=label)


BUILTIN_TYPES: tuple[ScalarType, ...] = (
    _int("kS4", "s4", 4, True),
    _int("kU4", "u4", 4, False),
    _int("kU4B8", "u4b8", 4, False, 8),
    _int("kS8", "s8", 8, True, label="int8"),
    _int("kU8", "u8", 8, False),
    _int("kU8B128", "u8b128", 8, False, 128),
    ScalarType("kFE4M3fn", "fe4m3fn", 4, 3, True, 0, True, NAN_EXTD_RANGE_MAX_MIN, "fp8"),
    ScalarType("kFE2M1f", "fe2m1f", 2, 1, True, 0, True, NAN_NONE, "fp4"),
    ScalarType("kFE8M0fnu", "fe8m0fnu", 8, 0, False, 0, True, NAN_EXTD_RANGE_MAX_MIN, "e8m0"),
    ScalarType("kFloat16", "float16", 5, 10, True, label="fp16"),
    ScalarType("kBFloat16", "bfloat16", 8, 7, True, label="bf16"),
)
BUILTIN_NAMES = frozenset(t.name for t in BUILTIN_TYPES)


@dataclass(frozen=True)
class TypeTable:
    """The scalar types known to one run: the built-ins plus what plugins contribute."""

    types: tuple[ScalarType, ...]

    def get(self, name: str) -> ScalarType:
        for t in self.types:
            if t.name == name:
                return t
        known = ", ".join(t.name for t in self.types)
        raise MarlinError(f"unknown scalar type '{name}' (known: {known})")

    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)
