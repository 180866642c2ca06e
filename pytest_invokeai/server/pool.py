"""The servers one process generates on: which ones, whether they agree, and which are still up.

Several ``--invokeai-url`` values spread a suite over several servers. Without pytest-xdist the one
process uses all of them (the scheduler keeps each busy). With xdist each worker is given a share
(:func:`assign_servers`): its *primary* servers, spread so that every server has a worker, and the
others as *standby*, used only when all of its primaries stopped answering. A server that cannot be
reached at the start is left out (and said so); the run goes on with the others.

Before anything is enqueued, :func:`check_agreement` compares the servers: the same InvokeAI
version, and the same answer to "which models of these workflows are missing". A suite whose
baselines pass on one server and fail on another would be worse than no spreading at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.ai_models import missing_models
from pytest_invokeai.server.events import TERMINAL_STATUSES
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.load import Workflow


class ServersDisagree(ServerError):
    """The servers of one run differ in InvokeAI version or installed models."""


class NoServerReachable(ServerError):
    """No server of the run answered at the start; ``unreachable`` maps each URL to why.

    Its text is one line meant for every test that needed a server; the reasons are said once,
    in the run's summary and report.
    """

    def __init__(self, unreachable: dict[str, str]) -> None:
        self.unreachable = dict(unreachable)
        urls = ", ".join(self.unreachable)
        where = (
            f"InvokeAI at {urls} is" if len(self.unreachable) == 1 else f"no InvokeAI server of this run ({urls}) is"
        )
        super().__init__(f"{where} not reachable (see the InvokeAI section of the summary)")


def assign_servers(urls: Sequence[str], worker: int | None, workers: int) -> tuple[list[str], list[str]]:
    """``(primary, standby)`` URLs of one process.

    ``worker`` is the xdist worker's number (``gw3`` is 3) and ``workers`` how many there are; None
    means no xdist, and the process uses every server. With more workers than servers, workers share
    a server (xdist hands a faster server's workers more tests, so no server idles while another
    has a queue); with fewer, a worker takes several.
    """
    urls = list(dict.fromkeys(urls))  # the same URL twice is one server
    if worker is None or workers <= 1 or len(urls) <= 1:
        return urls, []
    if workers >= len(urls):
        primary = [urls[worker % len(urls)]]
    else:
        primary = urls[worker::workers]
    return primary, [u for u in urls if u not in primary]


@dataclass
class Lane:
    """One server as the scheduler sees it: its session, whether it is up, what of ours it holds."""

    session: GenerationSession
    version: str
    standby: bool = False
    down: str | None = None  # why it stopped answering
    cases_done: int = 0
    outstanding: dict[str, list[int]] = field(default_factory=dict)  # case key -> item ids not finished
    _finished: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.session.client.base_url

    @property
    def usable(self) -> bool:
        return self.down is None

    def depth(self) -> int:
        """How many of our cases the server holds that have not finished."""
        with self._lock:
            return len(self.outstanding)

    def hold(self, key: str, item_ids: Iterable[int]) -> None:
        with self._lock:
            self.outstanding[key] = [i for i in item_ids if i not in self._finished]
            if not self.outstanding[key]:
                del self.outstanding[key]

    def item_finished(self, item_id: int) -> None:
        """An event said an item of ours finished (called from the event thread)."""
        with self._lock:
            self._finished.add(item_id)
            for key, ids in list(self.outstanding.items()):
                if item_id in ids:
                    ids.remove(item_id)
                    if not ids:
                        del self.outstanding[key]

    def release(self, key: str) -> None:
        """The case is done with (its result was read, or it moved elsewhere)."""
        with self._lock:
            self.outstanding.pop(key, None)

    def refresh(self) -> None:
        """Read the status of what we hold over REST (when events are not connected, or one was lost)."""
        with self._lock:
            ids = [i for ids in self.outstanding.values() for i in ids]
        if not ids:
            return
        items = self.session.client.send(api.queue_items_by_ids(self.session.client.queue_id, ids))
        for item in items:
            if item.get("status") in TERMINAL_STATUSES:
                self.item_finished(int(item["item_id"]))

    def close(self, *, cleanup: bool = False) -> None:
        """Stop listening and let the connection go; ``cleanup`` (only on a server still up) deletes what the session made."""
        try:
            self.session.close(cleanup=cleanup and self.usable)
        except ServerError:
            pass  # a server that fails its clean-up is let go all the same
        finally:
            self.session.client.close()

    def mark_down(self, reason: str) -> list[str]:
        """Take the lane out of use; returns the keys of the cases it still held."""
        with self._lock:
            self.down = reason
            held = list(self.outstanding)
            self.outstanding.clear()
        return held


def connect_lanes(
    urls: Sequence[str], standby: Sequence[str], connect: Callable[[str], tuple[GenerationSession, str]]
) -> tuple[list[Lane], dict[str, str]]:
    """Connect to every server; ``(lanes, unreachable)`` where unreachable maps URL -> reason.

    ``connect(url)`` returns the server's session and its InvokeAI version.
    """
    lanes: list[Lane] = []
    unreachable: dict[str, str] = {}
    for url in [*urls, *standby]:
        try:
            session, version = connect(url)
        except ServerError as exc:
            unreachable[url] = str(exc)
            continue
        lanes.append(Lane(session=session, version=version, standby=url in standby))
    if not lanes:
        raise NoServerReachable(unreachable)
    return lanes, unreachable


def check_agreement(lanes: Sequence[Lane], workflows: Iterable[Workflow]) -> None:
    """Raise :class:`ServersDisagree` when the servers differ in version or in the models these workflows need."""
    if len(lanes) < 2:
        return
    problems: list[str] = []
    versions = {lane.url: lane.version for lane in lanes}
    if len(set(versions.values())) > 1:
        listed = ", ".join(f"{url} runs {version}" for url, version in versions.items())
        problems.append(f"InvokeAI versions differ: {listed}")
    for workflow in workflows:
        missing = {
            lane.url: sorted({m.model_name for m in missing_models(lane.session.installed_models, workflow)})
            for lane in lanes
        }
        if len({tuple(v) for v in missing.values()}) > 1:
            lacking = "; ".join(f"{url} lacks {', '.join(m)}" for url, m in missing.items() if m)
            problems.append(f"{workflow.source}: the servers do not have the same models ({lacking})")
    if problems:
        raise ServersDisagree(
            "the servers of this run do not agree, so their images could not be compared with one set of "
            "baselines; nothing was enqueued:\n  "
            + "\n  ".join(problems)
            + "\nInstall the same InvokeAI version and models on every server, or drop the odd one from --invokeai-url."
        )
