"""Writing an evaluation: `<run>/eval/` with results.json, report.md, report.html and
metrics.png, swapped into place whole; and the terminal summary."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from ..atomic import staged_directory
from .chart import metric_label, plot_metrics

KEY_SCORES = ("rougeL", "token_f1", "semantic_similarity")  # shown per example besides evaluators
LOSS_ROWS = (("validation loss", "loss"), ("perplexity", "perplexity"))


def fmt(value, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def summary_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(metric, base, tuned, Δ, applied) for every metric, then loss and perplexity."""
    rows = []
    for name, entry in results["aggregate"].items():
        applied = f"{entry['n_base']}/{entry['n_tuned']} of {results['n']}"
        rows.append((metric_label(name), fmt(entry["base"]), fmt(entry["tuned"]), fmt(entry["delta"], True), applied))
    validation = results.get("validation")
    if validation:
        for label, key in LOSS_ROWS:
            base, tuned = validation["base"][key], validation["tuned"][key]
            rows.append((f"{label} (lower is better)", fmt(base), fmt(tuned), fmt(tuned - base, True),
                         f"{validation['examples']} examples"))
    return rows


def win_rate_text(results: dict) -> str:
    w = results["win_rate"]
    if not w["n"]:
        return "Win rate: not available (no comparable cases)"
    low, high = w["ci95"]
    return (f"Win rate (tuned beats base on {metric_label(w['metric'])}, ties count half): {w['rate']:.1%} "
            f"(95% CI {low:.1%}–{high:.1%}; {w['wins']} wins, {w['ties']} ties, {w['losses']} losses of {w['n']})")


def format_summary(results: dict) -> str:
    """The terminal table: metric | base | tuned | Δ, the win rate and the failures count."""
    partial = [e["n_base"] < results["n"] or e["n_tuned"] < results["n"] for e in results["aggregate"].values()]
    rows = [(m, b, t, d, f"(applied {a})" if i < len(partial) and partial[i] else "")
            for i, (m, b, t, d, a) in enumerate(summary_rows(results))]
    header = ("metric", "base", "tuned", "Δ")
    width = max(len(header[0]), *(len(r[0]) for r in rows))
    lines = [f"Evaluated {results['n']} cases ({results['source']}) of {results['run']}",
             f"{header[0]:<{width}}  {header[1]:>7}  {header[2]:>7}  {header[3]:>7}"]
    lines += [f"{m:<{width}}  {b:>7}  {t:>7}  {d:>7}  {note}".rstrip() for m, b, t, d, note in rows]
    lines.append(win_rate_text(results))
    failures = results["failures"]
    lines.append(f"Evaluator failures: {len(failures)}"
                 + (f" ({', '.join(sorted({f['evaluator'] for f in failures}))})" if failures else ""))
    return "\n".join(lines)


# markdown --------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~$])")


def md(text: str) -> str:
    """Text safe inside a markdown table cell: HTML and markdown syntax escaped, line
    breaks as <br>."""
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))
    return "<br>".join(text.splitlines()) if "\n" in text or "\r" in text else text


def example_score_names(results: dict) -> list[str]:
    return [*KEY_SCORES, *[e["name"] for e in results["evaluators"]]]


def markdown_report(results: dict) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"- run: `{results['run']}` (base model: {md(results.get('base_model') or '?')})",
        f"- cases: {results['n']} from {md(results['source'])}",
        f"- date: {results['date']}",
        f"- generation: greedy={results['settings']['temperature'] == 0}, "
        f"max_new_tokens={results['settings']['max_new_tokens']}, "
        f"repetition_penalty={results['settings']['repetition_penalty']}",
        f"- evaluators: {md(', '.join(e['name'] for e in results['evaluators']) or 'none')} "
        f"(domains: {md(', '.join(results['settings']['domains']))})",
        "",
        "## Summary",
        "",
        "| metric | base | tuned | Δ | applied (base/tuned) |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {md(m)} | {b} | {t} | {d} | {a} |" for m, b, t, d, a in summary_rows(results)]
    lines += ["", md(win_rate_text(results)), "", "![chart](metrics.png)", "", "## Evaluator failures", ""]
    if results["failures"]:
        lines += ["| evaluator | plugin | example | side | error |", "|---|---|---:|---|---|"]
        lines += [f"| {md(f['evaluator'])} | {md(f['plugin'])} | {f['example'] + 1} | {f['side']} | {md(f['error'])} |"
                  for f in results["failures"]]
    else:
        lines.append("None.")
    lines += ["", "## Examples", ""]
    names = example_score_names(results)
    for e in results["examples"]:
        lines += [f"### {e['index'] + 1}. {md(e['prompt'])}", ""]
        if len(e["history"]) > 1:
            earlier = " / ".join(f"{m['role']}: {m['content']}" for m in e["history"][:-1])
            lines += [f"Earlier turns: {md(earlier)}", ""]
        lines += [f"**Reference:** {md(e['reference'])}", "", "| | base | tuned |", "|---|---|---|",
                  f"| reply | {md(e['base']['reply'])} | {md(e['tuned']['reply'])} |"]
        for name in names:
            lines.append(f"| {md(metric_label(name))} | {fmt(e['base']['scores'].get(name))} | "
                         f"{fmt(e['tuned']['scores'].get(name))} |")
        if e["base"]["details"] or e["tuned"]["details"]:
            notes = ["; ".join(f"{k}: {v}" for k, v in e[side]["details"].items()) for side in ("base", "tuned")]
            lines.append(f"| notes | {md(notes[0])} | {md(notes[1])} |")
        lines.append("")
    return "\n".join(lines)


# writing ---------------------------------------------------------------------------------

def current_umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_report(results: dict, out_dir: str | Path | None = None) -> Path:
    """Write results.json, report.md, report.html and metrics.png into `out_dir`
    (default `<run>/eval`), replacing an earlier evaluation whole; returns the folder."""
    from .html_report import html_report

    target = Path(out_dir) if out_dir else Path(results["run"]) / "eval"
    with staged_directory(target) as staging:
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; a report is for sharing
        (staging / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        plot_metrics(results["aggregate"], staging / "metrics.png")
        (staging / "report.md").write_text(markdown_report(results) + "\n", encoding="utf-8")
        (staging / "report.html").write_text(html_report(results), encoding="utf-8")
    return target
