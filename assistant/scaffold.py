"""`assistant plugins new NAME`: a ready-to-install plugin package.

Creates assistant-NAME/ with a pyproject registering the entry point, a formatter, an
evaluator and a test, so `pip install -e assistant-NAME` makes it show up in
`assistant plugins` and usable as `assistant prepare --formatter NAME`.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import AssistantError

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "assistant-{name}"
version = "0.1.0"
description = "The {name} domain plugin for assistant."
requires-python = ">=3.11"
dependencies = ["assistant"]

[project.entry-points.assistant]
{name} = "{module}"

[tool.setuptools]
packages = ["{module}"]
'''

MODULE = '''"""The {name} domain plugin for assistant: a formatter and an evaluator."""

from assistant.hookspecs import hookimpl
from assistant.pairs import conversation_pairs, faq_pairs
from assistant.plugin_types import Evaluator, Formatter
from assistant.records import Conversation

DOMAIN = "{name}"


def format_record(record, context):
    """Conversations: one pair per agent turn; FAQ entries: one pair each."""
    if isinstance(record, Conversation):
        yield from conversation_pairs(record, context.context_turns)
    else:
        yield from faq_pairs(record)


def polite(case):
    """1.0 when the reply thanks or greets the customer, else 0.0."""
    words = ("thank", "please", "happy to help", "glad")
    return 1.0 if any(word in case.reply.lower() for word in words) else 0.0


@hookimpl
def register_formatters(register):
    register(Formatter(name=DOMAIN, description="{name} conversations and FAQs.", format=format_record, domain=DOMAIN))


@hookimpl
def register_evaluators(register):
    register(Evaluator(name=f"{{DOMAIN}}.polite", description="Thanks or greets the customer.", score=polite, domain=DOMAIN))


@hookimpl
def system_prompt_extra(profile, domain):
    return None  # return a sentence to add to the system prompt when domain == DOMAIN
'''

TEST = '''from assistant.brand import BrandProfile
from assistant.plugin_types import EvalCase, FormatContext, Pair
from assistant.records import FaqEntry, SourceRef

import {module} as plugin

PROFILE = BrandProfile(name="X", description="x", tone=["warm"], system_prompt="Be helpful.")


def test_registers_a_formatter_and_an_evaluator():
    formatters, evaluators = [], []
    plugin.register_formatters(register=formatters.append)
    plugin.register_evaluators(register=evaluators.append)
    assert [f.name for f in formatters] == ["{name}"]
    assert [e.name for e in evaluators] == ["{name}.polite"]


def test_formatter_and_evaluator_work():
    entry = FaqEntry(id="1", question="Q?", answer="A.", source=SourceRef("faq.csv", 2))
    (pair,) = plugin.format_record(entry, FormatContext(profile=PROFILE))
    assert isinstance(pair, Pair) and pair.reply == "A."
    case = EvalCase(prompt="Q?", reply="Thanks for asking!", reference="A.", profile=PROFILE)
    assert plugin.polite(case) == 1.0
'''


def scaffold_plugin(name: str, parent: Path) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", name):
        raise AssistantError(f"plugin name {name!r}: expected lowercase letters, digits and _ (e.g. insurance)")
    module = f"assistant_{name}"
    target = Path(parent) / f"assistant-{name}"
    if target.exists():
        raise AssistantError(f"{target}: already exists")
    files = {
        "pyproject.toml": PYPROJECT.format(name=name, module=module),
        f"{module}/__init__.py": MODULE.format(name=name),
        f"tests/test_{name}.py": TEST.format(name=name, module=module),
        "README.md": f"# assistant-{name}\n\nA domain plugin for assistant. Install: `pip install -e .`; "
                     f"check: `assistant plugins`; use: `assistant prepare DATA --formatter {name} ...`.\n",
    }
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
