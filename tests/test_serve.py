"""`assistant serve` through the official `openai` client, on the tiny model.

Two runs are served (the second a copy under another folder name) with the base model,
on one shared base model in memory.
"""

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from assistant.generation import GenerationSettings
from conftest import start_uvicorn, strengthen_adapter, train_tiny_run

SECRET = "Planted-Secret-4242"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("serve")
    run = train_tiny_run(root, tiny_model_dir)
    strengthen_adapter(run)
    twin = shutil.copytree(run, root / "runs" / "twin")
    return [run, twin]


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory):
    from assistant.serve import create_server

    log = tmp_path_factory.mktemp("serve-log") / "requests.jsonl"
    lines: list[str] = []
    app = create_server(runs, log_path=log, defaults=GenerationSettings(max_new_tokens=24), echo=lines.append)
    server, thread, url = start_uvicorn(app)
    yield {"url": url, "log": log, "console": lines, "pool": app.state.pool}
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server["url"] + "/v1", api_key="unused", max_retries=0, timeout=60)


def ask(client, model="tiny", content="Do you ship to Canada?", **kwargs):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kwargs)


def streamed(client, **kwargs):
    chunks = list(ask(client, stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def test_models_lists_every_run_and_the_base(client):
    assert {m.id for m in client.models.list().data} == {"tiny", "twin", "base"}
    assert client.models.retrieve("tiny").owned_by == "assistant"


def test_reply_with_usage_and_brand_system_prompt(client, server):
    reply = ask(client, max_tokens=8)
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and reply.model == "tiny"
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert 1 <= reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    pool = server["pool"]
    tokenizer = pool.chat.tokenizer
    branded = [{"role": "system", "content": pool.get("tiny").system_prompt},
               {"role": "user", "content": "Do you ship to Canada?"}]
    expected = tokenizer.apply_chat_template(branded, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert reply.usage.prompt_tokens == len(expected)
    assert "Acme Coffee" in pool.get("tiny").system_prompt


def test_the_requests_own_system_prompt_replaces_the_brand_prompt(client, server):
    own = client.chat.completions.create(model="tiny", max_tokens=2, messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Do you ship to Canada?"}])
    tokenizer = server["pool"].chat.tokenizer
    expected = tokenizer.apply_chat_template([{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "Do you ship to Canada?"}],
                                             add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert own.usage.prompt_tokens == len(expected)


def test_max_tokens_cuts_with_finish_reason_length(client):
    reply = ask(client, max_tokens=3, temperature=1.5, seed=3)
    if reply.choices[0].finish_reason == "length":
        assert reply.usage.completion_tokens == 3
    else:  # the random model may end its turn within 3 tokens
        assert reply.usage.completion_tokens < 3


def test_streaming_gives_the_same_text_as_a_whole_reply(client):
    whole = ask(client, max_tokens=20).choices[0].message.content
    text, chunks = streamed(client, max_tokens=20, stream_options={"include_usage": True})
    assert text == whole
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    assert len({c.id for c in chunks}) == 1


def test_stop_sequences_end_the_reply_and_are_not_sent(client):
    whole = ask(client, max_tokens=24).choices[0].message.content
    assert len(whole) >= 8, whole
    stop = whole[4:7]
    expected = whole[: whole.index(stop)]
    reply = ask(client, max_tokens=24, stop=[stop, "never-in-there"])
    assert reply.choices[0].message.content == expected and reply.choices[0].finish_reason == "stop"
    text, _ = streamed(client, max_tokens=24, stop=stop)
    assert text == expected


def test_seed_makes_sampling_reproducible(client):
    first = ask(client, temperature=1.0, top_p=0.95, seed=11, max_tokens=12).choices[0].message.content
    again = ask(client, temperature=1.0, top_p=0.95, seed=11, max_tokens=12).choices[0].message.content
    others = {ask(client, temperature=1.0, seed=s, max_tokens=12).choices[0].message.content for s in (1, 2, 3)}
    assert first == again
    assert len(others | {first}) > 1


def test_base_and_tuned_are_different_models_on_one_base(client, server):
    tuned = ask(client, model="tiny", max_tokens=16).choices[0].message.content
    base = ask(client, model="base", max_tokens=16).choices[0].message.content
    assert tuned != base
    assert ask(client, model="twin", max_tokens=16).choices[0].message.content == tuned  # same adapter weights
    model = server["pool"].chat.model
    assert set(model.peft_config) == {"tiny", "twin"}  # adapters on one model, not three models


def test_unknown_model_is_404_in_openais_shape(client):
    with pytest.raises(openai.NotFoundError) as caught:
        ask(client, model="gpt-4o")
    assert caught.value.body["code"] == "model_not_found" and caught.value.body["param"] == "model"


@pytest.mark.parametrize("body, param", [
    ('{"model": "tiny", "messages": [', None),
    ('{"model": "tiny"}', "messages"),
    ('{"model": "tiny", "messages": [{"role": "robot", "content": "hi"}]}', "messages.0.role"),
    ('{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": 9}', "temperature"),
    ('{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 2}', "n"),
])
def test_malformed_bodies_are_400_naming_the_field(server, body, param):
    response = httpx.post(server["url"] + "/v1/chat/completions", content=body,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param


def test_prompt_too_long_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, content="coffee " * 600)
    assert caught.value.body["code"] == "context_length_exceeded"
    assert "context is 512 tokens" in caught.value.body["message"]


def test_sixteen_simultaneous_requests_are_all_answered(client, server):
    before = len(server["log"].read_text().splitlines()) if server["log"].exists() else 0

    def one(i):
        if i % 2:
            return streamed(client, model=["tiny", "base"][i % 4 // 2], content=f"Question {i}?", max_tokens=16)[0]
        return ask(client, model=["tiny", "twin", "base"][i % 3], content=f"Question {i}?", max_tokens=16).choices[0].message.content

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(one, range(16)))
    assert len(replies) == 16 and all(isinstance(r, str) for r in replies)
    records = [json.loads(line) for line in server["log"].read_text().splitlines()[before:]]
    assert len(records) == 16 and all(r["status"] == 200 for r in records)
    assert max(r["queue_ms"] for r in records) > 0  # they did wait their turn
    assert max(r["batch"] for r in records) > 1  # and were generated together


def test_request_log_has_timings_and_counts_but_no_text(client, server):
    ask(client, content=f"My code is {SECRET}", max_tokens=4)
    record = json.loads(server["log"].read_text().splitlines()[-1])
    assert record["model"] == "tiny" and record["status"] == 200
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] >= 1
    assert record["latency_ms"] > 0 and record["time_to_first_token_ms"] is not None
    assert SECRET not in server["log"].read_text()
    assert server["console"][-1].split()[2:4] == ["200", "tiny"]


class ScriptedGeneration:
    """Stands in for a Generation: yields fixed pieces, then reports why it stopped."""

    def __init__(self, pieces):
        self.pieces, self.finish_reason, self.completion_tokens = pieces, None, 0
        self.queue_ms, self.batch_size, self.closed = 0.0, 1, False

    def __iter__(self):
        for piece in self.pieces:
            self.completion_tokens += 1
            yield piece
        self.finish_reason = "stop"

    def close(self):
        self.closed = True


def test_a_streamed_request_is_logged_before_its_last_event(tmp_path):
    """A client holding [DONE] must find its request in the log (CI once read 15 of 16)."""
    import asyncio

    from assistant.serve.api import stream_response
    from assistant.serve.monitor import RequestLog, RequestRecord
    from assistant.serve.schemas import ChatCompletionRequest

    log = RequestLog(tmp_path / "requests.jsonl", echo=None)
    body = ChatCompletionRequest(model="tiny", stream=True, messages=[{"role": "user", "content": "Hi"}])
    generation = ScriptedGeneration(["Hel", "lo"])

    async def read_until_done():
        async for event in stream_response(generation, body, RequestRecord("r1", "tiny", True), log):
            if event == "data: [DONE]\n\n":
                return [json.loads(line) for line in log.path.read_text().splitlines()]

    records = asyncio.run(read_until_done())
    assert [(r["request_id"], r["status"], r["completion_tokens"], r["finish_reason"]) for r in records] == [
        ("r1", 200, 2, "stop")]
    assert not generation.closed


def test_a_client_that_disconnects_frees_the_model(server, client):
    with httpx.stream("POST", server["url"] + "/v1/chat/completions",
                      json={"model": "tiny", "stream": True, "max_tokens": 400,
                            "messages": [{"role": "user", "content": "Tell me everything."}]}) as response:
        next(response.iter_lines())
    deadline = time.time() + 20
    while time.time() < deadline and "client_disconnected" not in (server["log"].read_text() if server["log"].exists() else ""):
        time.sleep(0.1)
    record = json.loads(server["log"].read_text().splitlines()[-1])
    assert record["status"] == 499 and record["error"] == "client_disconnected"
    assert record["completion_tokens"] < 400  # generation stopped, it did not run to max_tokens
    assert ask(client, max_tokens=2).choices[0].message.content is not None


def test_api_key_is_required_when_set(runs):
    from assistant.serve import create_server

    server, thread, url = start_uvicorn(create_server(runs, api_key="s3cret", echo=None))
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        assert caught.value.body["code"] == "invalid_api_key"
        good = openai.OpenAI(base_url=url + "/v1", api_key="s3cret", max_retries=0)
        assert ask(good, max_tokens=2).usage.completion_tokens >= 1
        assert httpx.get(url + "/health").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_serving_runs_with_clashing_names_is_refused(runs, tmp_path):
    from assistant.errors import AssistantError
    from assistant.serve.models import open_runs

    clash = shutil.copytree(runs[0], tmp_path / "x" / "tiny")
    with pytest.raises(AssistantError, match="must be unique"):
        open_runs([runs[0], clash])


def test_the_serve_command_answers_and_prints_one_line_per_request(runs, tmp_path):
    import subprocess
    import sys

    from conftest import free_port

    port, log = free_port(), tmp_path / "requests.jsonl"
    command = [sys.executable, "-m", "assistant.cli", "serve", "--run", str(runs[0]), "--port", str(port),
               "--log", str(log), "--max-tokens", "4"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        assert ask(client).usage.completion_tokens <= 4
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"Serving tiny, base at http://127.0.0.1:{port}/v1" in output
    assert any(line.split()[2:4] == ["200", "tiny"] for line in output.splitlines())
    assert json.loads(log.read_text().splitlines()[-1])["model"] == "tiny"


def test_serving_a_missing_run_is_one_line(tmp_path):
    from click.testing import CliRunner

    from assistant.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--run", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'nope'}: run directory not found"


def test_batched_replies_equal_one_at_a_time_replies(runs, tmp_path):
    """Mixed adapters, prompt lengths and token limits in one batch change nothing: each row
    gets the reply it gets alone (float32, so rounding cannot tip a greedy choice)."""
    import torch

    from assistant.serve import create_server

    jobs = [("tiny", "Hi", 16), ("base", "Do you ship to Canada, and how long does it take?", 16),
            ("twin", "Hi", 5), ("tiny", "What beans do you roast this week for espresso?", 12),
            ("base", "Hi", 9), ("tiny", "Decaf?", 16)]
    log = tmp_path / "requests.jsonl"
    server, thread, url = start_uvicorn(create_server(runs, log_path=log, echo=None, dtype=torch.float32))
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)

        def reply(job):
            model, content, limit = job
            answer = ask(client, model=model, content=content, max_tokens=limit)
            return answer.choices[0].message.content, answer.usage.completion_tokens

        alone = [reply(job) for job in jobs]
        with ThreadPoolExecutor(len(jobs)) as pool:
            together = list(pool.map(reply, jobs))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert together == alone
    assert all(tokens <= limit for (_, tokens), (_, _, limit) in zip(together, jobs))
    batches = [json.loads(line)["batch"] for line in log.read_text().splitlines()]
    assert batches[: len(jobs)] == [1] * len(jobs) and max(batches[len(jobs):]) > 1
