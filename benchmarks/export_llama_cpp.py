"""A GGUF export in llama.cpp itself, against transformers, on the held-out questions:
identical prompt tokenization, and identical greedy replies (llama.cpp's chat completion
uses the chat template stored in the file). Needs `pip install llama-cpp-python`.

    python benchmarks/export_llama_cpp.py runs/demo runs/demo/export-gguf/demo-f16.gguf
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("gguf", type=Path)
    parser.add_argument("--max-tokens", type=int, default=60)
    args = parser.parse_args()

    import torch
    from llama_cpp import Llama

    from assistant.compare import load_heldout
    from assistant.export.merge import load_merged
    from assistant.export.verify import greedy

    merged = load_merged(args.run, probe=False)
    tokenizer = merged.tokenizer
    llm = Llama(model_path=str(args.gguf), n_ctx=2048, verbose=False)
    items = load_heldout(REPO / "demo" / "heldout.jsonl")
    same_tokens = same_replies = 0
    for item in items:
        messages = [{"role": "system", "content": merged.system_prompt}, {"role": "user", "content": item["question"]}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        same_tokens += llm.tokenize(text.encode(), add_bos=False, special=True) == ids
        with torch.inference_mode():
            ours = tokenizer.decode(greedy(merged.model, tokenizer, ids, args.max_tokens)[len(ids):], skip_special_tokens=True).strip()
        theirs = llm.create_chat_completion(messages=messages, temperature=0.0, top_k=1, repeat_penalty=1.0,
                                            max_tokens=args.max_tokens)["choices"][0]["message"]["content"].strip()
        same_replies += ours == theirs
        if ours != theirs:
            print(f"differs: {item['question']}\n  transformers: {ours}\n  llama.cpp:    {theirs}")
    print(f"{args.gguf.name}: llama.cpp tokenizes {same_tokens}/{len(items)} prompts identically; "
          f"greedy replies identical on {same_replies}/{len(items)} held-out questions")


if __name__ == "__main__":
    sys.exit(main())
