"""``pytest-invokeai server start/status/stop`` and ``run --models/--nodes``, for real, as a user types them.

The kept server runs on a free port with ``--root`` under the test's temporary folder (its record goes to
the real ``$PYTEST_INVOKEAI_HOME/servers``, where the InvokeAI install lives too), and is stopped at the end
whatever happens.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import require
from PIL import Image

from pytest_invokeai.local.install import installed_python
from pytest_invokeai.local.managed import free_port
from pytest_invokeai.local.model_install import ensure_tiny_sd15, install_model
from pytest_invokeai.server.client import InvokeAIClient

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_suite"
SD15 = EXAMPLE / "workflows" / "sd15-text-to-image.json"
CHECKERBOARD = EXAMPLE / "workflows" / "checkerboard.json"


def cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, subprocess.CompletedProcess[str]]]:
    require(installed_python() is not None, "the kept server needs the project's InvokeAI install")
    port, root = free_port(), tmp_path_factory.mktemp("kept") / "root"
    started = cli("server", "start", "--port", port, "--root", root, "--nodes", EXAMPLE / "nodes")
    try:
        yield port, root, started
    finally:
        cli("server", "stop", "--port", port)


def test_start_returns_once_it_answers_and_prints_its_url(kept) -> None:
    port, root, started = kept
    assert started.returncode == 0, started.stderr
    assert started.stdout == f"http://127.0.0.1:{port}\n"
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/app/version", timeout=10)
    assert answer.json() == {"version": "6.14.2"}
    assert (root / "invokeai.yaml").exists() and (root / "pytest-invokeai-nodes" / "checkerboard_nodes").is_dir()
    assert (root / "databases").is_dir(), "a kept server keeps its database on disk"


def test_status_tells_what_runs_and_where(kept) -> None:
    port, root, _ = kept
    status = cli("server", "status", "--port", port, "--json")
    assert status.returncode == 0, status.stderr
    record = json.loads(status.stdout)
    assert (record["url"], record["version"], record["root"]) == (f"http://127.0.0.1:{port}", "6.14.2", str(root))
    assert record["log"] == str(root / "invokeai.log") and Path(record["log"]).exists()
    assert list(record["node_packs"]) == ["checkerboard_nodes"]
    text = cli("server", "status", "--port", port)
    assert text.returncode == 0 and f"root: {root}" in text.stdout


def test_start_on_a_running_kept_server_prints_its_url(kept) -> None:
    port, _, started = kept
    again = cli("server", "start", "--port", port, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout == started.stdout
    assert "already runs" in again.stderr


def test_run_installs_models_into_the_kept_server_and_uses_its_pack(kept, tmp_path: Path) -> None:
    port, _, _ = kept
    url = f"http://127.0.0.1:{port}"
    result = cli("run", SD15, "--url", url, "--models", "tiny-sd15", "--out", tmp_path, "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert Image.open(entry["path"]).size == (64, 64)
    # The pack's node runs, and its form is typed by the server's schema: Pattern has choices.
    bad = cli("run", CHECKERBOARD, "--url", url, "--set", "Pattern=zigzag", "--out", tmp_path)
    assert bad.returncode == 2 and "'zigzag' is not one of the choices: squares, stripes" in bad.stderr
    good = cli("run", CHECKERBOARD, "--url", url, "--set", "Pattern=stripes", "--out", tmp_path, "--json")
    assert good.returncode == 0, good.stderr
    assert Image.open(json.loads(good.stdout)[0]["path"]).size == (64, 48)


def test_a_port_held_by_another_program_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = cli("server", "start", "--port", port, "--root", tmp_path / "root", timeout=60)
    assert result.returncode == 2
    assert f"port {port} is in use by another program" in result.stderr
    assert not (tmp_path / "root").exists()


def test_stop_stops_it_and_it_starts_again_with_its_models(kept) -> None:
    port, root, _ = kept
    with InvokeAIClient(f"http://127.0.0.1:{port}") as client:  # done by `run --models` above; again here (idempotent)
        install_model(client, ensure_tiny_sd15())
    stopped = cli("server", "stop", "--port", port, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/app/version", timeout=5)
    status = cli("server", "status", "--port", port)
    assert status.returncode == 1 and status.stdout == f"no kept server runs on port {port}\n"
    assert (root / "invokeai.yaml").exists(), "the root is kept"

    # Started again at once on its port (the stopped server's connections linger in TIME_WAIT): the model
    # installed before is still there.
    again = cli("server", "start", "--port", port, "--root", root)
    assert again.returncode == 0, again.stderr
    models = httpx.get(f"http://127.0.0.1:{port}/api/v2/models/", timeout=10).json()["models"]
    assert "tiny-sd15-1" in [model["name"] for model in models]
    assert cli("server", "stop", "--port", port, timeout=60).returncode == 0


def test_run_starts_a_local_server_with_node_packs(tmp_path: Path) -> None:
    result = cli("run", CHECKERBOARD, "--nodes", EXAMPLE / "nodes", "--set", "2=16", "--out", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["node_type"] == "checkerboard_image"
    image = Image.open(entry["path"]).convert("RGB")
    # Colours from the workflow file: cell (0, 0) has the first colour, cell (1, 0) the second.
    assert image.getpixel((0, 0)) == (20, 40, 120) and image.getpixel((16, 0)) == (240, 200, 40)
