"""``pytest-invokeai server``: what is decided before and without a server (the real starts are in tests/server)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from pytest_invokeai.cli import main
from pytest_invokeai.errors import ServerError
from pytest_invokeai.local import kept


def test_a_kept_server_runs_any_supported_release_and_names_them_for_another() -> None:
    assert kept.check_version(None) == "6.14.2"
    assert kept.check_version("6.14.2") == "6.14.2"
    assert kept.check_version("6.13.8") == "6.13.8"
    with pytest.raises(ServerError, match=r"InvokeAI '6\.12\.0' is not a version .*supported: .*6\.13\.8.*6\.14\.2"):
        kept.check_version("6.12.0")


def test_the_root_is_kept_per_version_and_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(tmp_path))
    assert kept.default_root("6.14.2", 9090) == tmp_path / "servers" / "6.14.2-9090"


def test_a_port_held_by_another_program_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(tmp_path))
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert kept.port_in_use(port)
        with pytest.raises(ServerError, match=f"port {port} is in use by another program"):
            kept.start(port=port, command="never-run")
    assert not (tmp_path / "servers" / f"port-{port}.json").exists()


def test_status_and_stop_with_no_kept_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(tmp_path))
    assert main(["server", "status", "--port", "9"]) == 1
    assert capsys.readouterr().out == "no kept server runs on port 9\n"
    assert main(["server", "status", "--port", "9", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {}
    assert main(["server", "stop", "--port", "9"]) == 0
    assert "no kept server on port 9: nothing to stop" in capsys.readouterr().err


def test_a_record_whose_process_is_gone_is_not_a_running_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(tmp_path))
    record = {
        "url": "http://127.0.0.1:9",
        "port": 9,
        "pid": 2**22 + 17,  # above Linux's default pid_max: no such process
        "version": "6.14.2",
        "root": str(tmp_path / "root"),
        "log": str(tmp_path / "root" / "invokeai.log"),
        "started": "2026-12-02T10:00:00Z",
    }
    kept.record_path(9).parent.mkdir(parents=True)
    kept.record_path(9).write_text(json.dumps(record))
    assert kept.read_record(9) is not None
    assert kept.running(9) is None


def test_start_refuses_a_folder_that_is_no_node_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["server", "start", "--port", "9", "--nodes", str(tmp_path / "nowhere")]) == 2
    assert f"node pack folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_a_pid_taken_by_another_process_is_never_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(tmp_path))
    # The record's pid now belongs to this test process (as after a reboot): alive, but not the server.
    record = kept.KeptServer(
        url="http://127.0.0.1:9",
        port=9,
        pid=os.getpid(),
        version="6.14.2",
        root=str(tmp_path / "root"),
        log=str(tmp_path / "root" / "invokeai.log"),
        started="2026-12-02T10:00:00Z",
    )
    assert kept.process_alive(record.pid) and not kept.is_our_process(record)
    kept.record_path(9).parent.mkdir(parents=True)
    kept.record_path(9).write_text(json.dumps(record.__dict__))
    assert kept.stop(9) == record  # the record goes; this process is still here to say so
    assert not kept.record_path(9).exists()
