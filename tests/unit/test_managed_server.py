"""The managed local InvokeAI and the project's own InvokeAI install (real server, real processes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local import install
from pytest_invokeai.local.managed import (
    ManagedServer,
    clean_environment,
    resolve_server_command,
)


def test_clean_environment_drops_invokeai_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOKEAI_DEVICE", "cuda")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = clean_environment({"INVOKEAI_PORT": "1234"})
    assert "INVOKEAI_DEVICE" not in env and "PYTHONPATH" not in env
    assert env["INVOKEAI_PORT"] == "1234"


def test_a_server_that_dies_at_start_shows_its_log(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "print('models folder is unreadable'); raise SystemExit(3)"]
    server = ManagedServer(cmd, root=tmp_path)
    with pytest.raises(ServerError) as info:
        server.start(timeout=30)
    message = str(info.value)
    assert "InvokeAI exited with code 3 while starting" in message
    assert "models folder is unreadable" in message
    assert str(tmp_path / "invokeai.log") in message


def test_a_server_that_never_answers_times_out_with_its_log(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; print('still loading', flush=True); time.sleep(60)"]
    server = ManagedServer(cmd, root=tmp_path)
    with pytest.raises(ServerError) as info:
        server.start(timeout=2)
    assert "did not answer on http://127.0.0.1:" in str(info.value)
    assert "still loading" in str(info.value)


def test_explicit_server_command_is_split_like_a_shell() -> None:
    assert resolve_server_command("/opt/invoke/bin/python '/my dir/launch.py'") == [
        "/opt/invoke/bin/python",
        "/my dir/launch.py",
    ]


def test_an_install_is_trusted_only_with_a_matching_stamp(tmp_path: Path) -> None:
    env = tmp_path / "env"
    python = install.env_python(env)
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert install.installed_python(env) is None, "no stamp: the install did not finish"
    stamp = env / install.STAMP_NAME
    stamp.write_text(json.dumps({"invokeai": "6.13.0", "requirements": list(install.PINNED_REQUIREMENTS)}))
    assert install.installed_python(env) is None, "another InvokeAI version"
    stamp.write_text(
        json.dumps({"invokeai": install.INVOKEAI_VERSION, "requirements": list(install.PINNED_REQUIREMENTS)})
    )
    assert install.installed_python(env) == python
    stamp.write_text("{half-written")
    assert install.installed_python(env) is None


def test_each_version_has_its_own_environment_and_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(tmp_path))
    assert install.env_dir_for("6.13.8") == tmp_path / "invokeai-6.13.8"
    assert install.env_dir_for() == tmp_path / "invokeai-6.14.2"
    env = install.env_dir_for("6.13.8")
    python = install.env_python(env)
    python.parent.mkdir(parents=True)
    python.write_text("")
    stamp = {"invokeai": "6.13.8", "requirements": list(install.requirements_for("6.13.8"))}
    (env / install.STAMP_NAME).write_text(json.dumps(stamp))
    assert install.installed_python(version="6.13.8") == python
    assert install.installed_python() is None, "6.14.2 is not installed: 6.13.8's environment does not count"
    (env / install.STAMP_NAME).write_text(json.dumps({**stamp, "requirements": ["invokeai==6.13.8"]}))
    assert install.installed_python(version="6.13.8") is None, "installed with other pins: redone"


def test_the_pins_of_a_version_start_with_invokeai_itself_and_pin_torch() -> None:
    for version in install.supported_versions():
        requirements = install.requirements_for(version)
        assert requirements[0] == f"invokeai=={version}"
        assert any(r.startswith("torch==") for r in requirements), version
        assert any(r.startswith("starlette==") for r in requirements), version
    # 6.13.0 asks for torch~=2.7.0 (its wheel's metadata): the CPU torch 2.13 would not resolve.
    assert "torch==2.7.1" in install.requirements_for("6.13.0")
    assert install.requirements_for("6.14.2") == install.PINNED_REQUIREMENTS


def test_an_unsupported_version_names_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match=r"'6\.12\.0' is not a version .*supported: 6\.13\.0, .*6\.14\.2"):
        install.install_invokeai("6.12.0", env_dir=tmp_path / "env")
    assert not (tmp_path / "env").exists()
