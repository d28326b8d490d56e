"""The metrics chart: grouped bars, base vs tuned, one group per metric (all on 0..1)."""

from __future__ import annotations

from pathlib import Path

BASE_COLOR, TUNED_COLOR = "#8c96a8", "#2f6fdf"

LABELS = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "token_precision": "token\nprecision",
    "token_recall": "token\nrecall",
    "token_f1": "token F1",
    "semantic_similarity": "semantic\nsimilarity",
}


def metric_label(name: str, multiline: bool = False) -> str:
    label = LABELS.get(name, name)
    return label if multiline else label.replace("\n", " ")


def plot_metrics(aggregate: dict, out_path: Path, title: str = "Base vs tuned (mean per metric)") -> None:
    """Write the chart as PNG; metrics with no applicable score get no bar."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg: no display needed
    from matplotlib.figure import Figure

    names = list(aggregate)
    fig = Figure(figsize=(max(6.0, 1.1 * len(names) + 1.5), 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.38
    for offset, side, color in ((-width / 2, "base", BASE_COLOR), (width / 2, "tuned", TUNED_COLOR)):
        xs = [i + offset for i, n in enumerate(names) if aggregate[n][side] is not None]
        values = [aggregate[n][side] for n in names if aggregate[n][side] is not None]
        bars = ax.bar(xs, [max(0.0, v) for v in values], width, label=side, color=color)
        for bar, value in zip(bars, values):
            ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)), [metric_label(n, multiline=True) for n in names], fontsize=8)
    ax.set_ylim(0, 1.2)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("score (0..1, higher is better)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper right", ncols=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(out_path)
