"""``./dev`` sets git's ``diff.invokeai.textconv`` in a git checkout of the project, and is harmless elsewhere.

The script runs for real in a temporary folder holding a copy of it, with a stand-in ``.venv/bin/python``
that does nothing (the set-up steps it stands for are not what this checks), so no install happens.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None, reason="needs git, bash")


def checkout(folder: Path) -> Path:
    """A folder laid out like a clone whose set-up is done: ./dev, pyproject.toml and a .venv that answers."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "dev", folder / "dev")
    shutil.copy(REPO / "pyproject.toml", folder / "pyproject.toml")
    venv = folder / ".venv" / "bin"
    venv.mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", folder / ".venv" / ".pytest-invokeai-pyproject")
    (venv / "python").write_text("#!/bin/sh\nexit 0\n")
    (venv / "python").chmod((venv / "python").stat().st_mode | stat.S_IXUSR)
    return folder


def run_dev(folder: Path) -> subprocess.CompletedProcess[str]:
    # No command: after the set-up, ./dev prints its usage and exits 2.
    return subprocess.run(["bash", str(folder / "dev")], capture_output=True, text=True, cwd=folder)


def git_config(folder: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(folder), "config", "--local", "--get", "diff.invokeai.textconv"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def test_in_a_git_checkout_dev_names_this_clones_command(tmp_path: Path) -> None:
    folder = checkout(tmp_path / "my project")  # a space in the path: the command is quoted for git's shell
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    result = run_dev(folder)
    assert result.returncode == 2 and "usage: ./dev" in result.stderr, result.stderr
    expected = str(folder.resolve() / ".venv" / "bin" / "pytest-invokeai").replace(" ", "\\ ") + " baselines show"
    assert git_config(folder) == expected
    assert run_dev(folder).returncode == 2 and git_config(folder) == expected  # again: unchanged, no error


def test_outside_a_git_checkout_dev_touches_no_git_config(tmp_path: Path) -> None:
    parent = tmp_path / "outer"
    parent.mkdir()
    subprocess.run(["git", "init", "-q", str(parent)], check=True)
    folder = checkout(parent / "vendored")  # inside another repository, but not its checkout's top
    result = run_dev(folder)
    assert result.returncode == 2 and "usage: ./dev" in result.stderr and "git" not in result.stderr, result.stderr
    assert git_config(parent) == ""
    plain = checkout(tmp_path / "plain")
    assert run_dev(plain).returncode == 2 and "git" not in run_dev(plain).stderr
