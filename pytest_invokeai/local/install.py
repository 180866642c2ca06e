"""Install a pinned InvokeAI release in a virtual environment of its own, and find it again.

Each environment lives outside the plugin's (InvokeAI pins hundreds of packages, torch among
them, that must not leak into a test environment) and outside any clone of the repo, so that
every clone, CI run and worker reuses one install per version. Location:
``$PYTEST_INVOKEAI_HOME/invokeai-<version>`` (``PYTEST_INVOKEAI_HOME`` defaults to
``~/.cache/pytest-invokeai``). A stamp file written last marks an install as complete; a
half-finished one (interrupted, out of disk) is detected and redone, never trusted.

Usage: ``python -m pytest_invokeai.server.install [--version X.Y.Z] [--env DIR] [--force] [--list]``.
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

#: The version the managed server runs when nothing asks for another one.
DEFAULT_VERSION = "6.14.2"
INVOKEAI_VERSION = DEFAULT_VERSION  # the name earlier releases of this module exported

# Where the pins come from. InvokeAI publishes no lock file with its releases; its git tags carry
# ``uv.lock`` (read at v6.13.0 ... v6.13.8, and at v6.14.0-rc2 for the 6.14 line, whose final tags
# are not in the repository) and each wheel's METADATA its ranges. We pin only what a plain
# ``pip install invokeai==X`` would otherwise resolve differently from the lock in a way that breaks:
# - torch: 6.13.5 and later allow ``torch>=2.7,<3``; 2.13.0 is taken so that pip finds a local CPU
#   wheel where the machine has one (about 2.7 GB installed) instead of the registry's CUDA build
#   (about 7 GB; it runs without a GPU too); torchvision to the build that matches it. 6.13.0 asks
#   for ``torch~=2.7.0``: its lock's 2.7.1 / 0.22.1.
# - the web stack, as each lock has it: with starlette 1.x, InvokeAI 6.14's gzip middleware breaks
#   Socket.IO long-polling (HTTP 500) and the web UI cannot queue.
# - 6.13.0 allows ``transformers>=4.56`` with no upper bound; 5.x (which 6.13.5 moved to, with code
#   changes) is not what it was built for: its lock's 4.56.0.
_CPU_TORCH = ("torch==2.13.0", "torchvision==0.28.0")
_WEB_STACK_2026_06 = ("starlette==0.48.0", "python-engineio==4.13.3", "python-socketio==5.16.3", "uvicorn==0.49.0")
_PINS_6_13_0 = (
    "torch==2.7.1",
    "torchvision==0.22.1",
    "transformers==4.56.0",
    "starlette==0.46.2",
    "python-engineio==4.12.2",
    "python-socketio==5.13.0",
    "uvicorn==0.35.0",
)
#: Every supported release (each 6.13.x and 6.14.x on the package registry) and what it is
#: installed with besides ``invokeai==<version>``.
PINS: dict[str, tuple[str, ...]] = {
    "6.13.0": _PINS_6_13_0,
    "6.13.5": _CPU_TORCH + _WEB_STACK_2026_06,
    "6.13.6": _CPU_TORCH + _WEB_STACK_2026_06,
    "6.13.7": _CPU_TORCH + _WEB_STACK_2026_06,
    "6.13.8": _CPU_TORCH + _WEB_STACK_2026_06,
    "6.14.0": _CPU_TORCH + _WEB_STACK_2026_06,
    "6.14.1": _CPU_TORCH + _WEB_STACK_2026_06,
    "6.14.2": _CPU_TORCH + _WEB_STACK_2026_06,
}
PINNED_REQUIREMENTS = (f"invokeai=={DEFAULT_VERSION}", *PINS[DEFAULT_VERSION])  # the default version's
STAMP_NAME = "pytest-invokeai-install.json"
SUPPORTED_PYTHONS = ((3, 11), (3, 12))  # InvokeAI 6.13 and 6.14 require >=3.11,<3.13


def supported_versions() -> tuple[str, ...]:
    return tuple(PINS)


def check_version(version: str) -> str:
    """``version`` when it is a supported release; else a :class:`ServerError` listing those that are."""
    if version not in PINS:
        raise ServerError(
            f"InvokeAI {version!r} is not a version pytest-invokeai can install; "
            f"supported: {', '.join(supported_versions())}"
        )
    return version


def requirements_for(version: str = DEFAULT_VERSION) -> tuple[str, ...]:
    """What ``pip install`` gets for ``version``: InvokeAI itself, then its pins."""
    return (f"invokeai=={check_version(version)}", *PINS[version])


def home_dir() -> Path:
    return Path(os.environ.get("PYTEST_INVOKEAI_HOME") or Path.home() / ".cache" / "pytest-invokeai")


def env_dir_for(version: str = DEFAULT_VERSION) -> Path:
    """The environment folder of ``version``: ``$PYTEST_INVOKEAI_HOME/invokeai-<version>``."""
    return home_dir() / f"invokeai-{check_version(version)}"


def default_env_dir() -> Path:
    return env_dir_for(DEFAULT_VERSION)


def env_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp(version: str) -> dict[str, object]:
    return {"invokeai": version, "requirements": list(requirements_for(version))}


def installed_python(env_dir: Path | None = None, *, version: str = DEFAULT_VERSION) -> Path | None:
    """The Python of a complete install of ``version`` with its current pins, or None."""
    env_dir = env_dir or env_dir_for(version)
    try:
        stamp = json.loads((env_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    wanted = _stamp(version)
    if not isinstance(stamp, dict) or any(stamp.get(key) != value for key, value in wanted.items()):
        return None  # another version, or the same one installed with other pins: redone
    python = env_python(env_dir)
    return python if python.exists() else None


def _find_base_python(version: str) -> str:
    if sys.version_info[:2] in SUPPORTED_PYTHONS:
        return sys.executable
    for major, minor in SUPPORTED_PYTHONS:
        found = shutil.which(f"python{major}.{minor}")
        if found:
            return found
    wanted = " or ".join(f"{a}.{b}" for a, b in SUPPORTED_PYTHONS)
    raise ServerError(f"InvokeAI {version} needs Python {wanted}; none was found on PATH")


def _install_lock(env_dir: Path) -> AbstractContextManager[None]:
    """One installer at a time per environment (parallel CI jobs, xdist workers, two shells)."""
    return file_lock(env_dir.parent / f".{env_dir.name}.lock")


def install_invokeai(
    version: str = DEFAULT_VERSION,
    *,
    env_dir: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Install (or reuse) InvokeAI ``version`` with its pins; returns the environment's Python.

    Safe to call from several processes at once: the second waits for the first and reuses its
    install. Raises :class:`ServerError` for an unsupported version or a failed install.
    """
    requirements = requirements_for(version)
    env_dir = env_dir or env_dir_for(version)
    with _install_lock(env_dir):
        python = None if force else installed_python(env_dir, version=version)
        if python is not None:
            log(f"InvokeAI {version} is installed in {env_dir}")
            return python
        if env_dir.exists():
            log(f"Removing the incomplete or outdated environment in {env_dir}")
            shutil.rmtree(env_dir)
        started = time.monotonic()
        log(f"Installing InvokeAI {version} into {env_dir} (a few minutes, 2.7-7 GB)...")
        _run([_find_base_python(version), "-m", "venv", str(env_dir)])
        python = env_python(env_dir)
        _run([str(python), "-m", "pip", "install", "--quiet", *requirements])
        # Written last and atomically: its presence means the install finished.
        tmp = env_dir / (STAMP_NAME + ".tmp")
        tmp.write_text(json.dumps(_stamp(version), indent=2) + "\n")
        os.replace(tmp, env_dir / STAMP_NAME)
        log(f"Installed InvokeAI {version} in {time.monotonic() - started:.0f} s")
        return python


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise ServerError(f"command failed with exit code {result.returncode}: {' '.join(cmd)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_invokeai.server.install",
        description="Install an InvokeAI release in its own virtual environment for the managed test server.",
    )
    parser.add_argument(
        "--version",
        default=DEFAULT_VERSION,
        help=f"the InvokeAI release (default: {DEFAULT_VERSION}; --list shows the supported ones)",
    )
    parser.add_argument(
        "--env", type=Path, default=None, help="environment folder (default: $PYTEST_INVOKEAI_HOME/invokeai-VERSION)"
    )
    parser.add_argument("--force", action="store_true", help="reinstall even when a complete install is there")
    parser.add_argument("--list", action="store_true", help="list the supported versions, marking the installed ones")
    args = parser.parse_args(argv)
    if args.list:
        for version in supported_versions():
            where = installed_python(version=version)
            print(f"{version}  {'installed in ' + str(where.parent.parent) if where else 'not installed'}")
        return 0
    try:
        python = install_invokeai(args.version, env_dir=args.env, force=args.force)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(python)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
