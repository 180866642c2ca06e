"""What the command modules share: exit codes, loading a workflow argument, printing JSON and errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.workflow.load import Workflow, load_workflow
from pytest_invokeai.workflow.schema import load_schema

if TYPE_CHECKING:
    from pytest_invokeai.server.auth import Auth

PASSWORD_ENV = "PYTEST_INVOKEAI_PASSWORD"  # the plugin's variable (run/settings.py), read the same way here

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


def add_user_option(parser: argparse.ArgumentParser) -> None:
    """``--user EMAIL``: log in to a multi-user InvokeAI; the password only ever comes from the environment."""
    parser.add_argument(
        "--user",
        metavar="EMAIL",
        help=f"log in to a multi-user InvokeAI as this user, with the password from ${PASSWORD_ENV} (never printed)",
    )


def auth_from_args(args: argparse.Namespace, token: str | None) -> Auth:
    """How a command signs in: ``--user`` with the password from the environment, or the token (may be None)."""
    from pytest_invokeai.server.auth import Auth, Credentials

    how = f"--user EMAIL with the password in {PASSWORD_ENV}, or --token"
    user = getattr(args, "user", None)
    if user and token:
        raise InvokeAITestError("--user and a token both say how to sign in: give one")
    if not user:
        return Auth(token, how_to_log_in=how)
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise InvokeAITestError(f"--user {user} needs that user's password in the environment variable {PASSWORD_ENV}")
    return Auth(credentials=Credentials(user, password), how_to_log_in=how)
