"""``pytest-invokeai drift export|check``: save a workflow's index map, and compare a workflow with one."""

from __future__ import annotations

import argparse

from pytest_invokeai.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    WORKFLOW_HELP,
    load_workflow_arg,
    print_json,
)
from pytest_invokeai.workflow.drift import IndexMap, check_drift


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="save which input is at which index, and check a workflow against that later",
        description=(
            "Tests set form inputs by index. When a workflow is edited in InvokeAI, inputs can move, "
            "vanish or appear, and an index can silently point at another field. 'export' saves an "
            "index map of the workflow as it is now; 'check' compares the workflow with a saved map."
        ),
    )
    parser.set_defaults(command_parser=parser)
    commands = parser.add_subparsers(title="drift commands", metavar="ACTION")

    export = commands.add_parser(
        "export",
        help="write the workflow's index map to a JSON file",
        description="Write WORKFLOW's index map (inputs by index, and a content hash) to MAP.",
    )
    export.add_argument("workflow", metavar="WORKFLOW", help=WORKFLOW_HELP)
    export.add_argument("-o", "--output", metavar="MAP", required=True, help="the index map file to write")
    export.set_defaults(handler=run_export)

    check = commands.add_parser(
        "check",
        help="compare a workflow with a saved index map (exit 1 if inputs moved, vanished, appeared or changed)",
        description=(
            "Compare WORKFLOW's form inputs with the index map MAP. Exit 0 when every input is where the "
            "map says (a node id that changed in place is noted, not counted as drift), 1 when there is "
            "drift, 2 when a file cannot be read."
        ),
    )
    check.add_argument("workflow", metavar="WORKFLOW", help=WORKFLOW_HELP)
    check.add_argument("map", metavar="MAP", help="an index map written by 'pytest-invokeai drift export'")
    check.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {unchanged, moved, missing, new, changed: [...], has_drift, content_hash}",
    )
    check.set_defaults(handler=run_check)


def run_export(args: argparse.Namespace) -> int:
    workflow = load_workflow_arg(args.workflow, args.schema)
    index_map = IndexMap.from_workflow(workflow)
    index_map.save(args.output)
    print(f"wrote {args.output}: {len(index_map.inputs)} inputs of workflow '{index_map.workflow_name}'")
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    saved = IndexMap.load(args.map)
    workflow = load_workflow_arg(args.workflow, args.schema)
    report = check_drift(workflow, saved)
    if args.json:
        print_json(report.to_json())
    else:
        print(report.text())
    return EXIT_CHECK_FAILED if report.has_drift else EXIT_OK
