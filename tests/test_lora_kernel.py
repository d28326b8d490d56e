"""The fused LoRA linear (assistant/lora_kernel.py) computes what PEFT's layer computes:
outputs and gradients, layer by layer and through the whole model, and falls back to PEFT
wherever its state is not plain LoRA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from assistant.config import TrainConfig
from assistant.lora_kernel import fuse_lora_layers, fused_forward
from assistant.reply_trainer import reply_loss_sum
from conftest import needs_cxx
from test_batching import collate, lora_gradient, relative_difference, rows, tiny  # noqa: F401 (fixture)


def adapted_linear(bias: bool, dropout: float = 0.0):
    """A PEFT LoRA layer around a frozen nn.Linear, with non-zero B so the adapter counts."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    wrapper = nn.Sequential()
    wrapper.add_module("proj", nn.Linear(24, 40, bias=bias))
    lora = LoraConfig(r=4, lora_alpha=12, lora_dropout=dropout, target_modules=["proj"], init_lora_weights=False)
    return get_peft_model(wrapper, lora).base_model.model.proj


def run_layer(layer, x, fused: bool):
    """(output, input gradient, A gradient, B gradient) of one forward and backward."""
    layer.zero_grad()
    x = x.detach().requires_grad_()
    y = fused_forward(layer, x) if fused else layer(x)
    (y * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
    return y.detach(), x.grad, layer.lora_A["default"].weight.grad, layer.lora_B["default"].weight.grad


@pytest.mark.parametrize("bias", [False, True])
def test_layer_output_and_gradients_equal_pefts(bias):
    layer = adapted_linear(bias)
    x = torch.randn(3, 5, 24)
    for want, got in zip(run_layer(layer, x, fused=False), run_layer(layer, x, fused=True)):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_layer_under_bf16_autocast_matches_pefts_within_bf16_rounding():
    layer = adapted_linear(bias=False)
    layer.base_layer.to(torch.bfloat16)
    for m in layer.modules():  # what assistant train does under autocast
        if hasattr(m, "cast_input_dtype_enabled"):
            m.cast_input_dtype_enabled = False
    x = torch.randn(3, 5, 24, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want, got = run_layer(layer, x, fused=False), run_layer(layer, x, fused=True)
    for w, g in zip(want, got):
        assert g.dtype == w.dtype  # bf16 activations, fp32 adapter gradients
        assert relative_difference(g.float(), w.float()) < 1e-2


def test_the_whole_model_learns_the_same_loss_and_gradient(tiny_model_dir, tokenizer, rows):
    plain, fused = tiny(tiny_model_dir, "eager"), tiny(tiny_model_dir, "eager")
    assert fuse_lora_layers(fused) == 2 * 7  # every adapted projection of both layers
    batch = collate(tokenizer, rows, padding_free=False)
    (want, n, _), (got, _, _) = reply_loss_sum(plain, batch), reply_loss_sum(fused, batch)
    assert torch.allclose(got, want, rtol=1e-5)
    assert relative_difference(lora_gradient(fused, got / n), lora_gradient(plain, want / n)) < 1e-5


def test_disabled_merged_and_dropout_adapters_fall_back_to_peft(tiny_model_dir, tokenizer, rows):
    plain, fused = tiny(tiny_model_dir, "eager"), tiny(tiny_model_dir, "eager")
    fuse_lora_layers(fused)
    batch = collate(tokenizer, rows, padding_free=False)
    with torch.no_grad():
        with plain.disable_adapter(), fused.disable_adapter():
            base = plain(**batch).logits
            assert torch.equal(fused(**batch).logits, base)
        adapted = plain(**batch).logits
        assert (adapted - base).abs().max() > 0.1  # the adapter moves the logits
        fused.merge_adapter()  # merged weights: the adapter must not be added a second time
        assert torch.allclose(fused(**batch).logits, adapted, rtol=1e-5, atol=1e-4)

    layer = adapted_linear(bias=False, dropout=0.5)
    layer.train()
    x = torch.randn(2, 3, 24)
    torch.manual_seed(1)
    want = layer(x)
    torch.manual_seed(1)
    assert torch.equal(fused_forward(layer, x), want)  # the same dropout draw: PEFT's own path ran


def test_deepspeed_managed_weights_go_through_pefts_layer(monkeypatch):
    """A weight that DeepSpeed ZeRO-3 manages (it carries a `ds_id`) is gathered by its
    module's hooks, so the kernel, which would skip them, hands the call to PEFT's layer."""
    from assistant import lora_kernel

    layer = adapted_linear(bias=False)
    kernel_calls = []
    monkeypatch.setattr(lora_kernel.LoraLinearFunction, "apply", lambda *a: kernel_calls.append(a) or a[0])
    x = torch.randn(2, 3, 24)
    fused_forward(layer, x)
    assert len(kernel_calls) == 1
    layer.base_layer.weight.ds_id = 7
    with torch.no_grad():
        assert torch.equal(fused_forward(layer, x), layer(x))
    assert len(kernel_calls) == 1


def test_only_plain_frozen_linear_layers_are_taken_over():
    assert fuse_lora_layers(adapted_linear(bias=False)) == 1
    trainable_base = adapted_linear(bias=True)
    trainable_base.base_layer.weight.requires_grad_(True)  # a frozen weight gets no gradient here
    assert fuse_lora_layers(trainable_base) == 0


@needs_cxx
def test_lora_model_fuses_unless_compiled(tiny_model_dir):
    from assistant.training import lora_model

    config = TrainConfig(base_model=tiny_model_dir, lora_r=4, lora_alpha=8)
    fused = lora_model(tiny_model_dir, config, "eager")
    assert sum("forward" in vars(m) for m in fused.modules()) == 2 * 7
    compiled = lora_model(tiny_model_dir, config, "eager", compile_layers=True)  # Inductor fuses instead
    assert not any("forward" in vars(m) for m in compiled.modules())
