"""``pytest-invokeai review``: serve the last run's report with buttons that accept its failed cases.

Serves on 127.0.0.1 only. The first line on stdout, flushed before anything is served, is the page's URL
with the session's random token; Ctrl-C stops it with exit status 0. Needs the ``review`` extra
(``pip install 'pytest-invokeai[review]'``): a web server is of no use to a test run, so the plugin does
not install one for everybody.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import webbrowser
from pathlib import Path

from pytest_invokeai.accept.apply import read_summary
from pytest_invokeai.cli.accept import accept_request
from pytest_invokeai.cli.common import EXIT_OK, EXIT_USAGE, print_error
from pytest_invokeai.run.accept_command import DEFAULT_RESULTS

HOST = "127.0.0.1"
MISSING_EXTRA = (
    "pytest-invokeai review needs a web server that the plugin does not install by default: "
    "pip install 'pytest-invokeai[review]' (starlette and uvicorn); missing: {name}"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "review",
        help="serve the last run's report with an Accept button on each failed case (127.0.0.1 only)",
        description=(
            "Serve the last run's report (report.html of the results folder) on 127.0.0.1 with a button named "
            "'Accept' on each case that can be accepted and one named 'Accept all shown'. Accepting writes "
            "exactly what 'pytest-invokeai accept' writes, from the images the run kept; nothing is generated. "
            "The first line printed is the page's URL, which carries a random token that every request needs. "
            "Ctrl-C stops it."
        ),
        epilog="exit codes: 0 stopped with Ctrl-C, 2 no report in the results folder, or the review extra is missing",
    )
    parser.add_argument(
        "--results", type=Path, help=f"the run's results folder (default: ROOTDIR/{DEFAULT_RESULTS}, with report.html)"
    )
    parser.add_argument("--port", type=int, default=0, help="the port to serve on (default: any free port)")
    parser.add_argument("--no-browser", action="store_true", help="do not open the page in a web browser")
    parser.add_argument(
        "--rootdir", type=Path, default=Path("."), help="the suite's root folder (default: the current folder)"
    )
    parser.add_argument("--baselines", type=Path, help="the baseline folder (default: the one the run used)")
    parser.add_argument("--profile", help="the baseline profile (default: the run's; another one is refused)")
    parser.set_defaults(handler=run, command_parser=parser)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from pytest_invokeai.review.app import build_app, new_token, page_path, report_exists
    except ImportError as exc:
        print_error(MISSING_EXTRA.format(name=exc.name))
        return EXIT_USAGE
    request = accept_request(args)
    if not report_exists(request.results_dir):
        print_error(f"{request.results_dir}: no report.html there; run the tests first, or pass --results DIR")
        return EXIT_USAGE
    read_summary(request.results_dir)  # the page's buttons come from it: a missing or broken one is said now
    try:
        listening = socket.create_server((HOST, args.port))  # bound before the URL is printed: it works at once
    except OSError as exc:
        print_error(f"cannot serve on {HOST}:{args.port}: {exc.strerror or exc}; pick another --port (0: any free one)")
        return EXIT_USAGE
    port = listening.getsockname()[1]
    token = new_token()
    app = build_app(request, token=token, hosts=[f"{HOST}:{port}", f"localhost:{port}"])
    url = f"http://{HOST}:{port}{page_path(token)}?token={token}"
    print(url, flush=True)
    print(f"serving the report of {request.results_dir}; Ctrl-C stops", file=sys.stderr, flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    # On Ctrl-C uvicorn stops gracefully, then raises the signal again: Ctrl-C is the way to stop, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listening])
    return EXIT_OK
