"""Boards on the server: find one by name, or create it.

InvokeAI lets several boards share a name. :func:`ensure_board` then uses the oldest one, silently:
duplicates are the user's own business (the web UI allows them), and the oldest is a choice that stays
the same from run to run, so a suite's images keep landing on the same board. Archived boards count:
creating a second board beside an archived one of that name would only add to the clutter.
"""

from __future__ import annotations

from typing import Any

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient

BOARD_NAME_MAX = 300  # InvokeAI's limit (create_board's board_name query parameter)


def ensure_board(client: InvokeAIClient, name: str) -> str:
    """The id of the board called ``name`` (the oldest, when several are), creating it when there is none."""
    _check_name(name)
    found = _oldest_named(client, name)
    if found is not None:
        return found
    created = client.send(api.create_board(name))
    created_id = _board_id(created, client, name)
    # Another process (a parallel test worker) may have created the same board meanwhile: settle on the
    # oldest, so that every process uses one board, and remove our own empty duplicate.
    oldest = _oldest_named(client, name) or created_id
    if oldest != created_id:
        client.send(api.delete_board(created_id))
    return oldest


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a board name must be a non-empty string, got {name!r}")
    if len(name) > BOARD_NAME_MAX:
        raise ValueError(
            f"board name {name[:40]!r}… is {len(name)} characters long; InvokeAI allows at most {BOARD_NAME_MAX}"
        )


def _oldest_named(client: InvokeAIClient, name: str) -> str | None:
    boards = client.send(api.boards(include_archived=True))
    if not isinstance(boards, list):
        raise ServerError(
            f"InvokeAI at {client.base_url} answered the board list with {type(boards).__name__}, not a list"
        )
    named = [b for b in boards if isinstance(b, dict) and b.get("board_name") == name and b.get("board_id")]
    if not named:
        return None
    # created_at is "YYYY-MM-DD HH:MM:SS.fff": sorts by time as text. The id breaks ties so the choice is stable.
    oldest = min(named, key=lambda b: (str(b.get("created_at", "")), str(b["board_id"])))
    return str(oldest["board_id"])


def _board_id(answer: Any, client: InvokeAIClient, name: str) -> str:
    board_id = answer.get("board_id") if isinstance(answer, dict) else None
    if not isinstance(board_id, str) or not board_id:
        raise ServerError(f"InvokeAI at {client.base_url} created board {name!r} but sent no board_id back")
    return board_id
