#!/usr/bin/env python3
"""Capture the enqueue body that InvokeAI's real web UI sends for each test workflow.

The web UI is the oracle for ``pytest_invokeai.workflow.graph.build_enqueue_body``: for every
``tests/data/gui/<name>.workflow.json`` this script loads the file in the Workflows tab of a real
InvokeAI 6.14.2 (headless Chromium driven by Playwright), presses Invoke, intercepts the
``POST .../enqueue_batch`` request and writes its JSON body to ``tests/data/gui/<name>.enqueue.json``.
``tests/test_graph.py`` then asserts that our builder produces the same body.

Usage (from the repository root)::

    .venv/bin/python scripts/capture_gui_enqueue.py                 # starts its own server
    .venv/bin/python scripts/capture_gui_enqueue.py --url http://127.0.0.1:9123
    .venv/bin/python scripts/capture_gui_enqueue.py --only connectors --only batches

Without ``--url`` it starts InvokeAI from ``--invokeai-python`` (default: the project's cached 6.14.2
install) on a free port with an in-memory database and a temporary root, and stops it at the end.
With ``--url`` it uses that server: it uploads two small PNGs, creates (or reuses) a board named
``pytest-invokeai-capture``, and resets the UI's remembered state (``client_state/default/delete``)
before each workflow, so do not point it at a server someone is using in a browser.

Each intercepted request is passed on to the server, so the server validates it (a 422 stops the
script); the batch is then cancelled so nothing runs for long. ``--screenshots DIR`` saves a PNG of
the page after each step (useful when the UI changes); on any failure a screenshot is always saved.

Placeholders and normalisation (the only differences between the file we save and what the GUI sent):
- Workflow files name uploaded images ``@IMAGE_A@`` / ``@IMAGE_B@`` and the board ``@BOARD@``; the
  script replaces them with the real image names / board id before loading (the GUI checks that they
  exist), and replaces the real names back with the placeholders in the captured body.
- ``batch.graph.id`` (a random uuid4 in the GUI) is replaced with ``"<random graph id>"``.
Nothing else is changed; key order is kept as the GUI sent it.

Requirements: the ``playwright`` Python package (``pip install -e '.[test]'``; installed into the
running interpreter if missing) and Chromium at ``--chromium`` (default ``/usr/bin/chromium``); no
browser download. A full run over six workflows takes about a minute (plus ~20 s server start).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "tests" / "data" / "gui"
DEFAULT_INVOKEAI_PYTHON = Path.home() / ".cache" / "pytest-invokeai" / "invokeai-6.14.2" / "bin" / "python"
LAUNCHER = REPO / "pytest_invokeai" / "server" / "launch_invokeai.py"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOARD_NAME = "pytest-invokeai-capture"
GRAPH_ID_PLACEHOLDER = "<random graph id>"
#: Placeholder -> colour of the small PNG uploaded for it.
IMAGE_PLACEHOLDERS = {"@IMAGE_A@": (220, 40, 40), "@IMAGE_B@": (40, 40, 220)}
BOARD_PLACEHOLDER = "@BOARD@"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _ensure_playwright()
    names = args.only or sorted(p.name.removesuffix(".workflow.json") for p in DATA_DIR.glob("*.workflow.json"))
    for name in names:
        if not (DATA_DIR / f"{name}.workflow.json").is_file():
            raise SystemExit(f"no workflow {DATA_DIR / (name + '.workflow.json')}")
    started = time.monotonic()
    with _server(args.url, Path(args.invokeai_python)) as url:
        substitutions = _prepare_server(url)
        with _browser(args.chromium) as browser:
            for name in names:
                t0 = time.monotonic()
                body = capture(browser, url, name, substitutions, Path(args.screenshots) if args.screenshots else None)
                out = DATA_DIR / f"{name}.enqueue.json"
                out.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
                print(f"{name}: wrote {out.relative_to(REPO)} ({time.monotonic() - t0:.1f} s)")
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="use this running InvokeAI 6.14.2 server instead of starting one")
    parser.add_argument("--only", action="append", metavar="NAME", help="capture only this workflow (repeatable)")
    parser.add_argument(
        "--invokeai-python", default=str(DEFAULT_INVOKEAI_PYTHON), help="python of the InvokeAI install"
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--screenshots", metavar="DIR", help="save a screenshot after every step into DIR")
    return parser.parse_args(argv)


def _ensure_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        # Only the Python package: the browser is the system's Chromium, never downloaded.
        subprocess.run([sys.executable, "-m", "pip", "install", "playwright"], check=True)


# -- server --------------------------------------------------------------------------------


@contextlib.contextmanager
def _server(url: str | None, invokeai_python: Path) -> Iterator[str]:
    if url:
        _wait_ready(url.rstrip("/"), timeout=10)
        yield url.rstrip("/")
        return
    port = _free_port()
    root = tempfile.mkdtemp(prefix="invokeai-capture-")
    env = {
        **os.environ,
        "INVOKEAI_HOST": "127.0.0.1",
        "INVOKEAI_PORT": str(port),
        "INVOKEAI_USE_MEMORY_DB": "true",
        "INVOKEAI_DEVICE": "cpu",
    }
    log = open(Path(root) / "server.log", "wb")  # noqa: SIM115 - the server writes to it until the finally below closes it
    proc = subprocess.Popen(
        [str(invokeai_python), str(LAUNCHER), "--root", root], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, timeout=120, proc=proc, log_path=Path(root) / "server.log")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(
    base: str, *, timeout: float, proc: subprocess.Popen | None = None, log_path: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"InvokeAI exited with {proc.returncode}; log: {log_path}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            version = httpx.get(f"{base}/api/v1/app/version", timeout=2).json().get("version")
            if version != "6.14.2":
                raise SystemExit(f"{base} runs InvokeAI {version}, the captures are for 6.14.2")
            return
        time.sleep(0.5)
    raise SystemExit(f"InvokeAI at {base} did not answer within {timeout:.0f} s")


def _prepare_server(base: str) -> dict[str, str]:
    """Upload the test images and find or create the test board; returns placeholder -> real name."""
    from PIL import Image

    substitutions: dict[str, str] = {}
    for placeholder, colour in IMAGE_PLACEHOLDERS.items():
        png = io.BytesIO()
        Image.new("RGB", (16, 16), colour).save(png, format="PNG")
        response = httpx.post(
            f"{base}/api/v1/images/upload",
            params={"image_category": "user", "is_intermediate": "false"},
            files={"file": (placeholder.strip("@").lower() + ".png", png.getvalue(), "image/png")},
            timeout=30,
        )
        response.raise_for_status()
        substitutions[placeholder] = response.json()["image_name"]
    boards = httpx.get(f"{base}/api/v1/boards/", params={"all": "true"}, timeout=30).json()
    board = next((b for b in boards if b["board_name"] == BOARD_NAME), None)
    if board is None:
        board = httpx.post(f"{base}/api/v1/boards/", params={"board_name": BOARD_NAME}, timeout=30).json()
    substitutions[BOARD_PLACEHOLDER] = board["board_id"]
    return substitutions


# -- browser -------------------------------------------------------------------------------


@contextlib.contextmanager
def _browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def capture(browser: Any, base: str, name: str, substitutions: dict[str, str], shots: Path | None) -> dict[str, Any]:
    text = (DATA_DIR / f"{name}.workflow.json").read_text()
    for placeholder, real in substitutions.items():
        text = text.replace(placeholder, real)
    httpx.post(f"{base}/api/v1/client_state/default/delete", timeout=30).raise_for_status()

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    captured: list[str] = []
    responses: list[tuple[int, str]] = []

    def on_enqueue(route: Any) -> None:
        captured.append(route.request.post_data)
        response = route.fetch()
        responses.append((response.status, response.text()))
        route.fulfill(response=response)

    page.route("**/enqueue_batch", on_enqueue)

    def shot(step: str) -> Path:
        folder = shots or Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}-{step}.png"
        page.screenshot(path=str(path))
        return path

    try:
        with tempfile.TemporaryDirectory() as tmp:
            wf_path = Path(tmp) / f"{name}.json"
            wf_path.write_text(text)
            page.goto(base)
            page.get_by_role("button", name="Workflows", exact=True).click()
            with page.expect_file_chooser() as chooser:
                page.get_by_text("Load workflow from file").click()
            chooser.value.set_files(str(wf_path))
            # The UI asks to confirm replacing the current (empty) workflow.
            page.get_by_role("button", name="Load", exact=True).click()
            page.wait_for_timeout(1500)
            if shots:
                shot("1-loaded")
            page.get_by_role("button", name="Invoke", exact=True).click()
            deadline = time.monotonic() + 20
            while not responses and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            if shots:
                shot("2-invoked")
    except Exception as exc:
        raise SystemExit(f"{name}: the web UI step failed ({exc}); screenshot: {shot('error')}") from None

    if not captured:
        toasts = " | ".join(t.inner_text() for t in page.query_selector_all("[role=status], .chakra-alert"))
        raise SystemExit(
            f"{name}: the web UI sent no enqueue_batch request (toasts: {toasts or 'none'}); screenshot: {shot('no-request')}"
        )
    status, answer = responses[0]
    page.close()
    if status != 200:
        raise SystemExit(f"{name}: the server refused the GUI's batch with HTTP {status}: {answer[:2000]}")
    batch_id = json.loads(answer)["batch"]["batch_id"]
    httpx.put(f"{base}/api/v1/queue/default/cancel_by_batch_ids", json={"batch_ids": [batch_id]}, timeout=30)
    return normalise(json.loads(captured[0]), substitutions)


def normalise(body: dict[str, Any], substitutions: dict[str, str]) -> dict[str, Any]:
    """Undo what is random in a captured body (see the module docstring)."""
    text = json.dumps(body)
    for placeholder, real in substitutions.items():
        text = text.replace(real, placeholder)
    body = json.loads(text)
    body["batch"]["graph"]["id"] = GRAPH_ID_PLACEHOLDER
    return body


if __name__ == "__main__":
    sys.exit(main())
