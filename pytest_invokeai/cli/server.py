"""``pytest-invokeai server start|stop|status``: a local InvokeAI you keep (its web UI, recall, runs against it)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from pytest_invokeai.cli.common import EXIT_CHECK_FAILED, EXIT_OK, print_json
from pytest_invokeai.local import kept
from pytest_invokeai.local.install import INVOKEAI_VERSION
from pytest_invokeai.local.node_packs import find_packs

PORT_HELP = f"the server's port on 127.0.0.1 (default: {kept.DEFAULT_PORT})"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "server",
        help="start, stop or look at a local InvokeAI that keeps running (use it with --invokeai-url)",
        description=(
            "A local InvokeAI that keeps running after the command returns: open its web UI, recall a case into "
            "it, run a suite against it again and again with --invokeai-url. Its root (settings, database, "
            "installed models) persists under $PYTEST_INVOKEAI_HOME/servers/VERSION-PORT unless --root says "
            "otherwise. pytest never uses it by itself."
        ),
    )
    commands = parser.add_subparsers(title="server commands", metavar="COMMAND")
    parser.set_defaults(command_parser=parser)

    start = commands.add_parser(
        "start", help="start it in the background and print its URL once it answers", description=START_DESCRIPTION
    )
    start.add_argument("--port", type=int, default=kept.DEFAULT_PORT, help=PORT_HELP)
    start.add_argument("--root", type=Path, help="InvokeAI's root folder (default: a kept one per version and port)")
    start.add_argument(
        "--models",
        nargs="+",
        default=[],
        metavar="NAME|PATH",
        help="models to install once it runs: tiny-sd15 (built locally) or a model file or folder",
    )
    start.add_argument(
        "--nodes",
        nargs="+",
        type=Path,
        default=[],
        metavar="DIR",
        help="custom node packs to load: a pack (a folder with __init__.py) or a folder of packs",
    )
    start.add_argument(
        "--version",
        help=f"the InvokeAI release to run, installed on first use in its own environment (default {INVOKEAI_VERSION}; "
        "python -m pytest_invokeai.server.install --list shows the supported ones)",
    )
    start.add_argument("--server-cmd", help="command that starts InvokeAI (default: the project's install)")
    start.set_defaults(handler=run_start)

    stop = commands.add_parser("stop", help="stop the kept server on the port")
    stop.add_argument("--port", type=int, default=kept.DEFAULT_PORT, help=PORT_HELP)
    stop.set_defaults(handler=run_stop)

    status = commands.add_parser(
        "status",
        help="what runs on the port, where its root and log are (exit 0: it runs, 1: none does)",
    )
    status.add_argument("--port", type=int, default=kept.DEFAULT_PORT, help=PORT_HELP)
    status.add_argument("--json", action="store_true", help="print the server's record as JSON ({} when none runs)")
    status.set_defaults(handler=run_status)


START_DESCRIPTION = (
    "Start InvokeAI in the background on 127.0.0.1:PORT and return once it answers, printing its URL on stdout. "
    "A port held by another program is an error (InvokeAI would silently move to the next one); on a kept "
    "server that already runs there it prints its URL and exits 0. Node packs are copied into the root's "
    "pytest-invokeai-nodes/ folder, which InvokeAI loads at start; a pack that fails to load stops the start "
    "with InvokeAI's own error."
)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def run_start(args: argparse.Namespace) -> int:
    packs = find_packs(args.nodes)
    result = kept.start(
        port=args.port,
        root=args.root.resolve() if args.root else None,
        node_packs=packs,
        models=args.models,
        version=args.version,
        command=args.server_cmd,
        log=_stderr,
    )
    server = result.server
    if result.already_running:
        _stderr(f"InvokeAI {server.version} already runs on port {server.port} (root {server.root})")
    else:
        _stderr(f"InvokeAI {server.version} runs on port {server.port}; root {server.root}, log {server.log}")
        _stderr(f"stop it with: pytest-invokeai server stop --port {server.port}")
    print(server.url)
    return EXIT_OK


def run_stop(args: argparse.Namespace) -> int:
    was_running = kept.running(args.port) is not None
    stopped = kept.stop(args.port)
    if stopped is None:
        _stderr(f"no kept server on port {args.port}: nothing to stop")
    elif not was_running:
        _stderr(f"the kept server on port {args.port} had already stopped (its log: {stopped.log})")
    else:
        _stderr(f"stopped InvokeAI {stopped.version} on port {stopped.port} (root {stopped.root} is kept)")
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    server = kept.running(args.port)
    if args.json:
        print_json(asdict(server) if server is not None else {})
    elif server is None:
        print(f"no kept server runs on port {args.port}")
    else:
        print(f"InvokeAI {server.version} runs at {server.url} (pid {server.pid}, since {server.started})")
        print(f"root: {server.root}")
        print(f"log:  {server.log}")
        if server.node_packs:
            print(f"node packs: {', '.join(server.node_packs)}")
        if server.models:
            print(f"models: {', '.join(server.models)}")
    return EXIT_OK if server is not None else EXIT_CHECK_FAILED
