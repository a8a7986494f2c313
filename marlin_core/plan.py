"""Planning: configs x archs -> the kernels to generate, grouped into files. Pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable

from marlin_core.arch import FAMILIES, Arch, ArchFamily, families_for, format_arch_list
from marlin_core.errors import PluginError, UsageError
from marlin_core.registry import Registry
from marlin_core.spec import CudaHeader, KernelKey, KernelSpec, QuantConfig, SelectorClause, ThreadConfig
from marlin_core.types import TypeTable


@dataclass(frozen=True)
class PlannedFile:
    name: str
    family: str
    kernels: tuple[KernelSpec, ...]


@dataclass(frozen=True)
class Plan:
    archs: tuple[Arch, ...]
    families: tuple[ArchFamily, ...]
    types: TypeTable
    files: tuple[PlannedFile, ...]
    clauses: tuple[tuple[str, SelectorClause], ...]
    schemes: tuple[str, ...]
    pruned: tuple[tuple[str, int], ...]  # (reason, number of kernels dropped)
    headers: tuple[tuple[str, CudaHeader], ...] = ()  # (plugin, device code) of the chosen schemes' plugins

    @property
    def kernels(self) -> tuple[KernelSpec, ...]:
        return tuple(k for f in self.files for k in f.kernels)

    @property
    def arch_list(self) -> str:
        return format_arch_list(self.archs)

    def family_archs(self, family: str) -> tuple[Arch, ...]:
        return next(f for f in self.families if f.name == family).archs(self.archs)


def select_schemes(available: Iterable[str], include: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> tuple[str, ...]:
    available = tuple(available)
    include, exclude = tuple(include), tuple(exclude)
    for name in include + exclude:
        if name not in available:
            raise UsageError(f"unknown scheme '{name}' (available: {', '.join(available) or 'none'})")
    chosen = include or available
    return tuple(s for s in available if s in chosen and s not in exclude)


def _tile_shapes(cfg: QuantConfig, a_bits: int) -> list[tuple[float, ThreadConfig]]:
    """(m_blocks, thread config) pairs after the template's own constraints."""
    out = []
    for m in cfg.m_blocks:
        if m == 0.5 and a_bits != 16:
            continue  # the 8-row tile's transposed MMA exists for 16-bit activations only
        for tc in cfg.thread_configs:
            # With 256 threads the block is only worth it at these shapes: a wide K tile for
            # one M block, a wide N tile for more.
            if tc.threads == 256 and ((m <= 1) != ((tc.thread_k, tc.thread_n) == (128, 128))
                                      or (m > 1) != ((tc.thread_k, tc.thread_n) == (64, 256))):
                continue
            out.append((m, tc))
    return out


def _keys(cfg: QuantConfig, family: ArchFamily, types: TypeTable, a: str, c: str):
    s = cfg.s_type or c
    for g in cfg.group_blocks:
        for m, tc in _tile_shapes(cfg, types.get(a).size_bits):
            yield KernelKey(a, cfg.b_type, c, s, tc.threads, max(1, int(m)), tc.thread_n // 16,
                            tc.thread_k // 16, m == 0.5, family.stages, g, cfg.is_zp_float)


@dataclass(frozen=True)
class Sharding:
    """How to split a (family, a, b, c) file for parallel compilation: at most
    ``max_kernels_per_file`` kernels a file, or every file into ``shards`` parts. 0 = off."""

    max_kernels_per_file: int = 0
    shards: int = 0

    def __post_init__(self) -> None:
        if self.max_kernels_per_file < 0 or self.shards < 0:
            raise UsageError("--max-kernels-per-file and --shards must not be negative")
        if self.max_kernels_per_file and self.shards:
            raise UsageError("give --max-kernels-per-file or --shards, not both")

    def chunk(self, n: int) -> int:
        """Kernels per file for a file of ``n`` kernels."""
        if self.shards:
            return -(-n // self.shards)
        return self.max_kernels_per_file or n


def _split(name: str, kernels: list[KernelSpec], sharding: Sharding) -> list[tuple[str, tuple]]:
    """The file's kernels in as few parts as the cap allows, of equal size (+-1): a 75-kernel
    file capped at 24 becomes 19+19+19+18, not 24+24+24+3, so that parallel compile jobs end
    together."""
    n = len(kernels)
    chunk = sharding.chunk(n)
    if chunk >= n:
        return [(name, tuple(kernels))]
    parts = -(-n // chunk)
    stem = name.removesuffix(".cu")
    bounds = [-(-n * i // parts) for i in range(parts + 1)]  # the larger parts first
    return [(f"{stem}_part{i}.cu", tuple(kernels[bounds[i]:bounds[i + 1]])) for i in range(parts)]


def plan(registry: Registry, archs: tuple[Arch, ...], include: Iterable[str] = (),
         exclude: Iterable[str] = (), sharding: Sharding = Sharding()) -> Plan:
    types = registry.types
    schemes = select_schemes(registry.schemes(), include, exclude)
    families = families_for(archs)
    owners: dict[tuple[str, KernelKey], KernelSpec] = {}
    pruned: Counter[str] = Counter()
    for plugin, cfg in registry.configs:
        if cfg.scheme not in schemes:
            continue
        for family in families:
            for a in cfg.a_types:
                a_bits = types.get(a).size_bits
                for c in cfg.c_types or (a,):
                    reason = _family_rejects(family, a, a_bits, c) or \
                        next(iter(registry.check_combo(cfg, a, c, family, archs)), None)
                    if reason:
                        pruned[reason] += sum(1 for _ in _keys(cfg, family, types, a, c))
                        continue
                    for key in _keys(cfg, family, types, a, c):
                        file = (f"{family.name}_kernel_{types.get(key.a_type).token}_"
                                f"{types.get(key.b_type).token}_{types.get(key.c_type).token}.cu")
                        spec = KernelSpec(key, family.name, file, cfg.scheme, plugin)
                        prev = owners.setdefault((family.name, key), spec)
                        if prev.scheme != spec.scheme:
                            raise PluginError(
                                f"kernel conflict: {family.name} {key} is contributed by scheme "
                                f"'{prev.scheme}' (plugin '{prev.plugin}') and scheme '{spec.scheme}' "
                                f"(plugin '{spec.plugin}')")
    by_file: dict[str, list[KernelSpec]] = {}
    for spec in owners.values():
        by_file.setdefault(spec.file, []).append(spec)
    files = tuple(PlannedFile(part, specs[0].family,
                              tuple(replace(k, file=part) for k in kernels))
                  for name, specs in sorted(by_file.items())
                  for part, kernels in _split(name, sorted(specs, key=_order), sharding))
    clauses = _dedupe_clauses(_unbuilt_activation_clauses(registry, schemes, archs, families)
                              + registry.selector_clauses(archs, families))
    used = {k.plugin for f in files for k in f.kernels}
    headers = tuple((p, h) for p, h in registry.headers if p in used)
    return Plan(archs, families, types, files, clauses, schemes,
                tuple(sorted(pruned.items())), headers)


def _unbuilt_activation_clauses(registry: Registry, schemes, archs, families):
    """A clear selector error for activation types the chosen schemes use but no family built
    for this arch list takes (fp8 activations without 8.9 or 12.0, say)."""
    built = set().union(*(f.activations for f in families)) if families else set()
    wanted = dict.fromkeys(a for _, cfg in registry.configs if cfg.scheme in schemes
                           for a in cfg.a_types)
    return tuple(("marlin-core", SelectorClause(
        f"marlin: {registry.types.get(a).display} activation is not built for this arch list "
        f"({format_arch_list(archs)})" + _needs(a), a_type=a)) for a in wanted if a not in built)


def _needs(a_type: str) -> str:
    homes = [f.needs for f in FAMILIES if a_type in f.activations]
    return f"; add {' or '.join(homes)} to the arch list" if homes else ""


def _family_rejects(family: ArchFamily, a: str, a_bits: int, c: str) -> str | None:
    if a not in family.activations:
        return f"{family.name} does not take {a} activations"
    if c not in family.outputs:
        return f"{family.name} does not write {c} output"
    if a_bits == 16 and c != a:
        return "16-bit activations need the same output type"
    return None


def _order(spec: KernelSpec):
    k = spec.key
    return (spec.scheme, k.s_type, k.is_zp_float, k.group_blocks, k.m_block_size_8 is False,
            k.thread_m_blocks, k.threads, k.thread_n_blocks, k.thread_k_blocks)


def _dedupe_clauses(clauses):
    """Identical clauses from several plugins collapse into the first."""
    seen, out = set(), []
    for plugin, clause in clauses:
        if clause not in seen:
            seen.add(clause)
            out.append((plugin, clause))
    return tuple(out)
