"""The `assistant` command: a thin layer of flags over the engine modules.

Every user-caused problem arrives here as an AssistantError and leaves as one line on
stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .errors import AssistantError
from .generation import GENERATION_BATCH


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


class AssistantGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AssistantError as exc:
            raise UserError(str(exc)) from None


def no_progress_bars() -> None:
    """Weight-loading bars are noise for commands that load models several times. Call it
    before anything imports tqdm: tqdm reads TQDM_DISABLE at import, and transformers' GGUF
    loader uses tqdm directly."""
    os.environ["TQDM_DISABLE"] = "1"
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def quiet_libraries() -> None:
    """Library chatter (deprecation notes, 'generation flags' hints) buries our own output."""
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    # The environment variable, not transformers' logging module: importing transformers
    # takes 2.5 s here, which `assistant chat`'s quick start must not pay.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()


@click.group(cls=AssistantGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assistant")
def cli() -> None:
    """Turn conversation logs, FAQs and a brand voice into a LoRA-tuned chat assistant."""


def parse_speaker_map(pairs: tuple[str, ...]) -> dict[str, str] | None:
    mapping = {}
    for pair in pairs:
        name, sep, role = pair.partition("=")
        if not sep or role.strip() not in ("user", "assistant", "system") or not name.strip():
            raise AssistantError(f"--speaker-map {pair!r}: expected NAME=user, NAME=assistant or NAME=system")
        mapping[name.strip().lower()] = role.strip()
    return mapping or None


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--profile", "-p", required=True, help="Brand profile name (in brand_profiles/) or YAML path.")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Output folder for the prepared data.")
@click.option("--format", "fmt", help="Force one input format (default: detected per file).")
@click.option("--speaker-map", multiple=True, help="NAME=user|assistant for logs and transcripts (repeatable).")
@click.option("--question-column", help="FAQ column/key holding questions.")
@click.option("--answer-column", help="FAQ column/key holding answers.")
@click.option("--conversation-column", help="CSV log column holding the conversation id.")
@click.option("--speaker-column", help="CSV log column holding the speaker.")
@click.option("--text-column", help="CSV log column holding the message text.")
@click.option("--delimiter", help="Transcript line that separates conversations (default: blank lines or ---).")
@click.option("--validation-fraction", default=0.1, show_default=True, type=click.FloatRange(0, 0.9))
@click.option("--context-turns", default=6, show_default=True, type=click.IntRange(1), help="Earlier messages kept as context.")
@click.option("--max-tokens", default=1024, show_default=True, type=click.IntRange(32), help="Token limit per pair.")
@click.option("--seed", default=42, show_default=True, help="Seed of the train/validation split.")
@click.option("--base-model", help="Base model whose tokenizer counts tokens (default: embedded SmolLM2).")
@click.option("--formatter", "-f", default="default", show_default=True,
              help="Formatter turning records into pairs; a domain plugin's name picks its domain (see 'assistant plugins').")
@click.option("--no-redact", is_flag=True, help="Keep personal data (e-mails, phones, cards...) instead of placeholders.")
@click.option("--no-dedup", is_flag=True, help="Keep exact and near-duplicate records and pairs.")
@click.option("--strict", is_flag=True, help="Fail on the first record that cannot be read instead of rejecting it.")
@click.option("--no-card", is_flag=True, help="Skip the dataset card (and its training-speed probe).")
def prepare(inputs, profile, out, fmt, speaker_map, question_column, answer_column, conversation_column,
            speaker_column, text_column, delimiter, validation_fraction, context_turns, max_tokens, seed, base_model,
            formatter, no_redact, no_dedup, strict, no_card):
    """Turn chat logs and FAQs (files or folders) into chat-format training pairs.

    Personal data is redacted, text cleaned, duplicates removed; everything that does not
    become a pair is listed in OUT/rejects.jsonl with its source and the reason.
    """
    quiet_libraries()
    from .prepare import PrepareSettings, prepare as run_prepare
    from .prepare_report import format_report
    from .readers import FORMATS, ReadOptions

    if fmt and fmt not in FORMATS:
        raise AssistantError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    options = ReadOptions(
        format=fmt, speaker_map=parse_speaker_map(speaker_map), question_column=question_column,
        answer_column=answer_column, conversation_column=conversation_column,
        speaker_column=speaker_column, text_column=text_column, delimiter=delimiter,
    )
    settings = PrepareSettings(
        inputs=list(inputs), profile=profile, out=out, read_options=options,
        validation_fraction=validation_fraction, seed=seed, context_turns=context_turns,
        max_tokens=max_tokens, base_model=base_model, formatter=formatter,
        redact=not no_redact, deduplicate=not no_dedup, strict=strict, card=not no_card,
    )
    report = run_prepare(settings)
    click.echo(format_report(report))
    card = "" if no_card else f", card: {out}/dataset_card.md"
    click.echo(f"Prepared data in {out}/ (report: {out}/prepare_report.json{card})")


@cli.command()
@click.option("--data", "-d", required=True, type=click.Path(path_type=Path), help="Folder written by 'assistant prepare'.")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Run directory to create.")
@click.option("--config", "-c", "config_path", type=click.Path(path_type=Path), help="YAML file of training settings.")
@click.option("--base-model", help="Model dir, .gguf file or hub id (default: embedded SmolLM2-135M-Instruct).")
@click.option("--epochs", type=float)
@click.option("--max-steps", type=int)
@click.option("--learning-rate", "--lr", type=float)
@click.option("--batch-size", type=int)
@click.option("--lora-r", type=int)
@click.option("--eval-steps", type=int, help="Validate every N steps (default: every epoch).")
@click.option("--patience", "early_stopping_patience", type=int, help="Early-stopping patience in evaluations.")
@click.option("--seed", type=int)
@click.option("--threads", type=int, help="CPU threads (default: all cores).")
@click.option("--compile/--no-compile", "compile", default=None,
              help="torch.compile the decoder layers, or not (default: auto, on for single-process CPU runs of 300+ steps, 40+ once the compile cache holds the model; docs/scaling.md).")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in the run directory.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
def train(data, out, config_path, resume, overwrite, **overrides):
    """Train a LoRA adapter on prepared data into a run directory."""
    quiet_libraries()
    from .config import load_train_config
    from .training import process_state
    from .training import train as run_training

    config = load_train_config(config_path, overrides)
    summary = run_training(data, out, config, resume=resume, overwrite=overwrite)
    if not process_state().is_main_process:
        return
    best = summary["best_eval_loss"]
    click.echo(
        f"Trained {summary['steps']} steps ({summary['epochs']} epochs) in {summary['train_runtime_s']} s, "
        f"{summary['tokens_per_second']} tokens/s"
        + (f" over {summary['processes']} processes; " if summary["processes"] > 1 else "; ")
        + (f"best validation loss {best:.4f}. " if best is not None else "")
        + f"Run saved in {out}/"
    )


@cli.command()
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="Run directory of a trained adapter.")
@click.option("--base", "use_base", is_flag=True, help="Talk to the untouched base model instead.")
@click.option("--base-model", help="With --base and no --run: which base model.")
@click.option("--profile", help="With --base and no --run: brand profile for the system prompt.")
@click.option("--temperature", default=0.7, show_default=True, type=click.FloatRange(0))
@click.option("--top-p", default=0.9, show_default=True, type=click.FloatRange(0, 1))
@click.option("--max-new-tokens", default=200, show_default=True, type=click.IntRange(1))
@click.option("--seed", type=int)
@click.option("--engine", type=click.Choice(["auto", "quick", "transformers"]), default="auto", show_default=True,
              help="quick: a plain-PyTorch decoder that starts in about a second (Llama-family models); "
                   "auto uses it where it reproduces the model, else transformers.")
def chat(run_dir, use_base, base_model, profile, temperature, top_p, max_new_tokens, seed, engine):
    """Chat in the terminal, streaming replies (/reset clears history, /exit quits)."""
    quiet_libraries()
    from .chat_cli import chat_loop, open_chat_model
    from .generation import GenerationSettings

    if not run_dir and not use_base:
        raise AssistantError("chat needs --run RUN_DIR (or --base to talk to the base model)")
    model = open_chat_model(run_dir, use_base, base_model, profile, engine)
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    chat_loop(model, settings, tuned=not use_base)


@cli.command()
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path))
@click.option("--questions", "-q", required=True, type=click.Path(path_type=Path), help="JSONL of question/reference.")
@click.option("--show", default=5, show_default=True, help="How many examples to print side by side.")
@click.option("--max-new-tokens", default=120, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=GENERATION_BATCH, show_default=True, type=click.IntRange(1),
              help="Replies generated at once (wider is faster until memory runs out).")
def compare(run_dir, questions, show, max_new_tokens, batch_size):
    """Base vs tuned replies to held-out questions, with ROUGE-L and sign-off rate."""
    quiet_libraries()
    from .compare import compare as run_compare, format_comparison, load_heldout, write_comparison
    from .generation import ChatModel, GenerationSettings
    from .rundir import RunDir

    items = load_heldout(questions)
    sign_off = RunDir.open(run_dir).profile().sign_off
    chat_model = ChatModel.from_run(run_dir)
    result = run_compare(chat_model, items, sign_off, GenerationSettings(max_new_tokens=max_new_tokens), batch_size)
    write_comparison(result, Path(run_dir) / "compare.json")
    click.echo(format_comparison(result, show=show))
    click.echo(f"Full comparison in {run_dir}/compare.json")


@cli.command("eval")
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path), help="Run directory to evaluate.")
@click.option("--questions", "-q", type=click.Path(path_type=Path),
              help="JSONL of question/reference (default: the run's validation split).")
@click.option("--domain", "domains", multiple=True, help="Domain whose evaluators run (default: the run's domain).")
@click.option("--limit", type=click.IntRange(1), help="Evaluate only the first N cases.")
@click.option("--max-new-tokens", default=160, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=GENERATION_BATCH, show_default=True, type=click.IntRange(1),
              help="Replies generated at once (wider is faster until memory runs out; the validation loss "
                   "keeps its own, smaller batches).")
@click.option("--show", default=0, show_default=True, type=click.IntRange(0), help="Print N examples side by side.")
def eval_command(run_dir, questions, domains, limit, max_new_tokens, batch_size, show):
    """Base vs tuned on held-out prompts: every metric and domain evaluator, with a report."""
    quiet_libraries()
    from .evaluation import evaluate, format_summary, write_report
    from .generation import GenerationSettings

    results = evaluate(
        run_dir, questions=questions, domains=list(domains) or None, limit=limit,
        settings=GenerationSettings(max_new_tokens=max_new_tokens), batch_size=batch_size,
        progress=lambda message: click.echo(message, err=True),
    )
    out = write_report(results)
    if show:
        from .compare import side_by_side

        rows = [(e["prompt"], e["base"]["reply"], e["tuned"]["reply"]) for e in results["examples"][:show]]
        click.echo(side_by_side(rows))
    click.echo(format_summary(results))
    click.echo(f"Report: {out}/report.md, {out}/report.html, {out}/metrics.png; scores in {out}/results.json")


@cli.command()
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path), help="Run to open first.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(path_type=Path),
              help="Folder whose runs the run picker lists.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 for the network).")
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--auth", help="USER:PASSWORD required to open the app.")
@click.option("--share", is_flag=True, help="Also open a public Gradio share link (off by default).")
@click.option("--votes-db", type=click.Path(path_type=Path), help="SQLite file of blind votes (default: RUNS_DIR/votes.sqlite).")
def app(run_dir, runs_dir, host, port, auth, share, votes_db):
    """The browser app: base and tuned side by side, blind votes, the evaluation report."""
    quiet_libraries()
    from .app import launch

    click.echo(f"Opening http://{host}:{port} (Ctrl-C to stop)")
    launch(run_dir, runs_dir, host, port, auth, share, votes_db)


@cli.command()
@click.option("--run", "run_dirs", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Run to serve as a model named after its folder (repeatable; all share one base model).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 for the network).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--api-key", envvar="ASSISTANT_API_KEY", help="Require 'Authorization: Bearer KEY' [env: ASSISTANT_API_KEY].")
@click.option("--log", "log_path", default=Path("serve-requests.jsonl"), show_default=True, type=click.Path(path_type=Path),
              help="JSONL file the server appends one line per request to (timings and token counts, no text).")
@click.option("--max-tokens", default=512, show_default=True, type=click.IntRange(1),
              help="Reply length when a request gives no max_tokens.")
@click.option("--temperature", default=0.0, show_default=True, type=click.FloatRange(0, 2),
              help="Temperature when a request gives none (0: greedy, reproducible).")
@click.option("--max-batch", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Requests generated together at most (1: one at a time).")
def serve(run_dirs, host, port, api_key, log_path, max_tokens, temperature, max_batch):
    """An OpenAI-compatible chat API (/v1/chat/completions, /v1/models) for tuned runs and the base model."""
    no_progress_bars()
    quiet_libraries()
    from .generation import GenerationSettings
    from .serve import serve as run_server

    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        click.echo(f"warning: serving on {host} without --api-key; anyone who can reach it can use it", err=True)
    run_server(list(run_dirs), host, port, api_key, log_path,
               GenerationSettings(max_new_tokens=max_tokens, temperature=temperature), max_batch)


@cli.command()
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path), help="Run whose adapter to export.")
@click.option("--format", "fmt", type=click.Choice(["hf", "gguf"]), default="hf", show_default=True,
              help="hf: merged Hugging Face model directory; gguf: one GGUF file plus an Ollama Modelfile.")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Output folder (default: RUN/export-FORMAT).")
@click.option("--gguf-type", type=click.Choice(["f16", "bf16", "q8_0", "f32"]), default="f16", show_default=True,
              help="Weight type inside the GGUF file.")
@click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]),
              help="Weight dtype of the hf export (default float32: exactly base+adapter; bfloat16 halves the size).")
@click.option("--no-verify", is_flag=True, help="Skip loading the export back and comparing it with base+adapter.")
def export(run_dir, fmt, out, gguf_type, dtype, no_verify):
    """Merge the run's adapter into the base weights: a Hugging Face model or a GGUF file for llama.cpp and Ollama."""
    no_progress_bars()
    quiet_libraries()
    from .export import export_run

    out = out or Path(run_dir) / f"export-{fmt}"
    click.echo(f"Exporting {run_dir} as {fmt} into {out} ...")
    result = export_run(run_dir, fmt, out, gguf_type=gguf_type, dtype=dtype, verify=not no_verify)
    click.echo(f"Wrote {out}/: {', '.join(result.files)}")
    if result.agreement:
        click.echo(f"Verified against base+adapter: {result.agreement.summary()}")
    if fmt == "gguf":
        from .export.modelfile import ollama_model_name

        click.echo(f"Ollama: cd {out} && ollama create {ollama_model_name(result.name)} -f Modelfile")


@cli.group()
def votes():
    """Blind-comparison votes."""


@votes.command("export")
@click.option("--db", type=click.Path(path_type=Path), default=Path("runs/votes.sqlite"), show_default=True)
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="JSONL of prompt/chosen/rejected.")
@click.option("--run", "run_dir", help="Only the votes of this run.")
def votes_export(db, out, run_dir):
    """Write the decisive votes as preference pairs (prompt, chosen, rejected) for DPO-style tuning."""
    from .app.votes import VoteStore

    if not Path(db).is_file():
        raise AssistantError(f"{db}: vote database not found")
    count = VoteStore(db).export_preferences(out, run=run_dir)
    click.echo(f"Wrote {count} preference pairs to {out}")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins(ctx, as_json):
    """List loaded plugins with their hooks, formatters and evaluators."""
    if ctx.invoked_subcommand:
        return
    from .plugin_listing import describe_plugins, format_plugins

    listing = describe_plugins()
    click.echo(json.dumps(listing, indent=2) if as_json else format_plugins(listing))


@plugins.command("new")
@click.argument("name")
@click.option("--dir", "parent", default=".", show_default=True, type=click.Path(path_type=Path),
              help="Folder to create the plugin package in.")
def plugins_new(name, parent):
    """Scaffold a plugin package NAME (pyproject, formatter, evaluator, test)."""
    from .scaffold import scaffold_plugin

    target = scaffold_plugin(name, Path(parent))
    click.echo(f"Created {target}/. Install it with: pip install -e {target}  (then: assistant plugins)")


def main() -> None:
    cli(prog_name="assistant")


if __name__ == "__main__":
    sys.exit(main())
