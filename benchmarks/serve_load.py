"""Load on `assistant serve`: single-request speed of tuned and base, then N simultaneous
streamed requests through the official openai client. Prints the figures.

    python benchmarks/serve_load.py runs/demo [--concurrent 16] [--max-tokens 80]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def streamed(client, model: str, question: str, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(model=model, max_tokens=max_tokens, stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": question}])
    usage = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter() - started
        if chunk.usage:
            usage = chunk.usage
    return {"latency": time.perf_counter() - started, "ttft": first or 0.0, "tokens": usage.completion_tokens}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--concurrent", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=80)
    args = parser.parse_args()

    import openai

    from assistant.compare import load_heldout
    from assistant.serve import create_server
    from conftest import start_uvicorn

    questions = [item["question"] for item in load_heldout(REPO / "demo" / "heldout.jsonl")]
    app = create_server([args.run], echo=None)
    model = next(name for name in app.state.pool.served if name != "base")
    server, thread, url = start_uvicorn(app)
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    try:
        streamed(client, model, questions[0], 8)  # warm-up
        for name in (model, "base"):
            results = [streamed(client, name, q, args.max_tokens) for q in questions[:4]]
            tokens, seconds = sum(r["tokens"] for r in results), sum(r["latency"] for r in results)
            print(f"one at a time, {name:>6}: {tokens / seconds:5.1f} tok/s, time to first token "
                  f"{statistics.median(r['ttft'] for r in results) * 1000:.0f} ms (median of 4)")
        jobs = [(model if i % 2 == 0 else "base", questions[i % len(questions)]) for i in range(args.concurrent)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrent) as pool:
            results = list(pool.map(lambda job: streamed(client, job[0], job[1], args.max_tokens), jobs))
        wall = time.perf_counter() - started
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    latencies = sorted(r["latency"] for r in results)
    print(f"{args.concurrent} simultaneous streamed requests: {len(results)}/{args.concurrent} answered in {wall:.1f} s; "
          f"{sum(r['tokens'] for r in results) / wall:.1f} tok/s overall; latency median {statistics.median(latencies):.1f} s, "
          f"max {latencies[-1]:.1f} s; time to first token median {statistics.median(r['ttft'] for r in results):.1f} s")


if __name__ == "__main__":
    main()
