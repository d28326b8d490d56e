"""A Llama-architecture decoder (`model_type: llama` with default rotary embeddings, such
as SmolLM2) as a few PyTorch functions over the checkpoint's tensors, with a KV cache.

Each step mirrors transformers' `LlamaForCausalLM` with SDPA attention op for op (RMSNorm
in fp32, rotary tables in fp32 cast to the weights' dtype, grouped-query SDPA, tied or
separate output layer), so greedy replies are the same tokens; tests/test_quickstart.py
checks that against transformers on a tiny random model and on the embedded one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

ADAPTER_PREFIX = "base_model.model."  # PEFT's prefix for the wrapped model's module names
PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
# generation_config.json keys that leave ChatModel's replies as this path makes them: ids,
# bookkeeping, and the settings ChatModel's generate call sets itself (top_k is read).
NEUTRAL_GENERATION_KEYS = {
    "_from_model_config", "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id",
    "decoder_start_token_id", "use_cache", "output_attentions", "output_hidden_states", "return_dict_in_generate",
    "do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "max_length", "max_new_tokens",
}
# PEFT LoRA options beyond plain low-rank updates of linear weights
ADAPTER_EXTRAS = ("modules_to_save", "rank_pattern", "alpha_pattern", "layers_to_transform", "layer_replication",
                  "trainable_token_indices", "alora_invocation_tokens", "target_parameters", "use_qalora",
                  "arrow_config", "lora_bias", "megatron_config")


class Unsupported(Exception):
    """This model, tokenizer or adapter is not one the quick-start path reproduces."""


def rope_settings(config: dict) -> dict:
    """The rotary settings as transformers reads them: `rope_scaling` (older configs) wins
    over `rope_parameters`, and the kind is named `rope_type` or `type`."""
    return config.get("rope_scaling") or config.get("rope_parameters") or {}


def unsupported_reason(config: dict) -> str | None:
    """Why this model config is not one this decoder reproduces exactly; None if it is."""
    rope = rope_settings(config)
    kind = rope.get("rope_type", rope.get("type", "default"))
    checks = [
        (config.get("model_type") == "llama", f"model type {config.get('model_type')!r} is not llama"),
        (kind == "default", f"rope type {kind!r}"),
        (config.get("hidden_act", "silu") == "silu", f"activation {config.get('hidden_act')!r}"),
        (not config.get("attention_bias") and not config.get("mlp_bias"), "biased projections"),
        (config.get("pretraining_tp", 1) == 1, "tensor-parallel pretraining layout"),
        (not config.get("quantization_config"), "quantized weights"),
    ]
    return next((reason for ok, reason in checks if not ok), None)


def generation_unsupported_reason(generation_config: dict) -> str | None:
    """Why the model's own generation defaults would make transformers' replies differ."""
    extra = sorted(k for k, v in generation_config.items() if k not in NEUTRAL_GENERATION_KEYS and v not in (None, False))
    return f"generation_config.json sets {', '.join(extra)}" if extra else None


def adapter_unsupported_reason(adapter_config: dict) -> str | None:
    """Why a PEFT adapter is not a plain LoRA this decoder can merge; None if it is."""
    plain = {"peft_type": "LORA", "use_dora": False, "fan_in_fan_out": False, "bias": "none"}
    for key, value in plain.items():
        if adapter_config.get(key, value) != value:
            return f"adapter {key}={adapter_config.get(key)!r}"
    used = [key for key in ADAPTER_EXTRAS if adapter_config.get(key)]
    return f"adapter uses {used[0]}" if used else None


class LlamaDecoder:
    """The model's weights by checkpoint name and the forward pass over them."""

    def __init__(self, config: dict, weights: dict[str, torch.Tensor]):
        self.config = config
        self.weights = weights
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads") or self.heads  # LlamaConfig's defaults
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        theta = rope_settings(config).get("rope_theta", config.get("rope_theta", 10000.0))
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim
        self.inv_freq = 1.0 / (theta ** exponents)
        self.tied = config.get("tie_word_embeddings", False)  # LlamaConfig's default
        missing = [n for n in self.weight_names() if n not in weights]
        if missing:  # transformers would initialise them at random, with a warning
            raise Unsupported(f"the checkpoint lacks {missing[0]}")
        self.output_weight = weights["model.embed_tokens.weight" if self.tied else "lm_head.weight"]
        self.dtype = self.output_weight.dtype

    def weight_names(self) -> list[str]:
        names = ["model.embed_tokens.weight", "model.norm.weight", *([] if self.tied else ["lm_head.weight"])]
        for i in range(self.layers):
            names += [f"model.layers.{i}.{n}.weight" for n in (*PROJECTIONS, "input_layernorm", "post_attention_layernorm")]
        return names

    @classmethod
    def load(cls, model_dir: Path, dtype: torch.dtype, adapter_dir: Path | None = None) -> "LlamaDecoder":
        """The checkpoint in `model_dir` in `dtype`, with a LoRA adapter's update merged in
        when `adapter_dir` is given."""
        weights = load_checkpoint(model_dir, dtype)
        if adapter_dir is not None:
            merge_lora(weights, adapter_dir)
        return cls(json.loads((model_dir / "config.json").read_text(encoding="utf-8")), weights)

    @property
    def context_limit(self) -> int:
        return int(self.config.get("max_position_embeddings", 2048))

    @torch.inference_mode()
    def next_token_logits(self, ids: torch.Tensor, cache: list) -> torch.Tensor:
        """fp32 logits [1, vocab] for the token after `ids` ([1, T], the tokens not yet in
        `cache`); `cache` (a list, empty at the start) gains their keys and values."""
        start = cache[0][0].shape[2] if cache else 0
        if not cache:
            cache.extend([(None, None)] * self.layers)
        cos, sin = self.rotary(torch.arange(start, start + ids.shape[1]))
        x = F.embedding(ids, self.weights["model.embed_tokens.weight"])
        for i in range(self.layers):
            x = self.decoder_layer(x, f"model.layers.{i}.", cos, sin, cache, i)
        x = self.rms_norm(x[:, -1:], self.weights["model.norm.weight"])
        return F.linear(x, self.output_weight)[:, -1].float()

    def decoder_layer(self, x, prefix: str, cos, sin, cache: list, i: int):
        w, (batch, length, _) = self.weights, x.shape
        h = self.rms_norm(x, w[prefix + "input_layernorm.weight"])
        q = F.linear(h, w[prefix + "self_attn.q_proj.weight"]).view(batch, length, -1, self.head_dim).transpose(1, 2)
        k = F.linear(h, w[prefix + "self_attn.k_proj.weight"]).view(batch, length, -1, self.head_dim).transpose(1, 2)
        v = F.linear(h, w[prefix + "self_attn.v_proj.weight"]).view(batch, length, -1, self.head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        past_k, past_v = cache[i]
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=-2), torch.cat([past_v, v], dim=-2)
        cache[i] = (k, v)
        attention = F.scaled_dot_product_attention(q, k, v, is_causal=length > 1, scale=self.head_dim ** -0.5,
                                                   enable_gqa=self.heads != self.kv_heads)
        attention = attention.transpose(1, 2).contiguous().reshape(batch, length, -1)
        x = x + F.linear(attention, w[prefix + "self_attn.o_proj.weight"])
        h = self.rms_norm(x, w[prefix + "post_attention_layernorm.weight"])
        gate = F.silu(F.linear(h, w[prefix + "mlp.gate_proj.weight"]))
        return x + F.linear(gate * F.linear(h, w[prefix + "mlp.up_proj.weight"]), w[prefix + "mlp.down_proj.weight"])

    def rms_norm(self, x, weight):
        x32 = x.to(torch.float32)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * x32.to(x.dtype)

    def rotary(self, positions: torch.Tensor):
        freqs = (self.inv_freq[None, :, None] @ positions[None, None, :].float()).transpose(1, 2)
        table = torch.cat((freqs, freqs), dim=-1)
        return table.cos().to(self.dtype)[:, None], table.sin().to(self.dtype)[:, None]


def load_checkpoint(model_dir: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Every tensor of the checkpoint (one safetensors file or an indexed set) in `dtype`."""
    from safetensors.torch import load_file

    index = model_dir / "model.safetensors.index.json"
    files = (sorted({model_dir / f for f in json.loads(index.read_text())["weight_map"].values()})
             if index.is_file() else [model_dir / "model.safetensors"])
    if not all(file.is_file() for file in files):
        raise Unsupported("no safetensors checkpoint")
    weights: dict[str, torch.Tensor] = {}
    for file in files:
        weights.update(load_file(file))
    return {name: tensor.to(dtype) for name, tensor in weights.items()}


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def merge_lora(weights: dict[str, torch.Tensor], adapter_dir: Path) -> None:
    """Add each LoRA pair's update to its layer's weight, as PEFT's merge does: B @ A in
    fp32 times alpha / r (alpha / sqrt(r) with rsLoRA), summed in fp32, rounded once.
    Every tensor of the adapter must be such a pair on a decoder projection."""
    from safetensors.torch import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    scaling = config["lora_alpha"] / (math.sqrt(config["r"]) if config.get("use_rslora") else config["r"])
    tensors = load_file(adapter_dir / "adapter_model.safetensors")
    for name in tensors:
        module, _, kind = name.removeprefix(ADAPTER_PREFIX).rpartition(".lora_")
        partner = name.replace(".lora_A.", ".lora_B.") if kind == "A.weight" else name.replace(".lora_B.", ".lora_A.")
        if (kind not in ("A.weight", "B.weight") or partner not in tensors or not module.endswith(PROJECTIONS)
                or f"{module}.weight" not in weights):
            raise Unsupported(f"adapter tensor {name} is not half of a LoRA pair on a decoder projection")
    for name in [n for n in tensors if n.endswith(".lora_A.weight")]:
        target = name.removeprefix(ADAPTER_PREFIX).removesuffix(".lora_A.weight") + ".weight"
        update = (tensors[name.replace(".lora_A.", ".lora_B.")].float() @ tensors[name].float()) * scaling
        weights[target] = (weights[target].float() + update).to(weights[target].dtype)
