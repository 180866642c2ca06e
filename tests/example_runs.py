"""What the tests that run pytest on a copy of the example suite share: the run, and edits of its workflows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_pytest(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_INVOKEAI_")}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def edit_workflow(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


def node_by_type(data: dict, node_type: str) -> dict:
    return next(n for n in data["nodes"] if n["data"]["type"] == node_type)


def swap_block_x_and_y(data) -> None:
    """Edit for color-blocks.json: swap the form places of Block x and Block y (the form drifts, nothing else)."""
    elements = data["form"]["elements"]
    for element in elements.values():
        children = element.get("data", {}).get("children", [])
        ids = [elements[c]["data"].get("fieldIdentifier", {}).get("fieldName") for c in children]
        if "x" in ids and "y" in ids:
            a, b = ids.index("x"), ids.index("y")
            children[a], children[b] = children[b], children[a]
            return
    raise AssertionError("no container holds Block x and Block y")
