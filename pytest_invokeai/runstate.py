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
from typing import Any

from .baseline.compare import Thresholds
from .baseline.store import BaselineStore
from .cases import CaseSpec
from .errors import ServerError
from .gate import WorkflowGate
from .judge import JudgeSettings
from .options import Settings
from .report.results import OutputResult, TestProblem
from .scheduling import CaseScheduler, WorkflowCache
from .server.client import InvokeAIClient
from .server.session import GenerationSession
from .server.shared import acquire_server


@dataclass
class RunResults:
    outputs: list[OutputResult] = field(default_factory=list)
    problems: list[TestProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # test ids skipped for a missing model
    orphans: list[str] = field(default_factory=list)  # baseline files no collected test uses
    drifted_workflows: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)  # URLs the run's processes generated on

    def export(self) -> dict[str, Any]:
        return {
            "outputs": [_jsonable(asdict(o)) for o in self.outputs],
            "problems": [asdict(p) for p in self.problems],
            "skipped": list(self.skipped),
            "orphans": list(self.orphans),
            "drifted_workflows": sorted(self.drifted_workflows),
            "servers": sorted(self.servers),
        }

    def merge(self, data: dict[str, Any]) -> None:
        for raw in data.get("outputs", []):
            paths = {k: Path(raw[k]) if raw.get(k) else None for k in ("actual", "baseline", "diff", "side_by_side")}
            self.outputs.append(OutputResult(**{**raw, **paths}))
        self.problems += [TestProblem(**p) for p in data.get("problems", [])]
        self.skipped += data.get("skipped", [])
        # Every worker collects the whole suite, so each reports the same orphans: keep one copy.
        self.orphans = sorted(set(self.orphans) | set(data.get("orphans", [])))
        self.drifted_workflows |= set(data.get("drifted_workflows", []))
        self.servers |= set(data.get("servers", []))


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
        self._client: InvokeAIClient | None = None
        self._version: str | None = None
        self.managed = not settings.urls
        self.server_error: Exception | None = None
        self.owner = False  # this process made run_dir and stops the managed server at the end
        self.used_workflows: set[Path] = set()
        self.orphan_note = ""  # why orphans were not looked for
        self.prune_mode: str | None = None  # "delete" or "dry-run" (pytest-invokeai baselines prune)
        self.pruned: list[Path] = []
        self.report_paths: list[Path] = []
        self._planned: list[tuple[str, CaseSpec]] = []
        self._planned_keys: set[str] = set()
        self.on_waiting: Callable[[str, int, str], None] | None = None  # progress of long waits

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
    def url(self) -> str:
        if len(self.settings.urls) > 1:
            raise ServerError(
                f"several --invokeai-url values given ({', '.join(self.settings.urls)}); this version runs a suite "
                "on one server: give one URL"
            )
        if self.settings.urls:
            return self.settings.urls[0]
        return acquire_server(self.run_dir, self.settings.server_cmd)

    @property
    def client(self) -> InvokeAIClient:
        with self._lock:
            if self._client is None:
                if self.server_error is not None:  # do not wait minutes again for every test
                    raise self.server_error
                try:
                    client = InvokeAIClient(self.url, token=self.settings.token, queue_id=self.settings.queue)
                    self._version = client.version()
                except Exception as exc:
                    self.server_error = exc
                    raise
                self._client = client
                self.results.servers.add(client.base_url)
            return self._client

    @property
    def invokeai_version(self) -> str | None:
        self.client  # noqa: B018 - connecting reads the version
        return self._version

    @property
    def scheduler(self) -> CaseScheduler:
        client = self.client
        with self._lock:
            if self._scheduler is None:
                session = GenerationSession(
                    client,
                    board=self.settings.board,
                    generation_timeout=self.settings.timeout,
                    use_cache=not self.settings.no_cache,
                )
                session.runner.on_waiting = self.on_waiting
                gate = WorkflowGate(
                    store=self.store,
                    rootdir=self.rootdir,
                    update_mode=self.settings.update_mode,
                    accept_drift=self.settings.accept_drift,
                    session=session,
                    install_models=self._install_models if self.managed else None,
                )
                self._scheduler = CaseScheduler(session, gate, self.workflows, look_ahead=self.settings.look_ahead)
                self._scheduler.plan(self._planned)
            return self._scheduler

    @property
    def started(self) -> bool:
        return self._scheduler is not None

    def judge_settings(self) -> JudgeSettings:
        return JudgeSettings(
            store=self.store,
            update_mode=self.settings.update_mode,
            results_dir=self.settings.results_dir,
            rootdir=self.rootdir,
            save_images=self.settings.save_images,
            thresholds=Thresholds().with_overrides(self.settings.tolerance),
            invokeai_version=self.invokeai_version,
        )

    def _install_models(self, names: tuple[str, ...]) -> None:
        from .server.model_sources import install_declared_models

        install_declared_models(self.client, names, lock_dir=self.run_dir)

    # -- the end -----------------------------------------------------------------------------

    def finish(self) -> None:
        """Cancel what is still queued (the run stopped early, or look-ahead went past the end); clean up."""
        if self._scheduler is None:
            return
        session = self._scheduler.session
        try:
            self._scheduler.cancel()
        finally:
            session.close(cleanup=self.settings.cleanup)
            if self._client is not None:
                self._client.close()
