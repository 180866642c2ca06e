"""``pytest-invokeai graph WORKFLOW``: the enqueue body that running the workflow would send."""

from __future__ import annotations

import argparse

from pytest_invokeai.cli.common import (
    EXIT_OK,
    WORKFLOW_HELP,
    load_workflow_arg,
    print_json,
)
from pytest_invokeai.errors import InputValueError
from pytest_invokeai.workflow.form import collect_values
from pytest_invokeai.workflow.graph import build_enqueue_body


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="print the enqueue_batch body the workflow would send to InvokeAI",
        description=(
            "Build the body of POST /api/v1/queue/{queue}/enqueue_batch for WORKFLOW, as the web UI "
            "would when you press Invoke, with form inputs set by --set. Nothing is sent."
        ),
    )
    parser.add_argument("workflow", metavar="WORKFLOW", help=WORKFLOW_HELP)
    add_set_option(parser)
    parser.add_argument(
        "--board",
        metavar="BOARD_ID",
        help="the board that board inputs left on 'auto' save to (the web UI's auto-add board); "
        "without it they save to Uncategorized",
    )
    parser.add_argument("--json", action="store_true", help="print compact one-line JSON (default: indented)")
    parser.set_defaults(handler=run)


def add_set_option(parser: argparse.ArgumentParser, more_help: str = "") -> None:
    """``--set INPUT=VALUE`` (repeatable), shared by the commands that take form values."""
    parser.add_argument(
        "--set",
        dest="sets",
        metavar="INPUT=VALUE",
        action="append",
        type=parse_assignment,
        default=[],
        help=(
            "set a form input (repeatable). INPUT is an index (see 'pytest-invokeai inputs'), a display "
            "name or an identity node_id.field_name; VALUE is read by the input's kind "
            "(e.g. 42, 0.5, true, a string, JSON for collections and models)" + more_help
        ),
    )


def parse_assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected INPUT=VALUE (e.g. 3=768 or Seed=42), got {text!r}")
    return key.strip(), value


def run(args: argparse.Namespace) -> int:
    workflow = load_workflow_arg(args.workflow, args.schema)
    values = collect_values(workflow, assignments_by_key(args.sets))
    body = build_enqueue_body(workflow, values, board=args.board)
    print_json(body, compact=args.json)
    return EXIT_OK


def assignments_by_key(sets: list[tuple[str, str]]) -> dict[int | str, str]:
    """``--set`` pairs as {key: text}. ``collect_values`` resolves the keys and parses the text by kind
    (and refuses two different values for one input given under different keys); only the same
    key given twice is caught here, because a dict cannot hold it twice."""
    values: dict[int | str, str] = {}
    for key, raw in sets:
        if key in values:
            raise InputValueError(f"--set {key}=... is given twice ({values[key]!r} and {raw!r}); give each input once")
        values[key] = raw
    return values
