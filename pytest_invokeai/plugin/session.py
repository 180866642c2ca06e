"""One pytest run of InvokeAI tests, as the hooks in ``plugin/__init__.py`` see it (they only delegate here).

:class:`InvokeAISession` builds the engine's :class:`~pytest_invokeai.run.state.RunState` whole from
pytest's config, keeps what pytest alone knows (tests whose marker or matrix could not be used, the
run's narrowing, what was pruned, the report's paths) and hands the engine and the end of the run
plain, typed data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_invokeai.baseline.orphans import Pruned, prune, scan_run
from pytest_invokeai.cases.spec import (
    CaseError,
    CaseSpec,
    matrix_cases,
    spec_from_marker,
    unique_ids,
)
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.local.shared_server import new_run_dir, release_run
from pytest_invokeai.plugin import xdist
from pytest_invokeai.plugin.bridge import (
    CASE_PARAM,
    STATE_KEY,
    declared_case,
    marked_workflow,
    marker_kwargs,
)
from pytest_invokeai.plugin.narrowing import narrowed_by, run_scope
from pytest_invokeai.plugin.outcomes import OutcomeRecorder
from pytest_invokeai.plugin.owner import RunOwner
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.run.progress import WaitProgress
from pytest_invokeai.run.settings import OptionError, resolve
from pytest_invokeai.run.state import RunState

SESSION_KEY = pytest.StashKey["InvokeAISession"]()


class InvokeAISession:
    def __init__(
        self, config: pytest.Config, state: RunState, *, outcome: RunOutcome | None, owner: RunOwner | None
    ) -> None:
        self.config = config
        self.state = state
        self.outcome = outcome  # what pytest made of the run: counted by the run's owner alone
        self.owner = owner
        self.case_errors: dict[str, str] = {}  # test id -> why its marker or matrix could not be used
        self.deselected = 0
        self.orphan_note = ""  # why orphans were not looked for
        self.pruned: Pruned | None = None
        self.report_paths: list[Path] = []

    @classmethod
    def configure(cls, config: pytest.Config) -> InvokeAISession:
        """Settings (command line > ``PYTEST_INVOKEAI_*`` > ini) and the run's state; nothing connects yet."""
        try:
            settings = resolve(vars(config.option), config.getini, rootdir=config.rootpath)
        except (OptionError, ValueError) as exc:
            raise pytest.UsageError(str(exc)) from None
        shared = xdist.shared_run_dir(config)
        is_owner = shared is None
        progress = WaitProgress(_live_line(config)) if is_owner else None  # workers have no terminal
        state = RunState(
            settings,
            rootdir=config.rootpath,
            run_dir=new_run_dir() if shared is None else shared,
            owner=is_owner,
            worker=xdist.worker_of(config),
            on_waiting=progress,
            on_silence=progress.server_silent if progress is not None else None,
        )
        outcome = owner = None
        if is_owner:  # the xdist controller sees the workers' reports: it counts for the whole run
            recorder = OutcomeRecorder(config)
            outcome, owner = recorder.outcome, RunOwner(config, state)
            config.pluginmanager.register(recorder, "invokeai-outcomes")
            config.pluginmanager.register(owner, "invokeai-run-owner")
        session = cls(config, state, outcome=outcome, owner=owner)
        config.stash[STATE_KEY] = state
        config.stash[SESSION_KEY] = session
        return session

    # -- collection --------------------------------------------------------------------------

    def parametrize_matrix(self, metafunc: pytest.Metafunc) -> None:
        """A marker's ``matrix`` becomes one test per row; one that cannot be used leaves a test that fails at setup."""
        try:
            kwargs = marker_kwargs(metafunc.definition)
            if kwargs is None or "matrix" not in kwargs:
                return
            where = metafunc.definition.nodeid
            if CASE_PARAM not in metafunc.fixturenames:
                raise CaseError(
                    f"{where}: a marker with a matrix needs a test that uses invokeai_run or invokeai_workflow"
                )
            base = spec_from_marker(kwargs, base_dir=Path(str(metafunc.definition.path)).parent, where=where)
            workflow = self.state.workflows.get(base.workflow)
            cases = matrix_cases(workflow, base, kwargs["matrix"], kwargs.get("combine", "product"), where=where)
        except InvokeAITestError as exc:
            # Not a collection error: pytest would stop the whole run. The test stays one item that fails at setup.
            self.case_errors[metafunc.definition.nodeid] = str(exc)
            return
        metafunc.parametrize(CASE_PARAM, cases, ids=unique_ids(cases))

    def declared_cases(
        self, items: Iterable[pytest.Item], used_workflows: set[Path] | None = None
    ) -> list[tuple[str, CaseSpec]]:
        """(test id, case) of the items that declare a case, in order; a declaration that cannot be used is
        kept for the test to fail with at setup. ``used_workflows`` also gets every marked workflow (also
        of tests that only run ad hoc: their index maps are in use)."""
        cases = []
        for item in items:
            try:
                spec = declared_case(item)
                if used_workflows is not None:
                    workflow = spec.workflow if spec is not None else marked_workflow(item)
                    if workflow is not None:
                        used_workflows.add(workflow)
            except InvokeAITestError as exc:
                self.case_errors.setdefault(item.nodeid, str(exc))
                continue
            if spec is not None:
                cases.append((item.nodeid, spec))
        return cases

    def collection_finished(self, session: pytest.Session) -> None:
        """Plan the selected cases in test order (after -k, -m, --lf); orphans when the run covers them all."""
        unlisted = self._unlisted(session.items)  # before the items' own declaration errors are noted
        used_workflows: set[Path] = set()
        cases = self.declared_cases(session.items, used_workflows)
        self.state.use_workflows(used_workflows)
        if not xdist.is_worker(self.config) and not self.config.option.collectonly:
            self.state.plan(cases)  # xdist workers plan what they are handed, as they are handed it
        # A file that failed to collect hides its tests: their baselines must not look orphaned.
        narrowed = narrowed_by(self.config, self.deselected, session.testsfailed)
        if narrowed:
            self.orphan_note = f"not checked for orphaned baselines: the run was narrowed ({narrowed})"
        else:
            self._scan_baselines(session.items, unlisted)
        prune_mode = self.config.getoption("invokeai_prune")
        if prune_mode:
            if narrowed:
                raise pytest.UsageError(
                    f"--invokeai-prune refuses a narrowed run ({narrowed}): it would delete baselines in use"
                )
            dry_run = prune_mode == "dry-run"
            state = self.state
            self.pruned = Pruned(
                dry_run, prune(state.store, state.results.orphans, rootdir=state.rootdir, dry_run=dry_run)
            )

    def _unlisted(self, items: list[pytest.Item]) -> list[str]:
        """Test id prefixes of tests whose cases could not be listed: their baselines stay in use."""
        unlisted = []
        for item in items:
            prefix = getattr(item, "invokeai_unlisted", "")  # a suite file that failed to load
            if prefix:
                unlisted.append(prefix)
            elif item.nodeid in self.case_errors:  # a marker or matrix that could not be used
                unlisted.append(item.nodeid + "[")
        return unlisted

    def _scan_baselines(self, items: list[pytest.Item], unlisted: list[str]) -> None:
        state = self.state
        scan = scan_run(
            state.store,
            state.rootdir,
            run_scope(self.config),
            state.used_workflows,
            [i.nodeid for i in items],
            unlisted,
        )
        state.results.orphans, state.results.unreadable = scan.orphans, scan.unreadable

    def handed(self, item: pytest.Item) -> None:
        """An xdist worker plans the tests it has been handed since the last test (its queue, read each test)."""
        if not xdist.is_worker(self.config):
            return
        state = self.state
        handed = [each for each in [item, *xdist.handed_to_worker(item.session)] if not state.is_planned(each.nodeid)]
        state.plan(self.declared_cases(handed))

    # -- the end -----------------------------------------------------------------------------

    def finish(self, exitstatus: int) -> None:
        """Cancel what is still queued; a worker sends its results, the owner writes the report."""
        state = self.state
        state.finish()
        if xdist.is_worker(self.config):
            xdist.send_results(self.config, json.dumps(state.results.export()))
            return
        if self.config.option.collectonly or self.outcome is None:  # nothing ran: the results folder is left alone
            return
        # The report side is imported only when a run ends.
        from pytest_invokeai.report.writer import write_reports

        self.outcome.exit_status = int(exitstatus)
        self.report_paths = write_reports(state.results, self.outcome, settings=state.settings, rootdir=state.rootdir)

    def worker_done(self, node: Any) -> None:
        data = xdist.results_sent(node)
        if data:
            self.state.results.merge(json.loads(data))

    def summary_lines(self) -> list[str]:
        from pytest_invokeai.report.writer import summary_lines

        return summary_lines(
            self.state.results,
            settings=self.state.settings,
            orphan_note=self.orphan_note,
            pruned=self.pruned,
            report_paths=self.report_paths,
        )

    def unconfigure(self) -> None:
        if self.owner is None:
            return
        try:  # what a process of the run left queued when it died (workers after Ctrl-C)
            self.owner.cancel_left()
        finally:
            release_run(self.state.run_dir)


def _live_line(config: pytest.Config) -> Callable[[str], None]:
    """Write a line to the terminal while a test runs: past pytest's output capture, as live logging does.

    The terminal is looked up when a line is written (it does not exist yet when the run is configured).
    """

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capture = config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)

    return write
