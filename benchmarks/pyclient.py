"""Approach 2 from the benchmark's side: install invokeai-py-client in its own venv, run the driver.

The library pins its own dependencies (aiohttp, opencv, scipy, requests, ...), so it gets
``benchmarks/.venv-pyclient`` (git-ignored), made once and reused. When it does not install or
does not run, the result says so with the reason; nothing is made up in its place.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

from .workload import Workload

PACKAGE = "invokeai-py-client==1.1.1"
VENV = Path(__file__).resolve().parent / ".venv-pyclient"
DRIVER = Path(__file__).resolve().with_name("pyclient_driver.py")
REASON_LINES = 12  # of a failing command's output, kept as the reason


class Unavailable(Exception):
    """The library could not be installed or run; the message is the reason shown in the table."""


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_installed(log: Any = print) -> str:
    """The installed library version, installing it first when needed."""
    python = venv_python()
    probe = [str(python), "-c", "from importlib.metadata import version; print(version('invokeai-py-client'))"]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == PACKAGE.split("==")[1]:
            return done.stdout.strip()
    log(f"installing {PACKAGE} into {VENV} (once)")
    if not python.exists():
        venv.create(VENV, with_pip=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", PACKAGE], capture_output=True, text=True)
    if install.returncode != 0:
        raise Unavailable(f"pip install {PACKAGE} failed: {_tail(install.stdout + install.stderr)}")
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode != 0:
        raise Unavailable(f"{PACKAGE} installed but does not import: {_tail(done.stderr)}")
    return done.stdout.strip()


def run_pyclient(url: str, workload: Workload, n: int) -> dict[str, Any]:
    """Run the driver on ``n`` cases; its item ids and timer (raises :class:`Unavailable` on failure)."""
    with tempfile.TemporaryDirectory(prefix="bench-pyclient-") as tmp:
        out = Path(tmp) / "result.json"
        done = subprocess.run(
            [str(venv_python()), str(DRIVER), url, str(workload.workflow), str(workload.size), str(n), str(out)],
            capture_output=True,
            text=True,
            cwd=tmp,  # the library writes debug files into tmp/ of the working directory on errors
        )
        if done.returncode != 0 or not out.exists():
            raise Unavailable(f"the py-client run failed (exit {done.returncode}): {_tail(done.stderr or done.stdout)}")
        return json.loads(out.read_text())


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-REASON_LINES:]) or "(no output)"
