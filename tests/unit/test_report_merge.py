"""``pytest-invokeai report merge``: shards' results folders into one (pytest_invokeai.report.merge, cli/report.py).

The shards here are written by hand as a run writes them (report.json beside its artifacts), so the expected
merged counts are known without running the code under test; tests/server/test_shards_server.py merges the
example suite's real shards and compares them with an unsplit run.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.cli import main
from pytest_invokeai.report.merge import MergeError, merge_documents, read_shard, with_orphan_scan

COUNTS = (
    "compared",
    "matched",
    "mismatched",
    "missing",
    "new",
    "updated",
    "drifted",
    "errors",
    "orphaned",
    "drift_accepted",
    "failures",
)


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    return out.getvalue()


def output(test_id: str, verdict: str, artifacts: dict | None = None) -> dict:
    return {
        "test_id": test_id,
        "output": "save",
        "label": "Output",
        "image_index": 0,
        "verdict": verdict,
        "distances": {"phash": 0.3} if verdict == "mismatched" else {},
        "thresholds": {"phash": 0.15},
        "failed": ["phash"] if verdict == "mismatched" else [],
        "explanation": "",
        "artifacts": artifacts or {"actual": None, "baseline": None, "diff": None, "side_by_side": None},
        "extra": {},
    }


def shard(folder: Path, *, exit_status: int, tests: dict, outputs: list, failing: list, profile=None, **more) -> Path:
    """A results folder as a run leaves it: its artifacts and report.json (report.html too, which merge replaces)."""
    folder.mkdir(parents=True)
    summary = dict.fromkeys(COUNTS, 0)
    for each in outputs:
        summary["compared"] += 1
        summary[each["verdict"]] += 1
        summary["failures"] += each["verdict"] in ("mismatched", "missing")
    document = {
        "format": "pytest-invokeai-summary",
        "format_version": 2,
        "status": "passed" if exit_status == 0 else "failed",
        "exit_status": exit_status,
        "summary": {
            **summary,
            "tests": {"passed": 0, "failed": 0, "skipped": 0, "errors": 0, "xfailed": 0, "xpassed": 0, **tests},
        },
        "tests": failing,
        "outputs": outputs,
        "problems": [],
        "accepted_drift": [],
        "orphans": [],
        "servers_down": {},
        "cases": {each["test_id"]: {"workflow": "w.json", "inputs": [], "server": "http://h:9090"} for each in outputs},
        "environment": {"baseline_profile": profile, "invokeai_versions": ["6.14.2"]},
        "collection": {"test_ids": sorted({each["test_id"] for each in outputs}), "used_workflows": [], "unlisted": []},
        **more,
    }
    (folder / "report.json").write_text(json.dumps(document))
    (folder / "report.html").write_text("<html>the shard's own report</html>")
    return folder


@pytest.fixture
def two_shards(tmp_path: Path) -> tuple[Path, Path]:
    a = shard(
        tmp_path / "shard-1",
        exit_status=0,
        tests={"passed": 2},
        outputs=[output("t.py::test_a[1]", "matched"), output("t.py::test_a[2]", "matched")],
        failing=[],
    )
    b = shard(
        tmp_path / "shard-2",
        exit_status=1,
        tests={"passed": 1, "failed": 1, "skipped": 1},
        outputs=[
            output("t.py::test_b[1]", "matched"),
            output(
                "t.py::test_b[2]",
                "mismatched",
                {"actual": "t.py/test_b[2].actual.png", "baseline": None, "diff": None, "side_by_side": None},
            ),
        ],
        failing=[
            {"test_id": "t.py::test_b[2]", "outcome": "failed", "reason": "phash 0.3 > 0.15"},
            {"test_id": "t.py::test_sdxl", "outcome": "skipped", "reason": "no SDXL model"},
        ],
    )
    (b / "t.py").mkdir()
    (b / "t.py" / "test_b[2].actual.png").write_bytes(png((200, 30, 30)))
    return a, b


def merged(tmp_path: Path, *args: str) -> dict:
    return json.loads((tmp_path / "merged" / "report.json").read_text())


def test_merged_counts_add_up_and_every_case_is_kept(tmp_path, two_shards, capsys) -> None:
    a, b = two_shards
    assert main(["report", "merge", str(a), str(b), "-o", str(tmp_path / "merged")]) == 0
    document = merged(tmp_path)
    assert document["status"] == "failed"
    assert document["exit_status"] == 1
    assert document["summary"]["tests"] == {
        "passed": 3,
        "failed": 1,
        "skipped": 1,
        "errors": 0,
        "xfailed": 0,
        "xpassed": 0,
    }
    assert {k: document["summary"][k] for k in ("compared", "matched", "mismatched", "failures")} == {
        "compared": 4,
        "matched": 3,
        "mismatched": 1,
        "failures": 1,
    }
    assert document["outputs"][0]["test_id"] == "t.py::test_b[2]"  # failures first
    assert sorted(o["test_id"] for o in document["outputs"]) == [
        "t.py::test_a[1]",
        "t.py::test_a[2]",
        "t.py::test_b[1]",
        "t.py::test_b[2]",
    ]
    assert [t["test_id"] for t in document["tests"]] == ["t.py::test_b[2]", "t.py::test_sdxl"]
    assert sorted(document["cases"]) == ["t.py::test_a[1]", "t.py::test_a[2]", "t.py::test_b[1]", "t.py::test_b[2]"]
    # The artifact is copied, and its link works from the merged folder.
    link = document["outputs"][0]["artifacts"]["actual"]
    assert (tmp_path / "merged" / link).read_bytes() == (b / "t.py" / "test_b[2].actual.png").read_bytes()
    html = (tmp_path / "merged" / "report.html").read_text()
    assert "the shard's own report" not in html
    assert "t.py::test_b[2]" in html and "t.py::test_a[1]" in html
    assert 'id="sections"' not in html  # one profile, one version: no sections
    assert read_shard(tmp_path / "merged").document == document  # a merged folder is a results folder like any other
    assert "report: " in capsys.readouterr().out


def test_a_test_in_two_shards_is_refused_naming_both_folders(tmp_path, two_shards, capsys) -> None:
    a, _ = two_shards
    c = shard(
        tmp_path / "shard-3",
        exit_status=0,
        tests={"passed": 1},
        outputs=[output("t.py::test_a[2]", "matched")],
        failing=[],
    )
    assert main(["report", "merge", str(a), str(c), "-o", str(tmp_path / "merged")]) == 2
    error = capsys.readouterr().err
    assert f"test t.py::test_a[2] is in two shards, {a} and {c}" in error
    assert not (tmp_path / "merged").exists()


def test_a_folder_without_a_report_or_with_another_format_is_named(tmp_path, two_shards, capsys) -> None:
    a, _ = two_shards
    (tmp_path / "empty").mkdir()
    assert main(["report", "merge", str(a), str(tmp_path / "empty"), "-o", str(tmp_path / "m")]) == 2
    assert f"{tmp_path / 'empty'}: holds no report.json" in capsys.readouterr().err
    (tmp_path / "empty" / "report.json").write_text('{"format": "something-else"}')
    assert main(["report", "merge", str(a), str(tmp_path / "empty"), "-o", str(tmp_path / "m")]) == 2
    assert "not a pytest-invokeai report" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_an_existing_folder_is_never_written_over(tmp_path, two_shards, capsys) -> None:
    a, b = two_shards
    (tmp_path / "merged").mkdir()
    (tmp_path / "merged" / "mine.txt").write_text("keep me")
    assert main(["report", "merge", str(a), str(b), "-o", str(tmp_path / "merged")]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "merged").iterdir()] == ["mine.txt"]


def test_shards_of_different_profiles_get_a_section_each(tmp_path) -> None:
    cpu = shard(
        tmp_path / "cpu", exit_status=0, tests={"passed": 1}, outputs=[output("t.py::x", "matched")], failing=[]
    )
    gpu = shard(
        tmp_path / "gpu",
        exit_status=0,
        tests={"passed": 2},
        outputs=[output("t.py::y", "matched"), output("t.py::z", "new")],
        failing=[],
        profile="cuda-fp16",
    )
    assert main(["report", "merge", str(cpu), str(gpu), "-o", str(tmp_path / "merged")]) == 0
    sections = merged(tmp_path)["sections"]
    assert [(s["heading"], s["tests"]["passed"], s["summary"]["compared"]) for s in sections] == [
        ("baseline profile default, InvokeAI 6.14.2", 1, 1),
        ("baseline profile cuda-fp16, InvokeAI 6.14.2", 2, 2),
    ]
    html = (tmp_path / "merged" / "report.html").read_text()
    assert 'id="sections"' in html
    assert "baseline profile cuda-fp16, InvokeAI 6.14.2" in html and "baseline profile default" in html


def test_the_merge_writes_the_job_summary_of_the_whole_suite(tmp_path, two_shards, monkeypatch) -> None:
    a, b = two_shards
    step = tmp_path / "step.md"
    step.write_text("## build\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert main(["report", "merge", str(a), str(b), "-o", str(tmp_path / "merged"), "--job-summary"]) == 0
    text = step.read_text()
    assert text.startswith("## build\n### InvokeAI: failed\n")
    assert "| | 3 | 1 | 1 | 0 | 0 | 0 |" in text
    assert "| t.py::test\\_b\\[2\\] | mismatched: phash |" in text
    assert f"pytest-invokeai accept --failed --results {tmp_path / 'merged'}" in text


def test_orphans_are_looked_for_over_all_shards_together(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_a.py").write_text("")
    store = BaselineStore(root / "baselines")
    for test_id in ("tests/test_a.py::test_one", "tests/test_a.py::test_two", "tests/test_a.py::test_gone"):
        store.save(
            BaselineRecord(test_id=test_id, outputs={"save": OutputBaseline(images=[fingerprint(png((1, 2, 3)))])})
        )
    # Each shard ran one of the two tests: alone, each would call the other's baseline an orphan.
    one = shard(
        root / "s1",
        exit_status=0,
        tests={"passed": 1},
        outputs=[output("tests/test_a.py::test_one", "matched")],
        failing=[],
    )
    two = shard(
        root / "s2",
        exit_status=0,
        tests={"passed": 1},
        outputs=[output("tests/test_a.py::test_two", "matched")],
        failing=[],
    )
    args = ["report", "merge", str(one), str(two), "-o", str(root / "merged"), "--orphans", str(root / "tests")]
    assert main([*args, "--rootdir", str(root)]) == 0
    document = json.loads((root / "merged" / "report.json").read_text())
    assert document["orphans"] == ["baselines/tests/test_a.py/test_gone.json"]
    assert document["summary"]["orphaned"] == 1


def test_an_unreadable_baseline_found_by_the_scan_is_a_problem_of_the_merged_run() -> None:
    document = {"problems": [], "summary": {"errors": 0, "failures": 1, "orphaned": 0}, "orphans": []}
    scanned = with_orphan_scan(document, ["baselines/x.json"], {"baselines/y.json": "not valid JSON"})
    assert scanned["problems"] == [{"test_id": "baselines/y.json", "verdict": "error", "message": "not valid JSON"}]
    assert scanned["summary"] == {"errors": 1, "failures": 2, "orphaned": 1}
    assert scanned["orphans"] == ["baselines/x.json"]


def test_merge_documents_is_pure_and_rebases_links_outside_a_shard(tmp_path, two_shards) -> None:
    a, _ = two_shards
    document = read_shard(a).document
    document["outputs"][0]["artifacts"]["baseline"] = "../baselines/t.py/test_a[1].png"
    (a / "report.json").write_text(json.dumps(document))
    result = merge_documents([read_shard(a)], tmp_path / "out" / "merged")
    assert result["outputs"][0]["artifacts"]["baseline"] == "../../baselines/t.py/test_a[1].png"
    assert not (tmp_path / "out").exists()
    with pytest.raises(MergeError):
        merge_documents([read_shard(a), read_shard(a)], tmp_path / "m")
