"""Helpers for the project's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Real workflows exported from the InvokeAI GUI; the repo is cloned with ``shared/`` beside it.
SHARED_WORKFLOWS = Path(__file__).resolve().parents[2] / "shared" / "workflows"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: a missing prerequisite must never turn CI green."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (this test must run in CI)", pytrace=False)
    pytest.skip(reason)
