"""Install the pinned InvokeAI in a virtual environment of its own, and find it again.

The environment lives outside the plugin's (InvokeAI pins hundreds of packages, torch among
them, that must not leak into a test environment) and outside any clone of the repo, so that
every clone, CI run and worker reuses one install. Default location:
``$PYTEST_INVOKEAI_HOME/invokeai-<version>`` (``PYTEST_INVOKEAI_HOME`` defaults to
``~/.cache/pytest-invokeai``). A stamp file written last marks an install as complete; a
half-finished one (interrupted, out of disk) is detected and redone, never trusted.

Usage: ``python -m pytest_invokeai.local.install [--env DIR] [--force]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from pytest_invokeai._util.locks import file_lock
from pytest_invokeai.errors import ServerError

INVOKEAI_VERSION = "6.14.2"

#: What gets installed. Besides InvokeAI itself:
#: - torch is pinned so that pip takes a local CPU wheel where the machine has one (about 2.7 GB
#:   installed) instead of the newest CUDA build from the registry (about 7 GB; it runs without a
#:   GPU too); torchvision to the build that matches it.
#: - the web stack follows InvokeAI's own lock file: with starlette 1.x, InvokeAI 6.14.2's gzip
#:   middleware breaks Socket.IO long-polling (HTTP 500), and the web UI cannot queue.
PINNED_REQUIREMENTS = (
    f"invokeai=={INVOKEAI_VERSION}",
    "torch==2.13.0",
    "torchvision==0.28.0",
    "starlette==0.48.0",
    "python-engineio==4.13.3",
    "python-socketio==5.16.3",
    "uvicorn==0.49.0",
)
STAMP_NAME = "pytest-invokeai-install.json"
SUPPORTED_PYTHONS = ((3, 11), (3, 12))  # InvokeAI 6.14 requires >=3.11,<3.13


def home_dir() -> Path:
    return Path(os.environ.get("PYTEST_INVOKEAI_HOME") or Path.home() / ".cache" / "pytest-invokeai")


def default_env_dir() -> Path:
    return home_dir() / f"invokeai-{INVOKEAI_VERSION}"


def env_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp() -> dict[str, object]:
    return {"invokeai": INVOKEAI_VERSION, "requirements": list(PINNED_REQUIREMENTS)}


def installed_python(env_dir: Path | None = None) -> Path | None:
    """The Python of a complete install of the pinned InvokeAI, or None."""
    env_dir = env_dir or default_env_dir()
    try:
        stamp = json.loads((env_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    python = env_python(env_dir)
    if stamp.get("invokeai") != INVOKEAI_VERSION or stamp.get("requirements") != list(PINNED_REQUIREMENTS):
        return None
    return python if python.exists() else None


def _find_base_python() -> str:
    if sys.version_info[:2] in SUPPORTED_PYTHONS:
        return sys.executable
    for major, minor in SUPPORTED_PYTHONS:
        found = shutil.which(f"python{major}.{minor}")
        if found:
            return found
    wanted = " or ".join(f"{a}.{b}" for a, b in SUPPORTED_PYTHONS)
    raise ServerError(f"InvokeAI {INVOKEAI_VERSION} needs Python {wanted}; none was found on PATH")


def _install_lock(env_dir: Path) -> AbstractContextManager[None]:
    """One installer at a time per environment (parallel CI jobs, xdist workers, two shells)."""
    return file_lock(env_dir.parent / f".{env_dir.name}.lock")


def install_invokeai(env_dir: Path | None = None, *, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Install (or reuse) the pinned InvokeAI; returns the environment's Python."""
    env_dir = env_dir or default_env_dir()
    with _install_lock(env_dir):
        python = None if force else installed_python(env_dir)
        if python is not None:
            log(f"InvokeAI {INVOKEAI_VERSION} is installed in {env_dir}")
            return python
        if env_dir.exists():
            log(f"Removing the incomplete or outdated environment in {env_dir}")
            shutil.rmtree(env_dir)
        started = time.monotonic()
        log(f"Installing InvokeAI {INVOKEAI_VERSION} into {env_dir} (a few minutes, 2.7-7 GB)...")
        _run([_find_base_python(), "-m", "venv", str(env_dir)])
        python = env_python(env_dir)
        _run([str(python), "-m", "pip", "install", "--quiet", *PINNED_REQUIREMENTS])
        # Written last and atomically: its presence means the install finished.
        tmp = env_dir / (STAMP_NAME + ".tmp")
        tmp.write_text(json.dumps(_stamp(), indent=2) + "\n")
        os.replace(tmp, env_dir / STAMP_NAME)
        log(f"Installed InvokeAI {INVOKEAI_VERSION} in {time.monotonic() - started:.0f} s")
        return python


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise ServerError(f"command failed with exit code {result.returncode}: {' '.join(cmd)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_invokeai.local.install",
        description=f"Install InvokeAI {INVOKEAI_VERSION} in its own virtual environment for the managed test server.",
    )
    parser.add_argument("--env", type=Path, default=None, help=f"environment folder (default: {default_env_dir()})")
    parser.add_argument("--force", action="store_true", help="reinstall even when a complete install is there")
    args = parser.parse_args(argv)
    try:
        python = install_invokeai(args.env, force=args.force)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(python)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
