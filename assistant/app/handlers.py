"""What the app's buttons do: thin functions over the engine, no Gradio layout here."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict
from pathlib import Path

from ..errors import AssistantError
from ..generation import GenerationSettings
from ..rundir import RunDir
from .dual import stream_pair
from .votes import Vote, VoteStore

NOTICE = "⚠️ {}"


def plain_history(history) -> list[dict]:
    """Chatbot messages as {"role", "content": str}. Gradio 6 returns content as a list of
    parts; our own notices (and the message that caused each) are not conversation."""
    messages: list[dict] = []
    for message in history or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            continue
        if message.get("role") == "assistant" and content.startswith(NOTICE.format("")):
            if messages and messages[-1]["role"] == "user":
                messages.pop()
            continue
        messages.append({"role": message.get("role", "user"), "content": content})
    return messages


class AppHandlers:
    def __init__(self, models, store: VoteStore, profiles: dict[str, str]):
        self.models = models
        self.store = store
        self.profiles = profiles  # profile label -> system prompt ("" label: the run's own)
        self.stops: dict[str, threading.Event] = {}

    def settings(self, temperature, top_p, max_new_tokens, seed) -> GenerationSettings:
        return GenerationSettings(
            max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_p=float(top_p),
            seed=int(seed) if seed not in (None, "") else None,
        )

    def stop_event(self, session: str) -> threading.Event:
        event = self.stops.setdefault(session, threading.Event())
        event.clear()
        return event

    def stop(self, session: str) -> None:
        if session in self.stops:
            self.stops[session].set()

    # -- side by side ----------------------------------------------------------------------

    def side_by_side(self, message, base_history, tuned_history, run, profile, settings, session):
        """Yield (base_history, tuned_history) while both replies stream."""
        message = (message or "").strip()
        if not message:
            yield base_history, tuned_history
            return
        base_history = [*plain_history(base_history), {"role": "user", "content": message}]
        tuned_history = [*plain_history(tuned_history), {"role": "user", "content": message}]
        try:
            chat = self.models.get(run)
            pieces = stream_pair(chat, (base_history, tuned_history), (False, True), settings,
                                 self.profiles.get(profile) or None, self.stop_event(session))
            for base_text, tuned_text in pieces:
                yield ([*base_history, {"role": "assistant", "content": base_text}],
                       [*tuned_history, {"role": "assistant", "content": tuned_text}])
        except AssistantError as exc:  # e.g. message too long: a notice in the chat
            notice = {"role": "assistant", "content": NOTICE.format(exc)}
            yield [*base_history[:-1], {"role": "user", "content": message}, notice], [*tuned_history, notice]

    # -- blind comparison ------------------------------------------------------------------

    def blind(self, message, run, profile, settings, session, rng=random):
        """Yield (reply A, reply B, pending vote or None) while both stream in random order."""
        message = (message or "").strip()
        if not message:
            yield "", "", None
            return
        tuned_side = rng.choice(("a", "b"))
        history = [{"role": "user", "content": message}]
        try:
            chat = self.models.get(run)
            texts = ["", ""]
            for texts in stream_pair(chat, (history, history), (tuned_side == "a", tuned_side == "b"), settings,
                                     self.profiles.get(profile) or None, self.stop_event(session)):
                yield texts[0], texts[1], None
        except AssistantError as exc:
            yield NOTICE.format(exc), NOTICE.format(exc), None
            return
        pending = {"prompt": message, "reply_a": texts[0], "reply_b": texts[1], "tuned_side": tuned_side,
                   "settings": {**asdict(settings), "profile": profile or "run"}, "run": run}
        yield texts[0], texts[1], pending

    def vote(self, choice: str, pending: dict | None) -> str:
        """Store the vote; return the reveal text."""
        if not pending:
            return "Send a message first; the vote counts once both replies are in."
        self.store.record(Vote(choice=choice, **pending))
        tuned = pending["tuned_side"].upper()
        base = "B" if tuned == "A" else "A"
        return f"**{tuned} was the tuned assistant, {base} the base model.** Vote saved."

    def tally_text(self, run: str | None) -> str:
        tally = self.store.tally(run)
        if not tally["total"]:
            return "No votes yet for this run."
        rate = tally["win_rate"]
        ci = tally["ci95"]
        shown = f"{rate:.0%} (95% CI {ci[0]:.0%}–{ci[1]:.0%})" if rate is not None else "n/a"
        return (f"**Tuned win rate: {shown}** over {tally['total']} vote{'s' if tally['total'] != 1 else ''}: tuned better {tally['tuned_wins']}, "
                f"base better {tally['base_wins']}, ties {tally['ties']}, both bad {tally['both_bad']}.")


def eval_report(run: str) -> tuple[str, str | None]:
    """The run's latest eval report (markdown without its image line) and chart path."""
    folder = Path(run) / "eval"
    report = folder / "report.md"
    if not report.is_file():
        return (f"No evaluation yet for `{run}`. Create it with:\n\n"
                f"```\nassistant eval --run {run}\n```"), None
    text = "\n".join(line for line in report.read_text(encoding="utf-8").splitlines() if "metrics.png" not in line)
    chart = folder / "metrics.png"
    return text, str(chart) if chart.is_file() else None


def check_run(run: str) -> str | None:
    """None for a usable run, else a readable error naming the path."""
    try:
        RunDir.open(run)
    except AssistantError as exc:
        return str(exc)
    return None
