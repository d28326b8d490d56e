"""What the model learns from each example must not depend on how examples are batched:
padded, length-grouped or packed into one flattened sequence, and with the loss computed
only at trained positions. Checked on the tiny model in fp32, per example and per gradient."""

from __future__ import annotations

import pytest
import torch

from assistant import grouped_attention
from assistant.chat_format import IGNORE_INDEX, tokenize_example
from assistant.config import TrainConfig
from assistant.reply_trainer import reply_loss_sum
from assistant.training import attention_for, batch_collator
from conftest import needs_cxx

CONVERSATIONS = [
    [{"role": "user", "content": "Where is my order?"},
     {"role": "assistant", "content": "It ships tomorrow morning."}],
    [{"role": "system", "content": "You are Acme's barista."},
     {"role": "user", "content": "Do you sell oat milk, and is it free of added sugar?"},
     {"role": "assistant", "content": "Yes, oat milk is 40 cents extra and unsweetened."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Opening hours?"}, {"role": "assistant", "content": "7am to 6pm daily."}],
]


@pytest.fixture(scope="module")
def rows(tokenizer):
    examples = [tokenize_example(tokenizer, messages) for messages in CONVERSATIONS]
    return [{"input_ids": e.input_ids, "attention_mask": [1] * len(e), "labels": e.labels} for e in examples]


def tiny(tiny_model_dir, attention):
    """The tiny Llama re-initialised with larger weights, so that what one token attends
    to visibly moves the loss (at the default 0.02 scale attention barely matters)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    if attention == grouped_attention.NAME:
        grouped_attention.register()
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(tiny_model_dir, initializer_range=0.3, use_cache=False)
    config._attn_implementation = attention
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False)
    return get_peft_model(model, lora)


def collate(tokenizer, rows, padding_free):
    return batch_collator(tokenizer, TrainConfig(padding_free=padding_free), "eager")(rows)


def per_example_loss(model, tokenizer, row):
    loss, n, _ = reply_loss_sum(model, collate(tokenizer, [row], padding_free=False))
    return float(loss / n)


def relative_difference(a, b) -> float:
    return float((a - b).norm() / b.norm())


def lora_gradient(model, loss):
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])


@pytest.mark.parametrize("attention", ["eager", "sdpa", "grouped_eager"])
def test_reply_only_logits_give_the_models_own_loss_and_gradient(tiny_model_dir, tokenizer, rows, attention):
    model = tiny(tiny_model_dir, attention)
    batch = collate(tokenizer, rows, padding_free=False)
    own = model(**batch).loss
    own_gradient = lora_gradient(model, own)
    loss_sum, n_trained, outputs = reply_loss_sum(model, batch)
    assert outputs.logits.shape[0] == n_trained == int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    assert torch.allclose(loss_sum / n_trained, own, atol=1e-5)
    assert torch.allclose(lora_gradient(model, loss_sum / n_trained), own_gradient, atol=1e-5)


@pytest.mark.parametrize("attention", ["eager", "sdpa", "grouped_eager"])
@pytest.mark.parametrize("padding_free", [False, True])
def test_batching_never_changes_what_each_example_teaches(tiny_model_dir, tokenizer, rows, attention, padding_free):
    """The batch's summed loss and its gradient equal the sums over examples trained
    one at a time: padding adds nothing, packed examples never attend to each other."""
    model = tiny(tiny_model_dir, attention)
    batch = collate(tokenizer, rows, padding_free)
    if padding_free:
        assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    batch_loss, _, _ = reply_loss_sum(model, batch)
    batch_gradient = lora_gradient(model, batch_loss)

    alone_losses, alone_gradient = [], 0
    for row in rows:
        loss, _, _ = reply_loss_sum(model, collate(tokenizer, [row], padding_free=False))
        alone_losses.append(loss)
        alone_gradient = alone_gradient + lora_gradient(model, loss)
    assert relative_difference(batch_loss, sum(alone_losses)) < 1e-5
    assert relative_difference(batch_gradient, alone_gradient) < 1e-5


def test_packed_examples_would_leak_without_restarting_positions(tiny_model_dir, tokenizer, rows):
    """The control for the test above: the same flattened batch with positions running on
    (one long sequence) gives a different loss, so the equality is not vacuous."""
    model = tiny(tiny_model_dir, "eager")
    packed = collate(tokenizer, rows, padding_free=True)
    leaking = dict(packed, position_ids=torch.arange(packed["input_ids"].shape[1])[None])
    apart, _, _ = reply_loss_sum(model, packed)
    together, _, _ = reply_loss_sum(model, leaking)
    assert relative_difference(together, apart) > 1e-3


def test_loss_is_normalised_like_the_trainers_own(tiny_model_dir, tokenizer, rows, tmp_path):
    """With gradient accumulation the Trainer passes the trained-token count of the whole
    accumulated batch; the loss is then a sum over that count, as the stock loss is."""
    from transformers import TrainingArguments

    from assistant.reply_trainer import ReplyTrainer

    model = tiny(tiny_model_dir, "eager")
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = ReplyTrainer(model=model, args=args, data_collator=batch_collator(tokenizer, TrainConfig(), "eager"))
    batch = collate(tokenizer, rows, padding_free=False)
    n = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    stock = model(**batch, num_items_in_batch=torch.tensor(3 * n)).loss
    ours = trainer.compute_loss(model, batch, num_items_in_batch=torch.tensor(3 * n))
    assert torch.allclose(ours, stock, atol=1e-6)
    assert torch.allclose(trainer.compute_loss(model, batch), model(**batch).loss, atol=1e-6)


def test_attention_choice(monkeypatch):
    import assistant.training as training

    def rows(longest):
        return [{"input_ids": [0] * 10}, {"input_ids": [0] * longest}]

    monkeypatch.setattr(training, "_cuda_available", lambda: False)
    assert attention_for(TrainConfig(), rows(300)) == "eager"
    assert attention_for(TrainConfig(), rows(1000)) == "sdpa"
    assert attention_for(TrainConfig(attention="sdpa"), rows(10)) == "sdpa"
    monkeypatch.setattr(training, "_cuda_available", lambda: True)
    assert attention_for(TrainConfig(), rows(10)) in ("sdpa", "flash_attention_2")


@needs_cxx
def test_compiled_layers_compute_the_plain_loss_and_gradient(tiny_model_dir, tokenizer, rows):
    """compile: true (torch.compile of each decoder layer, dynamic shapes) gives the loss and
    LoRA gradient of the plain model, at three batch shapes without a recompile error. The
    first layer, whose input (the frozen embeddings' output) needs no gradient, stays eager:
    compiled, it would be a graph of its own."""
    from torch._dynamo.utils import counters

    from assistant.compiling import compile_decoder_layers

    plain, compiled = tiny(tiny_model_dir, "eager"), tiny(tiny_model_dir, "eager")
    compile_decoder_layers(compiled, cuda=False)
    decoder_layers = [m for m in compiled.modules() if type(m).__name__ == "LlamaDecoderLayer"]
    assert [getattr(m, "_compiled_call_impl", None) is not None for m in decoder_layers] == [False, True]
    counters.clear()
    shortest_two = sorted(rows, key=lambda row: len(row["input_ids"]))[:2]
    assert len(shortest_two[-1]["input_ids"]) < max(len(row["input_ids"]) for row in rows)
    for number, batch_rows in enumerate((rows, shortest_two, rows[:1])):
        batch = collate(tokenizer, batch_rows, padding_free=False)
        want, got = plain(**batch).loss, compiled(**batch).loss
        assert torch.allclose(got, want, rtol=1e-5)
        assert relative_difference(lora_gradient(compiled, got), lora_gradient(plain, want)) < 1e-5
        if number == 1:
            # One graph, traced once, for both lengths: no second attempt (a restart re-traces
            # the layer and misses the compile cache) and no recompile. (A batch of one row,
            # next, recompiles: torch specialises sizes of 1.)
            assert counters["aot_autograd"]["total"] == 1
