"""After a run: delete the images its queue items made, then the queue items, so a suite does not fill the gallery.

Only the run's own ``destination`` is touched. An image is deleted only when the server says a session
of this run made it: with the node cache on, a node can answer with an image that an earlier session
made (another run, or the user's own generation in the web UI), and that image is not ours to delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.events import TERMINAL_STATUSES
from pytest_invokeai.server.outputs import images_by_node
from pytest_invokeai.server.uploads import delete_image_names

DESCRIBE_CHUNK = 1000  # names per images_by_names call: keeps one request small


@dataclass(frozen=True)
class CleanupResult:
    destination: str
    deleted_images: tuple[str, ...]
    kept_images: tuple[str, ...]  # made by sessions of other runs (node cache hits): left in place
    deleted_items: int


def cleanup_run(client: InvokeAIClient, destination: str, *, delete_images: bool = True) -> CleanupResult:
    """Delete the images made by the queue items of ``destination`` (intermediates too), then those items.

    Raises :class:`ServerError` when some items have not finished (cancel them and wait first: images of a
    running item would be made after we looked), and when images could not be deleted; the queue items are
    then kept, so that calling this again can still find the images.
    """
    if not isinstance(destination, str) or not destination:
        raise ValueError(
            f"destination must be a run's non-empty destination tag (Runner.destination), got {destination!r}"
        )
    items: list[dict[str, Any]] = client.send(api.queue_items_by_destination(client.queue_id, destination))
    unfinished = sorted(int(i["item_id"]) for i in items if i.get("status") not in TERMINAL_STATUSES)
    if unfinished:
        shown = ", ".join(map(str, unfinished[:10])) + (" …" if len(unfinished) > 10 else "")
        raise ServerError(
            f"run {destination} still has {len(unfinished)} unfinished queue item(s) on InvokeAI at {client.base_url} "
            f"({shown}); cancel them (Runner.cancel) and wait until they are canceled before cleaning up"
        )
    deleted: list[str] = []
    kept: list[str] = []
    if delete_images:
        ours, kept = _split_by_maker(client, items)
        deleted = delete_image_names(client, ours)
    answer = client.send(api.delete_by_destination(client.queue_id, destination))
    count = answer.get("deleted", 0) if isinstance(answer, dict) else 0
    return CleanupResult(
        destination=destination, deleted_images=tuple(deleted), kept_images=tuple(kept), deleted_items=int(count)
    )


def produced_image_names(items: list[dict[str, Any]]) -> list[str]:
    """Every image name in the sessions' results (intermediate outputs included), each once, sorted."""
    return sorted({ref.image_name for item in items for node in images_by_node(item).values() for ref in node.images})


def _split_by_maker(client: InvokeAIClient, items: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(images made by these items' sessions, images they only reused from other sessions)."""
    sessions = {item.get("session_id") for item in items} - {None}
    names = produced_image_names(items)
    made_by: dict[str | None, Any] = {}  # keyed by what the server answered, which it may leave out
    for start in range(0, len(names), DESCRIBE_CHUNK):
        for record in client.send(api.images_by_names(names[start : start + DESCRIBE_CHUNK])) or []:
            if isinstance(record, dict):
                made_by[record.get("image_name")] = record.get("session_id")
    # Names the server no longer knows are already gone: neither deleted nor kept by us.
    ours = [n for n in names if n in made_by and made_by[n] in sessions]
    kept = [n for n in names if n in made_by and made_by[n] not in sessions]
    return ours, kept
