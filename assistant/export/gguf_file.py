"""Writing a merged Llama-family model as one GGUF file with the `gguf` package.

The `gguf` package writes the container; what goes into it follows llama.cpp's own
converter (convert_hf_to_gguf.py, which is a script, not an importable library):
- tensor names from gguf's TensorNameMap for the llama architecture;
- q_proj/k_proj rows permuted into llama.cpp's rotary layout (transformers' GGUF loader and
  llama.cpp both undo/expect exactly this permutation);
- 1-D tensors (norms) always float32; 2-D weights in the chosen type;
- the tokenizer as a GPT-2-style BPE vocabulary: tokens, token types (special tokens are
  CONTROL, so llama.cpp treats <|im_end|> as end of turn), merges, special ids and the chat
  template. The pre-tokenizer name is copied from the GGUF file the base model came from
  when there is one (the embedded SmolLM2 says "smollm").
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

from ..errors import AssistantError
from .merge import MergedRun

TENSOR_TYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0"}
FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7, "bf16": 32}  # llama.cpp's LLAMA_FTYPE values


def write_gguf(merged: MergedRun, path: Path, tensor_type: str) -> None:
    import gguf

    config = merged.model.config
    check_supported(config)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    add_model_metadata(writer, merged, tensor_type)
    add_tokenizer(writer, merged)
    add_tensors(writer, merged.model, tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_supported(config) -> None:
    if getattr(config, "model_type", None) != "llama":
        raise AssistantError(
            f"GGUF export supports Llama-family base models (model_type 'llama'); this run's base is "
            f"'{getattr(config, 'model_type', '?')}'. Export with --format hf and convert that with "
            "llama.cpp's convert_hf_to_gguf.py"
        )
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise AssistantError(f"GGUF export: rope type {rope.get('rope_type')!r} is not supported (only the default)")


def add_model_metadata(writer, merged: MergedRun, tensor_type: str) -> None:
    config = merged.model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_name(merged.name)
    writer.add_finetune(merged.name)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, merged.base_model)
    writer.add_description("LoRA fine-tune merged into the base weights by `assistant export`")
    writer.add_vocab_size(config.vocab_size)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_file_type(FILE_TYPES[tensor_type])
    writer.add_quantization_version(2)


def add_tokenizer(writer, merged: MergedRun) -> None:
    import gguf

    tokenizer = merged.tokenizer
    tokens, types = token_list(tokenizer, merged.model.config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(source_pre_tokenizer(merged.base_path) or "default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    with tempfile.TemporaryDirectory() as folder:  # SpecialVocab reads tokenizer files
        tokenizer.save_pretrained(folder)
        special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens))
    if not special.merges:
        raise AssistantError("GGUF export: the tokenizer has no BPE merges (only byte-level BPE tokenizers are supported)")
    special.chat_template = tokenizer.chat_template
    # Written explicitly, as llama.cpp's defaults differ by vocabulary type: does the HF
    # tokenizer put BOS in front of a plain text?
    special.add_special_token.setdefault("bos", tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id])
    special.add_to_gguf(writer, quiet=True)
    writer.add_add_space_prefix(False)  # byte-level BPE encodes spaces itself


def token_list(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id and their llama.cpp types, as convert_hf_to_gguf.py assigns them:
    special added tokens CONTROL, other added tokens USER_DEFINED, ids the tokenizer does
    not use (embedding rows padded beyond the vocabulary) UNUSED."""
    import gguf

    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, [int(t) for t in types]


def source_pre_tokenizer(base_path: Path) -> str | None:
    """tokenizer.ggml.pre of the GGUF file the base model was converted from, if any."""
    from ..base_model import CONVERTED_MARKER

    try:
        marker = json.loads((base_path / CONVERTED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker.get("tokenizer_pre") or gguf_pre_tokenizer(str(marker.get("source", "")))


@functools.cache
def gguf_pre_tokenizer(source: str) -> str | None:
    """Read from the file itself, for caches converted before the marker recorded it
    (seconds: GGUFReader parses all metadata, 49k tokens included)."""
    from ..base_model import gguf_field

    try:
        return gguf_field(Path(source), "tokenizer.ggml.pre")
    except (OSError, ValueError):
        return None


def add_tensors(writer, model, tensor_type: str) -> None:
    import gguf

    config = model.config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and config.tie_word_embeddings:
            continue  # llama.cpp reuses token_embd for the output, as the original file does
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise AssistantError(f"GGUF export: no GGUF name for tensor {hf_name}")
        data = tensor.float().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = permute_rotary(data, config.num_attention_heads, config.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = permute_rotary(data, config.num_attention_heads, config.num_key_value_heads)
        add_tensor(writer, name, data, tensor_type)


def permute_rotary(weights, n_head: int, n_head_kv: int):
    """HF stores rotary halves per head as [first half | second half]; llama.cpp interleaves
    them. The same reshape as convert_hf_to_gguf.py's LlamaModel.permute."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def add_tensor(writer, name: str, data, tensor_type: str) -> None:
    import gguf
    import numpy as np

    qtype = gguf.GGMLQuantizationType[TENSOR_TYPES[tensor_type]]
    if data.ndim <= 1 or qtype == gguf.GGMLQuantizationType.F32:
        writer.add_tensor(name, data.astype(np.float32))
        return
    if qtype == gguf.GGMLQuantizationType.Q8_0 and data.shape[-1] % 32:
        writer.add_tensor(name, data.astype(np.float16))  # rows not a multiple of Q8_0's block
        return
    if qtype == gguf.GGMLQuantizationType.F16:
        writer.add_tensor(name, data.astype(np.float16))
        return
    writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
