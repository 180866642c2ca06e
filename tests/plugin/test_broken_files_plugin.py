"""No single file may stop the suite: an unreadable baseline, index map, suite file or workflow fails
its own tests and the rest run (pytest in a subprocess, as a user runs it, against the real InvokeAI).

The workflow is tests/data/gui/form-layout.workflow.json: #0 Width, #1 Height, #2 Value (the seed),
#3 Amount, #4 Radius, #5 Board.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"


def test_collection_and_prune_list_unreadable_files_and_delete_none_of_them(pytester: pytest.Pytester):
    # No server: collection alone used to end in INTERNALERROR.
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    pytester.makepyfile(
        test_noise="""
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={2: 1})
def test_kept(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )
    records = pytester.path / "baselines" / "test_noise.py"
    records.mkdir(parents=True)
    (records / "test_kept.json").write_bytes(b"")
    (records / "test_gone.json").write_bytes(b"\x00\x01binary")
    index_maps = pytester.path / "baselines" / "_index_maps"
    index_maps.mkdir()
    (index_maps / "noise.json.json").write_text("{")

    collected = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert collected.ret == 0, collected.stdout.str()
    collected.stdout.fnmatch_lines(["test_noise.py::test_kept", "*unreadable baselines: 3*"])
    collected.stdout.fnmatch_lines(["  baselines/_index_maps/noise.json.json: not valid JSON (line 1, column 2)*"])
    collected.stdout.fnmatch_lines(["  baselines/test_noise.py/test_gone.json: is not UTF-8 JSON text*"])

    pruned = pytester.run(sys.executable, "-m", "pytest_invokeai.cli", "baselines", "prune")
    assert pruned.ret == 0, pruned.stdout.str()
    pruned.stdout.fnmatch_lines(
        [
            "*prune: deleted 0 file(s)*",
            "*prune: left 3 unreadable file(s) alone*",
            "  baselines/test_noise.py/test_kept.json: is empty",
        ]
    )
    assert sorted(p.name for p in (pytester.path / "baselines").rglob("*.json")) == [
        "noise.json.json",
        "test_gone.json",
        "test_kept.json",
    ]
