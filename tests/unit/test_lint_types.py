"""The lint and type rules in pyproject.toml hold, and they catch what they are there to catch.

./dev test runs ``ruff check`` and ``mypy`` before pytest; these tests show that the configuration they read
refuses the layering and waiver mistakes it is meant to refuse (each snippet is checked as if it were a file
at the given path, so the per-folder rules apply), and that the package is clean today.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def ruff_codes(source: str, *, as_path: str) -> list[str]:
    """The rule codes ruff reports for ``source`` checked as the file ``as_path`` of this repository."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            "--stdin-filename",
            as_path,
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr  # 2 would be a broken configuration
    return sorted({line.split(": ", 1)[1].split()[0] for line in result.stdout.splitlines() if f"{as_path}:" in line})


@pytest.mark.parametrize(
    "module",
    [
        "import pytest\n\nprint(pytest)\n",
        "import _pytest.nodes\n\nprint(_pytest.nodes)\n",
        "from xdist import is_xdist_worker\n\nprint(is_xdist_worker)\n",
    ],
    ids=["pytest", "_pytest", "xdist"],
)
def test_pytest_is_imported_only_by_the_plugin_package(module):
    assert ruff_codes(module, as_path="pytest_invokeai/run/example.py") == ["TID251"]
    assert ruff_codes(module, as_path="pytest_invokeai/plugin/example.py") == []


def test_relative_imports_are_refused_in_the_package():
    assert ruff_codes(
        "from .errors import WorkflowError\n\nprint(WorkflowError)\n", as_path="pytest_invokeai/run/example.py"
    ) == ["TID252"]


def test_a_waiver_must_name_its_code():
    assert ruff_codes("import os  # noqa\n", as_path="pytest_invokeai/run/example.py") == ["PGH004"]
    assert ruff_codes("x: int = 'a'  # type: ignore\n", as_path="pytest_invokeai/run/example.py") == ["PGH003"]
    assert ruff_codes("import os  # noqa: F401 - re-exported\n", as_path="pytest_invokeai/run/example.py") == []


def test_the_repository_passes_ruff():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_passes_mypy_strict():
    result = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found" in result.stdout


def test_mypy_is_strict(tmp_path):
    untyped = tmp_path / "untyped.py"
    untyped.write_text("def double(x):\n    return x * 2\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(untyped)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[no-untyped-def]" in result.stdout
