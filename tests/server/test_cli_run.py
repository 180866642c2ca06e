"""``pytest-invokeai run`` against a real InvokeAI: images written, errors a person can act on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import GUI_EXPORTS
from PIL import Image

FORM_LAYOUT = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"


def cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_run_writes_the_output_image(invokeai_server_url: str, tmp_path: Path) -> None:
    result = cli("run", FORM_LAYOUT, "--url", invokeai_server_url, "--set", "Width=40", "--out", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)  # only 'save' is not intermediate in this workflow
    assert (entry["node_id"], entry["node_label"]) == ("save", "Output")
    with Image.open(entry["path"]) as im:
        assert im.size == (40, 48)
    assert Path(entry["path"]) == tmp_path / "save.png"


def test_run_starts_a_local_server_when_no_url_is_given(tmp_path: Path) -> None:
    result = cli("run", FORM_LAYOUT, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "starting a local InvokeAI" in result.stderr
    assert result.stdout.strip() == f"{tmp_path / 'save.png'}  <- save (save_image 'Output')"


def test_run_names_a_model_the_server_does_not_have(invokeai_server_url: str, tmp_path: Path) -> None:
    result = cli("run", GUI_EXPORTS / "sdxl-text-to-image.json", "--url", invokeai_server_url, "--out", tmp_path)
    assert result.returncode == 2
    assert "juggernautXL_v9Rundiffusionphoto2" in result.stderr and "Traceback" not in result.stderr


def test_run_against_a_stopped_server_is_a_clear_error(tmp_path: Path) -> None:
    result = cli("run", FORM_LAYOUT, "--url", "http://127.0.0.1:9", "--out", tmp_path, timeout=60)
    assert result.returncode == 2
    assert "cannot reach InvokeAI at http://127.0.0.1:9 to tell its version" in result.stderr


def test_ctrl_c_cancels_the_runs_queue_item(invokeai_server_url: str, tmp_path: Path) -> None:
    import json
    import os
    import signal
    import time
    import uuid

    import httpx

    seed = uuid.uuid4().int % 2**31  # a seed no earlier run used: no node-cache hit, the item really runs
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_invokeai.cli",
            "run",
            FORM_LAYOUT,
            "--url",
            invokeai_server_url,
            "--set",
            "Width=2048",
            "--set",
            "Height=2048",
            "--set",
            "Radius=60",
            "--set",
            f"2={seed}",
            "--out",
            tmp_path,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    current = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and current is None:
        answer = httpx.get(f"{invokeai_server_url}/api/v1/queue/default/current").json()
        # Our own item (other tests' items may still be finishing on the shared server): it has our seed.
        if (
            answer
            and str(answer.get("destination", "")).startswith("pytest-invokeai-")
            and str(seed) in json.dumps(answer)
        ):
            current = answer
        time.sleep(0.05)
    assert current is not None, "the run's item never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "pytest-invokeai: error: interrupted" in err and "Traceback" not in err
    status = httpx.get(f"{invokeai_server_url}/api/v1/queue/default/i/{current['item_id']}").json()["status"]
    assert status == "canceled", status  # the item takes about 1.5 s; the signal comes within 0.1 s of its start
    assert os.listdir(tmp_path) == [], "no image is written for an interrupted run"
