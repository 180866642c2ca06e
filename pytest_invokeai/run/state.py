"""Everything one test run (one process) shares: settings, the server, the scheduler, the results.

It connects lazily (:meth:`RunState.connect`, on the first case): a run that collects no InvokeAI
test starts no server and opens no connection. The pytest adapter builds one :class:`RunState` per
process; results made in xdist workers travel to the controller as JSON (:meth:`RunResults.export` /
:meth:`RunResults.merge`) and the controller writes the report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_invokeai._util.keys import rootdir_key
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.local.node_packs import NodePack, NodePackError
from pytest_invokeai.run.settings import Settings
from pytest_invokeai.workflow.cache import WorkflowCache

# The server side, the scheduler and the judge (httpx, Socket.IO, numpy, PIL) are imported when the
# first case runs: collecting a suite of thousands of cases must not pay for them.
# The workflow loader and the results' types are imported when first used too: a run that
# collects no InvokeAI test never needs them.
if TYPE_CHECKING:
    from pytest_invokeai.report.results import OutputResult, TestProblem
    from pytest_invokeai.run.judge import JudgeSettings
    from pytest_invokeai.run.scheduler import CaseScheduler
    from pytest_invokeai.server.auth import Auth
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.pool import Lane
    from pytest_invokeai.server.session import GenerationSession
    from pytest_invokeai.workflow.load import Workflow
    from pytest_invokeai.workflow.schema import InvocationSchema


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
    invokeai_versions: dict[str, str] = field(default_factory=dict)  # URL -> the InvokeAI version it runs
    # What the run collected, for an orphan scan over several runs' results (pytest-invokeai report merge):
    # the test ids, the workflows they use (rootdir keys), and test id prefixes whose cases could not be listed.
    collected: list[str] = field(default_factory=list)
    used_workflows: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    orphan_note: str = ""  # why orphans were not looked for (said by the xdist controller for its workers)
    # Update modes: test id -> the baseline files written (the record first, then its previews), and
    # test id -> the previews added beside a record that matched (the record itself unchanged).
    baselines_written: dict[str, list[str]] = field(default_factory=dict)
    previews_added: dict[str, list[str]] = field(default_factory=dict)

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
            "invokeai_versions": dict(self.invokeai_versions),
            "collected": list(self.collected),
            "used_workflows": list(self.used_workflows),
            "unlisted": list(self.unlisted),
            "orphan_note": self.orphan_note,
            "baselines_written": dict(self.baselines_written),
            "previews_added": dict(self.previews_added),
        }

    def merge(self, data: dict[str, Any]) -> None:
        from pytest_invokeai.report.results import OutputResult, TestProblem

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
        self.invokeai_versions.update(data.get("invokeai_versions", {}))
        # Every worker collects the same tests: keep one copy of each.
        self.collected = list(dict.fromkeys([*self.collected, *data.get("collected", [])]))
        self.used_workflows = sorted(set(self.used_workflows) | set(data.get("used_workflows", [])))
        self.unlisted = sorted(set(self.unlisted) | set(data.get("unlisted", [])))
        self.orphan_note = self.orphan_note or data.get("orphan_note", "")  # the workers collect alike: one note
        self.baselines_written.update(data.get("baselines_written", {}))
        self.previews_added.update(data.get("previews_added", {}))

    def note_lanes(self, lanes: list[Lane], moved: list[tuple[str, str]]) -> None:
        """What each server did in this process, for the summary."""
        for lane in lanes:
            if lane.cases_done:
                self.server_cases[lane.url] = self.server_cases.get(lane.url, 0) + lane.cases_done
            if lane.down:
                self.servers_down[lane.url] = lane.down
        self.moved += [f"{key} (left {url})" for key, url in moved]

    def note_written(self, test_id: str, record: Path | None, previews: Iterable[Path], rootdir: Path) -> None:
        """What an update mode wrote for one test: its record and previews, or previews added to a kept record."""
        files = [rootdir_key(path, rootdir) for path in previews]
        if record is not None:
            self.baselines_written[test_id] = [rootdir_key(record, rootdir), *files]
        elif files:
            self.previews_added[test_id] = files

    def note_accepted_drift(self, accepted: dict[str, str]) -> None:
        """Workflows whose drifted form this process accepted: accepting drift is said, never silent."""
        self.accepted_drift.update(accepted)


def _live_schema(client: InvokeAIClient, version: str, run_dir: Path) -> InvocationSchema | None:
    """The server's node schema, or None when it cannot be read (then the shipped one is used, as before)."""
    import warnings

    from pytest_invokeai.errors import ServerError
    from pytest_invokeai.server.client import ConnectionBroken
    from pytest_invokeai.server.live_schema import run_live_schema
    from pytest_invokeai.workflow.schema import SchemaError

    try:
        return run_live_schema(client, version, run_dir)
    except ConnectionBroken:  # the server itself is gone: that is no schema problem
        raise
    except (SchemaError, ServerError) as exc:  # a proxy that serves /api only, say: the run goes on as before
        warnings.warn(
            f"the node schema of {client.base_url} cannot be read, so the shipped one is used: {exc}", stacklevel=2
        )
        return None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


class VersionMismatch(InvokeAITestError):
    """A server given with ``--invokeai-url`` runs another InvokeAI than ``--invokeai-version`` asks for.

    Not a :class:`~pytest_invokeai.errors.ServerError`: the pool would set such a server aside and run on the
    others; a wrong version fails the run instead, before anything is enqueued.
    """


class LoginFailed(InvokeAITestError):
    """A server of the run needs a login the run did not give, or refused the one it gave.

    Not a :class:`~pytest_invokeai.errors.ServerError`, which would read as "not reachable": the server
    answers, and the run stops with what to give, before anything is enqueued.
    """


def _where_version(settings: Settings) -> str:
    source = settings.sources.get("invokeai_version", "command line")
    return "ini" if source == "ini" else source


class RunState:
    """One process's share of a run: built whole by the pytest adapter, connected on first use (:meth:`connect`).

    ``owner``: this process made ``run_dir`` and stops the managed server at the end. ``worker``: (xdist
    worker number, number of workers), which of several servers this process uses (see server/pool.py).
    ``on_waiting`` / ``on_silence``: progress of long waits, and a server silent (url, seconds, limit).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        rootdir: Path,
        run_dir: Path,
        owner: bool,
        worker: tuple[int, int] | None = None,
        on_waiting: Callable[[str, int, str], None] | None = None,
        on_silence: Callable[[str, float, float], None] | None = None,
        node_packs: Sequence[NodePack] = (),
    ) -> None:
        self.settings = settings
        self.rootdir = rootdir
        self.run_dir = run_dir  # shared by the processes of this run (the managed server's record)
        self.owner = owner
        self.worker = worker
        self.managed = not settings.urls
        self.store = BaselineStore(settings.baseline_dir, profile=settings.baseline_profile)
        self.workflows = WorkflowCache(self._load_workflow)
        self._live_schema: InvocationSchema | None = None  # the server's, once connected (see _use_live_schema)
        # The node packs of the run (--invokeai-nodes), found and hashed by the caller: a bad folder is a usage error.
        self.node_packs = list(node_packs)
        self.results = RunResults()
        self._on_waiting = on_waiting
        self._on_silence = on_silence
        self._lock = threading.Lock()
        self._scheduler: CaseScheduler | None = None
        self._lanes: list[Lane] | None = None
        self._server_error: Exception | None = None
        self._used_workflows: set[Path] = set()
        self._planned: list[tuple[str, CaseSpec]] = []
        self._planned_keys: set[str] = set()

    def _load_workflow(self, path: Path) -> Workflow:
        # Read with the run's node schema: --invokeai-schema, else the server's once connected, else the shipped
        # one. The loader and the schema file are imported and read when first needed, not at collection start.
        from pytest_invokeai.workflow.load import load_workflow
        from pytest_invokeai.workflow.schema import load_schema

        if self.settings.schema is None and self._live_schema is not None:
            return load_workflow(path, schema=self._live_schema)
        return load_workflow(path, schema=load_schema(self.settings.schema))

    def add_node_packs(self, packs: Iterable[NodePack]) -> None:
        """Packs that collected cases name (``nodes=``), before the managed server starts. Raises NodePackError
        when one has the name of another pack from another folder (InvokeAI would load only one)."""
        known = {pack.name: pack for pack in self.node_packs}
        for pack in packs:
            other = known.get(pack.name)
            if other is None:
                self.node_packs.append(pack)
                known[pack.name] = pack
            elif other.path != pack.path:
                raise NodePackError(
                    f"two node packs are named {pack.name!r}: {other.path} and {pack.path}; InvokeAI loads a pack "
                    "by its folder's name, so rename one of them"
                )

    def _needs_live_schema(self, server_version: str) -> bool:
        from pytest_invokeai.server.live_schema import live_schema_needed

        return live_schema_needed(
            server_version, node_packs=bool(self.node_packs), workflows=self._loaded_used_workflows()
        )

    def _use_live_schema(self, lanes: list[Lane]) -> None:
        """From now on workflows are read with the server's schema (unless the user named one): custom nodes'
        fields get their real kinds, bounds and choices. What collection read with the shipped one is read again."""
        live = next((lane.session.live_schema for lane in lanes if lane.session.live_schema is not None), None)
        if live is None or self.settings.schema is not None:
            return
        self._live_schema = live
        self.workflows = WorkflowCache(self._load_workflow)

    def plan(self, cases: list[tuple[str, CaseSpec]]) -> None:
        """The declared cases this process will run, in order (more may come, from xdist)."""
        new = [(key, spec) for key, spec in cases if key not in self._planned_keys]
        self._planned += new
        self._planned_keys.update(key for key, _ in new)
        if self._scheduler is not None:
            self._scheduler.plan(new)

    def is_planned(self, key: str) -> bool:
        return key in self._planned_keys

    def use_workflows(self, paths: Iterable[Path]) -> None:
        """Workflows the collected tests use: the servers must agree on them, their index maps are in use."""
        self._used_workflows.update(paths)

    @property
    def used_workflows(self) -> frozenset[Path]:
        return frozenset(self._used_workflows)

    # -- connecting, on first use ------------------------------------------------------------

    def server_urls(self) -> list[str]:
        """The servers of the run: the ones given, or the run's managed server (started here on first use)."""
        if self.settings.urls:
            return list(self.settings.urls)
        from pytest_invokeai.local.shared_server import acquire_server

        return [
            acquire_server(
                self.run_dir, self.settings.server_cmd, node_packs=self.node_packs, version=self.settings.version
            )
        ]

    def new_auth(self) -> Auth:
        """How a connection to one of the run's servers signs in: the token given, or a login as the user."""
        from pytest_invokeai.server.auth import Auth, Credentials

        if self.settings.user and self.settings.password:
            return Auth(credentials=Credentials(self.settings.user, self.settings.password))
        return Auth(self.settings.token)

    def auth_for_cancel(self) -> Auth | None:
        """A login for the end-of-run cancel of what dead processes left (None: the token, if any, does)."""
        return self.new_auth() if self.settings.user else None

    def connect(self) -> list[Lane]:
        """This process's servers, connected and checked to agree; connects once (a failure is kept and raised again)."""
        with self._lock:
            if self._lanes is None:
                if self._server_error is not None:  # do not wait minutes again for every test
                    raise self._server_error
                try:
                    self._lanes = self._connect_lanes()
                except Exception as exc:
                    self._server_error = exc
                    raise
                self.results.servers.update(lane.url for lane in self._lanes if not lane.standby)
            return self._lanes

    def _connect_lanes(self) -> list[Lane]:
        from pytest_invokeai.server.pool import (
            NoServerReachable,
            assign_servers,
            check_agreement,
            connect_lanes,
        )

        lanes: list[Lane] = []
        try:
            worker, workers = self.worker or (None, 0)
            primary, standby = assign_servers(self.server_urls(), worker, workers)
            unreachable: dict[str, str] = {}
            try:
                lanes, unreachable = connect_lanes(primary, standby, self._new_session)
            except NoServerReachable as none:  # the reasons are said once: in the summary and the report
                unreachable = none.unreachable
                raise
            finally:
                self.results.servers_down.update(
                    {url: f"not reachable at the start: {why}" for url, why in unreachable.items()}
                )
            self._use_live_schema(lanes)
            check_agreement(lanes, self._loaded_used_workflows())
        except Exception:
            for lane in lanes:
                lane.close()
            raise
        return lanes

    def _new_session(self, url: str) -> tuple[GenerationSession, str]:
        """A session on the server at ``url``, and the server's InvokeAI version."""
        from pytest_invokeai.local.shared_server import register_queue
        from pytest_invokeai.server.auth import LoginRequired
        from pytest_invokeai.server.client import InvokeAIClient
        from pytest_invokeai.server.live_schema import first_contact
        from pytest_invokeai.server.session import GenerationSession

        client = InvokeAIClient(
            url,
            auth=self.new_auth(),
            queue_id=self.settings.queue,
            hang_timeout=self.settings.hang_timeout,
            on_silence=self._on_silence,
        )
        try:
            with first_contact(self.run_dir, client.base_url):  # one process of the run at a time
                # Not InvokeAI, down or hung: said in seconds, before anything else is opened.
                version = client.probe_version()
                try:
                    client.check_login()  # a multi-user server and no (or a refused) login: one clear error, now
                except LoginRequired as exc:
                    raise LoginFailed(str(exc)) from None
                if self.settings.urls and self.settings.version and version != self.settings.version:
                    raise VersionMismatch(
                        f"InvokeAI at {url} runs {version}, but --invokeai-version asks for {self.settings.version} "
                        f"({_where_version(self.settings)}); nothing was enqueued. Upgrade the server, or run with "
                        f"--invokeai-version {version}"
                    )
                live_schema = _live_schema(client, version, self.run_dir) if self._needs_live_schema(version) else None
                self.results.invokeai_versions[url] = version
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
        session.runner.on_waiting = self._on_waiting
        session.live_schema = live_schema
        return session, version

    def _loaded_used_workflows(self) -> list[Workflow]:
        loaded = []
        for path in sorted(self._used_workflows):
            try:
                loaded.append(self.workflows.get(path))
            except InvokeAITestError:
                continue  # its tests report it
        return loaded

    def first_client(self) -> InvokeAIClient:
        """The client of this process's first server (the only one, with one URL); connects on first use."""
        if self._scheduler is not None:
            return self._scheduler.session.client
        return self.connect()[0].session.client

    def start_scheduler(self) -> CaseScheduler:
        """The scheduler of this process's cases (connecting first); made once, with every case planned so far."""
        lanes = self.connect()
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
            preview_size=self.settings.preview_size,
            thresholds=Thresholds().with_overrides(self.settings.tolerance),
            invokeai_version=self.connect()[0].version,
            node_packs={pack.name: pack.hash for pack in self.node_packs},
        )

    def note_replaced(self, broken: Path, kept: Path) -> None:
        """An unreadable baseline or index map was rewritten; ``kept`` holds its old bytes."""
        self.results.replaced[rootdir_key(broken, self.rootdir)] = rootdir_key(kept, self.rootdir)

    def _install_models(self, names: tuple[str, ...]) -> None:
        from pytest_invokeai.local.model_sources import install_declared_models

        install_declared_models(self.first_client(), names, lock_dir=self.run_dir)

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
