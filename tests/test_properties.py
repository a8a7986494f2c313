"""Property tests: whatever the arch list, scheme filters or plugin contributions, the result is
a plan or a one-line MarlinError; and the same input always gives the same bytes."""

import contextlib
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marlin_core import api, hookimpl
from marlin_core.arch import parse_arch_list
from marlin_core.cli import main
from marlin_core.emit import emit
from marlin_core.errors import MarlinError
from marlin_core.plan import plan
from marlin_core.registry import build_registry
from marlin_core.spec import QuantConfig, ThreadConfig
from marlin_core.types import BUILTIN_NAMES

ARCH_ATOMS = ["7.5", "8.0", "80", "8.6+PTX", "8.9", "9.0a", "12.0", "120", "sm_86", "6.1", "x", "",
              "8", "9.0b", "compute_89", "10.0f", "+PTX", "8.0.0", "75"]
arch_text = st.lists(st.sampled_from(ARCH_ATOMS) | st.text(max_size=6), max_size=5).flatmap(
    lambda parts: st.sampled_from([",", ";", " ", ",,", "; "]).map(lambda sep: sep.join(parts)))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line(exc: Exception) -> bool:
    return "\n" not in str(exc) and str(exc) != ""


@SETTINGS
@given(arch_text)
def test_arch_lists_parse_or_fail_cleanly(text):
    try:
        archs = parse_arch_list(text)
    except MarlinError as exc:
        assert one_line(exc)
        return
    assert archs == tuple(sorted(set(archs))) and all(a.major * 10 + a.minor >= 75 for a in archs)


@SETTINGS
@given(arch_text, st.lists(st.sampled_from(["gptq-int4", "hqq", "fp8", "nope", "mxfp4"]), max_size=3),
       st.lists(st.sampled_from(["awq-int4", "nvfp4", "zzz"]), max_size=2))
def test_cli_never_tracebacks(tmp_path_factory, text, schemes, excluded):
    args = ["kernels", "--arch", text, "--json"]
    for s in schemes:
        args += ["--scheme", s]
    for s in excluded:
        args += ["--exclude-scheme", s]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(args)
    assert code in (0, 1, 2, 3)
    if code:
        assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("marlin: error:")
    assert "Traceback" not in err.getvalue()


@SETTINGS
@given(st.sampled_from(["7.5", "8.0", "8.9", "7.5,8.9", "9.0,12.0"]),
       st.sets(st.sampled_from(["gptq-int4", "hqq", "fp8", "mxfp4", "awq-w4a8-fp8", "gptq-w4a8-int8"])))
def test_same_input_same_bytes(default_registry, arch, schemes):
    archs = parse_arch_list(arch)
    a = emit(plan(default_registry, archs, tuple(sorted(schemes))))
    b = emit(plan(default_registry, archs, tuple(sorted(schemes, reverse=True))))
    assert a == b
    for k in plan(default_registry, archs, exclude=tuple(schemes)).kernels:
        assert k.scheme not in schemes


type_names = st.sampled_from(sorted(BUILTIN_NAMES) + ["kNope", ""])
configs = st.builds(
    QuantConfig,
    scheme=st.sampled_from(["p1", "p2", ""]),
    b_type=type_names,
    a_types=st.lists(type_names, max_size=2).map(tuple),
    group_blocks=st.lists(st.integers(-3, 9), max_size=3).map(tuple),
    c_types=st.lists(type_names, max_size=2).map(tuple),
    s_type=type_names,
    m_blocks=st.lists(st.sampled_from([0.5, 1, 2, 3, 4, 5, 0]), min_size=0, max_size=3).map(tuple),
    thread_configs=st.lists(st.builds(ThreadConfig, st.sampled_from([0, 16, 64, 100, 128]),
                                      st.sampled_from([64, 128, 256, 7]), st.sampled_from([128, 256, 64])),
                            min_size=1, max_size=2).map(tuple),
    is_zp_float=st.booleans())


class Contrib:
    def __init__(self, cfgs):
        self.cfgs = cfgs

    @hookimpl
    def marlin_quant_configs(self):
        return self.cfgs


@SETTINGS
@given(st.lists(configs, max_size=2), st.lists(configs, max_size=2), st.sampled_from(["8.0", "7.5,8.9"]))
def test_random_contributions_plan_or_fail_cleanly(one, two, arch):
    loaded = api.load(extra=[("one", Contrib(one)), ("two", Contrib(two))], entry_points=False)
    try:
        p = plan(build_registry(loaded), parse_arch_list(arch))
        files = emit(p)
    except MarlinError as exc:
        assert one_line(exc)
        return
    assert len(p.kernels) == len({(k.family, k.key) for k in p.kernels})
    assert all(k.file in files for k in p.kernels)
