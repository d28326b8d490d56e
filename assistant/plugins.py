"""Loading plugins and collecting what they register.

The plugin manager, the hook markers and the entry-point group are all named `assistant`.
Plugins load lazily (on first use) and once per process: first the core plugin that holds
the built-in behaviour, then every entry point of the group `assistant` (the four domain
plugins of this project are registered that way too, in pyproject.toml). Set
ASSISTANT_PLUGINS to a comma-separated allow-list to load only those entry points
(empty: none) when a broken plugin stops everything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points

import pluggy

from . import __version__, hookspecs
from .errors import AssistantError
from .plugin_types import Evaluator, Formatter
from .redaction import PiiPattern

GROUP = "assistant"
ALLOW_ENV = "ASSISTANT_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    formatters: list[str] = field(default_factory=list)
    evaluators: list[str] = field(default_factory=list)
    pii_patterns: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Everything the loaded plugins registered, with the plugin each came from."""

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    formatters: dict[str, Formatter] = field(default_factory=dict)
    evaluators: dict[str, Evaluator] = field(default_factory=dict)
    pii_patterns: dict[str, PiiPattern] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # "formatter:NAME" / "evaluator:NAME" -> plugin
    filters: list | None = None  # filter_pair implementations in call order, once looked up

    def formatter(self, name: str) -> Formatter:
        if name not in self.formatters:
            raise AssistantError(f"unknown formatter '{name}' (expected one of: {', '.join(sorted(self.formatters))})")
        return self.formatters[name]

    def evaluators_for(self, domains: list[str]) -> list[Evaluator]:
        wanted = {"general", *domains}
        return [e for e in self.evaluators.values() if e.domain in wanted]

    def plugin_of(self, kind: str, name: str) -> str:
        return self.owner.get(f"{kind}:{name}", "?")

    # Hooks are called here one plugin at a time, in pluggy's own call order (the most
    # recently loaded plugin first, tryfirst/trylast honoured), rather than through
    # `pm.hook.*`, so that a failure or a veto can be attributed to its plugin.

    def system_prompt(self, profile, domain: str) -> str:
        """The profile's system prompt with every plugin's contribution appended."""
        parts = [profile.system_prompt.strip()]
        for impl in call_order(self.manager.hook.system_prompt_extra):
            extra = call_hook(impl, "system_prompt_extra", profile=profile, domain=domain)
            if extra and extra.strip():
                parts.append(extra.strip())
        return " ".join(parts)

    def filter_reason(self, messages: list[dict], profile, domain: str) -> str | None:
        """The first plugin's reason to drop this pair, prefixed with its name, or None."""
        if self.filters is None:  # asked once per pair: look the implementations up once
            self.filters = call_order(self.manager.hook.filter_pair)
        for impl in self.filters:
            reason = call_hook(impl, "filter_pair", messages=messages, profile=profile, domain=domain)
            if reason:
                return f"{impl.plugin_name}: {reason}"
        return None


def call_order(hook) -> list:
    """The implementations in the order pluggy would call them: get_hookimpls() lists them
    in reverse (last registered and tryfirst at the end)."""
    return list(reversed(hook.get_hookimpls()))


def allowed_plugins() -> set[str] | None:
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def call_hook(impl, hook: str, **kwargs):
    """Call one plugin's implementation; its failure names the plugin and the hook."""
    try:
        if impl.argnames == tuple(kwargs):  # it takes every argument, as most do: no filtering
            return impl.function(**kwargs)
        return impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
    except AssistantError:
        raise
    except Exception as exc:
        raise AssistantError(f"plugin '{impl.plugin_name}' failed in hook {hook}: {type(exc).__name__}: {exc}") from None


@cache
def plugin_manager() -> pluggy.PluginManager:
    return build_plugin_manager()


def build_plugin_manager(extra: dict | None = None) -> pluggy.PluginManager:
    """The core plugin, the allowed entry points, then `extra` ({name: plugin}, for tests)."""
    from . import core_plugin

    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    manager.register(core_plugin, name="core")
    manager.assistant_versions = {"core": __version__}  # entry points are loaded here, not by pluggy
    allowed = allowed_plugins()
    entries = unique_entry_points()
    if allowed is not None and allowed - set(entries):
        raise AssistantError(
            f"{ALLOW_ENV} names {', '.join(sorted(allowed - set(entries)))}, which no installed plugin provides "
            f"(installed: {', '.join(sorted(entries)) or 'none'})"
        )
    for name, entry in sorted(entries.items()):
        if allowed is not None and name not in allowed:
            continue
        try:
            module = entry.load()
        except Exception as exc:
            raise AssistantError(f"plugin '{entry.name}' ({entry.value}) failed to load: {type(exc).__name__}: {exc}") from None
        register_plugin(manager, module, entry.name)
        manager.assistant_versions[entry.name] = entry.dist.version if entry.dist else "unknown"
    for name, plugin in (extra or {}).items():
        register_plugin(manager, plugin, name)
    try:
        manager.check_pending()  # a misspelled hook name fails here, not silently never runs
    except pluggy.PluginValidationError as exc:
        raise AssistantError(f"plugin '{manager.get_name(exc.plugin)}': {exc}") from None
    return manager


def unique_entry_points() -> dict:
    """Entry points of the group by name; two different packages claiming one name, or a
    plugin calling itself 'core', is an error rather than a silent choice."""
    entries: dict = {}
    for entry in entry_points(group=GROUP):
        if entry.name == "core":
            raise AssistantError(f"plugin entry point 'core' ({entry.value}): the name is reserved for the built-ins")
        known = entries.get(entry.name)
        if known is not None and known.value != entry.value:
            raise AssistantError(
                f"two plugins are named '{entry.name}': {known.value} and {entry.value}; uninstall one"
            )
        entries[entry.name] = entry
    return entries


def register_plugin(manager: pluggy.PluginManager, plugin, name: str) -> None:
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # e.g. a hook implemented with a wrong argument name
        raise AssistantError(f"plugin '{name}': {exc}") from None


@cache
def registry() -> Registry:
    return build_registry(plugin_manager())


def build_registry(manager: pluggy.PluginManager) -> Registry:
    plugins = {
        name: PluginInfo(
            name=name,
            version=getattr(manager, "assistant_versions", {}).get(name, "unknown"),
            module=getattr(plugin, "__name__", repr(plugin)),
        )
        for name, plugin in manager.list_name_plugin()
    }
    for hook_name in ("register_formatters", "register_evaluators", "register_pii_patterns",
                      "system_prompt_extra", "filter_pair"):
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            plugins[impl.plugin_name].hooks.append(hook_name)
    result = Registry(manager=manager, plugins=plugins)
    collect(result, "register_formatters", Formatter, result.formatters, "formatter")
    collect(result, "register_evaluators", Evaluator, result.evaluators, "evaluator")
    collect(result, "register_pii_patterns", PiiPattern, result.pii_patterns, "pii_pattern")
    return result


def collect(result: Registry, hook: str, kind: type, into: dict, label: str) -> None:
    """Call each plugin's registration hook with a callback bound to that plugin, so a
    wrong type or a duplicate name is reported against the plugins that caused it."""
    for impl in call_order(getattr(result.manager.hook, hook)):
        plugin = impl.plugin_name

        def register(obj, plugin=plugin):
            if not isinstance(obj, kind):
                raise AssistantError(f"plugin '{plugin}' registered {type(obj).__name__} in {hook}; expected {kind.__name__}")
            if not obj.name:
                raise AssistantError(f"plugin '{plugin}' registered a {label} without a name")
            if obj.name in into:
                other = result.plugin_of(label, obj.name)
                raise AssistantError(f"{label} '{obj.name}' is registered by both plugin '{other}' and plugin '{plugin}'")
            into[obj.name] = obj
            result.owner[f"{label}:{obj.name}"] = plugin
            getattr(result.plugins[plugin], f"{label}s").append(obj.name)

        call_hook(impl, hook, register=register)


def reset() -> None:
    """Forget loaded plugins (tests, and after installing a plugin in-process)."""
    registry.cache_clear()
    plugin_manager.cache_clear()
