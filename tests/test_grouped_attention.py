"""Grouped eager attention computes what transformers' eager attention computes."""

from __future__ import annotations

import torch

from assistant import grouped_attention
from assistant.grouped_attention import NAME, use_grouped_attention
from test_batching import collate, lora_gradient, relative_difference, rows, tiny  # noqa: F401  (rows: a fixture)


def test_logits_and_gradients_match_eager_on_padded_and_packed_batches(tiny_model_dir, tokenizer, rows):
    eager, grouped = tiny(tiny_model_dir, "eager"), tiny(tiny_model_dir, NAME)
    assert grouped.config._attn_implementation == NAME and grouped.config.num_key_value_heads < grouped.config.num_attention_heads
    for padding_free in (False, True):
        batch = collate(tokenizer, rows, padding_free)
        want, got = eager(**batch), grouped(**batch)
        assert relative_difference(got.logits, want.logits) < 1e-6
        assert relative_difference(lora_gradient(grouped, got.loss), lora_gradient(eager, want.loss)) < 1e-5


def test_generation_with_a_kv_cache_matches_eager(tiny_model_dir, tokenizer, rows):
    """Decoding steps attend one new query over a longer cached key length."""
    eager, grouped = tiny(tiny_model_dir, "eager"), tiny(tiny_model_dir, NAME)
    prompt = torch.tensor([rows[1]["input_ids"][:12]])
    with torch.no_grad():
        want = eager.generate(prompt, max_new_tokens=6, do_sample=False, use_cache=True)
        got = grouped.generate(prompt, max_new_tokens=6, do_sample=False, use_cache=True)
    assert torch.equal(got, want)


def test_only_plain_eager_models_switch(tiny_model_dir):
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(tiny_model_dir)
    for attention, switches in (("eager", True), ("sdpa", False)):
        config._attn_implementation = attention
        model = AutoModelForCausalLM.from_config(config)
        assert use_grouped_attention(model) is switches
        assert model.config._attn_implementation == (NAME if switches else attention)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config)
    model.config.model_type = "gemma2"  # soft-capping in its own eager attention: left alone
    assert not use_grouped_attention(model) and model.config._attn_implementation == "eager"
    assert "gemma2" not in grouped_attention.PLAIN_EAGER
