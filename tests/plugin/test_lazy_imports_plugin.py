"""What loading the plugin and collecting a suite import: not ``imagehash`` (nor the scipy it brings).

The standard pHash is computed where a record is written or shown; a suite of thousands of cases
must not pay for it at collection. Each check runs in a fresh interpreter (this test process has long
imported everything).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parents[1] / "data"
HEAVY = ("imagehash", "scipy", "pywt")
REPORT_LOADED = f"""
import sys

def pytest_collection_finish(session):
    loaded = sorted(name for name in {HEAVY!r} if name in sys.modules)
    print("heavy modules loaded:", ",".join(loaded) or "none")
"""


def test_importing_the_plugin_does_not_import_imagehash() -> None:
    probe = f"import sys, pytest_invokeai.plugin; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_collecting_a_suite_does_not_import_imagehash(pytester: pytest.Pytester) -> None:
    shutil.copy(DATA / "workflows" / "form-nested.json", pytester.path / "nested.json")
    (pytester.path / "sharpen.invokeai.toml").write_text(
        'workflow = "nested.json"\n\n[inputs]\n3 = 0.75\n\n[[case]]\nid = "strong"\n'
    )
    pytester.makeconftest(REPORT_LOADED)
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*sharpen.invokeai.toml::strong*"])
    result.stdout.fnmatch_lines(["heavy modules loaded: none"])
