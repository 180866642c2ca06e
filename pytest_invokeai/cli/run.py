"""``pytest-invokeai run``: one generation of a workflow on a real server, images written to a folder."""

from __future__ import annotations

import argparse
import contextlib
import sys
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
from pytest_invokeai.local.managed import ManagedServer
from pytest_invokeai.run.progress import WaitProgress
from pytest_invokeai.run.settings import DEFAULT_HANG_TIMEOUT
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.form import form_inputs, resolve_input


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
        "--json", action="store_true", help="print a JSON list of {node_id, node_type, node_label, image_name, path}"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    workflow = load_workflow_arg(args.workflow, args.schema)
    inputs = form_inputs(workflow)
    values: dict[int | str, object] = {}  # keyed by the --set key (an index or a label)
    for key, text in assignments_by_key(args.sets).items():
        # An image input given as an existing file is uploaded; other text is read by the input's kind.
        is_file = resolve_input(inputs, key, source=workflow.source).kind == "image" and Path(text).is_file()
        values[key] = Path(text) if is_file else text
    auth = auth_from_args(args, args.token)
    with contextlib.ExitStack() as stack:
        url = args.url
        if not url:
            print("starting a local InvokeAI (about 20 s)...", file=sys.stderr)
            url = stack.enter_context(ManagedServer(args.server_cmd)).url
        silent = WaitProgress(lambda line: print(line, file=sys.stderr)).server_silent
        client = stack.enter_context(
            InvokeAIClient(url, auth=auth, hang_timeout=DEFAULT_HANG_TIMEOUT, on_silence=silent)
        )
        client.probe_version()  # a clear error in seconds if this is not an InvokeAI 6.x, or it does not answer
        client.check_login()
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
