"""The built-in domain plugins of `assistant`, installed as the package `assistant_plugins`.

Each subpackage (support, legal, healthcare, marketing) is one plugin, loaded through its
own entry point of the group `assistant`: a formatter named after the domain, evaluators
named "<domain>.<what>", a system-prompt sentence for that domain, a brand profile
(`profile.yaml`) and a small example data file (`example_data.jsonl`).
"""
