"""A recall fills the fields of the real InvokeAI web UI, open in headless Chromium on the same queue."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

from helpers import require

from pytest_invokeai.baseline.record import BaselineRecord
from pytest_invokeai.cli import main

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the test then skips locally and fails in CI
    expect = sync_playwright = None


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SD15 = Path(__file__).resolve().parents[2] / "example_suite" / "workflows" / "sd15-text-to-image.json"
UI_TIMEOUT = 90  # seconds for the web UI to load and subscribe to its queue on a busy 2-core machine


def test_a_recall_fills_the_prompt_boxes_of_an_open_web_ui(invokeai_server_url, tiny_sd15, tmp_path):
    # tiny_sd15: the web UI shows the negative-prompt box only once the server has a main model.
    require(sync_playwright is not None, "the playwright package is not installed (pip install -e .[test])")
    executable = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    require(executable is not None, f"Chromium is not installed (looked for {CHROMIUM} and chromium on PATH)")
    prompt = f"a recalled lighthouse {uuid.uuid4().hex[:8]}"
    (tmp_path / "wf").mkdir()
    shutil.copy(SD15, tmp_path / "wf" / "sd15.json")
    record = tmp_path / "record.json"
    record.write_text(
        BaselineRecord(
            test_id="suite/test_gui.py::test_gui",
            outputs={},
            workflow="wf/sd15.json",
            inputs=[
                {"index": 1, "name": "Prompt", "value": prompt},
                {"index": 2, "name": "Negative prompt", "value": "recalled fog"},
            ],
        ).to_json()
    )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            subscribed: list[str] = []  # the UI's subscription to its queue: recall events reach it from then on
            page.on("websocket", lambda ws: ws.on("framesent", lambda frame: _note_subscription(frame, subscribed)))
            page.on("request", lambda request: _note_subscription(_post_data(request), subscribed))
            page.goto(invokeai_server_url)
            positive = page.locator('textarea[name="prompt"]')
            positive.wait_for(timeout=UI_TIMEOUT * 1000)
            deadline = time.monotonic() + UI_TIMEOUT
            while not subscribed and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert subscribed, "the web UI never subscribed to a queue"
            assert '"queue_id":"default"' in subscribed[0].replace(" ", "")
            assert positive.input_value() != prompt

            assert main(["recall", str(record), "--url", invokeai_server_url]) == 0

            expect(positive).to_have_value(prompt, timeout=15_000)
            expect(page.locator('textarea[name="negativePrompt"]')).to_have_value("recalled fog", timeout=15_000)
        finally:
            browser.close()


def _note_subscription(frame: object, subscribed: list[str]) -> None:
    text = frame if isinstance(frame, str) else ""
    if "subscribe_queue" in text:
        subscribed.append(text)


def _post_data(request: object) -> str:
    try:
        return request.post_data or ""  # long-polling sends its frames as POST bodies
    except Exception:  # a binary body
        return ""
