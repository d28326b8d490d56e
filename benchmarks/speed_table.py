"""The Markdown section benchmarks/speed.py writes into BENCHMARKS.md, from its figures."""

from __future__ import annotations

import statistics

from train_runs import STEADY_FROM

from assistant.compiling import COLD_PAYS_FROM_STEPS, WARM_PAYS_FROM_STEPS


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def training_rows(f: dict) -> list[str]:
    rows = ["| trainer | tokens/s | steady tokens/s | wall time per epoch | steps | trained tokens | padding share | "
            "model TFLOP | MFU | steady MFU | peak RSS |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in (("ours", "`assistant train`, first run on a machine"), ("trl", "TRL `SFTTrainer`, defaults"),
                       ("compiled_first", "`assistant train --compile`, first run (compiles)"),
                       ("ours_warm", "`assistant train`, later runs, compile cache warm")):
        if key not in f:
            continue
        r = f[key]
        if "compiled" in r and key != "compiled_first":
            label += " (auto: compiled)" if r["compiled"] else " (auto: not compiled)"
        if key == "trl" and not r["bf16"]:
            label += " but bf16 off"
        if len(r.get("every_tokens_per_s", [])) > 1:
            label += f", median of {len(r['every_tokens_per_s'])} runs"
        steady = r.get("steady_tokens_per_s")
        rows.append(f"| {label} | {r['tokens_per_s']:.0f} | {f'{steady:.0f}' if steady else 'n/a'} | {r['epoch_s']:.0f} s "
                    f"| {r['steps']} | {r['tokens']:,} | {r['padding_share']:.1%} | {r['flops'] / 1e12:.1f} "
                    f"| {mfu(f, key):.1%} | {f'{steady_mfu(f, key):.1%}' if steady else 'n/a'} | {r['peak_rss_mb']:.0f} MB |")
    return rows


def peak(f: dict, key: str) -> float:
    """The measured matmul peak, FLOP/s, in the precision the run trained in: bf16 where
    autocast ran, else fp32 (a CPU without native bf16 trains in fp32, and there its bf16
    rate is an emulation's, a fraction of fp32's)."""
    return f[f"peak_{f[key].get('precision', 'bf16')}"] * 1e9


def mfu(f: dict, key: str) -> float:
    """Model FLOPs of the epoch over its whole wall time, as a share of the measured peak."""
    return f[key]["flops"] / f[key]["runtime_s"] / peak(f, key)


def steady_mfu(f: dict, key: str) -> float:
    """The same at the steady-state rate, with the epoch's average FLOPs per trained token."""
    r = f[key]
    return r["flops"] / r["tokens"] * r["steady_tokens_per_s"] / peak(f, key)


def mfu_phrase(f: dict, key: str) -> str:
    if not f[key].get("steady_tokens_per_s"):
        return "n/a"
    value = steady_mfu(f, key)
    return f"**{value:.1%}** ({verdict(value >= 0.5)})"


def steady_ratio(f: dict) -> str:
    ours, compiled = f["ours"].get("steady_tokens_per_s"), f["ours_warm"].get("steady_tokens_per_s")
    return f" and {compiled / ours:.2f}x in steady state" if ours and compiled else ""


def payback(f: dict) -> str:
    """After how many steps a compiled run (first ever, and cache warm) has taken less wall
    time than a default one: each run's time is its overhead plus steps at its steady
    rate, both estimated from the measured epoch."""
    ours, warm, first = f["ours"], f["ours_warm"], f["compiled_first"]
    if not (ours.get("steady_tokens_per_s") and warm.get("steady_tokens_per_s")):
        return ""
    tokens_per_step = ours["tokens"] / ours["steps"]
    t_default = tokens_per_step / ours["steady_tokens_per_s"]
    t_compiled = tokens_per_step / warm["steady_tokens_per_s"]
    if t_compiled >= t_default:
        return "; here compiled steps were not faster"

    def overhead(r, per_step):
        return r["runtime_s"] - r["steps"] * per_step

    def even(r):
        return max(0.0, (overhead(r, t_compiled) - overhead(ours, t_default)) / (t_default - t_compiled))

    return (f"; a compiled step saves {t_default - t_compiled:.2f} s, so a compiled run comes out ahead after about "
            f"{even(first):.0f} steps the first time and {even(warm):.0f} steps once the cache is warm, which is why "
            f"`compile: auto` compiles a CPU run of {COLD_PAYS_FROM_STEPS} steps or more on a machine that has not "
            f"compiled the model yet, and of {WARM_PAYS_FROM_STEPS} steps or more once it has")


def compile_note(f: dict) -> str:
    """What compiling gained: later (warm-cache) runs against the first-run settings where
    `compile: auto` compiled them; where it did not (a GPU, no C++ compiler), the one
    `--compile` run."""
    ours, warm, first = f["ours"], f["ours_warm"], f["compiled_first"]
    if not warm.get("compiled"):
        return (f"- `compile: auto` did not compile the later runs here (it compiles only long single-process CPU "
                f"runs, where a C++ compiler is installed), so both "
                f"rows above are uncompiled. `--compile` on an empty compile cache ran at "
                f"{first['tokens_per_s'] / ours['tokens_per_s']:.2f}x their tokens/s over the epoch, its compiling "
                "included.")
    compile_cost = first["runtime_s"] - warm["runtime_s"]
    return (f"- Compiled, `assistant train` runs at {warm['tokens_per_s'] / ours['tokens_per_s']:.2f}x the uncompiled "
            f"tokens/s over the epoch{steady_ratio(f)}. The first compiled run on a machine spends about "
            f"{compile_cost:.0f} s more than later ones, compiling (cached on disk after; later runs still trace the "
            f"layers and load the cached kernels){payback(f)}.")


def trl_bf16(f: dict) -> str:
    """How TRL's bf16 was set, and why where it is not its default."""
    if not f["trl"]["bf16"]:
        return (f"bf16 off (its default is on, but this CPU emulates bf16 matmuls at {f['peak_bf16']:.1f} GFLOP/s "
                f"against {f['peak_fp32']:.0f} in fp32, too slow for TRL's run to finish; `assistant train` trains "
                "in fp32 here too)")
    if f["ours"].get("precision") != "fp32":
        return "bf16 on (its defaults)"
    return (f"bf16 on (its defaults; this CPU has no native bf16, so its bf16 matmuls are emulated: "
            f"{f['peak_bf16']:.0f} GFLOP/s against {f['peak_fp32']:.0f} in fp32, which `assistant train` uses here)")


def every_run(f: dict) -> list[str]:
    """The tokens/s of each repeated run, in the order they ran (alternating kinds)."""
    runs = {key: f[key].get("every_tokens_per_s", []) for key in ("ours", "ours_warm")}
    if not all(len(r) > 1 for r in runs.values()):
        return []
    listed = {key: ", ".join(f"{v:.0f}" for v in r) for key, r in runs.items()}
    return [f"- Every run, trained tokens/s, alternating so the machine's drift falls on both kinds alike: "
            f"first-run settings (uncompiled) {listed['ours']}; compile cache warm {listed['ours_warm']}. "
            "The table shows each kind's median run."]


def trl_precision(f: dict) -> str:
    return f"; TRL: {f['trl'].get('precision', 'bf16')}" if "trl" in f else ""


def training_notes(f: dict) -> list[str]:
    ours = f["ours"]
    notes = []
    if "trl" in f:
        trl = f["trl"]
        ratio = ours["tokens_per_s"] / trl["tokens_per_s"]
        notes.append(f"- Speed-up over TRL's defaults{'' if trl['bf16'] else ' (bf16 off)'}: **{ratio:.2f}x** "
                     f"trained tokens per second, the same {f['steps']} steps of batch 8 (target at least 1.5x: "
                     f"{verdict(ratio >= 1.5)}). TRL ran with gradient checkpointing "
                     f"{'on' if trl['gradient_checkpointing'] else 'off'} and {trl_bf16(f)}, random-order padded "
                     "batches, and logits and loss at every position.")
    warm = f["ours_warm"]
    notes += every_run(f)
    notes += [
        f"- MFU against the matmul peak measured in this run in the precision each run trained in (`assistant "
        f"train`: {ours.get('precision', 'bf16')}{trl_precision(f)}), the best of measurements before and after "
        f"the training runs (bf16 {f['peak_bf16']:.0f} GFLOP/s, fp32 {f['peak_fp32']:.0f}). Target at least 50%. "
        f"Over the whole epoch: `assistant train` on a machine that has compiled the model before "
        f"(`compile: auto` {'compiled' if warm['compiled'] else 'did not compile'}) **{mfu(f, 'ours_warm'):.1%}** "
        f"({verdict(mfu(f, 'ours_warm') >= 0.5)}); its first run on a machine, not compiled, "
        f"**{mfu(f, 'ours'):.1%}** ({verdict(mfu(f, 'ours') >= 0.5)}). Steady state (from step {STEADY_FROM}, "
        f"after warm-up and compiling): {mfu_phrase(f, 'ours_warm')} and {mfu_phrase(f, 'ours')}. "
        f"Attention kernel: {ours['attention']}.",
        compile_note(f),
        "- Model FLOPs per epoch, from the examples' lengths: 4·N_frozen per token (forward 2N, backward to "
        "the activations 2N; frozen weights need no weight gradient) + 6·N_lora per token + 4·d·V per logit "
        "row (at labelled positions for `assistant train`, which computes only those; at every position for "
        "TRL) + 6·L·d·T(T+1) of causal attention per example of T tokens. N_frozen counts the decoder's "
        "linear weights; gradient-checkpointing recomputation is not model FLOPs.",
        f"- Padding share of computed tokens: {ours['padding_share_random_order']:.1%} with random-order batches "
        f"(before), {ours['padding_share']:.1%} with `assistant train`'s length-grouped batches (after); "
        "0% with `padding_free: true` (flattened batches, the better choice with flash-attention on a GPU; "
        "on this CPU the dense block mask costs more than the padding it saves).",
    ]
    return notes


def seconds(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s median of {', '.join(f'{v:.1f}' for v in values)} s"


def vs_base(gen: dict, name: str, base: str = "base") -> float:
    """Median over rounds of this mode's tokens/s over the base's in the same round: the rounds
    interleave the modes, so pairing them cancels the machine's drift between rounds."""
    pairs = zip(gen[name]["all_tps"], gen[base]["all_tps"])
    return statistics.median(mode / base_tps for mode, base_tps in pairs)


def start_and_generation(f: dict) -> list[str]:
    later = statistics.median(f["cold_later"])
    gen = f["generation"]
    lines = [
        "Cold start, from starting `assistant chat --base` with a message waiting on its input to the first "
        "generated token on its output:", "",
        f"- first ever (fresh `$ASSISTANT_HOME`: the GGUF file is dequantized and cached): {f['cold_first']:.1f} s",
        f"- later starts (cached model; the quick-start decoder `assistant chat` uses for Llama-family models): "
        f"**{seconds(f['cold_later'])}** (target at most 3 s: {verdict(later <= 3)})",
        f"- later starts with `--engine transformers`: {seconds(f['cold_later_transformers'])}",
        f"- the libraries' import alone: `import torch` {seconds(f['import_floor_torch'])}; torch and "
        f"transformers' `LlamaForCausalLM` and `AutoTokenizer` {seconds(f['import_floor'])}",
        "", f"Generation at a 200-token prompt, 64 new tokens, greedy, batch 1 (medians of {len(gen['base']['all_tps'])} "
        "interleaved rounds; \"vs base\" is the median of each round's ratio to that round's base):", "",
        "| model | time to first token | tokens/s | vs base |", "|---|---|---|---|",
    ]
    for name, r in gen.items():
        lines.append(f"| {name} | {r['ttft_s'] * 1000:.0f} ms | {r['tokens_per_s']:.1f} | "
                     f"{vs_base(gen, name):.2f}x |")
    tuned = vs_base(gen, "tuned")
    quick = [name for name in gen if "quick start" in name]
    quick_ratio = vs_base(gen, quick[1], base=quick[0]) if len(quick) == 2 else None
    lines += ["", f"- Tuned at **{tuned:.2f}x** the base model's tokens/s (target at least 0.9x: "
              f"{verdict(tuned >= 0.9)}): a tuned reply generated on its own runs on merged weights; mixed "
              "base-and-tuned batches (the side-by-side app, `assistant serve`) keep the adapter unmerged."
              + (f" The quick-start decoder merges the adapter at load: tuned at {quick_ratio:.2f}x its base."
                 if quick_ratio else "")]
    return lines


def gpu_memory(run: dict) -> str:
    """A GPU run's peak GPU memory, beside its host RSS."""
    return f" (GPU: {run['gpu_peak_mb']:.0f} MB peak allocated)" if "gpu_peak_mb" in run else ""


def memory(f: dict) -> list[str]:
    mem = f["memory"]
    plain = mem["plain"]
    lines = ["", "Peak resident memory:", "", "| process | peak RSS (GPU peak) | vs one plain model |", "|---|---|---|",
             f"| `assistant train`, demo epoch | {f['ours']['peak_rss_mb']:.0f} MB{gpu_memory(f['ours'])} | |"]
    if "trl" in f:
        lines.append(f"| TRL `SFTTrainer`, same work | {f['trl']['peak_rss_mb']:.0f} MB{gpu_memory(f['trl'])} | |")
    labels = {"plain": "one plain model, one reply", "app": "the app: base + tuned side by side (one model + adapter)",
              "naive": "two full models (base and merged tuned)"}
    lines += [f"| {labels[name]} | {mib:.0f} MB | {mib / plain:.2f}x |" for name, mib in mem.items()]
    return lines


def where(f: dict) -> str:
    """Where training and the matmul peak ran: the GPU on a GPU node, else the CPU's threads."""
    return f"on {f['accelerator']}" if f.get("accelerator") else f"with {f['threads']} threads"


def render(heading: str, f: dict, machine: str, date: str) -> str:
    lines = [
        heading, "",
        f"`make bench` (`python benchmarks/speed.py --write-benchmarks`), run {date} on {machine}, torch "
        f"{f['torch']} {where(f)}; every figure below comes from this one run. Training: the "
        f"demo data ({f['examples']} training pairs), demo/train.yaml's LoRA settings (r 16, all linear layers), "
        f"batch 8, one epoch ({f['steps']} steps), no validation passes.", "",
        *training_rows(f), "", *training_notes(f), "", *start_and_generation(f), *memory(f), "",
    ]
    return "\n".join(lines)
