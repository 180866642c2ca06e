"""Helpers for the project's own tests."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

#: Real workflows exported from the InvokeAI web UI (MIT, licence and origin beside them).
GUI_EXPORTS = Path(__file__).resolve().parent / "data" / "exports"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: a missing prerequisite must never turn CI green."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (this test must run in CI)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def managed_server_url(**options: Any) -> Iterator[str]:
    """A managed InvokeAI started with ``options`` (ManagedServer's), its URL, stopped on leaving.
    A test that cannot get one skips locally and fails in CI."""
    from pytest_invokeai.errors import ServerError
    from pytest_invokeai.local.managed import ManagedServer

    try:
        server = ManagedServer(**options).start()
    except ServerError as exc:
        require(False, f"no InvokeAI server for this test: {exc}")
        return
    try:
        yield server.url
    finally:
        server.stop()


# -- tiny model-free graphs for tests that run generations ----------------------------------


def noise_graph(size: int = 64, blur: float = 0.0) -> dict:
    nodes = {
        "blank": {"id": "blank", "type": "blank_image", "width": size, "height": size, "is_intermediate": True},
        "noise": {"id": "noise", "type": "img_noise", "seed": 0, "is_intermediate": blur > 0},
    }
    edges = [{"source": {"node_id": "blank", "field": "image"}, "destination": {"node_id": "noise", "field": "image"}}]
    if blur:
        nodes["blur"] = {"id": "blur", "type": "img_blur", "radius": blur, "is_intermediate": False}
        edges.append(
            {"source": {"node_id": "noise", "field": "image"}, "destination": {"node_id": "blur", "field": "image"}}
        )
    return {"id": "g", "nodes": nodes, "edges": edges}


def builder(graph: dict):
    def build(fixed: Mapping[tuple[str, str], Any]) -> dict:
        nodes = {k: dict(v) for k, v in graph["nodes"].items()}
        for (node_id, name), value in fixed.items():
            nodes[node_id][name] = value
        return {"prepend": False, "batch": {"graph": {**graph, "nodes": nodes}, "runs": 1}}

    return build


def custom_node_schema() -> dict[str, Any]:
    """What `pytest-invokeai schema fetch` writes for a server with the custom node of form-nested.json installed:
    the shipped schema plus ``my_custom_sharpen`` (a ``strength`` in 0..1 titled "Sharpen strength", and ``tags``)."""
    import json

    shipped = Path(__file__).parents[1] / "pytest_invokeai" / "workflow" / "data" / "invocation-schema.json"
    schema: dict[str, Any] = json.loads(shipped.read_text())
    schema["nodes"]["my_custom_sharpen"] = {
        "fields": {
            "strength": {"kind": "float", "title": "Sharpen strength", "constraints": {"minimum": 0, "maximum": 1}},
            "tags": {"kind": "string_collection"},
        },
        "node_pack": "my-node-pack",
        "title": "Sharpen",
    }
    return schema


# -- the pytest-invokeai command, run in this process -----------------------------------------


@dataclasses.dataclass(frozen=True)
class CliResult:
    """What a finished ``pytest-invokeai`` command left: the attributes of a ``subprocess.CompletedProcess``."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, cwd: Path | None = None) -> CliResult:
    """Run ``pytest-invokeai ARGS`` in this process, its stdout and stderr captured, as a subprocess would see them.

    Starting ``python -m pytest_invokeai.cli`` costs most of a second of CPU per command; calling ``main``
    runs the same code (argparse's ``sys.exit`` on usage errors included) in milliseconds. A few tests
    still start the real process, for the entry point itself.
    """
    from pytest_invokeai.cli import main

    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            returncode = main(argv)
        except SystemExit as exc:  # argparse: --help exits 0, a usage error exits 2
            code = exc.code
            returncode = code if isinstance(code, int) else (0 if code is None else 1)
            if isinstance(code, str):
                print(code, file=sys.stderr)
    return CliResult(argv, returncode, out.getvalue(), err.getvalue())
