"""The terminal chat loop behind `assistant chat`."""

from __future__ import annotations

import click

from .errors import AssistantError
from .generation import ChatModel, GenerationSettings

HELP = "Type a message; /reset clears the conversation, /exit (or Ctrl-D) quits."


def open_chat_model(run_dir, use_base: bool, base_model: str | None, profile: str | None, engine: str = "auto"):
    """The model to chat with: the quick-start decoder where it reproduces this model
    (`engine` "auto" or "quick"), else transformers through `ChatModel`.

    Imports are per branch: the brand profile's pydantic model costs 0.3 s of a 3 s cold
    start (measured), and chatting with the base model needs it only with --profile."""
    if run_dir:
        from .rundir import RunDir

        run = RunDir.open(run_dir)
        model_dir, system_prompt = run.base_model_path(), run.profile().system_prompt
        adapter = None if use_base else run.adapter
    else:
        from .base_model import resolve_base_model

        model_dir = resolve_base_model(base_model)
        system_prompt = "You are a helpful assistant."
        if profile:
            from .brand import load_profile

            system_prompt = load_profile(profile).system_prompt
        adapter = None
    if engine != "transformers":
        from .quickstart.chat import QuickChatModel
        from .quickstart.llama import Unsupported

        try:
            return QuickChatModel.open(model_dir, system_prompt, adapter)
        except Unsupported as exc:
            if engine == "quick":
                raise AssistantError(f"--engine quick cannot run {model_dir}: {exc} (use --engine transformers)") from None
    if run_dir:
        return ChatModel.from_run(run_dir)  # --base switches its adapter off per reply
    return ChatModel.from_base(model_dir, system_prompt)  # already resolved (and converted) above


def chat_loop(model, settings: GenerationSettings, tuned: bool) -> None:
    who = "tuned assistant" if tuned else "base model"
    click.echo(f"Chatting with the {who}. {HELP}")
    history: list[dict] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return
        if text == "/reset":
            history = []
            click.echo("(conversation cleared)")
            continue
        history.append({"role": "user", "content": text})
        click.echo("assistant> ", nl=False)
        pieces = []
        try:
            for piece in model.stream(history, settings, tuned=tuned):
                pieces.append(piece)
                click.echo(piece, nl=False)
        except KeyboardInterrupt:
            click.echo(" [stopped]", nl=False)
        click.echo()
        history.append({"role": "assistant", "content": "".join(pieces).strip()})
