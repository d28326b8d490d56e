"""Load on `assistant serve`: single-request speed of tuned and base, then N simultaneous
streamed requests through the official openai client, one generation at a time
(--max-batch 1) against batched (8). Each setting runs in a fresh process, so neither
inherits the other's memory. Prints the figures and the ratio.

    python benchmarks/serve_load.py runs/demo [--concurrent 16] [--max-tokens 80]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def streamed(client, model: str, question: str, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = None
    usage = None
    stream = client.chat.completions.create(model=model, max_tokens=max_tokens, stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": question}])
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter() - started
        if chunk.usage:
            usage = chunk.usage
    return {"latency": time.perf_counter() - started, "ttft": first or 0.0, "tokens": usage.completion_tokens}


def measure(run: Path, max_batch: int, concurrent: int, max_tokens: int) -> dict:
    """One server with this --max-batch: single requests of each model, then the burst."""
    sys.path.insert(0, str(REPO / "tests"))
    import openai

    from assistant.compare import load_heldout
    from assistant.serve import create_server
    from conftest import start_uvicorn

    questions = [item["question"] for item in load_heldout(REPO / "demo" / "heldout.jsonl")]
    app = create_server([run], echo=None, max_batch=max_batch)
    model = next(name for name in app.state.pool.served if name != "base")
    server, thread, url = start_uvicorn(app)
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    figures = {}
    try:
        streamed(client, model, questions[0], 8)  # warm-up
        for name in (model, "base"):
            results = [streamed(client, name, q, max_tokens) for q in questions[:4]]
            figures[name] = {"tok_s": sum(r["tokens"] for r in results) / sum(r["latency"] for r in results),
                             "ttft": statistics.median(r["ttft"] for r in results)}
        jobs = [(model if i % 2 == 0 else "base", questions[i % len(questions)]) for i in range(concurrent)]
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrent) as pool:
            results = list(pool.map(lambda job: streamed(client, job[0], job[1], max_tokens), jobs))
        figures["burst"] = {"wall": time.perf_counter() - started, "answered": len(results),
                            "tokens": sum(r["tokens"] for r in results),
                            "latency_median": statistics.median(r["latency"] for r in results),
                            "latency_max": max(r["latency"] for r in results),
                            "ttft_median": statistics.median(r["ttft"] for r in results)}
        figures["model"] = model
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--concurrent", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=80)
    parser.add_argument("--only-max-batch", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.only_max_batch:
        print(json.dumps(measure(args.run, args.only_max_batch, args.concurrent, args.max_tokens)))
        return
    walls = {}
    for max_batch in (1, 8):
        child = subprocess.run([sys.executable, __file__, str(args.run), "--concurrent", str(args.concurrent),
                                "--max-tokens", str(args.max_tokens), "--only-max-batch", str(max_batch)],
                               capture_output=True, text=True, check=True)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        if max_batch == 1:
            for name in (figures["model"], "base"):
                print(f"one request at a time, {name:>6}: {figures[name]['tok_s']:5.1f} tok/s, "
                      f"time to first token {figures[name]['ttft'] * 1000:.0f} ms (median of 4)")
        burst = figures["burst"]
        walls[max_batch] = burst["wall"]
        print(f"{args.concurrent} simultaneous streamed requests, --max-batch {max_batch}: {burst['answered']}/{args.concurrent} "
              f"answered in {burst['wall']:.1f} s; {burst['tokens'] / burst['wall']:.1f} tok/s overall; latency median "
              f"{burst['latency_median']:.1f} s, max {burst['latency_max']:.1f} s; time to first token median "
              f"{burst['ttft_median']:.1f} s")
    print(f"batching: {walls[1] / walls[8]:.2f}x faster for {args.concurrent} simultaneous requests")


if __name__ == "__main__":
    main()
