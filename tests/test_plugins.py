"""The plugin manager: loading, registration checks, error attribution, allow-list, hooks in prepare."""

import json
import types

import pytest
from click.testing import CliRunner

from assistant import plugins as plugin_module
from assistant.cli import cli
from assistant.errors import AssistantError
from assistant.hookspecs import hookimpl
from assistant.plugin_types import Formatter, Pair
from assistant.plugins import build_plugin_manager, build_registry
from assistant.prepare import PrepareSettings, prepare
from conftest import write


def plugin(**hooks):
    """A plugin module made of the given hook implementations."""
    module = types.ModuleType("fake_plugin")
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def fmt(name, domain="general"):
    return Formatter(name=name, description="test formatter", domain=domain,
                     format=lambda record, context: iter([Pair(context=[], reply="x")]))


@pytest.fixture
def no_entry_points(monkeypatch):
    monkeypatch.setenv("ASSISTANT_PLUGINS", "")


def test_core_plugin_provides_the_defaults(no_entry_points):
    registry = build_registry(build_plugin_manager())
    assert "default" in registry.formatters and "brand_voice" in registry.evaluators
    assert registry.plugin_of("formatter", "default") == "core"
    assert set(registry.plugins["core"].hooks) == {"register_formatters", "register_evaluators", "register_pii_patterns"}
    assert {"email", "phone", "card", "iban", "ssn", "ip", "ipv6", "url", "address", "address_named", "handle"} == set(registry.pii_patterns)


def test_misspelled_hook_fails_at_start_up_naming_the_plugin(no_entry_points):
    bad = plugin(register_formaters=lambda register: None)
    with pytest.raises(AssistantError, match="plugin 'typo'.*register_formaters"):
        build_plugin_manager(extra={"typo": bad})


def test_hook_with_unknown_argument_fails_naming_the_plugin(no_entry_points):
    bad = plugin(system_prompt_extra=lambda profile, domian: None)
    with pytest.raises(AssistantError, match="plugin 'argtypo'"):
        build_plugin_manager(extra={"argtypo": bad})


def test_duplicate_and_wrong_type_registrations_name_the_plugin(no_entry_points):
    dup = plugin(register_formatters=lambda register: register(fmt("default")))
    with pytest.raises(AssistantError, match="formatter 'default' is registered by both plugin '(dup|core)' and plugin '(core|dup)'"):
        build_registry(build_plugin_manager(extra={"dup": dup}))
    wrong = plugin(register_evaluators=lambda register: register(fmt("not-an-evaluator")))
    with pytest.raises(AssistantError, match="plugin 'wrong' registered Formatter in register_evaluators; expected Evaluator"):
        build_registry(build_plugin_manager(extra={"wrong": wrong}))


def test_plugin_raising_in_a_hook_is_named_with_the_hook(no_entry_points):
    def boom(register):
        raise RuntimeError("kaput")
    with pytest.raises(AssistantError, match="plugin 'boom' failed in hook register_formatters: RuntimeError: kaput"):
        build_registry(build_plugin_manager(extra={"boom": plugin(register_formatters=boom)}))


def test_allow_list_loads_only_named_entry_points(monkeypatch):
    monkeypatch.setenv("ASSISTANT_PLUGINS", "")
    assert [name for name, _ in build_plugin_manager().list_name_plugin()] == ["core"]
    monkeypatch.setenv("ASSISTANT_PLUGINS", "support")
    names = {name for name, _ in build_plugin_manager().list_name_plugin()}
    assert names == {"core", "support"}
    monkeypatch.setenv("ASSISTANT_PLUGINS", "suport")
    with pytest.raises(AssistantError, match="ASSISTANT_PLUGINS names suport, which no installed plugin provides"):
        build_plugin_manager()


def test_later_plugins_prompt_extras_come_first_unless_trylast(no_entry_points):
    from assistant.brand import load_profile

    first = plugin(system_prompt_extra=lambda: "One.")
    second = plugin(system_prompt_extra=lambda: "Two.")
    registry = build_registry(build_plugin_manager(extra={"a": first, "b": second}))
    assert registry.system_prompt(load_profile("acme_coffee"), "general").endswith("Two. One.")
    last = types.ModuleType("last")
    last.system_prompt_extra = hookimpl(trylast=True)(lambda: "Last.")
    registry = build_registry(build_plugin_manager(extra={"a": first, "z": last, "b": second}))
    assert registry.system_prompt(load_profile("acme_coffee"), "general").endswith("Two. One. Last.")


def test_entry_point_plugins_are_discovered():
    names = set(plugin_module.registry().plugins)
    assert {"core", "support", "legal", "healthcare", "marketing"} <= names
    for domain in ("support", "legal", "healthcare", "marketing"):
        info = plugin_module.registry().plugins[domain]
        assert domain in info.formatters and info.evaluators and info.version != "unknown"


def test_prepare_uses_formatter_prompt_extras_and_filters(tmp_path, monkeypatch, no_entry_points):
    extra = plugin(
        register_formatters=lambda register: register(fmt("shouty", domain="shout")),
        system_prompt_extra=lambda profile, domain: "Always shout." if domain == "shout" else None,
        filter_pair=lambda messages: "mentions decaf" if "decaf" in messages[-1]["content"].lower() else None,
    )
    registry = build_registry(build_plugin_manager(extra={"shout": extra}))
    monkeypatch.setattr(plugin_module, "registry", lambda: registry)
    write(tmp_path / "faq.csv", "question,answer\nHours?,7 to 6.\nDecaf?,Yes: Night Owl decaf.\n")
    report = prepare(PrepareSettings(inputs=[tmp_path / "faq.csv"], profile="acme_coffee", out=tmp_path / "out",
                                     validation_fraction=0.0))
    assert report["formatter"] == "default" and report["domain"] == "general"
    assert report["skipped"]["examples"]["shout: mentions decaf"]["count"] == 1
    assert "Always shout." not in report["system_prompt"]

    report = prepare(PrepareSettings(inputs=[tmp_path / "faq.csv"], profile="acme_coffee", out=tmp_path / "out2",
                                     formatter="shouty"))
    assert report["domain"] == "shout" and report["system_prompt"].endswith("Always shout.")
    first = json.loads((tmp_path / "out2" / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["content"].endswith("Always shout.")
    assert "Always shout." in (tmp_path / "out2" / "brand_profile.yaml").read_text()


def test_failing_formatter_names_plugin_and_record(tmp_path, monkeypatch, no_entry_points):
    def broken(record, context):
        raise KeyError("clause")
    extra = plugin(register_formatters=lambda register: register(Formatter("broken", "x", broken)))
    registry = build_registry(build_plugin_manager(extra={"brk": extra}))
    monkeypatch.setattr(plugin_module, "registry", lambda: registry)
    write(tmp_path / "faq.csv", "question,answer\nQ?,A.\n")
    with pytest.raises(AssistantError, match=r"faq.csv:2: formatter 'broken' \(plugin 'brk'\) failed: KeyError"):
        prepare(PrepareSettings(inputs=[tmp_path / "faq.csv"], profile="acme_coffee", out=tmp_path / "o", formatter="broken"))
    yields_junk = plugin(register_formatters=lambda register: register(Formatter("junk", "x", lambda r, c: ["text"])))
    monkeypatch.setattr(plugin_module, "registry", lambda: build_registry(build_plugin_manager(extra={"j": yields_junk})))
    with pytest.raises(AssistantError, match=r"formatter 'junk' \(plugin 'j'\) failed: TypeError: yielded str"):
        prepare(PrepareSettings(inputs=[tmp_path / "faq.csv"], profile="acme_coffee", out=tmp_path / "o", formatter="junk"))
    with pytest.raises(AssistantError, match="unknown formatter 'nope'"):
        prepare(PrepareSettings(inputs=[tmp_path / "faq.csv"], profile="acme_coffee", out=tmp_path / "o", formatter="nope"))


def test_plugins_command_text_and_json():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "core 0.1.0" in result.output and "formatter default [general]" in result.output
    listing = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    core = next(p for p in listing["plugins"] if p["name"] == "core")
    assert {"name": "brand_voice", "domain": "general"}.items() <= core["evaluators"][0].items()


def test_plugins_new_scaffolds_and_refuses_bad_names(tmp_path):
    result = CliRunner().invoke(cli, ["plugins", "new", "insurance", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "assistant-insurance"
    assert (package / "pyproject.toml").read_text().count('insurance = "assistant_insurance"') == 1
    assert (package / "assistant_insurance" / "__init__.py").is_file() and (package / "tests").is_dir()
    again = CliRunner().invoke(cli, ["plugins", "new", "insurance", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    bad = CliRunner().invoke(cli, ["plugins", "new", "Bad-Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "expected lowercase" in bad.stderr


def test_prepare_redacts_with_plugin_and_profile_patterns(tmp_path, monkeypatch, no_entry_points):
    import re

    from assistant.redaction import PiiPattern

    ticket = PiiPattern("tickets.member", "MEMBER", re.compile(r"\bMB-\d{5}\b"), priority=55)
    registry = build_registry(build_plugin_manager(extra={"tickets": plugin(
        register_pii_patterns=lambda register: register(ticket))}))
    assert registry.plugin_of("pii_pattern", "tickets.member") == "tickets"
    monkeypatch.setattr(plugin_module, "registry", lambda: registry)
    profile = (tmp_path / "brand.yaml")
    write(profile, "name: B\ndescription: d\ntone: [plain]\nsystem_prompt: Be brief.\n"
                   "redaction:\n  keep: [help@brand.example]\n  patterns:\n"
                   "    - {type: LOYALTY, regex: 'LOY(?P<value>\\d{4})'}\n")
    write(tmp_path / "faq.csv", "question,answer\n"
          "I'm MB-12345 and jo@example.com; card LOY1234?,Noted. Write to help@brand.example.\n")
    report = prepare(PrepareSettings(inputs=[tmp_path / "faq.csv"], profile=str(profile), out=tmp_path / "out",
                                     validation_fraction=0.0, card=False))
    assert report["redactions"]["by_type"] == {"MEMBER": 1, "EMAIL": 1, "LOYALTY": 1}
    user = json.loads((tmp_path / "out" / "train.jsonl").read_text().splitlines()[0])["messages"][1]["content"]
    assert user == "I'm [MEMBER] and [EMAIL]; card LOY[LOYALTY]?"
    assert "help@brand.example" in (tmp_path / "out" / "train.jsonl").read_text()

    again = plugin(register_pii_patterns=lambda register: register(ticket))
    with pytest.raises(AssistantError, match="pii_pattern 'tickets.member' is registered by both"):
        build_registry(build_plugin_manager(extra={"tickets": plugin(register_pii_patterns=lambda register: register(ticket)),
                                                   "again": again}))
