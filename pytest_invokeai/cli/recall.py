"""``pytest-invokeai recall CASE``: fill the fields of the InvokeAI web UI with a test case's parameters."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from pytest_invokeai.cli.common import EXIT_CHECK_FAILED, EXIT_OK, add_user_option, auth_from_args, print_json
from pytest_invokeai.errors import ServerError
from pytest_invokeai.recall.apply import (
    DROPPED,
    GUI_APPLIED,
    RecallOutcome,
    Row,
    send_recall,
)
from pytest_invokeai.recall.cases import (
    SOURCES,
    CaseLookup,
    CaseNotFound,
    RecallCase,
    case_values,
)
from pytest_invokeai.recall.commands import (
    DEFAULT_QUEUE,
    DEFAULT_SUMMARY,
    DEFAULT_URL,
    curl_command,
)
from pytest_invokeai.recall.mapping import RecallMapping, map_recall
from pytest_invokeai.run.settings import BY_NAME, convert
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.workflow.load import load_workflow
from pytest_invokeai.workflow.schema import load_schema

URL_OPTION = BY_NAME["invokeai_url"]  # the plugin's own settings, read the plugin's way
TOKEN_ENV = BY_NAME["invokeai_token"].env
SUMMARY_NAME = Path(DEFAULT_SUMMARY).name  # a --results folder holds the summary under this name
VALUE_WIDTH = 44  # characters of a value shown in the table (--json has them whole)
FOOTNOTE = "* stored by the server, but the InvokeAI 6.14 web UI does not set a field from it"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "recall",
        help="fill the InvokeAI web UI's fields with a test case's parameters (prompts, model, steps, ...)",
        description=(
            "Send the generation parameters of a test case to InvokeAI's recall endpoint (POST /api/v1/recall/QUEUE): "
            "every open InvokeAI web UI (of the same user) fills its fields at once. CASE is a test id (or a unique part of one), "
            "found in the last run's summary or in the baselines, or a baseline record file. The workflow's fields are "
            "mapped by what they are (the prompt feeding the positive conditioning, the main model, the denoising "
            "node's steps...), not by index; what cannot be mapped is listed. Prints what was sent beside what the "
            "server resolved and applied (a model name becomes the server's key; an unknown model is dropped)."
        ),
        epilog=(
            "exit codes: 0 sent, 1 nothing in the case maps to recall parameters (nothing sent), "
            "2 unknown case, server not InvokeAI, or the server refused a value (its message is shown)"
        ),
    )
    parser.add_argument("case", metavar="CASE", help="test id, a unique part of one, or a baseline record .json")
    parser.add_argument("--url", help=f"the InvokeAI server (default: ${URL_OPTION.env}, else {DEFAULT_URL})")
    parser.add_argument(
        "--token", help=f"bearer token for a server that needs one (default: ${TOKEN_ENV}; never printed)"
    )
    add_user_option(parser)
    parser.add_argument(
        "--queue",
        default=DEFAULT_QUEUE,
        help="the queue id of the request (default: default, the web UI's; InvokeAI 6.14 sends the update "
        "to every web UI of the same user, whatever their queue)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only show what would be sent (and a curl line); contact no server"
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON: case, sent, rows (sent vs applied), unmapped inputs, notes"
    )
    parser.add_argument(
        "--rootdir", type=Path, default=Path("."), help="the suite's root folder (default: the current folder)"
    )
    parser.add_argument("--baselines", type=Path, help="the baseline directory (default: ROOTDIR/baselines)")
    parser.add_argument("--profile", help="a baseline profile (its records win over the default store's)")
    parser.add_argument(
        "--results", type=Path, help=f"the last run's JSON summary, or its folder (default: ROOTDIR/{DEFAULT_SUMMARY})"
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default="auto",
        help="where to look the case up: auto (the last run, else the baselines), results or baseline",
    )
    parser.add_argument(
        "--no-upload",
        action="store_true",
        help="do not upload the case's local image files (control/IP-adapter images are then left out)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    rootdir = args.rootdir.resolve()
    results = args.results or rootdir / DEFAULT_SUMMARY
    lookup = CaseLookup(
        rootdir=rootdir,
        baseline_dir=(args.baselines or rootdir / "baselines").resolve(),
        profile=args.profile,
        summary=(results / SUMMARY_NAME if results.is_dir() or not results.suffix else results).resolve(),
        source=args.source,
    )
    case = lookup.find(args.case)
    if not case.workflow_path.is_file():
        raise CaseNotFound(
            f"the workflow of {case.test_id!r} ({case.origin}) is {case.workflow_key}, relative to the suite's root, "
            f"and there is no such file under {case.rootdir}: run from the suite's root or pass --rootdir"
        )
    workflow = load_workflow(case.workflow_path, schema=load_schema(args.schema))
    values, notes = case_values(case, workflow)
    mapping = map_recall(workflow, values)
    url = (args.url or _first_env_url() or DEFAULT_URL).rstrip("/")
    token = None if args.user else args.token or os.environ.get(TOKEN_ENV) or None
    auth = auth_from_args(args, token)
    login = args.user or None  # the curl line then shows the login that gets a token, never a token
    outcome = None
    if not args.dry_run and not mapping.is_empty:
        with InvokeAIClient(url, auth=auth) as client:
            try:
                outcome = send_recall(client, mapping, queue=args.queue, upload=not args.no_upload)
            except ServerError as exc:
                raise ServerError(str(exc) + _refused_values(str(exc), mapping)) from None
    shown = {"url": url, "queue": args.queue, "dry_run": args.dry_run, "authorized": bool(token), "login": login}
    if args.json:
        print_json(_as_json(case, mapping, notes, outcome, **shown))
    else:
        print(format_text(case, mapping, notes, outcome, **shown))
    return EXIT_CHECK_FAILED if mapping.is_empty else EXIT_OK


def _refused_values(message: str, mapping: RecallMapping) -> str:
    """For a refusal (422), the values the server's message names and the form inputs they came from."""
    if "(HTTP 422)" not in message:
        return ""
    named = [name for name in mapping.parameters if re.search(rf"\b{re.escape(name)}[:.]", message)]
    lines = [f"{name} = {_show(mapping.parameters[name])}, from {mapping.origin(name)}" for name in named]
    return "".join(f"\n  sent {line}" for line in lines)


def _first_env_url() -> str | None:
    # The plugin's variable may list several servers: recall goes to the first.
    urls = convert(URL_OPTION, os.environ.get(URL_OPTION.env, ""), URL_OPTION.env)
    return urls[0] if urls else None


# -- text -------------------------------------------------------------------------------------


def format_text(
    case: RecallCase,
    mapping: RecallMapping,
    notes: list[str],
    outcome: RecallOutcome | None,
    *,
    url: str,
    queue: str,
    dry_run: bool,
    authorized: bool = False,
    login: str | None = None,
) -> str:
    lines = [
        f"case      {case.test_id}",
        f"from      {case.origin}",
        f"workflow  {case.workflow_key}",
    ]
    if outcome is not None:
        lines.append(
            f"server    {outcome.url} (InvokeAI {outcome.version}), queue {outcome.queue}: "
            f"{outcome.answer.get('updated_count', 0)} parameter(s) stored and sent to the open web UIs"
        )
    elif dry_run and not mapping.is_empty:
        lines.append(f"dry run   nothing sent to {url} (queue {queue})")
    lines.append("")
    if mapping.is_empty:
        lines.append(
            "nothing to recall: " + (mapping.notes[0] if mapping.notes else "no input maps to a recall parameter")
        )
        lines.append("(the recall parameters describe a diffusion generation: prompts, model, steps, size, seed...)")
    else:
        lines += _table(mapping, outcome)
    unmapped = mapping.unmapped
    if unmapped and mapping.denoise_node is None:
        names = ", ".join(f"#{i.index} {i.name!r}" for i in unmapped)
        lines += ["", f"not mapped: every form input ({names})"]
    elif unmapped:
        lines += ["", "not mapped (form inputs):"]
        lines += [
            f"  #{i.index} {i.name!r}{' (set by the case)' if i.set_by_case else ''}: {i.reason}" for i in unmapped
        ]
    other_notes = ([] if mapping.is_empty else list(mapping.notes)) + notes  # an empty mapping's note is said above
    if outcome is not None:
        other_notes += [f"uploaded {key.split('.')[0]}'s image as {name}" for key, name in outcome.uploaded.items()]
    elif mapping.local_images:
        other_notes += [f"{key}: local file {path} (uploaded when sent)" for key, path in mapping.local_images.items()]
    if other_notes:
        lines += ["", "notes:"] + [f"  {note}" for note in other_notes]
    if dry_run and not mapping.is_empty:
        lines += [
            "",
            "the same with curl:",
            "  " + curl_command(mapping.body(), url=url, queue=queue, authorized=authorized, login=login),
        ]
    return "\n".join(lines)


def _table(mapping: RecallMapping, outcome: RecallOutcome | None) -> list[str]:
    rows = (
        outcome.rows
        if outcome is not None
        else [Row(name, value, None, "", "", _gui(name)) for name, value in _flat(mapping.body()).items()]
    )
    header = ["parameter", "from", "sent"] + (["server applied"] if outcome is not None else [])
    table = [header]
    for row in rows:
        cells = [row.parameter + ("" if row.gui_applies else " *"), mapping.origin(row.parameter), _show(row.sent)]
        if outcome is not None:
            cells.append(_applied(row))
        table.append(cells)
    widths = [max(len(r[c]) for r in table) for c in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(widths[c]) if c < len(widths) else cell for c, cell in enumerate(r)).rstrip()
        for r in table
    ]
    if any(not row.gui_applies for row in rows):
        lines.append(FOOTNOTE)
    return lines


def _flat(body: dict[str, Any]) -> dict[str, Any]:
    """List parameters one item per row, as the server's answer is compared."""
    flat: dict[str, Any] = {}
    for name, value in body.items():
        if isinstance(value, list):
            flat.update({f"{name}[{i}]": item for i, item in enumerate(value)})
        else:
            flat[name] = value
    return flat


def _gui(parameter: str) -> bool:
    return parameter.split("[")[0] in GUI_APPLIED


def _applied(row: Row) -> str:
    if row.status == DROPPED:
        return f"DROPPED: {row.note}"
    shown = _show(row.applied)
    return f"{shown}  ({row.note})" if row.note else shown


def _show(value: Any) -> str:
    if isinstance(value, dict):
        first = value.get("model_name") or value.get("model_key")
        rest = [f"{k}={_show(v)}" for k, v in value.items() if k not in ("model_name", "model_key")]
        text = " ".join(([str(first)] if first else []) + rest)
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


# -- JSON -------------------------------------------------------------------------------------


def _as_json(
    case: RecallCase,
    mapping: RecallMapping,
    notes: list[str],
    outcome: RecallOutcome | None,
    *,
    url: str,
    queue: str,
    dry_run: bool,
    authorized: bool = False,
    login: str | None = None,
) -> dict[str, Any]:
    return {
        "test_id": case.test_id,
        "origin": case.origin,
        "workflow": case.workflow_key,
        "url": outcome.url if outcome is not None else url,
        "queue": queue,
        "sent": outcome.sent if outcome is not None else None,
        "parameters": mapping.body(),
        "from": {name: mapping.origin(name) for name in _flat(mapping.body())},
        "server": None
        if outcome is None
        else {
            "version": outcome.version,
            "answer": outcome.answer,
            "rows": [row.to_json() for row in outcome.rows],
            "uploaded": outcome.uploaded,
        },
        "dry_run": dry_run,
        "nothing_to_recall": mapping.is_empty,
        "inputs": [item.to_json() for item in mapping.inputs],
        "notes": mapping.notes + notes,
        "curl": None
        if mapping.is_empty
        else curl_command(mapping.body(), url=url, queue=queue, authorized=authorized, login=login),
    }
