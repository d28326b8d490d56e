"""What `assistant plugins` shows: every loaded plugin, its hooks, formatters, evaluators
and PII patterns."""

from __future__ import annotations

from .plugins import ALLOW_ENV, allowed_plugins, registry


def describe_plugins() -> dict:
    reg = registry()
    return {
        "allow_list": sorted(allowed_plugins()) if allowed_plugins() is not None else None,
        "plugins": [
            {
                "name": info.name,
                "version": info.version,
                "module": info.module,
                "hooks": sorted(info.hooks),
                "formatters": [
                    {"name": n, "domain": reg.formatters[n].domain, "description": reg.formatters[n].description}
                    for n in info.formatters
                ],
                "evaluators": [
                    {"name": n, "domain": reg.evaluators[n].domain, "description": reg.evaluators[n].description}
                    for n in info.evaluators
                ],
                "pii_patterns": [
                    {"name": n, "type": reg.pii_patterns[n].type, "description": reg.pii_patterns[n].description}
                    for n in info.pii_patterns
                ],
            }
            for info in reg.plugins.values()
        ],
    }


def format_plugins(listing: dict) -> str:
    lines = []
    if listing["allow_list"] is not None:
        lines.append(f"{ALLOW_ENV} allow-list: {', '.join(listing['allow_list']) or '(empty: no entry-point plugins)'}")
    for plugin in listing["plugins"]:
        lines.append(f"{plugin['name']} {plugin['version']}  ({plugin['module']})")
        lines.append(f"  hooks: {', '.join(plugin['hooks']) or '-'}")
        for kind in ("formatters", "evaluators"):
            for item in plugin[kind]:
                lines.append(f"  {kind[:-1]} {item['name']} [{item['domain']}]: {item['description']}")
        for item in plugin["pii_patterns"]:
            lines.append(f"  pii pattern {item['name']} [{item['type']}]: {item['description']}")
    return "\n".join(lines)
