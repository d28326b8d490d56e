"""The app in a real browser: Debian's Chromium driven by Playwright against the app on a free local port.

Chats in the side-by-side tab, runs a blind comparison and votes, and checks the vote reached the
SQLite file. Screenshots (1280x800 desktop, 390x844 phone) go to test-output/browser/ for a look.
Skips when /usr/bin/chromium (or $CHROMIUM) is missing (`apt-get install chromium chromium-driver`); never uses
`playwright install` (its browser download does not work offline).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assistant.app import create_app
from assistant.app.ui import CSS, THEME
from assistant.app.votes import VoteStore
from conftest import REPO, free_port, train_tiny_run

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # Debian's chromium package
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium and chromium-driver to run the browser test",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (.[dev] extra)")

# No network here: without these flags Chromium keeps trying (and failing) to reach Google services.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = REPO / "test-output" / "browser"
TIMEOUT_MS = 60_000  # generation on the tiny model takes a second or two; this is the ceiling
# `expect` has its own 5 s default that page.set_default_timeout does not change; on a loaded CI machine
# a blind comparison's two replies took longer than that, so assertions get the same ceiling as actions.
sync_api.expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model_dir):
    """A tiny trained run served by the real app (with its CSS); yields (url, votes db)."""
    root = tmp_path_factory.mktemp("browser")
    run = train_tiny_run(root, tiny_model_dir)
    db = root / "votes.sqlite"
    app = create_app(run, runs_dir=root / "runs", votes_db=db)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS, theme=THEME)
    try:
        yield f"http://127.0.0.1:{port}/", db
    finally:
        app.close()


@pytest.fixture
def page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def component(page, label: str):
    """The Gradio block (`.block`) whose label reads `label` exactly."""
    return page.locator(".block").filter(
        has=page.locator('[data-testid="block-label"], [data-testid="block-info"]').filter(
            has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))


def wait_idle(block):
    """Wait for a component's pending/streaming indicator to go away (Gradio hides its status tracker)."""
    sync_api.expect(block.locator('[data-testid="status-tracker"]').first).to_have_class(re.compile(r"\bhide\b"))


def test_chat_blind_vote_and_layouts(served, page):
    expect = sync_api.expect
    url, db = served
    page.goto(url)
    try:
        # Side by side: one message answered by both panes.
        base, tuned = component(page, "Base model"), component(page, "Tuned assistant")
        expect(base).to_have_count(1)
        expect(tuned).to_have_count(1)
        box = page.get_by_placeholder("Type a customer message and press Enter")
        box.fill("Do you sell decaf coffee?")
        box.press("Enter")
        for pane in (base, tuned):
            expect(pane.locator('[data-testid="user"]')).to_contain_text("Do you sell decaf coffee?")
            expect(pane.locator('[data-testid="bot"]')).to_have_count(1)
            expect(pane.locator('[data-testid="bot"]')).to_have_text(re.compile(r"\S"))
        for pane in (base, tuned):
            wait_idle(pane)
        expect(box).to_have_value("")
        boxes = [pane.bounding_box() for pane in (base, tuned)]
        assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"], \
            f"panes not side by side at 1280 px: {boxes}"
        page.screenshot(path=SHOTS / "side_by_side_1280.png")
        # Stop with nothing running must be harmless (it once raised a server error).
        page.get_by_role("button", name="Stop", exact=True).click()
        page.wait_for_timeout(500)
        expect(page.locator('[data-testid="toast-body"]')).to_have_count(0)

        # Blind comparison: both replies in, vote buttons unlocked, vote A, the reveal names the sides.
        page.get_by_role("tab", name="Blind comparison").click()
        votes = [page.get_by_role("button", name=name, exact=True)
                 for name in ("A is better", "B is better", "Tie", "Both bad")]
        for button in votes:
            expect(button).to_be_disabled()
        blind_box = page.get_by_placeholder("Type a message for a blind comparison")
        blind_box.fill("What are your opening hours?")
        page.get_by_role("button", name="Compare", exact=True).click()
        reply_a, reply_b = page.get_by_label("A", exact=True), page.get_by_label("B", exact=True)
        expect(reply_a).to_have_value(re.compile(r"\S"))
        expect(reply_b).to_have_value(re.compile(r"\S"))
        for button in votes:
            expect(button).to_be_enabled()
        votes[0].click()
        reveal = page.locator("#reveal")
        expect(reveal).to_contain_text("was the tuned assistant")
        for button in votes:
            expect(button).to_be_disabled()  # one vote per comparison
        page.screenshot(path=SHOTS / "blind_vote_1280.png")

        recorded = VoteStore(db).votes()
        assert [v.choice for v in recorded] == ["a"]
        assert recorded[0].prompt == "What are your opening hours?"
        assert recorded[0].reply_a == reply_a.input_value() and recorded[0].reply_b == reply_b.input_value()

        # Phone width: the panes stack (CSS media query on .panes).
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=SHOTS / "narrow_390.png", full_page=True)
        page.get_by_role("tab", name="Side by side").click()
        expect(base).to_be_visible()
        boxes = [pane.bounding_box() for pane in (base, tuned)]
        assert boxes[0]["y"] + boxes[0]["height"] <= boxes[1]["y"] + 1, f"panes not stacked at 390 px: {boxes}"
        page.screenshot(path=SHOTS / "narrow_390_side_by_side.png", full_page=True)
    except BaseException:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "failure.html").write_text(page.content(), encoding="utf-8")
        page.screenshot(path=SHOTS / "failure.png", full_page=True)
        raise
