"""Quick start: `assistant chat`'s first reply within about 1.5 s of the command, where
transformers alone takes longer than that to import.

On the 2-core CPU, `import torch` takes about 1.1 s and transformers' Llama classes and
tokenizer another 2.5 s (its modelling code eagerly imports torch.distributed.tensor,
torch._dynamo and scipy), so no reply generated through transformers can start within
3 s of the process. Llama-family models are simple enough to run straight from their
safetensors checkpoint: `llama.LlamaDecoder` is that forward pass (no transformers import),
`tokenizer.ChatTokenizer` the tokenizer and chat template, and `chat.QuickChatModel` the
sampling and streaming around them, with the same interface as `generation.ChatModel`.

This path is written by hand because no installed library runs a checkpoint without
transformers' import cost (llama.cpp's Python bindings have no wheel). It covers only
what it reproduces exactly, checked token for token against transformers in
tests/test_quickstart.py: Llama-architecture models with default rotary embeddings, a
tokenizer transformers loads as stored, no generation defaults beyond top-k, and plain
LoRA adapters. Anything else, or `--engine transformers`, uses `ChatModel`.
"""
