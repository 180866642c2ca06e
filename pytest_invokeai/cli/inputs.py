"""``pytest-invokeai inputs WORKFLOW``: the form inputs in index order, as a table or as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from pytest_invokeai.cli.common import (
    EXIT_OK,
    WORKFLOW_HELP,
    load_workflow_arg,
    print_json,
)
from pytest_invokeai.workflow.form import FormInput, form_inputs

VALUE_WIDTH = 40


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "inputs",
        help="list a workflow's form inputs with their index, kind and value",
        description=(
            "List the inputs of a workflow's Form panel in index order (the order tests use). "
            "IDENTITY is node_id.field_name; it stays the same when fields are moved on the form."
        ),
    )
    parser.add_argument("workflow", metavar="WORKFLOW", help=WORKFLOW_HELP)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {index, node_id, node_type, field_name, label, display_name, identity, kind, value, ...}",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    workflow = load_workflow_arg(args.workflow, args.schema)
    found = form_inputs(workflow)
    if args.json:
        print_json([input_json(i) for i in found])
    else:
        print(format_table(found) if found else f"{workflow.source}: the workflow's form has no inputs")
    return EXIT_OK


def input_json(form_input: FormInput) -> dict[str, Any]:
    data = dataclasses.asdict(form_input)
    data["identity"] = form_input.identity
    return data


def format_table(found: list[FormInput]) -> str:
    header = ("INDEX", "NAME", "KIND", "VALUE", "IDENTITY")
    rows = [(str(i.index), i.display_name, i.kind, short_value(i.value), i.identity) for i in found]
    widths = [max(len(row[c]) for row in (header, *rows)) for c in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        # widths has no entry for the last column, which is not padded: zip stops before it.
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        return "  ".join(cells)

    return "\n".join(line(row) for row in (header, *rows))


def short_value(value: Any) -> str:
    """A one-line value for the table: model and image fields by name, the rest as JSON, cut to fit."""
    if isinstance(value, dict):
        for key in ("name", "image_name", "board_id"):
            if isinstance(value.get(key), str):
                return str(value[key])
    text = json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())  # multi-line prompts on one line
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"
