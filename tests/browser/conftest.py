"""What every browser test shares: one headless Chromium per module (Debian's, no browser download)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import require
from report_html_cases import CHROMIUM

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the fixture then skips locally and fails in CI
    sync_playwright = None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(sync_playwright is not None, "the playwright package is not installed (pip install -e .[test])")
    executable = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    require(executable is not None, f"Chromium is not installed (looked for {CHROMIUM} and chromium on PATH)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable))
        yield browser
        browser.close()
