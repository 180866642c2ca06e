"""The pytest hooks. Each only delegates: to :class:`~.session.InvokeAISession` (one per process),
to the suite-file items (:mod:`.items`), or to the fixtures (:mod:`.fixtures`).

Hooks, in the order a run meets them:

- ``pytest_addoption``: every option of :mod:`.options` under one heading, also as ini keys.
- ``pytest_configure``: resolve settings (command line > ``PYTEST_INVOKEAI_*`` > ini), make the
  run's :class:`~pytest_invokeai.run.state.RunState`; progress lines of long waits go to the terminal,
  past output capture. Nothing connects yet.
- ``pytest_collect_file``: ``*.invokeai.toml`` suite files.
- ``pytest_generate_tests``: a marker's ``matrix`` becomes one test per row, ids from display names
  (a marker or matrix that cannot be used leaves one test that ``pytest_runtest_setup`` fails).
- ``pytest_collection_finish``: plan the selected cases in test order (after ``-k``, ``-m``, ``--lf``)
  and note orphaned baselines when the run covers them all.
- ``pytest_runtest_protocol`` (xdist workers): plan the tests this worker has been handed.
- ``pytest_runtest_logreport`` (:class:`~.outcomes.OutcomeRecorder`, in the controller): every test's outcome as
  pytest counts it, for the report's status and counts.
- ``pytest_sessionfinish``: cancel what is still queued, write the report (the controller, with the
  workers' results and pytest's exit status), clean up.
- ``pytest_terminal_summary``: compared, matched, mismatched, new, drifted, drift accepted, orphaned; the
  report path.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_invokeai.cases.suite_file import is_suite_file
from pytest_invokeai.plugin import xdist
from pytest_invokeai.plugin.bridge import MARKER
from pytest_invokeai.plugin.fixtures import (  # noqa: F401 - fixtures
    invokeai_case,
    invokeai_client,
    invokeai_run,
    invokeai_workflow,
)
from pytest_invokeai.plugin.items import SuiteFile
from pytest_invokeai.plugin.session import SESSION_KEY, InvokeAISession
from pytest_invokeai.run.settings import OPTIONS

PRUNE_MODES = ("delete", "dry-run")


def _session(config: pytest.Config) -> InvokeAISession:
    return config.stash[SESSION_KEY]


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
        if option.secret:  # a password has no ini key: it would end up in a file kept in git
            continue
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
        "outputs=[node id or label], tolerance={signal: max}, timeout=seconds, models=[name], "
        "nodes=[node pack folder]): "
        "run an InvokeAI workflow (path relative to the test file) and compare its images with baselines",
    )
    InvokeAISession.configure(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's run folder (and so its one managed server)."""
    xdist.hand_run_dir(node, _session(node.config).state.run_dir)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_suite_file(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    _session(metafunc.config).parametrize_matrix(metafunc)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test whose marker or matrix could not be used fails with the reason before its fixtures start."""
    session = item.config.stash.get(SESSION_KEY, None)
    error = session.case_errors.get(item.nodeid) if session is not None else None
    if error is not None:
        pytest.fail(f"{error}\n(none of this test's cases ran)", pytrace=False)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        _session(items[0].config).deselected += len(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    _session(session.config).collection_finished(session)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _session(item.config).handed(item)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _session(session.config).finish(exitstatus)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _session(node.config).worker_done(node)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    lines = session.summary_lines() if session is not None else []
    if not lines:
        return
    terminalreporter.write_sep("-", "InvokeAI")
    for line in lines:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.unconfigure()
