"""What a failing test prints: its own message, once; a bad value fails whatever the models; ad-hoc inputs
replace the marker's by form input.

pytest runs in a subprocess against the real InvokeAI of this session (as in test_plugin.py), and the
assertions read the whole failure section of each test in its output.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parents[1] / "data"
WORKFLOW = (
    DATA / "gui" / "form-layout.workflow.json"
)  # 0 Width, 1 Height, 2 Value (seed.value), 3 Amount, 4 Radius, 5 Board
SDXL = DATA / "exports" / "sdxl-text-to-image.json"  # 0 Model (not on the test server), 3 Width, 4 Height


SECTION_TITLE = re.compile(r"_{3,} (.+?) _{3,}")
SECTION_END = re.compile(r"={3,} .* ={3,}")


def failure_sections(output: str) -> dict[str, str]:
    """The text of each ``____ test name ____`` section of pytest's FAILURES (and ERRORS) part."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        title = SECTION_TITLE.fullmatch(line)
        if title:
            current = sections.setdefault(title.group(1), [])
        elif SECTION_END.fullmatch(line):
            current = None
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


@pytest.fixture
def project(pytester: pytest.Pytester, invokeai_server_url: str):
    shutil.copy(WORKFLOW, pytester.path / "noise.json")

    def run(*args: str):
        return pytester.runpytest_subprocess(f"--invokeai-url={invokeai_server_url}", "-p", "no:cacheprovider", *args)

    pytester.invokeai = run  # type: ignore[attr-defined]
    return pytester


THREE_TESTS = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32, -1: 5})
def test_minus_one(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32, "Sead": 5})
def test_misspelled(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32, 2: 5})
def test_good(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


def test_each_failure_carries_its_own_message_once(project):
    project.makepyfile(test_three=THREE_TESTS)
    result = project.invokeai("--invokeai-update-baselines=missing")
    result.assert_outcomes(failed=2, passed=1)
    output = result.stdout.str()
    assert "During handling of the above exception" not in output
    sections = failure_sections(output)
    assert sorted(sections) == ["test_minus_one", "test_misspelled"], output

    minus_one = sections["test_minus_one"]
    assert minus_one.count("there is no form input #-1") == 1, minus_one
    assert "Sead" not in minus_one, minus_one

    misspelled = sections["test_misspelled"]
    assert misspelled.count("there is no form input named 'Sead'") == 1, misspelled
    assert "#-1" not in misspelled, misspelled
    # Only the message: no traceback of the plugin's internals.
    for section in (minus_one, misspelled):
        assert "Traceback" not in section and "pytest_invokeai" not in section, section


def test_a_blocked_case_prints_its_reason_once(project):
    project.makepyfile(
        test_one="""
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32, 2: 5})
def test_good(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )
    result = project.invokeai()  # no index map stored yet: the gate blocks the case
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "During handling of the above exception" not in output
    section = failure_sections(output)["test_good"]
    assert section.count("has no stored index map") == 1, section
    assert "Traceback" not in section, section


def test_a_bad_value_fails_even_when_the_workflows_model_is_missing(project):
    shutil.copy(SDXL, project.path / "sdxl.json")
    project.makepyfile(
        test_sdxl="""
import pytest

@pytest.mark.invokeai(workflow="sdxl.json", inputs={3: "wide"})
def test_bad_width(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="sdxl.json", inputs={3: 512})
def test_good_width(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )
    result = project.invokeai("--invokeai-update-baselines=missing", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    section = failure_sections(result.stdout.str())["test_bad_width"]
    assert "input #3 'Width'" in section and "'wide'" in section, section
    assert "not installed" not in section, section
    result.stdout.fnmatch_lines(["SKIPPED*test_sdxl.py*juggernautXL*not installed*"])


MERGED = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 64, 1: 48, "Value": 1})
def test_marker_by_name(invokeai_run):
    invokeai_run({2: 5}, name="five").assert_matches_baseline()

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 64, 1: 48, 2: 1})
def test_marker_by_index(invokeai_run):
    invokeai_run({"Value": 6}, name="six").assert_matches_baseline()
    invokeai_run({"seed.value": 7}, name="seven").assert_matches_baseline()

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 64, 1: 48}, matrix={"Value": [1, 2]})
def test_matrix_by_name(invokeai_run):
    invokeai_run({2: 9}, name="nine").assert_matches_baseline()
"""


def recorded_values(project, test_id: str) -> list[tuple[int, object]]:
    folder = project.path / "baselines" / "test_merged.py"
    (record,) = [
        p for p in folder.glob("*.json") if json.loads(p.read_text())["test_id"] == f"test_merged.py::{test_id}"
    ]
    return [(each["index"], each["value"]) for each in json.loads(record.read_text())["inputs"]]


def test_ad_hoc_inputs_replace_the_markers_whatever_key_names_them(project):
    project.makepyfile(test_merged=MERGED)
    result = project.invokeai("--invokeai-update-baselines=missing")
    result.assert_outcomes(passed=4)
    assert "given two different values" not in result.stdout.str()
    assert recorded_values(project, "test_marker_by_name::five") == [(0, 64), (1, 48), (2, 5)]
    assert recorded_values(project, "test_marker_by_index::six") == [(0, 64), (1, 48), (2, 6)]
    assert recorded_values(project, "test_marker_by_index::seven") == [(0, 64), (1, 48), (2, 7)]
    assert recorded_values(project, "test_matrix_by_name[Value=1]::nine") == [(0, 64), (1, 48), (2, 9)]
    assert recorded_values(project, "test_matrix_by_name[Value=2]::nine") == [(0, 64), (1, 48), (2, 9)]


def test_an_ad_hoc_input_given_twice_or_unknown_fails_naming_it(project):
    project.makepyfile(
        test_twice="""
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 64, 1: 48})
def test_twice(invokeai_run):
    invokeai_run({2: 5, "Value": 6}, name="twice")

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 64, 1: 48})
def test_unknown(invokeai_run):
    invokeai_run({"Sead": 5}, name="unknown")
"""
    )
    result = project.invokeai("--invokeai-update-baselines=missing")
    result.assert_outcomes(failed=2)
    sections = failure_sections(result.stdout.str())
    assert sections["test_twice"].count("is given twice, as 2 and as 'Value'") == 1, sections["test_twice"]
    assert sections["test_unknown"].count("there is no form input named 'Sead'") == 1, sections["test_unknown"]
    for section in sections.values():
        assert "During handling" not in section and "Traceback" not in section, section
