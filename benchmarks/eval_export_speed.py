"""Two figures behind defaults of `assistant eval` and of GGUF loading, measured in one run.

1. GGUF parsing: converting the embedded model into a plain-model cache, with transformers
   parsing the file for each of config, tokenizer and weights, against inside
   `gguf_reading.parsed_once()` (one parse, and one tensor-name map). Prints seconds and
   parses per conversion.
2. Eval batching (with RUN_DIR): the tuned replies to the demo's 28 held-out questions,
   greedy, up to 120 new tokens, in batches of 8 against one batch of GENERATION_BATCH, and
   whether the replies are identical.

Cases alternate (a, b, a, b) so that a drift in the machine's speed hits both.

Usage: python benchmarks/eval_export_speed.py [RUN_DIR]
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def gguf_conversion(rounds: int = 2) -> None:
    from assistant import base_model, gguf_reading
    from assistant.base_model import convert_gguf, embedded_gguf_path

    try:
        with gguf_reading.counted_parses() as parses:
            for _ in range(rounds):
                for label, context in (("each load parses", contextlib.nullcontext), ("parsed once", gguf_reading.parsed_once)):
                    base_model.parsed_once = context  # what convert_gguf enters
                    parses.clear()
                    with tempfile.TemporaryDirectory() as folder:
                        start = time.perf_counter()
                        convert_gguf(embedded_gguf_path(), Path(folder) / "converted")
                        seconds = time.perf_counter() - start
                    print(f"convert embedded GGUF, {label}: {seconds:.1f} s, {len(parses)} parses", flush=True)
    finally:
        base_model.parsed_once = gguf_reading.parsed_once


def eval_batching(run_dir: str, rounds: int = 1) -> None:
    from assistant.compare import load_heldout
    from assistant.generation import GENERATION_BATCH, ChatModel, GenerationSettings

    chat = ChatModel.from_run(run_dir)
    questions = [item["question"] for item in load_heldout(REPO / "demo" / "heldout.jsonl")]
    settings = GenerationSettings(max_new_tokens=120, temperature=0.0)
    replies = {}
    for _ in range(rounds):
        for batch in (8, GENERATION_BATCH):
            start = time.perf_counter()
            replies[batch] = chat.generate_batch(questions, settings, tuned=True, batch_size=batch)
            print(f"{len(questions)} tuned replies in batches of {batch}: {time.perf_counter() - start:.1f} s", flush=True)
    print("replies identical:", replies[8] == replies[GENERATION_BATCH])


if __name__ == "__main__":
    gguf_conversion()
    if len(sys.argv) > 1:
        eval_batching(sys.argv[1])
