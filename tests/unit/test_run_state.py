"""The run's state is built whole and connects only when asked (pytest_invokeai.run.state), and no module
outside the pytest adapter (pytest_invokeai/plugin/) reads pytest's config.

No InvokeAI is needed: the server here is a closed local port, which a real run meets when a URL is wrong.
"""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

import pytest_invokeai
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.writer import summary_lines, write_reports
from pytest_invokeai.run.settings import resolve
from pytest_invokeai.run.state import RunResults, RunState
from pytest_invokeai.server.pool import NoServerReachable

PACKAGE = Path(pytest_invokeai.__file__).parent


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens once the socket is closed


def make_state(tmp_path: Path, url: str) -> RunState:
    settings = resolve({"invokeai_url": [url]}, lambda name: None, rootdir=tmp_path, environ={})
    return RunState(settings, rootdir=tmp_path, run_dir=tmp_path / "run", owner=True, worker=(1, 2))


def test_a_run_state_is_built_whole_and_has_no_property_that_connects():
    properties = sorted(name for name, value in vars(RunState).items() if isinstance(value, property))
    assert properties == ["started", "used_workflows"]  # both read what is there, neither connects


def test_the_state_connects_when_asked_and_keeps_the_failure(tmp_path, monkeypatch):
    import pytest_invokeai.server.client as client_module

    monkeypatch.setattr(client_module, "STARTUP_PROBE", 0.6)  # give up on the closed port in under a second
    url = closed_port_url()
    state = make_state(tmp_path, url)
    assert (state.owner, state.worker, state.started) == (True, (1, 2), False)
    assert state.results.servers_down == {}  # building it tried nothing
    with pytest.raises(NoServerReachable) as first:
        state.connect()
    assert list(state.results.servers_down) == [url]
    with pytest.raises(NoServerReachable) as again:  # not tried a second time: the same error, at once
        state.connect()
    assert again.value is first.value
    with pytest.raises(NoServerReachable):
        state.start_scheduler()
    assert not state.started


def test_the_end_of_a_run_takes_typed_results_not_the_state(tmp_path):
    settings = resolve({"invokeai_url": ["http://gpu-box:9090"]}, lambda name: None, rootdir=tmp_path, environ={})
    results = RunResults(orphans=["baselines/tests/test_a.py/test_gone.json"], servers={"http://gpu-box:9090"})
    lines = summary_lines(results, settings=settings, orphan_note="unused")
    assert "orphaned baselines: 1 (remove with `pytest-invokeai baselines prune`)" in lines
    assert "InvokeAI: http://gpu-box:9090" in lines
    assert (
        write_reports(results, RunOutcome(), settings=settings, rootdir=tmp_path) == []
    )  # no InvokeAI test: no report


def test_no_module_outside_the_plugin_package_reads_a_pytest_config():
    """pytest's config (its options, arguments, xdist's workerinput) is the adapter's alone."""
    config_attributes = {"invocation_params", "workerinput", "workeroutput", "getoption", "getini", "pluginmanager"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "plugin" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in config_attributes:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.Attribute) and node.attr == "option" and getattr(node.value, "id", "") == "config":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: config.option")
    assert offenders == []


def test_what_the_workers_collected_reaches_the_controller_once() -> None:
    """xdist workers collect the same tests: the controller keeps each test id, workflow and note once."""
    controller = RunResults()
    for worker in range(2):
        results = RunResults(
            collected=["t.py::a", "t.py::b"],
            used_workflows=["w.json"],
            unlisted=["t.py::broken["],
            orphan_note="not checked for orphaned baselines: the run was narrowed (-k)",
            invokeai_versions={f"http://h{worker}:9090": "6.14.2"},
        )
        controller.merge(results.export())
    assert controller.collected == ["t.py::a", "t.py::b"]
    assert controller.used_workflows == ["w.json"]
    assert controller.unlisted == ["t.py::broken["]
    assert controller.orphan_note == "not checked for orphaned baselines: the run was narrowed (-k)"
    assert controller.invokeai_versions == {"http://h0:9090": "6.14.2", "http://h1:9090": "6.14.2"}


def test_what_update_modes_wrote_travels_from_xdist_workers_and_is_listed_by_test_id(tmp_path):
    settings = resolve({}, lambda name: None, rootdir=tmp_path, environ={})
    store = tmp_path / "baselines" / "test_a.py"
    worker = RunResults(servers={"http://gpu-box:9090"})
    worker.note_written(
        "test_a.py::test_new", store / "test_new.json", [store / "test_new.save.0.preview.png"], tmp_path
    )
    worker.note_written("test_a.py::test_kept", None, [store / "test_kept.save.0.preview.jpg"], tmp_path)
    worker.note_written("test_a.py::test_untouched", None, [], tmp_path)  # matched, had its preview: nothing
    controller = RunResults()
    controller.merge(worker.export())

    assert controller.baselines_written == {
        "test_a.py::test_new": ["baselines/test_a.py/test_new.json", "baselines/test_a.py/test_new.save.0.preview.png"]
    }
    assert controller.previews_added == {"test_a.py::test_kept": ["baselines/test_a.py/test_kept.save.0.preview.jpg"]}
    lines = summary_lines(controller, settings=settings)
    start = lines.index("baselines written: 1 (with 1 preview(s))")
    assert lines[start : start + 7] == [
        "baselines written: 1 (with 1 preview(s))",
        "  test_a.py::test_new",
        "      baselines/test_a.py/test_new.json",
        "      baselines/test_a.py/test_new.save.0.preview.png",
        "previews added: 1, to 1 baseline(s) that matched (records unchanged)",
        "  test_a.py::test_kept",
        "      baselines/test_a.py/test_kept.save.0.preview.jpg",
    ]
