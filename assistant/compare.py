"""`assistant compare`: base vs tuned replies to held-out questions, scored.

The proof that tuning worked: on questions the model never trained on, the tuned adapter
should be closer to the reference answers (ROUGE-L, via `rouge-score`) and should carry
the brand sign-off, while the base model does neither.
"""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path

from .atomic import write_text_atomic
from .errors import InputError
from .generation import GENERATION_BATCH, ChatModel, GenerationSettings


def load_heldout(path: Path) -> list[dict]:
    """Lines of {"question": ..., "reference": ...}."""
    from .readers.jsonio import iter_jsonl

    expected = "JSONL of question/reference pairs"
    if not Path(path).is_file():
        raise InputError(path, None, f"file not found (expected {expected})")
    items = []
    for line_number, record in iter_jsonl(Path(path), expected):
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("question", "reference")):
            raise InputError(path, line_number, 'expected {"question": "...", "reference": "..."}')
        items.append(record)
    return items


def rouge_l(prediction: str, reference: str) -> float:
    from .evaluation.metrics import rouge  # one cached scorer, shared with `assistant eval`

    return rouge(prediction, reference)["rougeL"]


def has_sign_off(reply: str, sign_off: str) -> bool:
    return bool(sign_off) and sign_off.strip().lower() in reply.lower()


def compare(chat: ChatModel, items: list[dict], sign_off: str, settings: GenerationSettings | None = None,
            batch_size: int = GENERATION_BATCH) -> dict:
    settings = settings or GenerationSettings(max_new_tokens=120)
    questions = [item["question"] for item in items]
    base = chat.generate_batch(questions, settings, tuned=False, batch_size=batch_size)
    tuned = chat.generate_batch(questions, settings, tuned=True, batch_size=batch_size)
    return score_replies(items, base, tuned, sign_off)


def score_replies(items: list[dict], base: list[str], tuned: list[str], sign_off: str) -> dict:
    """{"summary": per side mean ROUGE-L and sign-off rate, "examples": one row per item}
    for base and tuned replies to the items' questions, in the items' order."""
    rows = []
    for item, base_reply, tuned_reply in zip(items, base, tuned, strict=True):
        rows.append(
            {
                "question": item["question"],
                "reference": item["reference"],
                "base": base_reply,
                "tuned": tuned_reply,
                "rougeL_base": rouge_l(base_reply, item["reference"]),
                "rougeL_tuned": rouge_l(tuned_reply, item["reference"]),
                "sign_off_base": has_sign_off(base_reply, sign_off),
                "sign_off_tuned": has_sign_off(tuned_reply, sign_off),
            }
        )
    summary = {
        side: {
            "rougeL": round(statistics.fmean(r[f"rougeL_{side}"] for r in rows), 4),
            "sign_off_rate": round(sum(r[f"sign_off_{side}"] for r in rows) / len(rows), 4),
        }
        for side in ("base", "tuned")
    }
    return {"summary": summary, "examples": rows}


def write_comparison(result: dict, path: Path) -> None:
    write_text_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")


def side_by_side(rows: list[tuple[str, str, str]], width: int = 100) -> str:
    """(question, base reply, tuned reply) rows as two wrapped columns."""
    column = (width - 3) // 2
    lines = []
    for question, base, tuned in rows:
        lines.append("=" * width)
        lines.append(textwrap.fill(f"Q: {question}", width))
        lines.append("-" * width)
        left = textwrap.wrap(f"BASE: {base}", column) or [""]
        right = textwrap.wrap(f"TUNED: {tuned}", column) or [""]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            lines.append(f"{a:<{column}} | {b}")
    if rows:
        lines.append("=" * width)
    return "\n".join(lines)


def format_comparison(result: dict, show: int = 5, width: int = 100) -> str:
    rows = [(r["question"], r["base"], r["tuned"]) for r in result["examples"][:show]]
    s = result["summary"]
    lines = [
        side_by_side(rows, width),
        f"Held-out questions: {len(result['examples'])}",
        f"{'':16}{'base':>10}{'tuned':>10}",
        f"{'ROUGE-L':16}{s['base']['rougeL']:>10.3f}{s['tuned']['rougeL']:>10.3f}",
        f"{'sign-off rate':16}{s['base']['sign_off_rate']:>10.0%}{s['tuned']['sign_off_rate']:>10.0%}",
    ]
    return "\n".join(line for line in lines if line)
