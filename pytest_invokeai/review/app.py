"""The review's web application: the report page, the files beside it, and the accept endpoint.

Every request must carry the session's token: as the ``token`` query parameter, the ``X-Review-Token``
header, or the ``/r/<token>/`` path the page and the files beside it are served under (a browser loads the
report's images by relative URL, with neither query nor header of ours; a cookie is never enough). A request
without it, or with a ``Host`` other than the address served, gets 403: no other page open in the same
browser can accept baselines, and a DNS-rebinding page cannot reach the server under its own name.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pytest_invokeai.accept.apply import AcceptOutcome, AcceptRequest, accept, review_states
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.review.page import inject

TOKEN_HEADER = "X-Review-Token"
REPORT_NAME = "report.html"
ALREADY = "already accepted"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def page_path(token: str) -> str:
    return f"/r/{token}/"


def build_app(request: AcceptRequest, *, token: str, hosts: Sequence[str]) -> Starlette:
    """The application serving ``request.results_dir``'s report; ``hosts``: the Host values it answers to."""
    lock = threading.Lock()  # one accept at a time: two clicks never write one record at once

    def root(http: Request) -> Response:
        return RedirectResponse(page_path(token), status_code=303)

    def report(http: Request) -> Response:
        html = (request.results_dir / REPORT_NAME).read_text(encoding="utf-8")
        acceptable, accepted = review_states(request)
        config = {"token": token, "api": f"/api/accept?token={token}", "acceptable": acceptable, "accepted": accepted}
        return HTMLResponse(inject(html, config=config), headers={"Cache-Control": "no-store"})

    def results_file(http: Request) -> Response:
        base = request.results_dir.resolve()
        path = (base / http.path_params["path"]).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)

    async def accept_cases(http: Request) -> Response:
        body = await http.json()
        test_ids = body.get("test_ids") if isinstance(body, dict) else None
        if not isinstance(test_ids, list) or not all(isinstance(each, str) for each in test_ids) or not test_ids:
            return JSONResponse({"error": 'expected {"test_ids": ["a test id", ...]}'}, status_code=400)
        from starlette.concurrency import run_in_threadpool

        def run() -> AcceptOutcome:
            with lock:
                return accept(request, test_ids, failed=False)

        try:
            outcome = await run_in_threadpool(run)
        except InvokeAITestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(answer(outcome, test_ids))

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/r/{token}/", report),
            Route("/r/{token}/{path:path}", results_file),
            Route("/api/accept", accept_cases, methods=["POST"]),
        ]
    )
    app.add_middleware(Guard, token=token, hosts=tuple(hosts))
    return app


def answer(outcome: AcceptOutcome, test_ids: Sequence[str]) -> dict[str, Any]:
    """What the page shows for each case asked for, and one line for the whole request."""
    cases: dict[str, dict[str, str]] = {}
    for test_id, path in outcome.written:
        cases[test_id] = {"state": "accepted", "text": f"accepted: wrote {path.name}"}
    for test_id, why in outcome.listed:
        state = "accepted" if why.startswith(ALREADY) else "not-written"
        cases[test_id] = {"state": state, "text": why if state == "accepted" else f"not written: {why}"}
    for test_id in test_ids:
        refusals = [reason for reason in outcome.refused if reason.startswith(test_id + " ")]
        if refusals:
            cases[test_id] = {"state": "refused", "text": "refused: " + "; ".join(refusals)}
    if outcome.refused:
        summary = "refused, nothing was written: " + " | ".join(outcome.refused)
    else:
        summary = f"accepted {len(outcome.written)} case(s)" + (
            f"; {len(outcome.listed)} not written" if outcome.listed else ""
        )
    return {"cases": cases, "summary": summary}


class Guard:
    """403 for a request without the token, or with a foreign Host (plain ASGI: it sees every request)."""

    def __init__(self, app: Callable[..., Awaitable[None]], *, token: str, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.token = token
        self.hosts = {host.lower() for host in hosts}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        http = Request(scope)
        host = http.headers.get("host", "").lower()
        if host not in self.hosts:
            await PlainTextResponse(f"forbidden: Host {host!r} is not this review's", status_code=403)(
                scope, receive, send
            )
            return
        if not self._has_token(http):
            await PlainTextResponse("forbidden: the review's token is missing or wrong", status_code=403)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _has_token(self, http: Request) -> bool:
        given = [http.query_params.get("token"), http.headers.get(TOKEN_HEADER)]
        parts = http.url.path.split("/")
        if len(parts) > 2 and parts[1] == "r":
            given.append(parts[2])
        return any(value is not None and secrets.compare_digest(value, self.token) for value in given)


def report_exists(results_dir: Path) -> bool:
    return (results_dir / REPORT_NAME).is_file()
