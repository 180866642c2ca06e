"""What the command modules share: exit codes, loading a workflow argument, printing JSON and errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from pytest_invokeai.workflow.load import Workflow, load_workflow
from pytest_invokeai.workflow.schema import load_schema

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

WORKFLOW_HELP = "a workflow .json exported from InvokeAI, or a PNG InvokeAI generated from a workflow"


def print_error(message: str) -> None:
    print(f"pytest-invokeai: error: {message}", file=sys.stderr)


def load_workflow_arg(path: str, schema: str | None) -> Workflow:
    """Load WORKFLOW with the node schema file ``schema`` (``--schema``; None: the bundled one).

    What the loader repairs is a warning, shown by :func:`show_warning` on stderr."""
    return load_workflow(path, schema=load_schema(schema))


def show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """Replaces ``warnings.showwarning`` while a command runs: one plain line, no code location."""
    print(f"pytest-invokeai: warning: {message}", file=sys.stderr)


def print_json(data: Any, *, compact: bool = False) -> None:
    if compact:
        print(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    else:
        print(json.dumps(data, ensure_ascii=False, indent=2))
