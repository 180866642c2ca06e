"""Models a test declares (``models=[...]``), installed into the managed server before its cases run.

A declared name is either a recipe the plugin knows (``tiny-sd15``: a tiny SD-1.5-architecture
checkpoint built locally with fixed-seed random weights, for real diffusion on a CPU without a
download) or a path to a model file or folder on this machine. Installing is idempotent and done
once per run under a lock, so xdist workers sharing the managed server do not race.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pytest_invokeai._util.locks import file_lock
from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.model_install import ensure_tiny_sd15, install_model
from pytest_invokeai.server.client import InvokeAIClient

#: Recipes: name -> a function that returns a local model folder (built and cached when needed).
RECIPES: dict[str, Callable[[], Path]] = {"tiny-sd15": ensure_tiny_sd15}


def model_source(name: str) -> tuple[Path, str | None]:
    """The local source of a declared model and the name to install it under."""
    if name in RECIPES:
        return RECIPES[name](), None  # the recipe names the model (as the example workflows do)
    path = Path(name).expanduser()
    if path.exists():
        return path.resolve(), None
    raise ServerError(
        f"declared model {name!r} is neither a known recipe ({', '.join(sorted(RECIPES))}) nor an existing "
        "model file or folder"
    )


def install_declared_models(client: InvokeAIClient, names: Iterable[str], *, lock_dir: Path) -> list[dict[str, Any]]:
    """Install each declared model on the server (skipping those it has); the installed records."""
    installed = []
    with file_lock(lock_dir / "models.lock"):
        for name in names:
            source, install_name = model_source(name)
            installed.append(install_model(client, source, name=install_name))
    return installed
