"""What the accept and review tests share: a copy of the example suite whose last run failed, and running commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NOISE = "example_suite/workflows/noise-texture.json"
NOISE_TESTS = "example_suite/test_noise_texture.py"
BLOCKS = "example_suite/color_blocks.invokeai.toml"
NOISE_IDS = [
    "example_suite/test_noise_texture.py::test_noise_texture[Seed=7-Blur radius=0.0]",
    "example_suite/test_noise_texture.py::test_noise_texture[Seed=7-Blur radius=2.0]",
    "example_suite/test_noise_texture.py::test_noise_texture[Seed=8-Blur radius=0.0]",
    "example_suite/test_noise_texture.py::test_noise_texture[Seed=8-Blur radius=2.0]",
    "example_suite/test_noise_texture.py::test_output_has_the_size_of_the_form",
]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_INVOKEAI_")}
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs", *args],
        cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def accept(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", "accept", *args],
        cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


def weaker_noise(data: dict) -> None:
    node = next(n for n in data["nodes"] if n["data"]["type"] == "img_noise")
    node["data"]["inputs"]["amount"]["value"] = 0.3


def queued_total(url: str) -> int:
    """Every queue item the server's default queue ever held (the runs here do not clean up)."""
    return int(httpx.get(f"{url}/api/v1/queue/default/status", timeout=30).json()["queue"]["total"])


def baseline_files(project: Path) -> dict[str, bytes]:
    return {
        p.relative_to(project).as_posix(): p.read_bytes() for p in (project / "baselines").rglob("*") if p.is_file()
    }


def record_of(project: Path, test_id: str) -> Path:
    from pytest_invokeai.baseline.store import BaselineStore

    return BaselineStore(project / "baselines").record_path(test_id)


def make_failed_project(project: Path, url: str, *tests: str, args: tuple[str, ...] = ()) -> str:
    """Copy the example suite into ``project``, weaken the noise, run ``tests`` on ``url``; pytest's output."""
    for folder in ("example_suite", "baselines"):
        shutil.copytree(ROOT / folder, project / folder)
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    edit_json(project / NOISE, weaker_noise)
    return run_pytest(project, *tests, f"--invokeai-url={url}", *args).stdout
