"""`evaluate`: base vs tuned replies to held-out cases, scored by every metric and by
every plugin evaluator of the run's domain, aggregated, with a win rate and the
validation loss."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..generation import GENERATION_BATCH, ChatModel, GenerationSettings
from ..plugin_types import EvalCase, Evaluator, Score
from ..rundir import RunDir
from . import metrics
from .cases import Case, load_cases
from .generate import generate_replies
from .loss import validation_loss

SIDES = ("base", "tuned")
WIN_METRIC = metrics.SEMANTIC
TIE_TOLERANCE = 1e-6  # identical replies embed to the same vector up to float noise


def run_domains(run: RunDir) -> list[str]:
    """The domain the run's data was prepared for (prepare_report.json), else general."""
    try:
        report = json.loads(run.prepare_report.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ["general"]
    settings = report.get("settings") if isinstance(report, dict) else None
    domain = settings.get("domain") if isinstance(settings, dict) else None
    return [domain] if isinstance(domain, str) and domain else ["general"]


def builtin_scores(replies: list[str], references: list[str], similarities: list[float]) -> list[dict]:
    rows = []
    for reply, reference, similarity in zip(replies, references, similarities):
        rows.append({**metrics.rouge(reply, reference), **metrics.token_prf(reply, reference), metrics.SEMANTIC: similarity})
    return rows


def run_evaluator(evaluator: Evaluator, case: EvalCase) -> tuple[float | None, str]:
    """(value or None when not applicable, detail); raises on a failing or bad evaluator."""
    result = evaluator.score(case)
    detail = ""
    if isinstance(result, Score):
        result, detail = result.value, result.detail
    if result is None:
        return None, detail
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        raise TypeError(f"score must be a number in [0, 1], a Score or None, got {type(result).__name__}")
    if not (math.isfinite(result) and 0.0 <= result <= 1.0):
        raise ValueError(f"score {result!r} outside [0, 1]")
    return float(result), detail


def evaluator_scores(evaluators, plugin_of, cases, replies, side, profile, system_prompt, failures) -> list[tuple[dict, dict]]:
    """Per example: ({evaluator: value or None}, {evaluator: detail}); failures appended."""
    rows = []
    for i, (case, reply) in enumerate(zip(cases, replies)):
        values, details = {}, {}
        eval_case = EvalCase(
            prompt=case.prompt, reply=reply, reference=case.reference, profile=profile,
            messages=[{"role": "system", "content": system_prompt}, *case.history],
        )
        for evaluator in evaluators:
            try:
                value, detail = run_evaluator(evaluator, eval_case)
            except Exception as exc:
                failures.append({
                    "evaluator": evaluator.name, "plugin": plugin_of(evaluator.name),
                    "error": f"{type(exc).__name__}: {exc}", "example": i, "side": side,
                })
                value, detail = None, ""
            values[evaluator.name] = value
            if detail:
                details[evaluator.name] = detail
        rows.append((values, details))
    return rows


def aggregate(examples: list[dict], names: list[str]) -> dict:
    """Per metric: mean over the examples where it applied, for base and tuned, and Δ."""
    result = {}
    for name in names:
        entry: dict = {}
        for side in SIDES:
            values = [e[side]["scores"][name] for e in examples if e[side]["scores"].get(name) is not None]
            entry[side] = statistics.fmean(values) if values else None
            entry[f"n_{side}"] = len(values)
        entry["delta"] = entry["tuned"] - entry["base"] if None not in (entry["base"], entry["tuned"]) else None
        result[name] = entry
    return result


def win_rate(examples: list[dict], metric: str = WIN_METRIC) -> dict:
    """Share of cases where the tuned reply beats the base one on `metric` (ties: half),
    with a 95% Wilson score interval."""
    wins = ties = losses = 0
    for e in examples:
        base, tuned = e["base"]["scores"].get(metric), e["tuned"]["scores"].get(metric)
        if base is None or tuned is None:
            continue
        if abs(tuned - base) <= TIE_TOLERANCE:
            ties += 1
        elif tuned > base:
            wins += 1
        else:
            losses += 1
    n = wins + ties + losses
    successes = wins + 0.5 * ties
    low, high = metrics.wilson_interval(successes, n)
    return {"metric": metric, "wins": wins, "ties": ties, "losses": losses, "n": n,
            "rate": successes / n if n else None, "ci95": [low, high] if n else None}


def evaluate(
    run_dir: str | Path,
    questions: str | Path | None = None,
    domains: list[str] | None = None,
    limit: int | None = None,
    settings: GenerationSettings | None = None,
    batch_size: int = GENERATION_BATCH,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate a finished run: see the module docstring. Returns the results dict that
    `write_report` and `format_summary` take."""
    from ..plugins import registry

    say = progress or (lambda message: None)
    run = RunDir.open(run_dir)
    cases: list[Case] = load_cases(run, questions, limit)
    settings = settings or GenerationSettings(max_new_tokens=120, temperature=0.0)
    domains = list(domains) if domains else run_domains(run)
    plugins = registry()
    evaluators = plugins.evaluators_for(domains)
    plugin_of = lambda name: plugins.plugin_of("evaluator", name)  # noqa: E731

    say(f"Loading the model of {run.path}")
    chat = ChatModel.from_run(run.path)
    profile = run.profile()
    replies = {}
    for side in SIDES:
        say(f"Generating {len(cases)} {side} replies")
        replies[side] = generate_replies(chat, cases, settings, tuned=side == "tuned", batch_size=batch_size)

    say("Scoring")
    references = [case.reference for case in cases]
    failures: list[dict] = []
    per_side = {}
    for side in SIDES:
        similarities = metrics.semantic_similarities(replies[side], references)
        builtin = builtin_scores(replies[side], references, similarities)
        plugin = evaluator_scores(evaluators, plugin_of, cases, replies[side], side, profile, chat.system_prompt, failures)
        per_side[side] = [
            {"reply": reply, "scores": {**b, **values}, "details": details}
            for reply, b, (values, details) in zip(replies[side], builtin, plugin)
        ]
    examples = [
        {"index": i, "prompt": case.prompt, "history": case.history, "reference": case.reference,
         **{side: per_side[side][i] for side in SIDES}}
        for i, case in enumerate(cases)
    ]
    names = [*metrics.BUILTIN_METRICS, *[e.name for e in evaluators if e.name not in metrics.BUILTIN_METRICS]]

    say("Computing the validation loss")
    loss = validation_loss(chat, run)
    summary = run.summary()
    return {
        "run": str(run.path),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base_model": summary.get("base_model"),
        "source": str(questions) if questions else "validation split",
        "n": len(cases),
        "settings": {**asdict(settings), "batch_size": batch_size, "limit": limit, "domains": domains},
        "metrics": names,
        "evaluators": [
            {"name": e.name, "plugin": plugin_of(e.name), "domain": e.domain, "description": e.description}
            for e in evaluators
        ],
        "aggregate": aggregate(examples, names),
        "win_rate": win_rate(examples),
        "validation": loss,
        "failures": failures,
        "examples": examples,
    }
