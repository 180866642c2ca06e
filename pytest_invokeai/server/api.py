"""InvokeAI's REST API as data: what to send for each call, and how to read the answer.

No I/O here. :mod:`.client` sends these calls with httpx, synchronously or asynchronously, so both
clients share one description of the API and one set of answer checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from pytest_invokeai.errors import ServerError

SUPPORTED_MAJOR = 6
DETAIL_LIMIT = 600  # characters of a server error we show: enough to act on, short enough to read


@dataclass(frozen=True)
class Call:
    """One REST call. ``idempotent`` calls may be retried after a connection failure."""

    method: str
    path: str
    what: str  # for messages: "enqueue the batch", "read queue item 5"
    params: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, Any] | None = None
    idempotent: bool = True
    expect: str = "json"  # "json", "bytes" or "none"
    probe: bool = False  # the first call to a server: a 404 there means "not InvokeAI", not "InvokeAI refused"
    parse: Callable[[Any], Any] = field(default=lambda value: value)


def segment(value: str | int) -> str:
    return quote(str(value), safe="")


# -- reading answers -------------------------------------------------------------------------


def server_detail(response: httpx.Response) -> str:
    """The server's own explanation (FastAPI's ``detail``), shortened to what helps."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return _shorten(text) if text else response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # pydantic validation errors: "loc: msg" each
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', item)}" if loc else str(item.get("msg", item)))
            else:
                parts.append(str(item))
        detail = "; ".join(parts)
    return _shorten(str(detail))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def read_answer(call: Call, response: httpx.Response, base_url: str) -> Any:
    if call.probe and response.status_code == 404:
        raise ServerError(
            f"{base_url} does not look like an InvokeAI server: {call.method} {call.path} answered 404 Not Found "
            "(is this the right port? InvokeAI listens on 9090 by default)"
        )
    if response.status_code >= 400:
        raise ServerError(
            f"InvokeAI at {base_url} refused to {call.what} (HTTP {response.status_code}): {server_detail(response)}"
        )
    if call.expect == "none":
        return None
    if call.expect == "bytes":
        return call.parse(response.content)
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        # InvokeAI answers unknown /api/ paths with its web page (200, text/html).
        raise ServerError(
            f"{base_url} does not look like an InvokeAI server: asked to {call.what} ({call.method} {call.path}), "
            f"it answered {content_type or 'no content type'} instead of JSON"
        )
    try:
        value = response.json()
    except ValueError:
        raise ServerError(f"InvokeAI at {base_url} sent invalid JSON when asked to {call.what}") from None
    try:
        return call.parse(value)
    except ServerError as exc:
        raise ServerError(f"{base_url}: {exc}") from None


# -- the calls -------------------------------------------------------------------------------


def _check_version(body: Any) -> str:
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str):
        raise ServerError(f"not an InvokeAI version answer: {_shorten(str(body))}")
    major = version.split(".")[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise ServerError(f"InvokeAI {version} is not supported: pytest-invokeai supports InvokeAI {SUPPORTED_MAJOR}.x")
    return version


def version() -> Call:
    return Call("GET", "/api/v1/app/version", "tell its version", parse=_check_version, probe=True)


def openapi() -> Call:
    """The server's OpenAPI document: its node types, with the custom nodes it loaded (about 2 MB)."""
    return Call("GET", "/openapi.json", "describe its API (/openapi.json)")


def auth_status() -> Call:
    """Whether the server runs in multi-user mode (InvokeAI 6.12+; answers without a token)."""
    return Call("GET", "/api/v1/auth/status", "tell whether it needs a login")


def enqueue_batch(queue_id: str, body: dict[str, Any]) -> Call:
    # Never retried blindly: a broken connection may have enqueued it already (see client.enqueue).
    return Call(
        "POST", f"/api/v1/queue/{segment(queue_id)}/enqueue_batch", "enqueue the batch", json=body, idempotent=False
    )


def queue_item(queue_id: str, item_id: int) -> Call:
    return Call("GET", f"/api/v1/queue/{segment(queue_id)}/i/{item_id}", f"read queue item {item_id}")


def queue_items_by_ids(queue_id: str, item_ids: list[int]) -> Call:
    # A POST that only reads: safe to retry.
    return Call(
        "POST", f"/api/v1/queue/{segment(queue_id)}/items_by_ids", "read queue items", json={"item_ids": item_ids}
    )


def queue_items_by_destination(queue_id: str, destination: str) -> Call:
    return Call(
        "GET",
        f"/api/v1/queue/{segment(queue_id)}/list_all",
        f"list the queue items of {destination}",
        params={"destination": destination},
    )


def cancel_by_destination(queue_id: str, destination: str) -> Call:
    return Call(
        "PUT",
        f"/api/v1/queue/{segment(queue_id)}/cancel_by_destination",
        f"cancel the queue items of {destination}",
        params={"destination": destination},
    )


def delete_by_destination(queue_id: str, destination: str) -> Call:
    return Call(
        "DELETE",
        f"/api/v1/queue/{segment(queue_id)}/d/{segment(destination)}",
        f"delete the queue items of {destination}",
    )


def cancel_queue_item(queue_id: str, item_id: int) -> Call:
    return Call("PUT", f"/api/v1/queue/{segment(queue_id)}/i/{item_id}/cancel", f"cancel queue item {item_id}")


def image_bytes(image_name: str) -> Call:
    return Call("GET", f"/api/v1/images/i/{segment(image_name)}/full", f"send image {image_name}", expect="bytes")


def image_record(image_name: str) -> Call:
    return Call("GET", f"/api/v1/images/i/{segment(image_name)}", f"describe image {image_name}")


def upload_image(
    content: bytes,
    filename: str,
    *,
    board_id: str | None = None,
    intermediate: bool = False,
    content_type: str = "image/png",
) -> Call:
    params: dict[str, Any] = {"image_category": "user", "is_intermediate": str(intermediate).lower()}
    if board_id:
        params["board_id"] = board_id
    return Call(
        "POST",
        "/api/v1/images/upload",
        f"store the uploaded image {filename}",
        params=params,
        files={"file": (filename, content, content_type)},
        idempotent=False,
    )


def delete_images(image_names: list[str]) -> Call:
    return Call("POST", "/api/v1/images/delete", "delete images", json={"image_names": image_names})


def images_by_names(image_names: list[str]) -> Call:
    # A POST that only reads: safe to retry. Names the server does not know are left out of the answer.
    return Call("POST", "/api/v1/images/images_by_names", "describe images", json={"image_names": image_names})


def boards(*, include_archived: bool = False) -> Call:
    return Call(
        "GET",
        "/api/v1/boards/",
        "list its boards",
        params={"all": "true", "include_archived": str(include_archived).lower()},
    )


def create_board(name: str) -> Call:
    return Call("POST", "/api/v1/boards/", f"create board {name!r}", params={"board_name": name}, idempotent=False)


def delete_board(board_id: str) -> Call:
    return Call("DELETE", f"/api/v1/boards/{segment(board_id)}", f"delete board {board_id}")


def models() -> Call:
    return Call("GET", "/api/v2/models/", "list its models", parse=lambda body: body.get("models", []))


def install_model(source: str, *, config: dict[str, Any] | None = None, inplace: bool = True) -> Call:
    # ``config`` overrides what the server probes (``{"name": ...}``); the answer is the install job.
    return Call(
        "POST",
        "/api/v2/models/install",
        f"install the model in {source}",
        params={"source": source, "inplace": str(inplace).lower()},
        json=config or {},
        idempotent=False,
    )


def model_install_job(job_id: int) -> Call:
    return Call("GET", f"/api/v2/models/install/{job_id}", f"report on model install job {job_id}")


def model_install_jobs() -> Call:
    return Call("GET", "/api/v2/models/install", "list its model install jobs")


def _check_recall_answer(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise ServerError(f"not an answer of InvokeAI's recall endpoint: {_shorten(str(body))}")
    return body


def recall(queue_id: str, parameters: dict[str, Any]) -> Call:
    # Setting the same parameters twice changes nothing more: safe to retry.
    return Call(
        "POST",
        f"/api/v1/recall/{segment(queue_id)}",
        "apply the recall parameters",
        json=parameters,
        parse=_check_recall_answer,
    )


def recall_status(queue_id: str) -> Call:
    return Call("GET", f"/api/v1/recall/{segment(queue_id)}", "report its recall status", parse=_check_recall_answer)
