"""Checking an export against the model it came from.

Before merging, base+adapter answers a few probe prompts greedily; its logits over each
prompt+reply are kept. The exported model, loaded back the way its users will load it
(plain transformers, or transformers' GGUF loader), is run on the same token ids. A wrong
tensor name, a missed q/k permutation or a lost adapter shows as large logit differences and
different replies; storage rounding (bf16, f16, q8_0) as small ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError
from ..generation import reply_stop_ids
from .merge import PROBE_PROMPTS, MergedRun

MAX_NEW_TOKENS = 40
# Fewer positions than this agreeing on the top token means the export is broken, not
# rounded: f16/bf16/q8_0 storage keeps well above it (see docs/deploy.md for measurements).
MIN_TOP1_AGREEMENT = 0.9


@dataclass
class Probe:
    prompts: list[list[int]]  # prompt ids (system + user + generation prompt)
    sequences: list[list[int]]  # prompt + greedy reply ids
    logits: list  # float32 tensors [len(sequence), vocab]
    replies: list[str]


@dataclass
class Agreement:
    probes: int
    replies_identical: int
    top1_agreement: float  # share of positions whose most likely next token is the same
    max_logit_diff: float
    mean_logit_diff: float
    # replies that differ where rounding cannot explain it: at their first different token,
    # base+adapter preferred its own token by more than the export moved any logit there
    unexplained_divergences: int = 0

    def summary(self) -> str:
        differing = self.probes - self.replies_identical
        near_ties = differing - self.unexplained_divergences
        reasons = []
        if near_ties:
            reasons.append(f"{near_ties} first differ at a near-tie within the measured rounding")
        if self.unexplained_divergences:
            reasons.append(f"{self.unexplained_divergences} differ beyond rounding")
        return (
            f"greedy replies identical on {self.replies_identical}/{self.probes} probe prompts"
            + (f" ({', '.join(reasons)})" if reasons else "") + "; "
            f"top-1 token agreement {self.top1_agreement:.1%}; "
            f"logit difference max {self.max_logit_diff:.4f}, mean {self.mean_logit_diff:.5f}"
        )


def greedy_batch(model, tokenizer, prompts: list[list[int]], max_new_tokens: int = MAX_NEW_TOKENS) -> list[list[int]]:
    """Each prompt + its greedy continuation up to its stop token (no repetition penalty: a
    pure model comparison), all in one left-padded batch: on a CPU a decoding step costs
    about the same for 3 rows as for 1 (see generation.GENERATION_BATCH). Reference and
    export are both probed this way, so they meet the same padding. Exporting a 32-step demo
    run on 2 AVX2 cores: HF 25.9-29.5 s against 34.5 s probing one prompt at a time, GGUF
    32.1-34.3 s against 42.1 s, with the same agreement figures."""
    import torch

    if not prompts:
        return []
    stops = reply_stop_ids(tokenizer)
    batch = tokenizer.pad({"input_ids": prompts}, padding_side="left", return_tensors="pt")
    with torch.inference_mode():
        output = model.generate(**batch, do_sample=False, temperature=None, top_p=None, top_k=None,
                                max_new_tokens=max_new_tokens, eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
    sequences = []
    for prompt, row in zip(prompts, output[:, batch["input_ids"].shape[1]:].tolist()):
        end = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
        sequences.append(list(prompt) + row[:end])
    return sequences


def greedy(model, tokenizer, prompt: list[int], max_new_tokens: int = MAX_NEW_TOKENS) -> list[int]:
    """One prompt + its greedy continuation up to its stop token."""
    return greedy_batch(model, tokenizer, [prompt], max_new_tokens)[0]


def sequence_logits(model, sequence: list[int]):
    import torch

    with torch.inference_mode():
        return model(input_ids=torch.tensor([sequence])).logits[0].float()


def decode_reply(tokenizer, sequence: list[int], prompt_length: int) -> str:
    return tokenizer.decode(sequence[prompt_length:], skip_special_tokens=True).strip()


def probe_model(model, tokenizer, system_prompt: str, prompts=PROBE_PROMPTS) -> Probe:
    ids = [tokenizer.apply_chat_template([{"role": "system", "content": system_prompt}, {"role": "user", "content": text}],
                                         add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
           for text in prompts]
    sequences = greedy_batch(model, tokenizer, ids)
    return Probe(ids, sequences, [sequence_logits(model, sequence) for sequence in sequences],
                 [decode_reply(tokenizer, sequence, len(prompt)) for prompt, sequence in zip(ids, sequences)])


def divergence_is_rounding(reference: list[int], candidate: list[int], ref_logits, logit_diff) -> bool:
    """Whether the first token where two greedy sequences part is one that rounding can flip.

    Logits at row i predict token i+1, and the prefix up to the split is shared, so the
    teacher-forced rows are the ones each model decided on (up to the last bits that the
    probes' left padding moves). If the export moved no logit at that row by more than d, it
    can only prefer another token when base+adapter's margin for its own token over that one
    is at most 2d: a near-tie, not a broken export.
    """
    split = next((i for i, (a, b) in enumerate(zip(reference, candidate)) if a != b), None)
    if split is None:  # one is a prefix of the other: the same tokens up to a stop
        return True
    row = split - 1
    margin = float(ref_logits[row, reference[split]] - ref_logits[row, candidate[split]])
    return margin <= 2 * float(logit_diff[row].max())


def measure(reference: Probe, candidate_model, tokenizer) -> Agreement:
    """Run the candidate on the reference's token ids, and let it answer the same prompts."""
    agree = total = identical = unexplained = 0
    max_diff, diff_sum, diff_count = 0.0, 0.0, 0
    candidates = greedy_batch(candidate_model, tokenizer, reference.prompts)
    for prompt, sequence, ref_logits, ref_reply, candidate in zip(reference.prompts, reference.sequences,
                                                                  reference.logits, reference.replies, candidates):
        logits = sequence_logits(candidate_model, sequence)
        diff = (logits - ref_logits).abs()
        max_diff = max(max_diff, float(diff.max()))
        diff_sum += float(diff.sum())
        diff_count += diff.numel()
        agree += int((logits.argmax(-1) == ref_logits.argmax(-1)).sum())
        total += logits.shape[0]
        if decode_reply(tokenizer, candidate, len(prompt)) == ref_reply:
            identical += 1
        elif not divergence_is_rounding(sequence, candidate, ref_logits, diff):
            unexplained += 1
    return Agreement(len(reference.prompts), identical, agree / max(total, 1), max_diff,
                     diff_sum / max(diff_count, 1), unexplained)


def compare_with_reference(merged: MergedRun, candidate_model) -> Agreement:
    """Measure the export against base+adapter; refuse one that is broken, not just rounded."""
    if merged.reference is None:
        raise AssistantError("internal: the merged run was loaded without its reference probe")
    agreement = measure(merged.reference, candidate_model, merged.tokenizer)
    if agreement.top1_agreement < MIN_TOP1_AGREEMENT:
        raise AssistantError(
            f"the exported model does not reproduce base+adapter ({agreement.summary()}); "
            "nothing was written"
        )
    return agreement


def load_hf_export(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    AutoTokenizer.from_pretrained(folder)  # must load on its own too
    return model


def load_gguf_export(path: Path):
    """The GGUF file read back by transformers' own GGUF loader (dequantized to float32)."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    except Exception as exc:
        raise AssistantError(f"{path.name}: transformers cannot load the written GGUF file ({exc})") from None


def check_gguf_tokenizer(path: Path, merged: MergedRun) -> None:
    """The tokenizer rebuilt from the file's metadata must give the same prompt ids and carry
    the same chat template as the original."""
    from transformers import AutoTokenizer

    from .modelfile import PROBE_CONVERSATION

    try:
        loaded = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    except Exception as exc:
        raise AssistantError(f"{path.name}: transformers cannot read the tokenizer back ({exc})") from None
    messages = [{"role": "system", "content": merged.system_prompt}, *PROBE_CONVERSATION]
    ids = [t.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
           for t in (merged.tokenizer, loaded)]
    if ids[0] != ids[1]:
        raise AssistantError(f"{path.name}: the tokenizer read back from the file tokenizes the chat differently")
