"""The ``pytest-invokeai accept`` command line a failure message prints, in a form that works as printed.

The ``pytest-invokeai`` found on PATH may belong to another environment than the one running the tests
(or there is none: a venv not activated, ``python -m pytest``). Then the line runs the command module with
this very interpreter. The results folder and the rootdir are named when accept's defaults would not find
them from the folder pytest was started in.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_invokeai.run.settings import BY_NAME

SCRIPT = "pytest-invokeai"
DEFAULT_RESULTS = str(BY_NAME["invokeai_results_dir"].default)  # the plugin's default, and accept's


@functools.cache
def command_prefix() -> list[str]:
    """How to run ``pytest-invokeai`` of this environment: its name when PATH finds it, else via ``python -m``."""
    beside = Path(sys.executable).parent / (SCRIPT + (".exe" if os.name == "nt" else ""))
    on_path = shutil.which(SCRIPT)
    if on_path is not None and beside.is_file() and _same(Path(on_path), beside):
        return [SCRIPT]
    return [sys.executable, "-m", "pytest_invokeai.cli"]


def accept_command(
    test_ids: Sequence[str], *, results_dir: Path, rootdir: Path, cwd: Path | None = None, prefix: Sequence[str] = ()
) -> str:
    """The shell line that accepts ``test_ids`` from the results in ``results_dir``, run from ``cwd``."""
    here = (cwd or Path.cwd()).resolve()
    words = [*(prefix or command_prefix()), "accept", *test_ids]
    if rootdir.resolve() != here:
        words += ["--rootdir", _shown(rootdir, here)]
    if results_dir.resolve() != (rootdir / DEFAULT_RESULTS).resolve():
        words += ["--results", _shown(results_dir, here)]
    return shlex.join(words)


def _shown(path: Path, here: Path) -> str:
    resolved = path.resolve()
    return os.path.relpath(resolved, here) if resolved.is_relative_to(here) else str(resolved)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
