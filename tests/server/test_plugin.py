"""The pytest plugin end to end: pytest runs in a subprocess against the real InvokeAI of this session.

Each test writes a small project (a workflow exported from the GUI, tests or suite files) into a
temporary folder and runs pytest there, as a user would.
"""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from pytest_invokeai.workflow.form import form_inputs
from pytest_invokeai.workflow.load import load_workflow

DATA = Path(__file__).parents[1] / "data"
WORKFLOW = DATA / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius, 5 Board

MATRIX_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32}, matrix={2: [1, 2], 4: [0, 1.5]})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


@pytest.fixture
def project(pytester: pytest.Pytester, invokeai_server_url: str):
    shutil.copy(WORKFLOW, pytester.path / "noise.json")

    def run(*args: str):
        return pytester.runpytest_subprocess(f"--invokeai-url={invokeai_server_url}", "-p", "no:cacheprovider", *args)

    pytester.invokeai = run  # type: ignore[attr-defined]
    pytester.invokeai_url_arg = f"--invokeai-url={invokeai_server_url}"  # type: ignore[attr-defined]
    return pytester


def reorder_width_and_height(path: Path) -> None:
    data = json.loads(path.read_text())
    column = data["form"]["elements"]["container-col"]["data"]["children"]
    column.reverse()
    path.write_text(json.dumps(data))


def test_matrix_ids_missing_baselines_then_recorded_then_matched(project):
    project.makepyfile(test_noise=MATRIX_TEST)
    collected = project.invokeai("--collect-only", "-q")
    assert [line for line in collected.outlines if "::" in line] == [
        "test_noise.py::test_noise[Value=1-Radius=0]",
        "test_noise.py::test_noise[Value=1-Radius=1.5]",
        "test_noise.py::test_noise[Value=2-Radius=0]",
        "test_noise.py::test_noise[Value=2-Radius=1.5]",
    ]

    first = project.invokeai()
    first.assert_outcomes(failed=4)
    first.stdout.fnmatch_lines(["*has no stored index map*", "*pytest --invokeai-update-baselines=missing*"])

    recorded = project.invokeai("--invokeai-update-baselines=missing")
    recorded.assert_outcomes(passed=4)
    recorded.stdout.fnmatch_lines(["*outputs compared: 4; matched 0, mismatched 0, new 4*"])
    stored = sorted(
        p.relative_to(project.path / "baselines").as_posix() for p in (project.path / "baselines").rglob("*.json")
    )
    assert len(stored) == 5 and "_index_maps/noise.json.json" in stored
    record = json.loads(
        (project.path / "baselines" / "test_noise.py" / "test_noise[Value=2-Radius=1.5].json").read_text()
    )
    assert record["inputs"] == [
        {"index": 0, "name": "Width", "value": 32},
        {"index": 1, "name": "Height", "value": 32},
        {"index": 2, "name": "Value", "value": 2},
        {"index": 4, "name": "Radius", "value": 1.5},
    ]
    assert record["invokeai_version"] == "6.14.2" and list(record["outputs"]) == ["save"]

    again = project.invokeai("--junitxml=junit.xml")
    again.assert_outcomes(passed=4)
    again.stdout.fnmatch_lines(["*matched 4, mismatched 0*", "*orphaned baselines: 0*", "report: *report.html"])
    assert (project.path / "invokeai-results" / "report.html").is_file()
    summary = json.loads((project.path / "invokeai-results" / "report.json").read_text())
    assert summary["summary"]["matched"] == 4
    # Every test case carries its verdict, and per signal a distance within its threshold.
    cases = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(project.path / "junit.xml").iter("testcase")
    }
    assert len(cases) == 4
    for name, properties in cases.items():
        assert properties.get("invokeai.save[0].verdict") == "matched", (name, properties)
        for signal in ("phash", "color", "layout", "sharpness"):
            distance = float(properties[f"invokeai.save[0].distance.{signal}"])
            assert 0 <= distance <= float(properties[f"invokeai.save[0].threshold.{signal}"]), (
                name,
                signal,
                properties,
            )


def test_changed_value_fails_with_a_readable_diff_and_only_changed_mode_accepts_it(project):
    project.makepyfile(test_noise=MATRIX_TEST)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=4)
    # A stronger noise amount for every row: every image changes.
    project.makepyfile(test_noise=MATRIX_TEST.replace("inputs={0: 32, 1: 32}", "inputs={0: 32, 1: 32, 3: 0.9}"))
    changed = project.invokeai()
    changed.assert_outcomes(failed=4)
    changed.stdout.fnmatch_lines(["*does not match its baseline*", "*phash*", "*accept it with: * accept *test_noise*"])
    assert list((project.path / "invokeai-results").rglob("*.actual.png"))

    kept = project.invokeai("--invokeai-update-baselines=missing")  # missing never rewrites a mismatch
    kept.assert_outcomes(failed=4)
    loose = "--invokeai-tolerance=phash=2,color=100,layout=100,sharpness=100"  # run-wide thresholds
    project.invokeai(loose).assert_outcomes(passed=4)
    bad = project.invokeai("--invokeai-tolerance=ssim=0.1")
    assert bad.ret != 0 and "unknown threshold name(s): ssim" in bad.stderr.str()
    accepted = project.invokeai("--invokeai-update-baselines=changed")
    accepted.assert_outcomes(passed=4)
    accepted.stdout.fnmatch_lines(["*updated 4*"])
    project.invokeai().assert_outcomes(passed=4)


def test_reordered_form_fails_with_drift_and_runs_nothing_until_accepted(project):
    project.makepyfile(test_noise=MATRIX_TEST)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=4)
    reorder_width_and_height(project.path / "noise.json")

    drifted = project.invokeai()
    drifted.assert_outcomes(failed=4)
    drifted.stdout.fnmatch_lines(["*form of workflow noise.json changed*", "*Width*", "*drifted workflows: 1*"])
    assert "outputs compared: 0" in drifted.stdout.str() or "compared" not in drifted.stdout.str().split("InvokeAI")[-1]

    for mode in ("missing", "changed"):  # neither may accept drift
        project.invokeai(f"--invokeai-update-baselines={mode}").assert_outcomes(failed=4)
    accepted = project.invokeai("--invokeai-accept-drift")
    accepted.assert_outcomes(passed=4)  # width and height are both 32: the images are the same


def test_suite_file_cases_and_matrix(project):
    project.makefile(
        ".invokeai.toml",
        colors="""
workflow = "noise.json"
[inputs]
0 = 24
1 = 24
[[case]]
id = "seed-7"
inputs = { 2 = 7 }
[matrix]
combine = "zip"
2 = [8, 9]
3 = [0.2, 0.4]
""",
    )
    collected = project.invokeai("--collect-only", "-q")
    assert [line for line in collected.outlines if "::" in line] == [
        "colors.invokeai.toml::seed-7",
        "colors.invokeai.toml::[Value=8-Amount=0.2]",
        "colors.invokeai.toml::[Value=9-Amount=0.4]",
    ]
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=3)
    project.invokeai("-k", "seed").assert_outcomes(passed=1)


def test_bad_suite_file_fails_as_one_test_naming_file_and_key(project):
    project.makefile(".invokeai.toml", broken='workflow = "noise.json"\ncolour = 1\n')
    result = project.invokeai()
    result.stdout.fnmatch_lines(["*broken.invokeai.toml*unknown key(s) colour*"])
    result.assert_outcomes(failed=1)  # a test, not a collection error that would stop the run


def test_a_value_out_of_bounds_fails_the_test_naming_the_input_and_the_bounds(project):
    project.makepyfile(test_bad=MATRIX_TEST.replace("inputs={0: 32, 1: 32}", "inputs={0: 32, 1: 32, 3: 40}"))
    result = project.invokeai("--invokeai-update-baselines=missing")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*input #3 'Amount' (noise.amount): 40*must be >= 0 and <= 1*"])
    assert "Traceback" not in result.stdout.str() and "site-packages" not in result.stdout.str()


def test_unknown_index_in_a_matrix_fails_that_test_listing_inputs(project):
    project.makepyfile(test_bad=MATRIX_TEST.replace("4: [0, 1.5]", "9: [0, 1.5]"))
    result = project.invokeai()
    result.stdout.fnmatch_lines(["*there is no form input #9*"])
    result.assert_outcomes(errors=1)  # at the test's setup, not a collection error that would stop the run


def test_orphans_are_reported_on_a_full_run_only_and_pruned_explicitly(project):
    project.makepyfile(test_noise=MATRIX_TEST)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=4)
    project.makepyfile(test_noise=MATRIX_TEST.replace("2: [1, 2]", "2: [1]"))
    full = project.invokeai()
    full.assert_outcomes(passed=2)
    full.stdout.fnmatch_lines(["*orphaned baselines: 2*"])
    narrowed = project.invokeai("-k", "Radius")
    narrowed.stdout.fnmatch_lines(["*not checked for orphaned baselines*-k*"])

    dry = project.invokeai("--collect-only", "--invokeai-prune=dry-run")
    # Two orphaned records, each with its preview: what pruning deletes, it names.
    dry.stdout.fnmatch_lines(["*prune: would delete 4 file(s)*", "*Radius=0].json", "*Radius=0].save.0.preview.png"])
    assert len(list((project.path / "baselines" / "test_noise.py").glob("*.json"))) == 4
    deleted = project.invokeai("--collect-only", "--invokeai-prune=delete")
    deleted.stdout.fnmatch_lines(["*prune: deleted 4 file(s)*"])
    assert len(list((project.path / "baselines" / "test_noise.py").glob("*.json"))) == 2
    assert len(list((project.path / "baselines" / "test_noise.py").glob("*.preview.png"))) == 2


def test_missing_model_skips_with_the_model_named(project, gui_exports):
    shutil.copy(gui_exports / "sdxl-text-to-image.json", project.path / "sdxl.json")
    project.makepyfile(
        test_sdxl="""
import pytest

@pytest.mark.invokeai(workflow="sdxl.json")
def test_sdxl(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )
    result = project.invokeai("--invokeai-update-baselines=missing", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*not installed*"])


def test_exit_first_cancels_what_is_still_queued(project, invokeai_server_url):
    import httpx

    project.makepyfile(
        test_many=MATRIX_TEST.replace("matrix={2: [1, 2], 4: [0, 1.5]}", "matrix={2: list(range(100, 112))}")
    )
    project.invokeai("--invokeai-update-baselines=missing", "test_many.py::test_noise[Value=111]").assert_outcomes(
        passed=1
    )
    before = {i["item_id"] for i in httpx.get(f"{invokeai_server_url}/api/v1/queue/default/list_all").json()}
    result = project.invokeai("-x")  # the first test has no baseline and fails; the rest must not run
    result.assert_outcomes(failed=1)
    items = [
        i
        for i in httpx.get(f"{invokeai_server_url}/api/v1/queue/default/list_all").json()
        if i["item_id"] not in before
    ]
    by_destination: dict[str, list[dict]] = {}
    for item in items:
        by_destination.setdefault(str(item.get("destination")), []).append(item)
    # This run's items: the one destination with 12 items (other processes may use the server too).
    ours = [group for group in by_destination.values() if len(group) == 12]
    assert len(ours) == 1, {d: len(g) for d, g in by_destination.items()}
    statuses = sorted(i["status"] for i in ours[0])
    assert "pending" not in statuses and "in_progress" not in statuses, statuses
    assert statuses.count("canceled") >= 6, statuses  # enqueued ahead, then canceled by -x


def test_xdist_workers_share_the_work_and_the_report(project):
    project.makepyfile(test_noise=MATRIX_TEST)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=4)
    result = project.invokeai("-n", "2")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*matched 4*"])
    summary = json.loads((project.path / "invokeai-results" / "report.json").read_text())
    assert summary["summary"]["compared"] == 4


def test_settings_from_pyproject_and_environment(project, monkeypatch):
    project.makepyfile(test_noise=MATRIX_TEST)
    project.makepyprojecttoml(
        '[tool.pytest.ini_options]\ninvokeai_baseline_dir = "golden"\ninvokeai_update_baselines = "missing"\n'
    )
    project.invokeai().assert_outcomes(passed=4)
    assert (project.path / "golden" / "test_noise.py").is_dir()
    monkeypatch.setenv("PYTEST_INVOKEAI_BASELINE_DIR", "from-env")
    project.invokeai().assert_outcomes(passed=4)
    assert (project.path / "from-env" / "test_noise.py").is_dir()
    bad = project.invokeai("--invokeai-timeout=soon")
    assert bad.ret != 0
    bad.stderr.fnmatch_lines(["*command line*--invokeai-timeout*"])


def queue_items(url: str) -> list[int]:
    """The ids of every queue item the server holds (the plugin keeps them unless --invokeai-cleanup)."""
    answer = httpx.get(f"{url}/api/v1/queue/default/list_all", timeout=30)
    answer.raise_for_status()
    return [item["item_id"] for item in answer.json()]


def _url_args(project) -> list[str]:
    return [project.invokeai_url_arg]


def test_last_failed_runs_and_enqueues_only_the_failures(project, invokeai_server_url):
    project.makepyfile(test_noise=MATRIX_TEST)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=4)
    record = project.path / "baselines" / "test_noise.py" / "test_noise[Value=1-Radius=0].json"
    record.unlink()  # that one test now fails for a missing baseline
    first = project.runpytest_subprocess(*_url_args(project))
    first.assert_outcomes(passed=3, failed=1)
    before = set(queue_items(invokeai_server_url))
    again = project.runpytest_subprocess(*_url_args(project), "--lf")
    again.assert_outcomes(failed=1)  # only the failed case ran
    again.stdout.fnmatch_lines(["*outputs compared: 1;*", "*not checked for orphaned baselines*--lf*"])
    # ... and the server was sent that case alone: one new queue item, with the failed case's values.
    new_items = sorted(set(queue_items(invokeai_server_url)) - before)
    assert len(new_items) == 1, f"--lf enqueued {len(new_items)} items: {new_items}"
    item = httpx.get(f"{invokeai_server_url}/api/v1/queue/default/i/{new_items[0]}", timeout=30).json()
    nodes = item["session"]["graph"]["nodes"]
    form = {i.index: i for i in form_inputs(load_workflow(WORKFLOW))}
    assert nodes[form[2].node_id][form[2].field_name] == 1  # Value=1
    assert nodes[form[4].node_id][form[4].field_name] == 0  # Radius=0


def test_cli_prune_and_update_run_the_suite(project, invokeai_server_url):
    project.makepyfile(test_noise=MATRIX_TEST)
    update = project.run(
        sys.executable,
        "-m",
        "pytest_invokeai.cli",
        "baselines",
        "update",
        "--mode",
        "missing",
        "--",
        f"--invokeai-url={invokeai_server_url}",
        "-p",
        "no:cacheprovider",
    )
    assert update.ret == 0, update.stdout.str()
    update.stdout.fnmatch_lines(["*new 4*"])
    project.makepyfile(test_noise=MATRIX_TEST.replace("2: [1, 2]", "2: [1]"))
    dry = project.run(sys.executable, "-m", "pytest_invokeai.cli", "baselines", "prune", "--dry-run")
    dry.stdout.fnmatch_lines(["*would delete 4 file(s)*"])  # two records and their previews
    assert len(list((project.path / "baselines" / "test_noise.py").glob("*.json"))) == 4
    project.run(sys.executable, "-m", "pytest_invokeai.cli", "baselines", "prune")
    assert len(list((project.path / "baselines" / "test_noise.py").glob("*.json"))) == 2
