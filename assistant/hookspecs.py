"""The whole plugin contract of `assistant`.

A plugin is a module (or object) with functions marked `@hookimpl` whose names match the
hooks below. Built-in behaviour is written as plugins too (`assistant/core_plugin.py` and
the domain plugins in `plugins/`). Plugins are found through the entry-point group
`assistant`, the same word as the markers and the plugin manager:

    [project.entry-points.assistant]
    insurance = "assistant_insurance"

Hook arguments are passed by name; an implementation may accept any subset of them.
Load order: the core plugin, then entry points sorted by name. Hooks run in pluggy's call
order: the most recently loaded plugin first, unless tryfirst/trylast say otherwise.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("assistant")
hookimpl = pluggy.HookimplMarker("assistant")


@hookspec
def register_formatters(register):
    """Register data formatters: `register(Formatter(...))` once per formatter.

    Args:
        register: a callback owned by the host. It checks that the object is an
            `assistant.plugin_types.Formatter` and that its name is not taken; a wrong
            type or a duplicate name stops start-up with an error naming the plugin.
    Returns: nothing. Every plugin's implementation is called.
    """


@hookspec
def register_evaluators(register):
    """Register evaluators: `register(Evaluator(...))` once per evaluator.

    Args:
        register: the host's callback, checking type (`Evaluator`) and unique name.
    Returns: nothing. Every plugin's implementation is called.

    An evaluator's `score(case)` gets an `EvalCase` (prompt, reply, reference, brand
    profile, messages) and returns a float in [0, 1], a `Score(value, detail)`, or None
    where it does not apply. If it raises, evaluation goes on with the other evaluators
    and the report lists the failure with the plugin and evaluator name.
    """


@hookspec
def register_pii_patterns(register):
    """Register kinds of personal data for `prepare` to redact: `register(PiiPattern(...))`.

    Args:
        register: the host's callback, checking type (`assistant.redaction.PiiPattern`)
            and unique name.
    Returns: nothing. Every plugin's implementation is called; every registered pattern
        applies to every domain (personal data is personal data anywhere).

    A `PiiPattern(name, type, regex, check=None, needs="", priority=60, description="",
    keywords=(), anchor=None)` replaces each
    match (its group "value", or the whole match) with "[TYPE]", numbered per distinct
    value within a conversation. `check(text, match)` may confirm or narrow a match.
    """


@hookspec
def system_prompt_extra(profile, domain):
    """Contribute a sentence to the system prompt used for training and chat.

    Args:
        profile: the `BrandProfile` in use.
        domain: the active domain (the chosen formatter's domain), e.g. "healthcare".
    Returns: a string to append to the profile's system prompt, or None. All results are
        collected and appended in pluggy's call order (the most recently loaded plugin
        first; `@hookimpl(tryfirst=True)` / `trylast=True` move a plugin).
    """


@hookspec(firstresult=True)
def filter_pair(messages, profile, domain):
    """Veto a training pair before it is written.

    Args:
        messages: the finished example, OpenAI shape (system, context, assistant reply).
        profile: the `BrandProfile` in use.
        domain: the active domain.
    Returns: a short reason string to drop the pair (it is counted in the prepare report
        under that reason, prefixed by the plugin name), or None (or "") to keep it.
        Plugins are asked in pluggy's call order; the first reason wins.
    """
