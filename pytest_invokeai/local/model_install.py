"""Models for test servers: the tiny SD-1.5 checkpoint built locally, and installing a model folder.

:func:`ensure_tiny_sd15` builds the checkpoint of :mod:`.tiny_sd15` once per recipe version with the
InvokeAI install's Python (it has torch, diffusers and transformers; the plugin's environment need
not) into ``$PYTEST_INVOKEAI_HOME/models/tiny-sd15-<recipe>``, and reuses it afterwards. The build
goes to a temporary folder that is renamed into place when it is complete, under a file lock, so
two processes (xdist workers, parallel CI jobs) never see or make a half-built model.

:func:`install_model` installs a model folder into a running server in place (the server must see
the same file system: a local or managed server) and waits for the install job. A model that the
server has already (the same path, or the same content hash) is returned as it is, so installing
is safe to repeat.

Usage: ``python -m pytest_invokeai.local.model_install [--url URL]`` builds the model, prints
its folder and, with ``--url``, installs it into that server.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_invokeai._util.locks import file_lock
from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.install import home_dir, installed_python
from pytest_invokeai.local.invokeai_side.tiny_sd15 import RECIPE_VERSION, SUMMARY_NAME
from pytest_invokeai.local.managed import clean_environment
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient

BUILDER = Path(__file__).parent / "invokeai_side" / "tiny_sd15.py"
TINY_SD15_NAME = f"tiny-sd15-{RECIPE_VERSION}"  # the folder's name, and so the model's name on a server
BUILD_TIMEOUT = 600.0  # about 10 s on 2 cores, most of it importing torch
POLL_INTERVAL = 0.25
OUTPUT_TAIL = 2000  # characters of a failed build's output shown in the error
FINISHED = ("completed", "error", "cancelled")


def models_dir() -> Path:
    return home_dir() / "models"


def ensure_tiny_sd15(cache_dir: Path | None = None, *, invokeai_python: Path | None = None) -> Path:
    """The folder of the tiny SD-1.5 checkpoint, built on first use. ``cache_dir`` defaults to :func:`models_dir`."""
    target = (cache_dir or models_dir()) / TINY_SD15_NAME
    if read_summary(target) is not None:
        return target
    with file_lock(target.parent / f".{target.name}.lock"):
        if read_summary(target) is not None:  # another process built it while we waited
            return target
        python = invokeai_python or installed_python()
        if python is None:
            raise ServerError(
                "building the tiny SD-1.5 model needs InvokeAI's Python (torch, diffusers, transformers); "
                "install it with `python -m pytest_invokeai.server.install`, or pass invokeai_python"
            )
        if target.exists():  # a folder without a valid summary: not ours to trust
            shutil.rmtree(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{TINY_SD15_NAME}-", dir=target.parent))
        try:
            _build(Path(python), staging / "model")
            os.replace(staging / "model", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if read_summary(target) is None:
        raise ServerError(f"the tiny SD-1.5 build in {target} wrote no valid {SUMMARY_NAME}")
    return target


def read_summary(folder: Path) -> dict[str, Any] | None:
    """The build summary of a complete tiny SD-1.5 folder of the current recipe, else None."""
    try:
        summary = json.loads((folder / SUMMARY_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("recipe") != RECIPE_VERSION:
        return None
    files = summary.get("files")
    if not isinstance(files, list) or not all((folder / name).is_file() for name in files):
        return None
    return summary


def _build(python: Path, out_dir: Path) -> None:
    try:
        result = subprocess.run(
            [str(python), str(BUILDER), str(out_dir)],
            env=clean_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerError(f"cannot build the tiny SD-1.5 model with {python}: {exc}") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-OUTPUT_TAIL:]
        raise ServerError(
            f"building the tiny SD-1.5 model with {python} failed (exit code {result.returncode}):\n{output}"
        )


# -- installing into a server -----------------------------------------------------------------


def install_model(
    client: InvokeAIClient, source: Path, *, name: str | None = None, timeout: float = 300
) -> dict[str, Any]:
    """Install the model at ``source`` in place; returns the server's config of the model.

    A model the server has already, from the same path or with the same hash (known for a tiny
    SD-1.5 folder from its build summary), is returned without installing it again; so is one that
    another process installed while we waited. A failed install raises :class:`ServerError` with the
    server's reason.
    """
    source = Path(source).resolve()
    known_hash = (read_summary(source) or {}).get("invokeai_hash")
    found = _installed(client, source, known_hash)
    if found is not None:
        return found
    job = client.send(api.install_model(str(source), config={"name": name} if name else {}))
    job = _wait_for_job(client, job, source, timeout)
    if job.get("status") == "completed" and isinstance(job.get("config_out"), dict):
        installed: dict[str, Any] = job["config_out"]
        return installed
    # A concurrent install of the same model makes ours fail as a duplicate; theirs is what we wanted.
    found = _installed(client, source, known_hash)
    if found is not None:
        return found
    reason = job.get("error") or job.get("error_reason") or f"the install job ended {job.get('status')!r}"
    raise ServerError(f"InvokeAI at {client.base_url} could not install the model in {source}: {reason}")


def _installed(client: InvokeAIClient, source: Path, known_hash: str | None) -> dict[str, Any] | None:
    for config in client.send(api.models()):
        if not isinstance(config, dict):
            continue
        same_path = str(source) in (config.get("path"), config.get("source"))
        if same_path or (known_hash and config.get("hash") == known_hash):
            return config
    return None


def _wait_for_job(client: InvokeAIClient, job: dict[str, Any], source: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job.get("status") not in FINISHED:
        if time.monotonic() > deadline:
            raise ServerError(
                f"InvokeAI at {client.base_url} did not finish installing the model in {source} within {timeout:.0f} s "
                f"(install job {job.get('id')} is {job.get('status')!r})"
            )
        time.sleep(POLL_INTERVAL)
        job = client.send(api.model_install_job(int(job["id"])))
    return job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_invokeai.local.model_install",
        description="Build the tiny SD-1.5 test model (once) and optionally install it into a running InvokeAI.",
    )
    parser.add_argument("--url", help="install the model into the InvokeAI server at this URL (same machine)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help=f"where models are built (default: {models_dir()})"
    )
    args = parser.parse_args(argv)
    try:
        folder = ensure_tiny_sd15(args.cache_dir)
        print(folder)
        if args.url:
            with InvokeAIClient(args.url) as client:
                config = install_model(client, folder)
            print(
                f"installed as {config.get('name')!r} ({config.get('base')} {config.get('type')}, key {config.get('key')})"
            )
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
