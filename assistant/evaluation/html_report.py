"""report.html: one self-contained page (inline CSS, the chart as metrics.png beside it);
every text from the model, the data or a plugin is HTML-escaped."""

from __future__ import annotations

from html import escape

from .chart import metric_label
from .report import example_score_names, fmt, summary_rows, win_rate_text

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
       background: #f6f7f9; margin: 0; padding: 2rem; }
main { max-width: 1100px; margin: 0 auto; }
h1, h2, h3 { line-height: 1.25; } h3 { font-size: 1.05rem; margin: 0 0 .5rem; }
table { border-collapse: collapse; background: #fff; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d9dde5; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef1f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.up { color: #137333; } .down { color: #b3261e; }
.meta { color: #555d6e; } .chart { max-width: 100%; background: #fff; border: 1px solid #d9dde5; }
.card { background: #fff; border: 1px solid #d9dde5; border-radius: 8px; padding: 1rem; margin: 1rem 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.reply { white-space: pre-wrap; word-wrap: break-word; background: #f3f5f8; border-radius: 6px;
         padding: .6rem; margin: .3rem 0; font: inherit; }
.tuned .reply { background: #eaf1fd; } .label { font-weight: 600; }
.scores td, .scores th { font-size: .85rem; padding: .2rem .5rem; }
.note { font-size: .85rem; color: #555d6e; }
@media (max-width: 720px) { .pair { grid-template-columns: 1fr; } body { padding: 1rem; } }
"""


def delta_cell(text: str, lower_is_better: bool = False) -> str:
    moved = any(c in "123456789" for c in text)
    better = text.startswith("-") if lower_is_better else text.startswith("+")
    css = "" if not moved else "up" if better else "down"
    return f'<td class="num {css}">{escape(text)}</td>'


def summary_table(results: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(m)}</td><td class=\"num\">{escape(b)}</td><td class=\"num\">{escape(t)}</td>"
        f"{delta_cell(d, 'lower is better' in m)}<td>{escape(a)}</td></tr>"
        for m, b, t, d, a in summary_rows(results)
    )
    return ("<table><thead><tr><th>metric</th><th>base</th><th>tuned</th><th>Δ</th><th>applied (base/tuned)</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def failures_section(results: dict) -> str:
    if not results["failures"]:
        return "<p>None.</p>"
    rows = "".join(
        f"<tr><td>{escape(f['evaluator'])}</td><td>{escape(f['plugin'])}</td><td class=\"num\">{f['example'] + 1}</td>"
        f"<td>{escape(f['side'])}</td><td>{escape(f['error'])}</td></tr>"
        for f in results["failures"]
    )
    return ("<table><thead><tr><th>evaluator</th><th>plugin</th><th>example</th><th>side</th><th>error</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def side_block(example: dict, side: str, names: list[str]) -> str:
    data = example[side]
    scores = "".join(
        f"<tr><th>{escape(metric_label(n))}</th><td class=\"num\">{fmt(data['scores'].get(n))}</td></tr>" for n in names
    )
    notes = "; ".join(f"{k}: {v}" for k, v in data["details"].items())
    note = f'<p class="note">{escape(notes)}</p>' if notes else ""
    return (f'<div class="{side}"><div class="label">{side}</div><pre class="reply">{escape(data["reply"])}</pre>'
            f'<table class="scores">{scores}</table>{note}</div>')


def example_card(example: dict, names: list[str]) -> str:
    earlier = "".join(
        f'<p class="note"><span class="label">{escape(m["role"])}:</span> {escape(m["content"])}</p>'
        for m in example["history"][:-1]
    )
    return (
        f'<section class="card"><h3>{example["index"] + 1}. {escape(example["prompt"])}</h3>{earlier}'
        f'<div class="label">reference</div><pre class="reply">{escape(example["reference"])}</pre>'
        f'<div class="pair">{side_block(example, "base", names)}{side_block(example, "tuned", names)}</div></section>'
    )


def html_report(results: dict) -> str:
    settings = results["settings"]
    evaluators = ", ".join(f"{e['name']} ({e['plugin']})" for e in results["evaluators"]) or "none"
    names = example_score_names(results)
    examples = "".join(example_card(e, names) for e in results["examples"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation of {escape(results['run'])}</title>
<style>{CSS}</style></head>
<body><main>
<h1>Evaluation report</h1>
<p class="meta">Run <code>{escape(results['run'])}</code> (base model {escape(str(results.get('base_model') or '?'))})
· {results['n']} cases from {escape(results['source'])} · {escape(results['date'])}<br>
Generation: temperature {settings['temperature']}, max_new_tokens {settings['max_new_tokens']},
repetition_penalty {settings['repetition_penalty']} · evaluators: {escape(evaluators)}
(domains: {escape(', '.join(settings['domains']))})</p>
<h2>Summary</h2>
{summary_table(results)}
<p>{escape(win_rate_text(results))}</p>
<img class="chart" src="metrics.png" alt="Mean score per metric, base vs tuned">
<h2>Evaluator failures</h2>
{failures_section(results)}
<h2>Examples</h2>
{examples}
</main></body></html>
"""
