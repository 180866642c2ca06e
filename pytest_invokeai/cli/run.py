"""``pytest-invokeai run``: one generation of a workflow on a real server, images written to a folder."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path

from pytest_invokeai._util.names import safe_stem
from pytest_invokeai.cli.common import (
    EXIT_OK,
    WORKFLOW_HELP,
    add_user_option,
    auth_from_args,
    load_workflow_arg,
    print_json,
)
from pytest_invokeai.cli.graph import add_set_option, assignments_by_key
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.local.managed import ManagedServer
from pytest_invokeai.local.model_install import models_dir
from pytest_invokeai.local.model_sources import install_declared_models
from pytest_invokeai.local.node_packs import find_packs
from pytest_invokeai.run.progress import WaitProgress
from pytest_invokeai.run.settings import DEFAULT_HANG_TIMEOUT
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.live_schema import fetch_live_schema, live_schema_needed
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.form import FormWarning, form_inputs, resolve_input
from pytest_invokeai.workflow.load import Workflow, load_workflow
from pytest_invokeai.workflow.schema import bundled_schema


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a workflow once on InvokeAI and save its output images",
        description=(
            "Run WORKFLOW once with form inputs set by --set, on the server at --url or, without --url, on a "
            "local InvokeAI started for this run (and stopped after it). Each output image is written to --out "
            "as NODE_ID.png (made safe for every OS), one line per image on stdout."
        ),
    )
    parser.add_argument("workflow", metavar="WORKFLOW", help=WORKFLOW_HELP)
    parser.add_argument("--url", help="a running InvokeAI, e.g. http://127.0.0.1:9090 (default: start a local one)")
    parser.add_argument("--token", help="bearer token for a server that needs one (never printed)")
    add_user_option(parser)
    add_set_option(parser, "; an image input also takes a file path (uploaded)")
    parser.add_argument(
        "--out", type=Path, default=Path("."), help="folder for the images (default: the current folder)"
    )
    parser.add_argument("--board", help="save the images to this board (created if missing); default: Uncategorized")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds the generation may run once started (default: 600)"
    )
    parser.add_argument("--intermediates", action="store_true", help="also write the images of intermediate nodes")
    parser.add_argument(
        "--server-cmd", help="command that starts InvokeAI for the local server (default: the project's install)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=[],
        metavar="NAME|PATH",
        help="models to install into the local InvokeAI first: tiny-sd15 (built locally) or a model file or folder; "
        "with --url, into that server (it must see this machine's files)",
    )
    parser.add_argument(
        "--nodes",
        nargs="+",
        type=Path,
        default=[],
        metavar="DIR",
        help="custom node packs the local InvokeAI loads: a pack (a folder with __init__.py) or a folder of packs "
        "(not with --url: a running server has its packs)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of {node_id, node_type, node_label, image_name, path}"
    )
    parser.set_defaults(handler=run)


class UsageError(InvokeAITestError):
    """Options that do not go together."""


def model_lock_dir() -> Path:
    """Where installs into one server are serialised: two commands installing at once would race."""
    return models_dir()


def form_values(workflow: Workflow, sets: list[tuple[str, str]]) -> dict[int | str, object]:
    """The --set values by their key (an index or a label); an image input given as an existing file is uploaded."""
    inputs = form_inputs(workflow)
    values: dict[int | str, object] = {}
    for key, text in assignments_by_key(sets).items():
        is_file = resolve_input(inputs, key, source=workflow.source).kind == "image" and Path(text).is_file()
        values[key] = Path(text) if is_file else text
    return values


def run(args: argparse.Namespace) -> int:
    if args.schema:
        workflow = load_workflow_arg(args.workflow, args.schema)
        form_values(workflow, args.sets)  # a bad --set fails now, before a server starts
    else:
        with warnings.catch_warnings():  # kinds guessed for custom nodes: the server's schema will know them
            warnings.simplefilter("ignore", FormWarning)
            form_values(load_workflow_arg(args.workflow, None), args.sets)
    if args.url and args.nodes:
        raise UsageError(
            "--nodes loads packs into the local InvokeAI this command starts; with --url the server has its own"
        )
    packs = find_packs(args.nodes)  # a folder that is no pack fails now, not after the server started
    auth = auth_from_args(args, args.token)
    with contextlib.ExitStack() as stack:
        url = args.url
        if not url:
            print("starting a local InvokeAI (about 20 s)...", file=sys.stderr)
            server = stack.enter_context(ManagedServer(args.server_cmd, node_packs=packs))
            url = server.url
        silent = WaitProgress(lambda line: print(line, file=sys.stderr)).server_silent
        client = stack.enter_context(
            InvokeAIClient(url, auth=auth, hang_timeout=DEFAULT_HANG_TIMEOUT, on_silence=silent)
        )
        # A clear error in seconds if this is not an InvokeAI 6.x, or it does not answer.
        version = client.probe_version()
        client.check_login()  # a multi-user server: logged in (or one clear error) before anything else
        if not args.schema:  # the server's own schema: its custom nodes' fields get their kinds, bounds and choices
            shipped = load_workflow(args.workflow, schema=bundled_schema())
            needed = live_schema_needed(version, node_packs=bool(packs), workflows=[shipped])
            workflow = load_workflow(args.workflow, schema=fetch_live_schema(client, version)) if needed else shipped
        values = form_values(workflow, args.sets)
        if args.models:
            print(f"installing {', '.join(args.models)}...", file=sys.stderr)
            install_declared_models(client, args.models, lock_dir=model_lock_dir())
        session = stack.enter_context(GenerationSession(client, board=args.board, generation_timeout=args.timeout))
        result = session.run(workflow, values)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for node_id, images in sorted(result.images.items()):
        for n, image in enumerate(images):
            if image.is_intermediate and not args.intermediates:
                continue
            path = args.out / f"{safe_stem(node_id)}{f'-{n + 1}' if len(images) > 1 else ''}.png"
            path.write_bytes(image.png)
            written.append(
                {
                    "node_id": node_id,
                    "node_type": image.node_type,
                    "node_label": image.node_label,
                    "image_name": image.image_name,
                    "path": str(path),
                }
            )
    if args.json:
        print_json(written)
    else:
        for entry in written:
            label = f" '{entry['node_label']}'" if entry["node_label"] else ""
            print(f"{entry['path']}  <- {entry['node_id']} ({entry['node_type']}{label})")
    return EXIT_OK
