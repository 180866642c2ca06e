"""Everything one test run (one process) shares: settings, the server, the scheduler, the results.

It is built lazily: a run that collects no InvokeAI test starts no server and opens no connection.
The pytest glue owns one :class:`RunState` per process; results made in xdist workers travel to the
controller as JSON (:meth:`RunState.export` / :meth:`RunState.merge`) and the controller writes
the report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_invokeai.baseline.store import BaselineStore, relative_name
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.report.results import OutputResult, TestProblem
from pytest_invokeai.run.settings import Settings
from pytest_invokeai.workflow.cache import WorkflowCache
from pytest_invokeai.workflow.load import Workflow

# The server side, the scheduler and the judge (httpx, Socket.IO, numpy, PIL) are imported when the
# first case runs: collecting a suite of thousands of cases must not pay for them.
if TYPE_CHECKING:
    from pytest_invokeai.run.judge import JudgeSettings
    from pytest_invokeai.run.scheduler import CaseScheduler
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.pool import Lane
    from pytest_invokeai.server.session import GenerationSession


@dataclass
class RunResults:
    outputs: list[OutputResult] = field(default_factory=list)
    problems: list[TestProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # test ids skipped for a missing model
    orphans: list[str] = field(default_factory=list)  # baseline files no collected test uses
    unreadable: dict[str, str] = field(default_factory=dict)  # baseline file -> what is wrong with it
    replaced: dict[str, str] = field(default_factory=dict)  # unreadable baseline file rewritten -> where its bytes went
    drifted_workflows: set[str] = field(default_factory=set)
    accepted_drift: dict[str, str] = field(default_factory=dict)  # workflow -> what moved, for drift this run accepted
    servers: set[str] = field(default_factory=set)  # URLs the run's processes generated on
    server_cases: dict[str, int] = field(default_factory=dict)  # URL -> cases it ran
    servers_down: dict[str, str] = field(default_factory=dict)  # URL -> why it was left out or stopped being used
    moved: list[str] = field(default_factory=list)  # cases enqueued again elsewhere after their server went down

    def export(self) -> dict[str, Any]:
        return {
            "outputs": [_jsonable(asdict(o)) for o in self.outputs],
            "problems": [asdict(p) for p in self.problems],
            "skipped": list(self.skipped),
            "orphans": list(self.orphans),
            "unreadable": dict(self.unreadable),
            "replaced": dict(self.replaced),
            "drifted_workflows": sorted(self.drifted_workflows),
            "accepted_drift": dict(self.accepted_drift),
            "servers": sorted(self.servers),
            "server_cases": dict(self.server_cases),
            "servers_down": dict(self.servers_down),
            "moved": list(self.moved),
        }

    def merge(self, data: dict[str, Any]) -> None:
        for raw in data.get("outputs", []):
            paths = {k: Path(raw[k]) if raw.get(k) else None for k in ("actual", "baseline", "diff", "side_by_side")}
            self.outputs.append(OutputResult(**{**raw, **paths}))
        self.problems += [TestProblem(**p) for p in data.get("problems", [])]
        self.skipped += data.get("skipped", [])
        # Every worker collects the whole suite, so each reports the same orphans: keep one copy.
        self.orphans = sorted(set(self.orphans) | set(data.get("orphans", [])))
        self.unreadable.update(data.get("unreadable", {}))
        self.replaced.update(data.get("replaced", {}))
        self.drifted_workflows |= set(data.get("drifted_workflows", []))
        self.accepted_drift.update(data.get("accepted_drift", {}))
        self.servers |= set(data.get("servers", []))
        for url, count in data.get("server_cases", {}).items():
            self.server_cases[url] = self.server_cases.get(url, 0) + count
        self.servers_down.update(data.get("servers_down", {}))
        self.moved += data.get("moved", [])

    def note_lanes(self, lanes: list[Lane], moved: list[tuple[str, str]]) -> None:
        """What each server did in this process, for the summary."""
        for lane in lanes:
            if lane.cases_done:
                self.server_cases[lane.url] = self.server_cases.get(lane.url, 0) + lane.cases_done
            if lane.down:
                self.servers_down[lane.url] = lane.down
        self.moved += [f"{key} (left {url})" for key, url in moved]

    def note_accepted_drift(self, accepted: dict[str, str]) -> None:
        """Workflows whose drifted form this process accepted: accepting drift is said, never silent."""
        self.accepted_drift.update(accepted)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


class RunState:
    def __init__(self, settings: Settings, *, rootdir: Path, run_dir: Path) -> None:
        self.settings = settings
        self.rootdir = rootdir
        self.run_dir = run_dir  # shared by the processes of this run (the managed server's record)
        self.store = BaselineStore(settings.baseline_dir, profile=settings.baseline_profile)
        self.workflows = WorkflowCache()
        self.results = RunResults()
        self._lock = threading.Lock()
        self._scheduler: CaseScheduler | None = None
        self._lanes: list[Lane] | None = None
        self.worker: tuple[int, int] | None = None  # (xdist worker number, number of workers)
        self.managed = not settings.urls
        self.server_error: Exception | None = None
        self.owner = False  # this process made run_dir and stops the managed server at the end
        self.used_workflows: set[Path] = set()
        self.case_errors: dict[str, str] = {}  # test id -> why its marker or matrix could not be used
        self.orphan_note = ""  # why orphans were not looked for
        self.prune_mode: str | None = None  # "delete" or "dry-run" (pytest-invokeai baselines prune)
        self.pruned: list[Path] = []
        self.report_paths: list[Path] = []
        self._planned: list[tuple[str, CaseSpec]] = []
        self._planned_keys: set[str] = set()
        self.on_waiting: Callable[[str, int, str], None] | None = None  # progress of long waits
        self.on_silence: Callable[[str, float, float], None] | None = None  # a server silent (url, seconds, limit)

    def plan(self, cases: list[tuple[str, CaseSpec]]) -> None:
        """The declared cases this process will run, in order (more may come, from xdist)."""
        new = [(key, spec) for key, spec in cases if key not in self._planned_keys]
        self._planned += new
        self._planned_keys.update(key for key, _ in new)
        if self._scheduler is not None:
            self._scheduler.plan(new)

    def is_planned(self, key: str) -> bool:
        return key in self._planned_keys

    # -- lazily built ------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        """The servers of the run: the ones given, or the run's managed server (started on first use)."""
        if self.settings.urls:
            return list(self.settings.urls)
        from pytest_invokeai.local.shared_server import acquire_server

        return [acquire_server(self.run_dir, self.settings.server_cmd)]

    @property
    def lanes(self) -> list[Lane]:
        """This process's servers, connected and checked to agree (on first use)."""
        with self._lock:
            if self._lanes is None:
                if self.server_error is not None:  # do not wait minutes again for every test
                    raise self.server_error
                from pytest_invokeai.server.pool import (
                    NoServerReachable,
                    assign_servers,
                    check_agreement,
                    connect_lanes,
                )

                lanes: list[Lane] = []
                try:
                    worker, workers = self.worker or (None, 0)
                    primary, standby = assign_servers(self.urls, worker, workers)
                    unreachable: dict[str, str] = {}
                    try:
                        lanes, unreachable = connect_lanes(primary, standby, self._new_session)
                    except NoServerReachable as none:  # the reasons are said once: in the summary and the report
                        unreachable = none.unreachable
                        raise
                    finally:
                        self.results.servers_down.update({url: f"not reachable at the start: {why}" for url, why in unreachable.items()})
                    check_agreement(lanes, self._used_workflows())
                except Exception as exc:
                    for lane in lanes:
                        lane.close()
                    self.server_error = exc
                    raise
                self._lanes = lanes
                self.results.servers.update(lane.url for lane in lanes if not lane.standby)
            return self._lanes

    def _new_session(self, url: str) -> tuple[GenerationSession, str]:
        """A session on the server at ``url``, and the server's InvokeAI version."""
        from pytest_invokeai.local.shared_server import register_queue
        from pytest_invokeai.server.client import InvokeAIClient
        from pytest_invokeai.server.session import GenerationSession

        client = InvokeAIClient(
            url, token=self.settings.token, queue_id=self.settings.queue,
            hang_timeout=self.settings.hang_timeout, on_silence=self.on_silence,
        )
        try:
            # Not InvokeAI, down or hung: said in seconds, before anything else is opened.
            version = client.probe_version()
            session = GenerationSession(
                client,
                board=self.settings.board,
                generation_timeout=self.settings.timeout,
                use_cache=not self.settings.no_cache,
            )
            # Noted before anything is enqueued: if this process dies, the run's owner cancels it (server/shared.py).
            register_queue(self.run_dir, url, client.queue_id, session.runner.destination)
        except Exception:
            client.close()
            raise
        session.runner.on_waiting = self.on_waiting
        return session, version

    def _used_workflows(self) -> list[Workflow]:
        loaded = []
        for path in sorted(self.used_workflows):
            try:
                loaded.append(self.workflows.get(path))
            except InvokeAITestError:
                continue  # its tests report it
        return loaded

    @property
    def client(self) -> InvokeAIClient:
        """The client of this process's first server (the only one, with one URL)."""
        if self._scheduler is not None:
            return self._scheduler.session.client
        return self.lanes[0].session.client

    @property
    def invokeai_version(self) -> str | None:
        return self.lanes[0].version

    @property
    def scheduler(self) -> CaseScheduler:
        lanes = self.lanes
        with self._lock:
            if self._scheduler is None:
                from pytest_invokeai.run.gate import WorkflowGate
                from pytest_invokeai.run.scheduler import CaseScheduler

                gate = WorkflowGate(
                    store=self.store,
                    rootdir=self.rootdir,
                    update_mode=self.settings.update_mode,
                    accept_drift=self.settings.accept_drift,
                    install_models=self._install_models if self.managed else None,
                    on_replaced=self.note_replaced,
                )
                self._scheduler = CaseScheduler(
                    lanes, gate, self.workflows, look_ahead=self.settings.look_ahead, stopped=self._stopped
                )
                self._scheduler.plan(self._planned)
            return self._scheduler

    @property
    def started(self) -> bool:
        return self._scheduler is not None

    def judge_settings(self) -> JudgeSettings:
        from pytest_invokeai.baseline.compare import Thresholds
        from pytest_invokeai.run.judge import JudgeSettings

        return JudgeSettings(
            store=self.store,
            update_mode=self.settings.update_mode,
            results_dir=self.settings.results_dir,
            rootdir=self.rootdir,
            save_images=self.settings.save_images,
            thresholds=Thresholds().with_overrides(self.settings.tolerance),
            invokeai_version=self.invokeai_version,
        )

    def note_replaced(self, broken: Path, kept: Path) -> None:
        """An unreadable baseline or index map was rewritten; ``kept`` holds its old bytes."""
        self.results.replaced[relative_name(broken, self.rootdir)] = relative_name(kept, self.rootdir)

    def _install_models(self, names: tuple[str, ...]) -> None:
        from pytest_invokeai.local.model_sources import install_declared_models

        install_declared_models(self.client, names, lock_dir=self.run_dir)

    # -- the end -----------------------------------------------------------------------------

    def _stopped(self) -> bool:
        from pytest_invokeai.local.shared_server import is_stopped

        return is_stopped(self.run_dir)

    def finish(self) -> None:
        """Cancel what is still queued (the run stopped early, or look-ahead went past the end); clean up."""
        from pytest_invokeai.local.shared_server import forget_queues

        lanes = self._lanes or []
        if self._scheduler is None:
            for lane in lanes:
                lane.close()
            forget_queues(self.run_dir, [lane.session.runner.destination for lane in lanes])  # nothing enqueued
            return
        try:
            self._scheduler.cancel()
            # Cancelled here (a server that went down was tried, and would fail the owner's try as well).
            forget_queues(self.run_dir, [lane.session.runner.destination for lane in lanes])
        finally:
            self._scheduler.close(cleanup=self.settings.cleanup)
            self.results.note_lanes(self._scheduler.lanes, self._scheduler.moved)
            self.results.note_accepted_drift(self._scheduler.gate.accepted_drift())
