"""The update modes end to end on the real InvokeAI of this session, checked against what each promises:
``missing`` writes new baselines (with previews) and the test passes; ``changed`` never rewrites a
baseline that still matches; ``all`` rewrites and says which drift it accepted. Every run that writes
lists what it wrote, by test id. Each test would fail if a mode wrote more, or less, than that.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

DATA = Path(__file__).parents[1] / "data"
WORKFLOW = DATA / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius

TESTS = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={{0: 32, 1: 32, 3: {amount}}}, matrix={{2: [1, 2]}})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
IDS = ("test_noise.py::test_noise[Value=1]", "test_noise.py::test_noise[Value=2]")


@pytest.fixture
def project(pytester: pytest.Pytester, invokeai_server_url: str) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    pytester.makepyfile(test_noise=TESTS.format(amount=0.5))

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(f"--invokeai-url={invokeai_server_url}", "-p", "no:cacheprovider", *args)

    pytester.invokeai = run  # type: ignore[attr-defined]
    return pytester


def files(project: pytest.Pytester) -> dict[str, tuple[bytes, int]]:
    """Every baseline file: its bytes and modification time (a rewrite with the same bytes shows too)."""
    root = project.path / "baselines"
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


def previews(project: pytest.Pytester) -> list[Path]:
    return sorted((project.path / "baselines").rglob("*.preview.*"))


def summary(project: pytest.Pytester) -> dict:
    return json.loads((project.path / "invokeai-results" / "report.json").read_text())


def test_missing_writes_new_baselines_with_previews_and_lists_them(project):
    first = project.invokeai("--invokeai-update-baselines=missing")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(
        [
            "*baselines written: 2 (with 2 preview(s))*",
            f"  {IDS[0]}",
            "*test_noise[[]Value=1[]].json",
            "*.save.0.preview.png",
        ]
    )
    shown = previews(project)
    assert len(shown) == 2 and all(Image.open(p).size == (32, 32) for p in shown)
    written = summary(project)["baselines_written"]
    assert [(w["test_id"], len(w["previews"])) for w in written] == [(IDS[0], 1), (IDS[1], 1)]

    again = project.invokeai("--invokeai-update-baselines=missing")  # nothing missing: nothing written
    again.assert_outcomes(passed=2)
    assert "baselines written" not in again.stdout.str() and summary(project)["baselines_written"] == []


def test_changed_never_rewrites_a_baseline_that_still_matches(project):
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=2)
    before = files(project)

    matching = project.invokeai("--invokeai-update-baselines=changed")
    matching.assert_outcomes(passed=2)
    assert files(project) == before  # not one file rewritten, not even with the same bytes
    assert "baselines written" not in matching.stdout.str()

    # A stronger noise amount: both images change; changed rewrites both records and their previews.
    project.makepyfile(test_noise=TESTS.format(amount=0.9))
    project.invokeai().assert_outcomes(failed=2)
    updated = project.invokeai("--invokeai-update-baselines=changed")
    updated.assert_outcomes(passed=2)
    updated.stdout.fnmatch_lines(["*updated 2*", "*baselines written: 2 (with 2 preview(s))*"])
    after = files(project)
    changed = {name for name in before if after[name][0] != before[name][0]}
    assert {name.rsplit("/", 1)[-1].split("].")[1] for name in changed} == {"json", "save.0.preview.png"}
    assert len(changed) == 4  # two records, two previews; the index map stays


def test_a_matching_record_without_a_preview_gets_one_in_any_update_mode_and_is_not_rewritten(project):
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=2)
    for preview in previews(project):
        preview.unlink()  # as for baselines recorded before previews existed
    records = {k: v for k, v in files(project).items() if k.endswith("].json")}

    plain = project.invokeai()  # mode none writes nothing
    plain.assert_outcomes(passed=2)
    assert previews(project) == []

    added = project.invokeai("--invokeai-update-baselines=missing")
    added.assert_outcomes(passed=2)
    added.stdout.fnmatch_lines(["*previews added: 2, to 2 baseline(s) that matched (records unchanged)*"])
    assert len(previews(project)) == 2
    assert {k: v for k, v in files(project).items() if k.endswith("].json")} == records
    assert [w["record"] for w in summary(project)["baselines_written"]] == [None, None]


def test_all_rewrites_and_says_which_drift_it_accepted(project):
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=2)
    data = json.loads((project.path / "noise.json").read_text())
    column = data["form"]["elements"]["container-col"]["data"]["children"]
    column.reverse()  # Width and Height swap places in the form: drift
    (project.path / "noise.json").write_text(json.dumps(data))
    project.invokeai("--invokeai-update-baselines=changed").assert_outcomes(failed=2)  # changed accepts no drift

    accepted = project.invokeai("--invokeai-update-baselines=all")
    accepted.assert_outcomes(passed=2)
    accepted.stdout.fnmatch_lines(["*drift accepted, index maps rewritten: 1 workflow(s)*", "  noise.json:*"])
    assert summary(project)["accepted_drift"][0]["workflow"] == "noise.json"
    project.invokeai().assert_outcomes(passed=2)
