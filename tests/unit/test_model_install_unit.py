"""The tiny SD-1.5 checkpoint: built once, deterministically, and installed into a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local import model_install
from pytest_invokeai.local.model_install import (
    TINY_SD15_NAME,
    ensure_tiny_sd15,
)

# -- building ------------------------------------------------------------------------------


def test_a_python_that_cannot_run_is_named(tmp_path: Path):
    with pytest.raises(ServerError, match=r"cannot build the tiny SD-1.5 model with .*no-python"):
        ensure_tiny_sd15(tmp_path, invokeai_python=tmp_path / "no-python")
    assert not (tmp_path / TINY_SD15_NAME).exists()


def test_without_an_invokeai_install_the_error_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(model_install, "installed_python", lambda: None)
    with pytest.raises(ServerError, match=r"install it with `python -m pytest_invokeai.server.install`"):
        ensure_tiny_sd15(tmp_path)


# -- installing ----------------------------------------------------------------------------
