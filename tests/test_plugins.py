from support import install_fake_dist

from marlin_core import api
from marlin_core.plugins import PluginInfo, disabled_from_env

DEFAULT = {"awq", "fp4", "fp8", "gptq", "hqq"}


def by_name(infos):
    return {i.name: i for i in infos}


def test_default_plugins_listed_with_distributions_and_schemes():
    infos = by_name(api.load().infos)
    assert DEFAULT <= set(infos)
    assert infos["gptq"].distribution == "marlin-gptq" and infos["gptq"].version == "0.1.0"
    assert infos["gptq"].schemes == ("gptq-int4", "gptq-int8", "gptq-w4a8-int8", "gptq-w4a8-fp8")
    assert infos["fp4"].hooks == ("marlin_quant_configs", "marlin_selector_clauses")
    assert all(infos[n].status == "ok" for n in DEFAULT)
    assert infos["hqq"].path.endswith("marlin_hqq/__init__.py")


def test_import_error_is_reported_not_raised(fake_site):
    install_fake_dist(fake_site, "marlin-broken", "1.0", {"broken": "broken_mod"},
                      module_text={"broken_mod": "import does_not_exist_anywhere\n"})
    loaded = api.load()
    info = by_name(loaded.infos)["broken"]
    assert info.status == "broken" and "ModuleNotFoundError" in info.error
    assert info.distribution == "marlin-broken"
    assert by_name(loaded.infos)["gptq"].status == "ok"  # the others keep working


def test_unknown_hook_and_bad_arguments_break_the_contract(fake_site):
    install_fake_dist(fake_site, "marlin-badhook", "1.0", {"badhook": "badhook_mod", "badargs": "badhook_args"},
                      module_text={
                          "badhook_mod": "from marlin_core import hookimpl\n@hookimpl\ndef marlin_quant_kernels():\n    return []\n",
                          "badhook_args": "from marlin_core import hookimpl\n@hookimpl\ndef marlin_quant_configs(nonsense):\n    return []\n"})
    infos = by_name(api.load().infos)
    assert infos["badhook"].status == "broken" and "unknown hook marlin_quant_kernels" in infos["badhook"].error
    assert infos["badargs"].status == "broken" and "nonsense" in infos["badargs"].error


def test_wrong_return_type_is_broken(fake_site):
    install_fake_dist(fake_site, "marlin-badret", "1.0", {"badret": "broken_ret"},
                      module_text={"broken_ret": "from marlin_core import hookimpl\n@hookimpl\ndef marlin_quant_configs():\n    return [{'scheme': 'x'}]\n"})
    info = by_name(api.load().infos)["badret"]
    assert info.status == "broken" and "expected marlin_core.spec.QuantConfig" in info.error


def test_disabled_by_flag_and_env(monkeypatch):
    assert by_name(api.load(disabled=["hqq"]).infos)["hqq"].status == "disabled"
    monkeypatch.setenv("MARLIN_DISABLE_PLUGINS", "fp8, fp4")
    infos = by_name(api.load().infos)
    assert infos["fp8"].status == infos["fp4"].status == "disabled"
    assert infos["hqq"].status == "ok"


def test_disabled_from_env_parsing():
    assert disabled_from_env(" a, ,b ") == {"a", "b"} and disabled_from_env(None) == set()


def test_duplicate_plugin_name_is_broken(fake_site):
    install_fake_dist(fake_site, "marlin-clash", "2.0", {"gptq": "clash_mod"},
                      module_text={"clash_mod": ""})
    infos = [i for i in api.load().infos if i.name == "gptq"]
    assert len(infos) == 2 and sorted(i.status for i in infos) == ["broken", "ok"]
    assert "already used by" in next(i for i in infos if i.status == "broken").error


def test_as_dict_keys():
    d = PluginInfo("n", "d", "1", ("h",), ("s",)).as_dict()
    assert list(d) == ["name", "distribution", "version", "schemes", "hooks", "status", "error", "path"]
