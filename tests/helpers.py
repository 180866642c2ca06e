"""Helpers for the project's own tests."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: a missing prerequisite must never turn CI green."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (this test must run in CI)", pytrace=False)
    pytest.skip(reason)
