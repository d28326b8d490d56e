"""The Gradio layout: side by side, blind comparison, evaluation. Logic lives in handlers.py."""

from __future__ import annotations

import gradio as gr

from ..generation import GenerationSettings
from .handlers import AppHandlers, check_run, eval_report
from .runs import RunInfo

CSS = """
#reveal {min-height: 2.5em;}
@media (max-width: 720px) {
  .panes {flex-direction: column !important;}
  /* in a column, Gradio's flex: 1 1 0% would override the chat panes' fixed height */
  .panes > .block {flex: none !important;}
}
"""
# Gradio 6.31's bundled semibold font has only a few glyphs (bold text mixed two fonts);
# the platform's own sans-serif fonts render every weight consistently and need no network.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"])
CHOICES = [("A is better", "a"), ("B is better", "b"), ("Tie", "tie"), ("Both bad", "both_bad")]


def settings_controls(profiles: list[str], runs: list[RunInfo], run: str):
    with gr.Accordion("Settings", open=False):
        with gr.Row():
            run_picker = gr.Dropdown([(r.label, r.path) for r in runs], value=run, label="Run")
            profile = gr.Dropdown(profiles, value=profiles[0], label="Brand profile (system prompt of both sides)")
        with gr.Row():
            defaults = GenerationSettings(temperature=0.7)
            temperature = gr.Slider(0, 1.5, value=defaults.temperature, step=0.05, label="Temperature (0 = greedy)")
            top_p = gr.Slider(0.1, 1, value=defaults.top_p, step=0.05, label="Top-p")
            max_new = gr.Slider(16, 512, value=160, step=8, label="Max new tokens")
            seed = gr.Number(value=None, precision=0, label="Seed (empty: random)")
    return run_picker, profile, [temperature, top_p, max_new, seed]


def build_app(handlers: AppHandlers, runs: list[RunInfo], run: str, title: str) -> gr.Blocks:
    profiles = list(handlers.profiles)
    error = check_run(run)
    with gr.Blocks(title=title) as app:
        gr.Markdown(f"# {title}")
        if error:
            gr.Markdown(f"### This run cannot be opened\n\n`{error}`\n\nStart the app with `--run` "
                        f"pointing at a run directory written by `assistant train`.")
            return app
        run_picker, profile, knobs = settings_controls(profiles, runs, run)
        with gr.Tab("Side by side"):
            with gr.Row(elem_classes="panes"):
                base_chat = gr.Chatbot(label="Base model", height=420)
                tuned_chat = gr.Chatbot(label="Tuned assistant", height=420)
            with gr.Row():
                message = gr.Textbox(placeholder="Type a customer message and press Enter", show_label=False, scale=5)
                send = gr.Button("Send", variant="primary", scale=1)
                stop = gr.Button("Stop", scale=1)
                clear = gr.Button("Clear", scale=1)
        with gr.Tab("Blind comparison"):
            gr.Markdown("Both replies answer the same message; which one is tuned is hidden until you vote.")
            with gr.Row(elem_classes="panes", equal_height=True):
                reply_a = gr.Textbox(label="A", lines=8, max_lines=14, interactive=False)
                reply_b = gr.Textbox(label="B", lines=8, max_lines=14, interactive=False)
            with gr.Row():
                blind_message = gr.Textbox(placeholder="Type a message for a blind comparison", show_label=False, scale=5)
                blind_send = gr.Button("Compare", variant="primary", scale=1)
            with gr.Row():
                vote_buttons = [gr.Button(label, interactive=False) for label, _ in CHOICES]
            reveal = gr.Markdown(elem_id="reveal")
            tally = gr.Markdown(handlers.tally_text(run))
            pending = gr.State(None)
        with gr.Tab("Evaluation") as eval_tab:
            report_text, chart_path = eval_report(run)
            chart = gr.Image(chart_path, label="Base vs tuned", visible=chart_path is not None, show_label=False)
            report = gr.Markdown(report_text)

        def session(request: gr.Request) -> str:
            return request.session_hash or "default"

        def on_send(text, base_h, tuned_h, run_path, prof, t, p, n, s, request: gr.Request):
            settings = handlers.settings(t, p, n, s)
            for base_h2, tuned_h2 in handlers.side_by_side(text, base_h, tuned_h, run_path, prof, settings, session(request)):
                yield base_h2, tuned_h2, ""

        chat_inputs = [message, base_chat, tuned_chat, run_picker, profile, *knobs]
        sending = [send.click(on_send, chat_inputs, [base_chat, tuned_chat, message], api_name="chat"),
                   message.submit(on_send, chat_inputs, [base_chat, tuned_chat, message], api_name="chat_submit")]
        def on_stop(request: gr.Request):
            handlers.stop(session(request))

        stop.click(on_stop, None, None, cancels=sending, queue=False, api_name="stop")
        clear.click(lambda: ([], []), None, [base_chat, tuned_chat], queue=False, api_name="clear")

        def on_blind(text, run_path, prof, t, p, n, s, request: gr.Request):
            settings = handlers.settings(t, p, n, s)
            locked = [gr.update(interactive=False)] * len(vote_buttons)
            for a, b, vote in handlers.blind(text, run_path, prof, settings, session(request)):
                yield (a, b, vote, "", *([gr.update(interactive=True)] * len(vote_buttons) if vote else locked))

        blind_outputs = [reply_a, reply_b, pending, reveal, *vote_buttons]
        blind_inputs = [blind_message, run_picker, profile, *knobs]
        blind_send.click(on_blind, blind_inputs, blind_outputs, api_name="compare")
        blind_message.submit(on_blind, blind_inputs, blind_outputs, api_name="compare_submit")
        for button, (_, choice) in zip(vote_buttons, CHOICES):
            button.click(
                lambda vote, run_path, choice=choice: (
                    handlers.vote(choice, vote), handlers.tally_text(run_path), None,
                    *[gr.update(interactive=False)] * len(vote_buttons)),
                [pending, run_picker], [reveal, tally, pending, *vote_buttons], api_name=f"vote_{choice}",
            )

        def on_run_change(run_path):
            text, chart_file = eval_report(run_path)
            return [], [], handlers.tally_text(run_path), text, gr.update(value=chart_file, visible=chart_file is not None)

        run_picker.change(on_run_change, run_picker, [base_chat, tuned_chat, tally, report, chart], api_name="pick_run")
        eval_tab.select(lambda run_path: eval_report(run_path)[0], run_picker, report, api_name="eval_report")
    return app
