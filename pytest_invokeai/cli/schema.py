"""``pytest-invokeai schema fetch``: save a running server's invocation schema (with its custom nodes)."""

from __future__ import annotations

import argparse

from pytest_invokeai.cli.common import EXIT_OK
from pytest_invokeai.run.settings import BY_NAME
from pytest_invokeai.workflow.schema import fetch_schema

SCHEMA_ENV = BY_NAME["invokeai_schema"].env


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="save a running InvokeAI's node schema, for workflows with custom nodes",
        description=(
            "pytest-invokeai knows the fields of InvokeAI 6.14.2's own nodes. For custom nodes (or another "
            "InvokeAI version), save your server's schema to a file and name it with --schema FILE or the "
            f"{SCHEMA_ENV} environment variable."
        ),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    parser.set_defaults(command_parser=parser)
    fetch = actions.add_parser("fetch", help="read the schema from a server and write it to a file")
    fetch.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:9090")
    fetch.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the schema (JSON)")
    fetch.set_defaults(handler=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    schema = fetch_schema(args.url)
    schema.save(args.output)
    print(f"wrote {args.output}: InvokeAI {schema.invokeai_version}, {len(schema.nodes)} node types")
    print(f"use it with: pytest-invokeai --schema {args.output} ...  or  {SCHEMA_ENV}={args.output}")
    return EXIT_OK
