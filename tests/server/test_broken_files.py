"""No single file may stop the suite: an unreadable baseline, index map, suite file or workflow fails
its own tests and the rest run (pytest in a subprocess, as a user runs it, against the real InvokeAI).

The workflow is tests/data/gui/form-layout.workflow.json: #0 Width, #1 Height, #2 Value (the seed),
#3 Amount, #4 Radius, #5 Board.
"""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"

TESTS = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32}, matrix={2: [1, 2, 3, 4, 5]})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()


@pytest.mark.invokeai(workflow="other.json", inputs={0: 32, 1: 32, 2: 9})
def test_other(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
RECORDS = "baselines/test_noise.py"


def record_of(value: int) -> str:
    return f"{RECORDS}/test_noise[Value={value}].json"


@pytest.fixture
def project(pytester: pytest.Pytester, invokeai_server_url: str) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    shutil.copy(WORKFLOW, pytester.path / "other.json")

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            f"--invokeai-url={invokeai_server_url}", "-p", "no:cacheprovider", "--junitxml=junit.xml", *args
        )

    pytester.invokeai = run  # type: ignore[attr-defined]
    return pytester


def failures(project: pytest.Pytester) -> dict[str, str]:
    """Test name -> the text of its failure or error, from the run's JUnit XML."""
    found = {}
    for case in ET.parse(project.path / "junit.xml").iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            found[case.get("name", "")] = f"{problem.get('message', '')}\n{problem.text or ''}"
    return found


def report(project: pytest.Pytester) -> dict:
    return json.loads((project.path / "invokeai-results" / "report.json").read_text())


def assert_lines(result: pytest.RunResult, *starts: str) -> None:
    """Each of ``starts`` begins a line of the output, in this order (plain text: test ids hold brackets)."""
    lines = result.stdout.lines
    position = 0
    for start in starts:
        found = [i for i, line in enumerate(lines[position:], position) if line.startswith(start)]
        assert found, f"no line starting with {start!r} after line {position}:\n" + "\n".join(lines)
        position = found[0] + 1


def assert_ran_to_the_end(result: pytest.RunResult) -> None:
    """Exit status 1 (tests failed), not 3 (internal error) or 2 (interrupted by a collection error)."""
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, text
    assert "INTERNALERROR" not in text and "Interrupted" not in text and "Traceback" not in text, text
    assert "pytest_invokeai/" not in text, text  # no frames of the plugin's code: the message says it all


def test_unreadable_records_fail_only_their_own_tests_until_changed_or_all_replaces_them(project):
    project.makepyfile(test_noise=TESTS)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=6)
    path = project.path
    good_record = (path / record_of(5)).read_bytes()
    broken = {
        1: (b"", "is empty"),
        2: (good_record[:60], "not valid JSON (line "),
        3: (b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary", "is not UTF-8 JSON text"),
        4: (
            good_record,
            "holds the record of test_id 'test_noise.py::test_noise[Value=5]', not 'test_noise.py::test_noise[Value=4]'",
        ),
    }
    for value, (content, _) in broken.items():
        (path / record_of(value)).write_bytes(content)

    result = project.invokeai()
    assert_ran_to_the_end(result)
    result.assert_outcomes(failed=4, passed=2)
    failed = failures(project)
    assert sorted(failed) == [f"test_noise[Value={v}]" for v in broken]
    for value, (_, problem) in broken.items():
        text = failed[f"test_noise[Value={value}]"]
        assert f"{record_of(value)}: {problem}" in text, text
        assert "re-record it with --invokeai-update-baselines=changed (or all)" in text
        others = [record_of(v) for v in broken if v != value]
        assert not [o for o in others if o in text], text  # only its own file
    assert_lines(result, "unreadable baselines: 4", f"  {record_of(1)}: is empty; re-record it with")
    problems = {p["test_id"]: p["message"] for p in report(project)["problems"]}
    assert sorted(problems) == [record_of(v) for v in broken]
    assert problems[record_of(1)].startswith(f"{record_of(1)}: is empty")

    kept = project.invokeai("--invokeai-update-baselines=missing")  # missing writes only what does not exist
    kept.assert_outcomes(failed=4, passed=2)
    assert [(path / record_of(v)).read_bytes() for v in broken] == [content for content, _ in broken.values()]
    assert not list(path.rglob("*.broken*"))

    replaced = project.invokeai("--invokeai-update-baselines=changed")
    replaced.assert_outcomes(passed=6)
    for value, (content, _) in broken.items():
        assert (path / (record_of(value) + ".broken")).read_bytes() == content  # the old bytes, beside it
        assert (
            json.loads((path / record_of(value)).read_text())["test_id"] == f"test_noise.py::test_noise[Value={value}]"
        )
    assert_lines(replaced, f"replaced unreadable baseline {record_of(1)} (kept as {record_of(1)}.broken)")
    assert "unreadable baselines:" not in replaced.stdout.str()
    extras = [o["extra"] for o in report(project)["outputs"] if o["test_id"] == "test_noise.py::test_noise[Value=3]"]
    assert extras == [{"replaced unreadable baseline": f"{record_of(3)} (kept as test_noise[Value=3].json.broken)"}]

    (path / record_of(1)).write_bytes(b"{")  # broken again: the kept file of the first time stays as it is
    again = project.invokeai("--invokeai-update-baselines=all", "-n", "2")
    again.assert_outcomes(passed=6)
    assert_lines(again, f"replaced unreadable baseline {record_of(1)} (kept as {record_of(1)}.broken.1)")
    assert (path / (record_of(1) + ".broken")).read_bytes() == b""
    assert (path / (record_of(1) + ".broken.1")).read_bytes() == b"{"
    assert_lines(again, "orphaned baselines: 0")  # kept files are neither records nor orphans


def test_an_unreadable_index_map_fails_its_workflows_tests_until_drift_is_accepted(project):
    project.makepyfile(test_noise=TESTS)
    project.invokeai("--invokeai-update-baselines=missing").assert_outcomes(passed=6)
    index_map = project.path / "baselines" / "_index_maps" / "noise.json.json"
    cut = index_map.read_bytes()[:50]
    index_map.write_bytes(cut)

    result = project.invokeai()
    assert_ran_to_the_end(result)
    result.assert_outcomes(failed=5, passed=1)  # every case of noise.json; other.json's test runs
    for name, text in failures(project).items():
        assert name.startswith("test_noise[")
        assert "baselines/_index_maps/noise.json.json: not valid JSON (line " in text, text
        assert "--invokeai-update-baselines=all` or `pytest --invokeai-accept-drift" in text, text
    result.stdout.fnmatch_lines(
        ["*unreadable baselines: 1*", "  baselines/_index_maps/noise.json.json: not valid JSON*"]
    )
    assert [p["test_id"] for p in report(project)["problems"]] == ["baselines/_index_maps/noise.json.json"]

    # A new map accepts the form as it is now: changed (which never accepts drift) does not write one.
    project.invokeai("--invokeai-update-baselines=changed").assert_outcomes(failed=5, passed=1)
    assert index_map.read_bytes() == cut

    accepted = project.invokeai("--invokeai-update-baselines=all")
    accepted.assert_outcomes(passed=6)
    accepted.stdout.fnmatch_lines(
        [
            "replaced unreadable baseline baselines/_index_maps/noise.json.json (kept as baselines/_index_maps/noise.json.json.broken)"
        ]
    )
    assert (index_map.parent / "noise.json.json.broken").read_bytes() == cut
    project.invokeai().assert_outcomes(passed=6)


def test_a_broken_suite_file_fails_as_one_test_and_keeps_its_baselines(project):
    project.makepyfile(test_noise=TESTS)
    good = 'workflow = "noise.json"\n[inputs]\n0 = 24\n1 = 24\n[[case]]\nid = "a"\ninputs = { 2 = 7 }\n[[case]]\nid = "b"\ninputs = { 2 = 8 }\n'
    project.makefile(".invokeai.toml", colors=good)
    project.makefile(".invokeai.toml", cut='workflow = "noise.json"\n[[case]\nid = "x"\n')
    project.makefile(".invokeai.toml", colour='workflow = "noise.json"\ncolour = 1\n[[case]]\nid = "x"\n')
    project.makefile(".invokeai.toml", gone='workflow = "gone.json"\n[[case]]\nid = "x"\n')

    result = project.invokeai("--invokeai-update-baselines=missing")
    assert_ran_to_the_end(result)
    result.assert_outcomes(failed=3, passed=8)  # test_noise x5, test_other, colors a and b
    failed = failures(project)
    assert sorted(failed) == ["colour.invokeai.toml", "cut.invokeai.toml", "gone.invokeai.toml"]
    assert "gone.invokeai.toml: workflow = 'gone.json': " in failed["gone.invokeai.toml"]
    assert (
        "colour.invokeai.toml: unknown key(s) colour; valid keys: case, inputs, matrix"
        in failed["colour.invokeai.toml"]
    )
    assert "cut.invokeai.toml: not valid TOML" in failed["cut.invokeai.toml"]
    assert "colour" not in failed["cut.invokeai.toml"]

    (project.path / "colors.invokeai.toml").write_text(good.replace("[inputs]", "[input]"))
    broken = project.invokeai()
    assert_ran_to_the_end(broken)
    broken.assert_outcomes(failed=4, passed=6)
    assert "colors.invokeai.toml: unknown key(s) input; valid keys:" in failures(project)["colors.invokeai.toml"]
    # Its cases are unknown while it is broken: their baselines (and its workflow's map) are not orphans.
    broken.stdout.fnmatch_lines(["*orphaned baselines: 0*"])
    pruned = project.run(sys.executable, "-m", "pytest_invokeai.cli", "baselines", "prune")
    pruned.stdout.fnmatch_lines(["*prune: deleted 0 file(s)*"])
    assert len(list((project.path / "baselines" / "colors.invokeai.toml").glob("*.json"))) == 2


def test_a_broken_workflow_or_matrix_fails_only_the_tests_that_use_it(project):
    shutil.copy(WORKFLOW, project.path / "wf.json")
    project.makepyfile(
        test_noise=TESTS,
        test_wf="""
import pytest

@pytest.mark.invokeai(workflow="wf.json", inputs={0: 32, 1: 32})
def test_plain(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="wf.json", inputs={0: 32, 1: 32}, matrix={2: [1, 2]})
def test_matrix(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="noise.json", matrix={9: [1, 2]})
def test_bad_matrix(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="noise.json", tolerance="loose")
def test_bad_marker(invokeai_run):
    invokeai_run().assert_matches_baseline()
""",
    )
    first = project.invokeai("--invokeai-update-baselines=missing")
    assert_ran_to_the_end(first)
    first.assert_outcomes(passed=9, errors=2)  # the bad matrix and the bad marker alone
    assert "test_wf.py::test_bad_matrix (" in failures(project)["test_bad_matrix"]
    assert "there is no form input #9; valid inputs: #0 'Width'" in failures(project)["test_bad_matrix"]
    assert (
        "test_wf.py::test_bad_marker: tolerance must be a mapping like {'phash': 0.15}, got 'loose'"
        in failures(project)["test_bad_marker"]
    )

    (project.path / "wf.json").write_text('{"nodes": [')
    result = project.invokeai()
    assert_ran_to_the_end(result)
    result.assert_outcomes(passed=6, failed=1, errors=3)
    failed = failures(project)
    assert sorted(failed) == ["test_bad_marker", "test_bad_matrix", "test_matrix", "test_plain"]
    for name in ("test_plain", "test_matrix"):
        assert "wf.json: not valid JSON" in failed[name], failed[name]
        assert "#9" not in failed[name]
    # The matrix rows cannot be listed while the workflow is broken: their baselines stay in use.
    result.stdout.fnmatch_lines(["*orphaned baselines: 0*"])
    project.invokeai("--collect-only", "--invokeai-prune=dry-run").stdout.fnmatch_lines(
        ["*prune: would delete 0 file(s)*"]
    )
