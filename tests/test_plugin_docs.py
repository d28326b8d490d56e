"""The plugin-writer docs (docs/plugins.md) against the real plugin API, and the tutorial's
finished plugin (docs/tutorial/assistant-insurance/) installed and used for real.

- every hookspec has a `## <hook>` section with its exact signature, and is exercised by a test;
- the hook sections' examples run;
- the tutorial's code blocks are the package's code;
- the tutorial package and a scaffolded package install, are found through their entry
  points, and work (prepare with the insurance formatter; the packages' own tests pass).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import assistant.plugins
from assistant import hookspecs
from conftest import REPO

DOC = REPO / "docs" / "plugins.md"
TUTORIAL_PKG = REPO / "docs" / "tutorial" / "assistant-insurance"
THIS_FILE = Path(__file__).resolve()
NO_PROMISE = "Never promise that a claim will be approved."
BUILD_LEFTOVERS = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


# -- reading the Markdown ------------------------------------------------------------------

@dataclass
class Block:
    section: str  # the `## ` heading the block is under ("" before the first)
    intro: str  # the last non-empty line before the opening fence
    lang: str
    text: str  # the block's content, ending with a newline


def code_blocks(markdown: str) -> list[Block]:
    blocks, section, intro, fence, lines = [], "", "", None, []
    for line in markdown.splitlines():
        if fence is not None:
            if line.strip() == "```":
                blocks.append(Block(section, intro, fence, "".join(f"{l}\n" for l in lines)))
                fence, lines = None, []
            else:
                lines.append(line)
        elif line.startswith("```"):
            fence = line[3:].strip()
        elif line.startswith("## "):
            section, intro = line[3:].strip(), ""
        elif line.strip():
            intro = line.strip()
    assert fence is None, "docs/plugins.md: a code block is never closed"
    return blocks


def sections(markdown: str) -> dict[str, str]:
    """`## ` heading -> its text up to the next `## ` heading (outside code blocks)."""
    result, name, in_code = {}, None, False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            name = line[3:].strip()
            result.setdefault(name, "")
            continue
        if name is not None:
            result[name] += line + "\n"
    return result


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def hookspec_functions():
    return [f for _, f in sorted(vars(hookspecs).items()) if callable(f) and hasattr(f, "assistant_spec")]


HOOKS = hookspec_functions()
HOOK_IDS = [f.__name__ for f in HOOKS]


def test_the_contract_has_hooks():
    assert {"register_formatters", "register_evaluators", "system_prompt_extra", "filter_pair"} <= set(HOOK_IDS)


# -- 1. meta-tests: every hook documented and tested ---------------------------------------

@pytest.mark.parametrize("spec", HOOKS, ids=HOOK_IDS)
def test_every_hook_has_a_section_with_its_exact_signature(doc, spec):
    name = spec.__name__
    signature = f"def {name}{inspect.signature(spec)}:"
    assert name in sections(doc), f"docs/plugins.md has no '## {name}' section"
    blocks = [b.text.strip() for b in code_blocks(doc) if b.section == name]
    assert signature in blocks, f"'## {name}' lacks a code block holding exactly `{signature}`"


@pytest.mark.parametrize("spec", HOOKS, ids=HOOK_IDS)
def test_every_hook_section_says_how_results_are_combined(doc, spec):
    text = " ".join(sections(doc)[spec.__name__].split())
    if spec.assistant_spec.get("firstresult"):
        assert "first non-None result wins" in text
    else:
        assert "first non-None" not in text
        assert "All results are collected" in text or "Every plugin's implementation is called" in text


@pytest.mark.parametrize("spec", HOOKS, ids=HOOK_IDS)
def test_every_hook_is_exercised_by_a_test(spec):
    pattern = re.compile(rf"\b{re.escape(spec.__name__)}\b")
    users = [p.name for p in sorted((REPO / "tests").rglob("*.py"))
             if p.resolve() != THIS_FILE and pattern.search(p.read_text(encoding="utf-8"))]
    assert users, f"no test outside {THIS_FILE.name} uses the hook {spec.__name__}"


@pytest.mark.parametrize("spec", HOOKS, ids=HOOK_IDS)
def test_hook_section_examples_run(doc, spec, monkeypatch):
    """The examples after an 'Example:' line in a hook's section run as scripts."""
    monkeypatch.setenv("ASSISTANT_PLUGINS", "")  # core only beside the example
    examples = [b for b in code_blocks(doc) if b.section == spec.__name__ and b.intro == "Example:"]
    assert examples, f"'## {spec.__name__}' has no runnable example (a python block after 'Example:')"
    for number, block in enumerate(examples):
        assert block.lang == "python"
        name = f"plugin_doc_example_{spec.__name__}_{number}"
        module = types.ModuleType(name)
        sys.modules[name] = module  # the example registers `sys.modules[__name__]` as its plugin
        try:
            exec(compile(block.text, f"docs/plugins.md ({spec.__name__} example)", "exec"), module.__dict__)
        finally:
            del sys.modules[name]


# -- 2. the tutorial's code is the package's code ------------------------------------------

FINISHED = re.compile(r"^The finished `([^`]+)`:$")
FROM = re.compile(r"^From `([^`]+)`:$")


def test_the_finished_module_in_the_tutorial_is_the_package_module(doc):
    finished = {m.group(1): b.text for b in code_blocks(doc) if (m := FINISHED.match(b.intro))}
    assert "assistant_insurance/__init__.py" in finished, (
        "docs/plugins.md: no code block after 'The finished `assistant_insurance/__init__.py`:'")
    for relative, text in finished.items():
        assert text == (TUTORIAL_PKG / relative).read_text(encoding="utf-8"), (
            f"the tutorial's {relative} differs from docs/tutorial/assistant-insurance/{relative}")


def test_every_tutorial_excerpt_is_in_the_package(doc):
    excerpts = [(m.group(1), b.text) for b in code_blocks(doc) if (m := FROM.match(b.intro))]
    assert len(excerpts) >= 4
    for relative, text in excerpts:
        assert text in (TUTORIAL_PKG / relative).read_text(encoding="utf-8"), (
            f"a tutorial block marked as from {relative} is not in the package:\n{text}")


def test_tutorial_example_data_is_policy_faq():
    lines = (TUTORIAL_PKG / "example_data.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) >= 10
    assert all(set(r) == {"id", "question", "answer", "policy_type"} for r in records)
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["policy_type"] for r in records}) >= 3


# -- installing packages for real ----------------------------------------------------------

def pip_install(package: Path, tmp_path: Path, target: Path) -> None:
    """Build and install a copy of `package` (so no build artefacts land beside the original)."""
    source = tmp_path / "src" / package.name
    shutil.copytree(package, source, ignore=BUILD_LEFTOVERS)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--target", str(target), str(source)],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def run_package_tests(tests: Path, target: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                          capture_output=True, text=True, env=env, cwd=tests.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def activate(target: Path) -> None:
    """Make what was installed into `target` importable and discoverable in this process."""
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    assistant.plugins.reset()


@pytest.fixture
def site(tmp_path):
    """A folder to pip-install into; afterwards it is off sys.path and nothing of it stays loaded."""
    target = tmp_path / "site"
    before = set(sys.modules)
    try:
        yield target
    finally:
        while str(target) in sys.path:
            sys.path.remove(str(target))
        for name in set(sys.modules) - before:
            if name.startswith("assistant_insurance") or name.startswith("assistant_travel"):
                del sys.modules[name]
        importlib.invalidate_caches()
        assistant.plugins.reset()  # other tests must not see the plugin


def load_registry(monkeypatch, allow: str | None):
    if allow is None:
        monkeypatch.delenv("ASSISTANT_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("ASSISTANT_PLUGINS", allow)
    assistant.plugins.reset()
    return assistant.plugins.registry()


def assert_found(registry, name: str, formatter: str, evaluator: str) -> None:
    info = registry.plugins[name]
    assert info.module == f"assistant_{name}"
    assert formatter in info.formatters and evaluator in info.evaluators
    assert registry.plugin_of("formatter", formatter) == name
    assert registry.plugin_of("evaluator", evaluator) == name


# -- 3. the tutorial's plugin, installed -------------------------------------------------

def test_tutorial_plugin_installs_is_discovered_and_works(tmp_path, site, monkeypatch, tiny_model_dir):
    from assistant.brand import load_profile
    from assistant.plugin_types import EvalCase, Score
    from assistant.prepare import PrepareSettings, prepare

    pip_install(TUTORIAL_PKG, tmp_path, site)
    activate(site)

    # Through its entry point, alone beside core (the allow-list names it) ...
    registry = load_registry(monkeypatch, "insurance")
    assert list(registry.plugins) == ["core", "insurance"]
    assert_found(registry, "insurance", "insurance", "insurance.claim_next_step")
    assert sorted(registry.plugins["insurance"].hooks) == sorted(HOOK_IDS)
    assert registry.formatter("insurance").domain == "insurance"
    # ... not at all when the allow-list is empty ...
    assert list(load_registry(monkeypatch, "").plugins) == ["core"]
    # ... and among all installed plugins without an allow-list.
    assert_found(load_registry(monkeypatch, None), "insurance", "insurance", "insurance.claim_next_step")
    registry = load_registry(monkeypatch, "insurance")

    # prepare with its formatter: its domain, its prompt extra, its filter
    data = TUTORIAL_PKG / "example_data.jsonl"
    out = tmp_path / "out"
    report = prepare(PrepareSettings(inputs=[data], profile="acme_coffee", out=out, formatter="insurance"))
    assert report["formatter"] == report["domain"] == "insurance"
    assert report["settings"]["domain"] == "insurance"
    assert report["system_prompt"].endswith(NO_PROMISE)
    assert load_profile(out / "brand_profile.yaml").system_prompt == report["system_prompt"]
    dropped = report["skipped"]["examples"]["insurance: reply promises that a claim will be approved"]
    assert dropped["count"] == 1 and dropped["first_at"].endswith("example_data.jsonl:7")
    examples = [json.loads(line) for name in ("train.jsonl", "validation.jsonl")
                for line in (out / name).read_text(encoding="utf-8").splitlines()]
    assert examples and all(e["messages"][0]["content"].endswith(NO_PROMISE) for e in examples)
    prompts = {e["messages"][1]["content"] for e in examples}
    records = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    for record in records:
        if record["id"] != "auto-4":
            assert f"[{record['policy_type']} insurance] {record['question']}" in prompts
    assert report["records_read"]["faq_entries"] == len(records)

    # the same profile with the default formatter: general domain, no insurance sentence
    plain = prepare(PrepareSettings(inputs=[data], profile="acme_coffee", out=tmp_path / "plain"))
    assert plain["domain"] == "general" and NO_PROMISE not in plain["system_prompt"]
    assert not plain["skipped"]["examples"]

    # the evaluator, scored directly
    evaluator = registry.evaluators["insurance.claim_next_step"]
    assert {e.name for e in registry.evaluators_for(["insurance"])} == {"brand_voice", "insurance.claim_next_step"}
    profile = load_profile(TUTORIAL_PKG / "brand_profile.yaml")

    def score(prompt, reply):
        return evaluator.score(EvalCase(prompt=prompt, reply=reply, reference="", profile=profile))

    good = score("Hail dented my car. How do I make a claim?",
                 "Sorry to hear it! File a claim online and upload photos of the dents.")
    assert isinstance(good, Score) and good.value == 1.0
    assert "file a claim online" in good.detail and "upload photos" in good.detail
    assert score("My claim for the fence, what now?", "Call the claims line at 1-800-555-0142.").value == 1.0
    assert score("How do I claim for my lost bag?", "Your claim will be approved.").value == 0.0
    assert score("When does my travel policy start?", "The day you buy it.") is None

    # eval on a run trained from the plugin's data runs the plugin's evaluator
    from assistant.config import TrainConfig
    from assistant.evaluation import evaluate
    from assistant.training import train

    run = tmp_path / "run"
    train(out, run, TrainConfig(base_model=tiny_model_dir, max_steps=2, batch_size=4, lora_r=4, lora_alpha=8))
    results = evaluate(run, limit=3)
    assert results["settings"]["domains"] == ["insurance"]
    assert any(e["name"] == "insurance.claim_next_step" and e["plugin"] == "insurance" for e in results["evaluators"])
    assert "insurance.claim_next_step" in results["aggregate"] and not results["failures"]

    # the package's own tests
    run_package_tests(tmp_path / "src" / TUTORIAL_PKG.name / "tests", site)


# -- 4. the scaffold, installed ------------------------------------------------------------

def test_scaffolded_plugin_installs_is_discovered_and_its_tests_pass(tmp_path, site, monkeypatch):
    from assistant.scaffold import scaffold_plugin

    package = scaffold_plugin("travel", tmp_path / "new")
    assert package.name == "assistant-travel"
    pip_install(package, tmp_path, site)
    activate(site)
    registry = load_registry(monkeypatch, "travel")
    assert list(registry.plugins) == ["core", "travel"]
    assert_found(registry, "travel", "travel", "travel.polite")
    assert registry.formatter("travel").domain == "travel"
    run_package_tests(package / "tests", site)


def test_scaffold_matches_the_tutorial_pyproject_except_the_description(tmp_path, doc):
    from assistant.scaffold import scaffold_plugin

    scaffolded = (scaffold_plugin("insurance", tmp_path) / "pyproject.toml").read_text(encoding="utf-8")
    tutorial = (TUTORIAL_PKG / "pyproject.toml").read_text(encoding="utf-8")
    strip = lambda text: [l for l in text.splitlines() if not l.startswith("description =")]  # noqa: E731
    assert strip(scaffolded) == strip(tutorial)
    assert "assistant plugins new insurance" in doc


def test_tutorial_brand_profile_loads():
    from assistant.brand import load_profile

    profile = load_profile(TUTORIAL_PKG / "brand_profile.yaml")
    assert profile.sign_off and yaml.safe_load((TUTORIAL_PKG / "brand_profile.yaml").read_text())["name"] == profile.name
