"""The loss-curve PNG of a run (train and validation loss against steps)."""

from __future__ import annotations

import json
from pathlib import Path


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def plot_loss_curve(metrics_path: Path, out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    validation = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train loss", color="#1f77b4")
    if validation:
        ax.plot(*zip(*validation), label="validation loss", color="#d62728", marker="o")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title("Training and validation loss")
    ax.grid(alpha=0.3)
    if train or validation:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
