"""`assistant eval`: base vs tuned on held-out cases, scored (ROUGE, token overlap,
semantic similarity, plugin evaluators), with validation loss, a win rate and a report."""

from .report import format_summary, write_report
from .runner import evaluate

__all__ = ["evaluate", "write_report", "format_summary"]
