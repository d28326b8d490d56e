"""Resident memory of serving base and tuned side by side, against one plain model.

Each case runs in its own process (peak RSS is per process) and generates one reply, so the
figures include inference buffers:
  plain    the base model alone (what any single chat needs)
  app      the app's way: one base model + LoRA adapter, base and tuned in one mixed batch
  naive    two full models in memory, base and merged-tuned (what a naive side by side costs)

Usage: python benchmarks/app_memory.py RUN_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys

CASES = {
    "plain": """
from assistant.base_model import load_model, load_tokenizer, resolve_base_model
from assistant.generation import ChatModel, GenerationSettings
path = resolve_base_model(None)
chat = ChatModel(load_model(path), load_tokenizer(path), "You are helpful.", has_adapter=False)
chat.reply([{"role": "user", "content": "Do you have oat milk?"}], GenerationSettings(max_new_tokens=40))
""",
    "app": """
from assistant.app.dual import stream_pair
from assistant.generation import ChatModel, GenerationSettings
chat = ChatModel.from_run(RUN)
h = [{"role": "user", "content": "Do you have oat milk?"}]
list(stream_pair(chat, (h, h), (False, True), GenerationSettings(max_new_tokens=40)))
""",
    "naive": """
from assistant.generation import ChatModel, GenerationSettings
tuned = ChatModel.from_run(RUN)
tuned.model, tuned.has_adapter = tuned.model.merge_and_unload(), False
base = ChatModel.from_run(RUN)
h = [{"role": "user", "content": "Do you have oat milk?"}]
tuned.reply(h, GenerationSettings(max_new_tokens=40)); base.reply(h, GenerationSettings(max_new_tokens=40), tuned=False)
""",
}


def peak_rss_mib(code: str, run: str) -> float:
    script = f"RUN = {run!r}\n{code}\nimport resource, json\nprint(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # Linux reports KiB


def main() -> None:
    run = sys.argv[1] if len(sys.argv) > 1 else "runs/demo"
    rows = {name: peak_rss_mib(code, run) for name, code in CASES.items()}
    print(f"{'case':10}{'peak RSS (MiB)':>16}{'vs plain':>10}")
    for name, mib in rows.items():
        print(f"{name:10}{mib:>16.0f}{mib / rows['plain']:>10.2f}x")
    print(json.dumps({k: round(v) for k, v in rows.items()}))


if __name__ == "__main__":
    main()
