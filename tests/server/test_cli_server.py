"""The ``pytest-invokeai`` command, run as a real subprocess: exit codes, stdout JSON, stderr messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sdxl_path(gui_exports: Path) -> Path:
    return gui_exports / "sdxl-text-to-image.json"


# -- usage -----------------------------------------------------------------------------------


# -- inputs --------------------------------------------------------------------------------


# -- PNG workflows -------------------------------------------------------------------------------


# -- graph --------------------------------------------------------------------------------------


# -- drift ----------------------------------------------------------------------------------------


# -- in-process: what a subprocess cannot easily provoke ------------------------------------------


# -- custom nodes: a schema file of the user's own server -------------------------------------


def test_schema_fetch_writes_a_file_the_other_commands_use(
    invokeai_server_url: str, tmp_path: Path, sdxl_path: Path
) -> None:
    out = tmp_path / "server.schema.json"
    fetched = cli("schema", "fetch", "--url", invokeai_server_url, "-o", out)
    assert fetched.returncode == EXIT_OK, fetched.stderr
    assert "InvokeAI 6.14.2" in fetched.stdout
    with_file = cli("--schema", out, "inputs", sdxl_path, "--json")
    without = cli("inputs", sdxl_path, "--json")
    assert with_file.returncode == EXIT_OK and json.loads(with_file.stdout) == json.loads(without.stdout)
