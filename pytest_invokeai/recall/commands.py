"""The lines a person copies to recall a case: ``pytest-invokeai recall ...`` and the same request with curl.

The HTML report adds them to every compared output of a case (:func:`add_recall_lines`), computed at
report time from the case data each output carries (its workflow and input values).
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_invokeai._util.keys import rootdir_key
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.recall.cases import RecallCase, case_values
from pytest_invokeai.recall.mapping import map_recall
from pytest_invokeai.report.results import OutputResult
from pytest_invokeai.run.settings import BY_NAME
from pytest_invokeai.server import api
from pytest_invokeai.server.auth import LOGIN_PATH
from pytest_invokeai.workflow.load import Workflow, load_workflow

DEFAULT_URL = "http://127.0.0.1:9090"  # where InvokeAI listens unless told otherwise
DEFAULT_QUEUE = "default"  # the web UI's queue
COMMAND_KEY = "recall in the GUI"
CURL_KEY = "recall with curl"
DEFAULT_SUMMARY = "invokeai-results/report.json"  # relative to the rootdir: where the plugin writes it by default
TOKEN_ENV = BY_NAME["invokeai_token"].env
PASSWORD_ENV = BY_NAME["invokeai_password"].env
# The shell fills in the token when the line runs: a report is shared and kept, a token must never be in it.
AUTH_HEADER = f'-H "Authorization: Bearer ${TOKEN_ENV}"'


def recall_command(
    test_id: str, *, url: str | None = None, queue: str = DEFAULT_QUEUE, results: str | None = None
) -> str:
    parts = ["pytest-invokeai", "recall", test_id]
    if url:
        parts += ["--url", url]
    if results:
        parts += ["--results", results]
    if queue != DEFAULT_QUEUE:
        parts += ["--queue", queue]
    return shlex.join(parts)


def curl_command(
    body: Mapping[str, Any],
    *,
    url: str,
    queue: str = DEFAULT_QUEUE,
    authorized: bool = False,
    login: str | None = None,
) -> str:
    """The recall request as one curl command; ``authorized`` adds the bearer token, read from the environment.

    ``login``: the run logged in as this user, so the line first logs in the same way, with the password
    from ``$PYTEST_INVOKEAI_PASSWORD``, and sends the token that login returns (see :func:`login_command`).
    """
    call = api.recall(queue, dict(body))  # the same request the recall command sends
    data = json.dumps(call.json, ensure_ascii=False, separators=(",", ":"))
    request = shlex.join(
        ["curl", "-sS", "-X", call.method, url.rstrip("/") + call.path, "-H", "Content-Type: application/json"]
    )
    # Double quotes, not shlex's single ones: the shell must expand the variable.
    if login:
        return f'{login_command(login, url)} && {request} -H "Authorization: Bearer $token" {shlex.join(["-d", data])}'
    auth = f" {AUTH_HEADER}" if authorized else ""
    return f"{request}{auth} {shlex.join(['-d', data])}"


def login_command(email: str, url: str) -> str:
    """``token=$(...)``: log in as ``email`` with the password from the environment, keep the token in ``$token``.

    Python writes the login's JSON body (a password may hold quotes or backslashes) and reads the token
    out of the answer; curl reads the body from stdin, so the password is in no command line either.
    """
    # Double quotes inside, so that the shell's single quotes around the code need no escapes.
    body = (
        f'import json,os; print(json.dumps({{"email": {json.dumps(email)}, "password": os.environ["{PASSWORD_ENV}"]}}))'
    )
    read = 'import json,sys; print(json.load(sys.stdin)["token"])'
    login = shlex.join(
        [
            "curl", "-sS", "--fail-with-body", "-X", "POST", url.rstrip("/") + LOGIN_PATH,
            "-H", "Content-Type: application/json", "-d", "@-",
        ]
    )  # fmt: skip
    return f"token=$({shlex.join(['python3', '-c', body])} | {login} | {shlex.join(['python3', '-c', read])})"


def add_recall_lines(
    outputs: Iterable[OutputResult],
    *,
    rootdir: Path,
    server_known: bool,
    summary: Path | None = None,
    authorized: bool = False,
    login: str | None = None,
    load: Callable[[Path], Workflow] = load_workflow,
) -> None:
    """Add the recall command and curl line to each output's ``extra`` (cases that map to nothing get none).

    ``server_known``: the URL each case ran on is still the place to send it (not a server the run
    started and stopped); without it the lines use InvokeAI's default address. ``summary`` is where
    the run's JSON summary goes: the command names it when it is not where the command looks by default.
    ``authorized``: the run used a token, so the curl line sends one (from ``$PYTEST_INVOKEAI_TOKEN``, as the
    recall command does); ``login``: the run logged in as this user, so the curl line logs in first. ``load`` reads a workflow (the run's, with the run's node schema).
    """
    results = None
    if summary is not None and Path(summary).resolve() != (rootdir / DEFAULT_SUMMARY).resolve():
        results = rootdir_key(summary, rootdir)
    load = functools.cache(load)  # many cases share a workflow: read each once
    lines: dict[str, dict[str, str]] = {}
    for result in outputs:
        if not result.case or "workflow" not in result.case:
            continue
        if result.test_id not in lines:
            lines[result.test_id] = _lines(
                result.test_id, result.case, rootdir, load, server_known, results, authorized, login
            )
        result.extra.update(lines[result.test_id])


def _lines(
    test_id: str,
    data: Mapping[str, Any],
    rootdir: Path,
    load: Callable[[Path], Workflow],
    server_known: bool,
    results: str | None,
    authorized: bool,
    login: str | None = None,
) -> dict[str, str]:
    case = RecallCase(
        test_id=test_id,
        workflow_key=data["workflow"],
        inputs=list(data.get("inputs", [])),
        origin="this run",
        rootdir=rootdir,
        server=data.get("server"),
    )
    try:
        workflow = load(case.workflow_path)
        values, _ = case_values(case, workflow)
        mapping = map_recall(workflow, values)
    except (InvokeAITestError, OSError) as exc:  # the report must be written whatever one case holds
        return {"recall": f"not available: {exc}"}
    if mapping.is_empty:
        return {}
    url = case.server if server_known and case.server else None
    return {
        COMMAND_KEY: recall_command(test_id, url=url, results=results),
        CURL_KEY: curl_command(mapping.body(), url=url or DEFAULT_URL, authorized=authorized, login=login),
    }
