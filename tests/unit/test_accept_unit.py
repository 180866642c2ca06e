"""The parts of accept and review that need no run: the printed command, selecting cases, the page, the guard.

What accepting writes is tested on the results of real runs in tests/server/test_accept_server.py and
tests/browser/test_review_browser.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_invokeai.accept.apply import AcceptOutcome, AcceptRequest
from pytest_invokeai.accept.selection import (
    ACCEPTABLE,
    DRIFTED,
    ERRORED,
    MATCHED,
    NOT_RUN,
    SKIPPED,
    RunCase,
    run_states,
    select,
)
from pytest_invokeai.recall.cases import CaseNotFound
from pytest_invokeai.review.page import CONFIG_ID, inject
from pytest_invokeai.run.accept_command import accept_command, command_prefix

SUMMARY = {
    "format": "pytest-invokeai-summary",
    "outputs": [
        {"test_id": "t.py::test_a[1]", "output": "save", "image_index": 0, "verdict": "mismatched"},
        {"test_id": "t.py::test_a[1]", "output": "blur", "image_index": 0, "verdict": "matched"},
        {"test_id": "t.py::test_a[2]", "output": "save", "image_index": 0, "verdict": "matched"},
        {"test_id": "t.py::test_b", "output": "save", "image_index": 0, "verdict": "missing"},
        {"test_id": "t.py::test_c", "output": "save", "image_index": 0, "verdict": "matched"},
    ],
    "problems": [
        {"test_id": "s.toml::red", "verdict": "drifted", "message": "the form of workflow w.json changed\nindex 3"},
        {"test_id": "s.toml::new", "verdict": "missing", "message": "workflow n.json has no stored index map"},
        {"test_id": "t.py::test_d", "verdict": "error", "message": "cannot reach InvokeAI"},
    ],
    "tests": [
        {"test_id": "t.py::test_a[1]", "outcome": "failed", "reason": "does not match"},
        {"test_id": "t.py::test_b", "outcome": "failed", "reason": "no baseline"},
        {"test_id": "t.py::test_c", "outcome": "failed", "reason": "assert 2 == 3"},
        {"test_id": "s.toml::red", "outcome": "failed", "reason": "drift"},
        {"test_id": "t.py::test_sdxl", "outcome": "skipped", "reason": "sd_xl_base_1.0 is not installed"},
    ],
}


def test_each_case_of_the_run_gets_its_state_from_the_summary():
    states = {test_id: (case.state, case.reason) for test_id, case in run_states(SUMMARY).items()}
    assert states == {
        "t.py::test_a[1]": (ACCEPTABLE, ""),  # one mismatched output is enough
        "t.py::test_a[2]": (MATCHED, ""),
        "t.py::test_b": (ACCEPTABLE, ""),
        "t.py::test_c": (ERRORED, "assert 2 == 3"),  # its images matched, its own assert failed
        "s.toml::red": (DRIFTED, "the form of workflow w.json changed"),
        "s.toml::new": (NOT_RUN, "workflow n.json has no stored index map"),
        "t.py::test_d": (ERRORED, "cannot reach InvokeAI"),
        "t.py::test_sdxl": (SKIPPED, "sd_xl_base_1.0 is not installed"),
    }


def test_cases_are_chosen_by_id_or_unique_part_and_failed_adds_the_acceptable_and_drifted():
    states = run_states(SUMMARY)
    chosen = select(states, ["test_c", "t.py::test_b"], failed=False, where="here")
    assert [case.test_id for case in chosen] == ["t.py::test_c", "t.py::test_b"]
    chosen = select(states, ["test_a[2]"], failed=True, where="here")
    assert [case.test_id for case in chosen] == ["t.py::test_a[2]", "t.py::test_a[1]", "t.py::test_b", "s.toml::red"]
    assert select(states, ["test_a_2"], failed=False, where="here") == [RunCase("t.py::test_a[2]", MATCHED)]
    with pytest.raises(CaseNotFound, match=r"'test_a' matches 2 test ids"):
        select(states, ["test_a"], failed=False, where="here")
    with pytest.raises(CaseNotFound, match=r"no test id 'test_zz' \(here\)"):
        select(states, ["test_zz"], failed=False, where="here")


def test_the_accept_command_names_only_what_its_defaults_would_not_find(tmp_path):
    rootdir = tmp_path / "suite"
    prefix = ["pytest-invokeai"]
    default = accept_command(
        ["t.py::test_it's[1]"], results_dir=rootdir / "invokeai-results", rootdir=rootdir, cwd=rootdir, prefix=prefix
    )
    assert default == "pytest-invokeai accept 't.py::test_it'\"'\"'s[1]'"
    elsewhere = accept_command(
        ["t.py::x"], results_dir=rootdir / "out" / "results", rootdir=rootdir, cwd=tmp_path, prefix=prefix
    )
    assert elsewhere == "pytest-invokeai accept t.py::x --rootdir suite --results suite/out/results"
    outside = accept_command(["t.py::x"], results_dir=Path("/ci/results"), rootdir=rootdir, cwd=rootdir, prefix=prefix)
    assert outside == "pytest-invokeai accept t.py::x --results /ci/results"


def test_the_command_is_this_environments_pytest_invokeai_or_this_python(monkeypatch):
    scripts = Path(sys.executable).parent
    if not (scripts / "pytest-invokeai").is_file():
        pytest.skip(f"pytest-invokeai is not installed beside {sys.executable}")
    try:
        monkeypatch.setenv("PATH", str(scripts))
        command_prefix.cache_clear()
        assert command_prefix() == ["pytest-invokeai"]
        monkeypatch.setenv("PATH", "/nonexistent")  # not on PATH (a venv not activated)
        command_prefix.cache_clear()
        assert command_prefix() == [sys.executable, "-m", "pytest_invokeai.cli"]
        done = subprocess.run([*command_prefix(), "accept", "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "usage: pytest-invokeai accept" in done.stdout, done.stderr
    finally:
        command_prefix.cache_clear()


def test_the_review_page_is_the_report_with_the_settings_and_script_before_its_end():
    html = "<html><body><article data-test-id='t'>case</article></body></html>"
    page = inject(html, config={"acceptable": ["t.py::x[</script><b>]"], "token": "abc"})
    assert page.startswith("<html><body><article data-test-id='t'>case</article><script type=\"application/json\"")
    assert page.endswith("</script></body></html>")
    block = page.split(f'id="{CONFIG_ID}">')[1].split("</script>")[0]
    assert block == '{"acceptable": ["t.py::x[<\\/script><b>]"], "token": "abc"}'
    assert "Accept all shown" in page


@pytest.fixture
def client(tmp_path):
    starlette = pytest.importorskip("starlette.testclient", reason="the review extra (starlette) is not installed")
    from pytest_invokeai.review.app import build_app

    (tmp_path / "report.html").write_text("<html><body></body></html>")
    (tmp_path / "report.json").write_text('{"format": "pytest-invokeai-summary"}')
    app = build_app(AcceptRequest(results_dir=tmp_path, rootdir=tmp_path), token="sesame", hosts=["testserver"])
    return starlette.TestClient(app)


def test_the_review_answers_only_with_its_token_and_host(client):
    assert client.get("/r/sesame/").status_code == 200
    assert client.get("/r/sesame/report.json").json() == {"format": "pytest-invokeai-summary"}
    assert client.get("/?token=sesame", follow_redirects=False).headers["location"] == "/r/sesame/"
    assert client.get("/").status_code == 403
    assert client.get("/r/other/").status_code == 403
    assert client.get("/r/other/report.json", headers={"Cookie": "token=sesame"}).status_code == 403
    assert client.get("/r/sesame/", headers={"Host": "attacker.example"}).status_code == 403
    assert client.post("/api/accept", json={"test_ids": ["x"]}).status_code == 403
    asked = client.post("/api/accept", json={"test_ids": []}, headers={"X-Review-Token": "sesame"})
    assert asked.status_code == 400 and "expected" in asked.json()["error"]
    assert client.get("/r/sesame/..%2F..%2Fetc%2Fpasswd").status_code == 404  # nothing outside the results folder


def test_the_answer_marks_each_case_asked_for():
    from pytest_invokeai.review.app import answer

    outcome = AcceptOutcome(
        written=[("a", Path("/b/a.json"))],
        listed=[("b", "already accepted: its baseline is this run's"), ("c", "matched")],
    )
    assert answer(outcome, ["a", "b", "c"]) == {
        "cases": {
            "a": {"state": "accepted", "text": "accepted: wrote a.json"},
            "b": {"state": "accepted", "text": "already accepted: its baseline is this run's"},
            "c": {"state": "not-written", "text": "not written: matched"},
        },
        "summary": "accepted 1 case(s); 2 not written",
    }
    refused = answer(AcceptOutcome(refused=["a (workflow w.json): the workflow file changed"]), ["a"])
    assert refused["cases"]["a"] == {
        "state": "refused",
        "text": "refused: a (workflow w.json): the workflow file changed",
    }


def test_review_without_its_extra_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    from pytest_invokeai.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the review extra were not installed
    assert main(["review", "--no-browser", "--results", str(tmp_path)]) == 2
    assert "pip install 'pytest-invokeai[review]'" in capsys.readouterr().err


def test_accept_needs_cases_or_failed(tmp_path, capsys):
    from pytest_invokeai.cli import main

    assert main(["accept", "--results", str(tmp_path)]) == 2
    assert "name the cases to accept (CASE ...), or --failed" in capsys.readouterr().err
    assert main(["accept", "--failed", "--results", str(tmp_path)]) == 2
    assert f"{tmp_path / 'report.json'}: no run summary there" in capsys.readouterr().err


def test_review_on_a_port_in_use_says_so(tmp_path, capsys):
    pytest.importorskip("uvicorn", reason="the review extra (uvicorn) is not installed")
    import socket

    from pytest_invokeai.cli import main

    (tmp_path / "report.html").write_text("<html><body></body></html>")
    (tmp_path / "report.json").write_text('{"format": "pytest-invokeai-summary"}')
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["review", "--no-browser", "--results", str(tmp_path), "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
