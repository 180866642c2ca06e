"""``pytest-invokeai schema fetch``: save a running server's invocation schema (with its custom nodes)."""

from __future__ import annotations

import argparse
import os

from pytest_invokeai.cli.common import EXIT_OK, add_user_option, auth_from_args
from pytest_invokeai.run.settings import BY_NAME

SCHEMA_ENV = BY_NAME["invokeai_schema"].env
TOKEN_ENV = BY_NAME["invokeai_token"].env


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
    fetch.add_argument(
        "--token", help=f"bearer token for a server that needs one (default: ${TOKEN_ENV}; never printed)"
    )
    add_user_option(fetch)
    fetch.set_defaults(handler=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    # Through the typed client, like every command that talks to a server: a multi-user server's login, a
    # sub-path (base_url) and the version check come with it.
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.live_schema import fetch_live_schema

    token = None if args.user else args.token or os.environ.get(TOKEN_ENV) or None
    with InvokeAIClient(args.url, auth=auth_from_args(args, token)) as client:
        version = client.probe_version()
        client.check_login()
        schema = fetch_live_schema(client, version)
    schema.save(args.output)
    print(f"wrote {args.output}: InvokeAI {schema.invokeai_version}, {len(schema.nodes)} node types")
    print(f"use it with: pytest-invokeai --schema {args.output} ...  or  {SCHEMA_ENV}={args.output}")
    return EXIT_OK
