"""The ``pytest-invokeai`` command: look at a workflow's inputs, the graph it enqueues, and its drift.

Each command family lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler`` (a function ``args -> exit code``). To add a command, write the module
and list it in :data:`COMMAND_MODULES`; nothing else here changes.

Exit codes: 0 success, 1 the command's check failed (drift found, images differ), 2 bad input or usage,
3 internal error (a bug: the traceback is printed), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from pytest_invokeai.cli import (
    accept,
    baselines,
    compare,
    drift,
    graph,
    hash,
    inputs,
    recall,
    report,
    review,
    run,
    schema,
    server,
)
from pytest_invokeai.cli.common import (
    EXIT_INTERNAL_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    print_error,
    show_warning,
)
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.run.settings import BY_NAME

SCHEMA_ENV = BY_NAME["invokeai_schema"].env  # the plugin's variable: the command reads it too

COMMAND_MODULES = (inputs, graph, drift, run, schema, hash, compare, baselines, recall, accept, review, report, server)

DESCRIPTION = """\
Inspect InvokeAI workflows and baselines the way pytest-invokeai's tests see them.

WORKFLOW is a workflow exported from InvokeAI's Workflows tab (.json), or a PNG that InvokeAI
generated from a workflow (it carries the workflow in an 'invokeai_workflow' text chunk).
Form inputs are numbered from 0 in the order the Form panel shows them."""

EPILOG = """\
examples:
  pytest-invokeai inputs my-workflow.json
  pytest-invokeai graph my-workflow.json --set 0="a red fox" --set Seed=42 --board none
  pytest-invokeai drift export my-workflow.json -o my-workflow.index-map.json
  pytest-invokeai drift check my-workflow.json my-workflow.index-map.json
  pytest-invokeai run my-workflow.json --set Seed=7 --out out/            (starts a local InvokeAI)
  pytest-invokeai run my-workflow.json --url http://127.0.0.1:9090 --out out/
  pytest-invokeai schema fetch --url http://127.0.0.1:9090 -o my-nodes.schema.json
  pytest-invokeai --schema my-nodes.schema.json inputs my-workflow.json
  pytest-invokeai hash out/save_image.png
  pytest-invokeai compare baselines/suite/test_x.py/test_x.json out/save_image.png
  pytest-invokeai baselines list --dir baselines
  pytest-invokeai server start --models tiny-sd15 --nodes my-nodes/   (prints http://127.0.0.1:9090)
  pytest-invokeai server status
  pytest-invokeai recall 'example_suite/test_sd15.py::test_text_to_image[Prompt=a red fox in fresh snow-Seed=2]'
  pytest-invokeai accept --failed                 (the last run's failed cases become the baselines)
  pytest-invokeai review                          (the last run's report, with Accept buttons)
  pytest-invokeai report merge shard-1 shard-2 -o invokeai-results --job-summary

exit codes: 0 success, 1 drift found (drift check), images differ (compare), nothing to recall (recall)
            nothing to accept (accept) or no server runs (server status),
            2 bad input or usage (message on stderr),
            3 internal error (a bug in pytest-invokeai)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-invokeai",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--schema",
        metavar="FILE",
        help=f"node schema written by 'pytest-invokeai schema fetch' (for custom nodes; also ${SCHEMA_ENV}); "
        "default: the InvokeAI 6.14.2 schema shipped with pytest-invokeai",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here, as argparse does
    handler = getattr(args, "handler", None)
    if handler is None:
        (args.command_parser if hasattr(args, "command_parser") else parser).print_help(sys.stderr)
        return EXIT_USAGE
    # The node schema file each command reads its workflows with (loaded when a command first needs it).
    args.schema = args.schema or os.environ.get(SCHEMA_ENV, "").strip() or None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show_warning
            exit_code: int = handler(args)  # each command module sets a handler returning its exit code
            return exit_code
    except InvokeAITestError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:  # what the command queued was canceled and its local server stopped on the way out
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `pytest-invokeai graph wf.json | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush does not fail again
        return EXIT_OK
    except Exception:  # a bug of ours: show it, but never exit 1, which means "drift found"
        traceback.print_exc()
        print_error("internal error (a bug in pytest-invokeai; please report it with the traceback above)")
        return EXIT_INTERNAL_ERROR


__all__ = ["main", "build_parser", "COMMAND_MODULES"]
