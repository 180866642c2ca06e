"""pytest glue (thin): options, the marker, collection, planning the enqueue-ahead, the summary.

Hooks, in the order a run meets them:

- ``pytest_addoption``: every option of :mod:`.options` under one heading, also as ini keys.
- ``pytest_configure``: resolve settings (command line > ``PYTEST_INVOKEAI_*`` > ini), make the
  run's :class:`~.runstate.RunState`. Nothing connects yet.
- ``pytest_sessionstart``: progress lines of long waits go to the terminal, past output capture.
- ``pytest_collect_file``: ``*.invokeai.toml`` suite files.
- ``pytest_generate_tests``: a marker's ``matrix`` becomes one test per row, ids from display names
  (a marker or matrix that cannot be used leaves one test that ``pytest_runtest_setup`` fails).
- ``pytest_collection_finish``: plan the selected cases in test order (after ``-k``, ``-m``, ``--lf``)
  and note orphaned baselines when the run covers them all.
- ``pytest_runtest_protocol`` (xdist workers): plan the tests this worker has been handed.
- ``pytest_runtest_logreport`` (:class:`OutcomeRecorder`, in the controller): every test's outcome as
  pytest counts it, for the report's status and counts.
- ``pytest_sessionfinish``: cancel what is still queued, write the report (the controller, with the
  workers' results and pytest's exit status), clean up.
- ``pytest_terminal_summary``: compared, matched, mismatched, new, drifted, drift accepted, orphaned; the
  report path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_invokeai.baseline.orphans import narrowed_by, prune, scan_run
from pytest_invokeai.cases.spec import (
    CaseError,
    matrix_cases,
    spec_from_marker,
    unique_ids,
)
from pytest_invokeai.cases.suite_file import is_suite_file
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.local.shared_server import (
    cancel_registered_queues,
    mark_stopped,
    new_run_dir,
    release_run,
)
from pytest_invokeai.plugin.bridge import (
    CASE_PARAM,
    MARKER,
    STATE_KEY,
    declared_case,
    marked_workflow,
    marker_kwargs,
    run_state,
)
from pytest_invokeai.plugin.fixtures import (  # noqa: F401 - fixtures
    invokeai_case,
    invokeai_client,
    invokeai_run,
    invokeai_workflow,
)
from pytest_invokeai.plugin.items import SuiteFile
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.run.progress import WaitProgress
from pytest_invokeai.run.settings import OPTIONS, OptionError, resolve
from pytest_invokeai.run.state import RunState

WORKER_OUTPUT_KEY = "invokeai"
RUN_DIR_INPUT = "invokeai_run_dir"
PRUNE_MODES = ("delete", "dry-run")
OUTCOME_KEY = pytest.StashKey[RunOutcome]()  # what pytest made of the run (the controller's count)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("invokeai", "InvokeAI regression testing (pytest-invokeai)")
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"dest": option.name, "default": None, "help": option.help_text()}
        if option.kind == "bool":  # --no-invokeai-X turns off what the environment or ini turned on
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.kind == "list":
            kwargs["action"] = "append"
        elif option.kind == "choice":
            kwargs["choices"] = option.choices
        if option.metavar and option.kind != "bool":
            kwargs["metavar"] = option.metavar
        group.addoption(option.flag, **kwargs)
        ini_type: Literal["linelist", "string"] = "linelist" if option.kind == "list" else "string"
        parser.addini(option.ini, help=option.help_text(), type=ini_type)
    group.addoption(
        "--invokeai-prune",
        choices=PRUNE_MODES,
        default=None,
        dest="invokeai_prune",
        help="with --collect-only: delete (or with dry-run list) baselines and index maps no collected test uses; "
        "refused when the run is narrowed (-k, -m, node ids, --lf)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(workflow, inputs={{index: value}}, matrix={{index: [values]}}, combine='product'|'zip', "
        "outputs=[node id or label], tolerance={signal: max}, timeout=seconds, models=[name]): "
        "run an InvokeAI workflow (path relative to the test file) and compare its images with baselines",
    )
    try:
        settings = resolve(vars(config.option), config.getini, rootdir=config.rootpath)
    except (OptionError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    owner = workerinput is None
    run_dir = new_run_dir() if workerinput is None else Path(workerinput[RUN_DIR_INPUT])
    state = RunState(settings, rootdir=config.rootpath, run_dir=run_dir)
    state.owner = owner
    if workerinput is not None:  # which of several servers this worker uses (see server/pool.py)
        state.worker = (int(str(workerinput.get("workerid", "gw0")).lstrip("gw") or 0), int(workerinput.get("workercount", 1)))
    config.stash[STATE_KEY] = state
    if owner:  # the xdist controller sees the workers' reports: it counts for the whole run
        recorder = OutcomeRecorder(config)
        config.stash[OUTCOME_KEY] = recorder.outcome
        config.pluginmanager.register(recorder, "invokeai-outcomes")
        config.pluginmanager.register(RunOwner(config, state), "invokeai-run-owner")


class OutcomeRecorder:
    """Every test's outcome as pytest's final line counts it, and why each one that did not pass did not."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcome = RunOutcome()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        invokeai = report.when == "setup" and MARKER in report.keywords  # every test has one setup report
        if report.passed and report.when != "call":  # a passing setup or teardown: pytest counts nothing
            self.outcome.record(report.nodeid, "", "", invokeai=invokeai)
            return
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        if not getattr(report, "count_towards_summary", True):
            category = ""
        self.outcome.record(report.nodeid, category, _reason(report), invokeai=invokeai)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed or report.skipped:  # as pytest's final line counts them: an error, a skipped module
            category = "error" if report.failed else "skipped"
            self.outcome.record(report.nodeid, category, _reason(report), invokeai=is_suite_file(Path(report.nodeid)))


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """What pytest's short summary says of a report: the skip or xfail reason, else the error's message."""
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail)
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:  # a skip: (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:  # pytest.fail's message is the reason; "Failed: " names only pytest's exception
        return str(crash.message).removeprefix("Failed: ")
    return str(longrepr)


class RunOwner:
    """The run's owner (the xdist controller, or the only process) cancels what the run queued on Ctrl-C.

    SIGINT may reach the controller alone (a CI runner, a wrapper script): its workers are then torn
    down without cancelling their queue items, so the owner stops the run and cancels them itself, at
    once, and once more at the very end for what a worker was sending meanwhile.
    """

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config, self.state = config, state

    def pytest_keyboard_interrupt(self) -> None:
        mark_stopped(self.state.run_dir)
        self.cancel_left()

    def cancel_left(self) -> None:
        failures = cancel_registered_queues(self.state.run_dir, self.state.settings.token)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in failures:
                reporter.write_line(f"pytest-invokeai: {line}")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Progress lines of long waits, on the terminal (which exists by now; xdist workers have none)."""
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    state = run_state(config)
    if reporter is not None and state.owner:
        progress = WaitProgress(_live_line(config, reporter))
        state.on_waiting, state.on_silence = progress, progress.server_silent


def _live_line(config: pytest.Config, reporter: Any) -> Callable[[str], None]:
    """Write a line to the terminal while a test runs: past pytest's output capture, as live logging does."""
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)

    return write


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's run folder (and so its one managed server)."""
    node.workerinput[RUN_DIR_INPUT] = str(run_state(node.config).run_dir)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_suite_file(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    try:
        kwargs = marker_kwargs(metafunc.definition)
        if kwargs is None or "matrix" not in kwargs:
            return
        where = metafunc.definition.nodeid
        if CASE_PARAM not in metafunc.fixturenames:
            raise CaseError(f"{where}: a marker with a matrix needs a test that uses invokeai_run or invokeai_workflow")
        base = spec_from_marker(kwargs, base_dir=Path(str(metafunc.definition.path)).parent, where=where)
        workflow = run_state(metafunc.config).workflows.get(base.workflow)
        cases = matrix_cases(workflow, base, kwargs["matrix"], kwargs.get("combine", "product"), where=where)
    except InvokeAITestError as exc:
        # Not a collection error: pytest would stop the whole run. The test stays one item that fails at setup.
        run_state(metafunc.config).case_errors[metafunc.definition.nodeid] = str(exc)
        return
    metafunc.parametrize(CASE_PARAM, cases, ids=unique_ids(cases))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test whose marker or matrix could not be used fails with the reason before its fixtures start."""
    state = item.config.stash.get(STATE_KEY, None)
    error = state.case_errors.get(item.nodeid) if state is not None else None
    if error is not None:
        pytest.fail(f"{error}\n(none of this test's cases ran)", pytrace=False)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash.setdefault(_DESELECTED, [0])[0] += len(items)


_DESELECTED = pytest.StashKey[list[int]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    state = run_state(session.config)
    cases = []
    unlisted = []  # test id prefixes of tests whose cases could not be listed: their baselines stay in use
    for item in session.items:
        prefix = getattr(item, "invokeai_unlisted", "")  # a suite file that failed to load
        if prefix:
            unlisted.append(prefix)
        elif item.nodeid in state.case_errors:
            unlisted.append(item.nodeid + "[")
        try:
            spec = declared_case(item)
            workflow = spec.workflow if spec is not None else marked_workflow(item)
        except InvokeAITestError as exc:
            state.case_errors.setdefault(item.nodeid, str(exc))  # the test fails with it at setup
            continue
        if spec is not None:
            cases.append((item.nodeid, spec))
        if workflow is not None:  # also tests that only run ad hoc: their index maps are in use
            state.used_workflows.add(workflow)
    if not hasattr(session.config, "workerinput") and not session.config.option.collectonly:
        state.plan(cases)  # xdist workers plan what they are handed, as they are handed it
    # A file that failed to collect hides its tests: their baselines must not look orphaned.
    narrowed = narrowed_by(session.config, session.config.stash.get(_DESELECTED, [0])[0], session.testsfailed)
    if narrowed:
        state.orphan_note = f"not checked for orphaned baselines: the run was narrowed ({narrowed})"
    else:
        scan = scan_run(state, session.config, [i.nodeid for i in session.items], unlisted)
        state.results.orphans, state.results.unreadable = scan.orphans, scan.unreadable
    prune_mode = session.config.getoption("invokeai_prune")
    if prune_mode:
        if narrowed:
            raise pytest.UsageError(f"--invokeai-prune refuses a narrowed run ({narrowed}): it would delete baselines in use")
        state.prune_mode = prune_mode
        state.pruned = prune(
            state.store, state.results.orphans, rootdir=state.rootdir, dry_run=prune_mode == "dry-run"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    config = item.config
    if not hasattr(config, "workerinput"):
        return
    state = run_state(config)
    # Only what was handed since the last test: the queue is read each test, planning is not redone.
    handed = [each for each in [item, *_handed_to_worker(item.session)] if not state.is_planned(each.nodeid)]
    cases = []
    for each in handed:
        try:
            spec = declared_case(each)
        except InvokeAITestError:
            continue  # the test reports it when it runs
        if spec is not None:
            cases.append((each.nodeid, spec))
    state.plan(cases)


def _handed_to_worker(session: pytest.Session) -> list[pytest.Item]:
    """The tests xdist has handed this worker and not yet run (its queue), for the look-ahead."""
    for plugin in session.config.pluginmanager.get_plugins():
        torun = getattr(plugin, "torun", None)
        if type(plugin).__name__ == "WorkerInteractor" and torun is not None:
            with torun.lock() as queued:
                indices = [i for i in queued if isinstance(i, int)]
            nxt = getattr(plugin, "nextitem_index", None)
            if isinstance(nxt, int):
                indices.insert(0, nxt)
            return [session.items[i] for i in indices]
    return []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = run_state(config)
    state.finish()
    if hasattr(config, "workerinput"):
        # xdist gives a worker's config this dict (its channel back to the controller); pytest's types do not know it.
        config.workeroutput[WORKER_OUTPUT_KEY] = json.dumps(state.results.export())  # type: ignore[attr-defined]
        return
    if config.option.collectonly:  # nothing ran: the results folder is left to what reads it
        return
    # The report side is imported only when a run ends.
    from pytest_invokeai.report import writer as report_writer

    outcome = config.stash[OUTCOME_KEY]
    outcome.exit_status = int(exitstatus)
    state.report_paths = report_writer.write_reports(state, outcome)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if data:
        run_state(node.config).results.merge(json.loads(data))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    from pytest_invokeai.report import writer as report_writer

    lines = report_writer.summary_lines(state)
    if not lines:
        return
    terminalreporter.write_sep("-", "InvokeAI")
    for line in lines:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state: RunState | None = config.stash.get(STATE_KEY, None)
    if state is not None and getattr(state, "owner", False):
        try:
            owner = config.pluginmanager.get_plugin("invokeai-run-owner")
            if owner is not None:  # what a process of the run left queued when it died (workers after Ctrl-C)
                owner.cancel_left()
        finally:
            release_run(state.run_dir)
