"""The job summary's Markdown (pytest_invokeai.report.job_summary), from a report document as report.json holds it."""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.report.job_summary import (
    escape_markdown,
    failing_cases,
    job_summary_markdown,
    step_summary_file,
    write_job_summary,
)


def document(**changes) -> dict:
    base = {
        "status": "failed",
        "exit_status": 1,
        "summary": {
            "compared": 5,
            "matched": 3,
            "mismatched": 1,
            "missing": 1,
            "new": 0,
            "updated": 0,
            "drifted": 0,
            "errors": 0,
            "failures": 2,
            "tests": {"passed": 3, "failed": 3, "skipped": 1, "errors": 0, "xfailed": 0, "xpassed": 0},
        },
        "tests": [
            {"test_id": "t.py::test_a[Seed=1]", "outcome": "failed", "reason": "long text of the mismatch"},
            {"test_id": "t.py::test_new", "outcome": "failed", "reason": "no baseline for ..."},
            {"test_id": "t.py::test_sdxl", "outcome": "skipped", "reason": "model sdxl-base is not installed"},
            {"test_id": "t.py::test_plain", "outcome": "failed", "reason": "assert 1 == 2\n where more lines"},
        ],
        "outputs": [
            {"test_id": "t.py::test_a[Seed=1]", "verdict": "mismatched", "failed": ["color", "phash"]},
            {"test_id": "t.py::test_new", "verdict": "missing", "failed": []},
            {"test_id": "t.py::test_b", "verdict": "matched", "failed": []},
        ],
        "problems": [],
    }
    return {**base, **changes}


def test_the_summary_has_both_counts_a_row_per_failing_case_and_the_accept_command() -> None:
    assert job_summary_markdown(document(), results_dir="shard-1") == (
        "### InvokeAI: failed\n"
        "\n"
        "| tests | passed | failed | skipped | errors | xfailed | xpassed |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        "| | 3 | 3 | 1 | 0 | 0 | 0 |\n"
        "\n"
        "| outputs | compared | matched | mismatched | missing | new | updated | drifted | errors |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        "| | 5 | 3 | 1 | 1 | 0 | 0 | 0 | 0 |\n"
        "\n"
        "| failing case | reason |\n"
        "| --- | --- |\n"
        "| t.py::test\\_a\\[Seed=1\\] | mismatched: color, phash |\n"
        "| t.py::test\\_new | missing |\n"
        "| t.py::test\\_plain | assert 1 == 2 where more lines |\n"
        "\n"
        "Download the results and accept these images as the new baselines (after looking at them):\n"
        "\n"
        "```sh\n"
        "pytest-invokeai accept --failed --results shard-1\n"
        "```\n"
    )


def test_a_passing_run_has_no_rows_and_no_accept_command() -> None:
    passing = document(
        status="passed",
        tests=[],
        outputs=[],
        summary={"compared": 2, "matched": 2, "failures": 0, "tests": {"passed": 2}},
    )
    text = job_summary_markdown(passing, results_dir="invokeai-results")
    assert text.startswith("### InvokeAI: passed\n")
    assert "| | 2 | 0 | 0 | 0 | 0 | 0 |" in text
    assert "failing case" not in text
    assert "accept" not in text


def test_markdown_special_characters_in_test_ids_are_escaped() -> None:
    assert escape_markdown("t.py::test[a|b*c_d]") == "t.py::test\\[a\\|b\\*c\\_d\\]"
    assert escape_markdown("<b>`x`</b> & ~y~ #1 !") == "\\<b\\>\\`x\\`\\</b\\> \\& \\~y\\~ \\#1 \\!"
    assert escape_markdown("back\\slash (x) {y} +z") == "back\\\\slash \\(x\\) \\{y\\} \\+z"
    assert escape_markdown("two\nlines") == "two lines"  # a table row is one line


def test_reasons_are_a_few_words_and_verdicts_win_over_pytests_text() -> None:
    drifted = document(
        tests=[
            {"test_id": "w::test_d", "outcome": "failed", "reason": "the form of workflow ... changed"},
            {"test_id": "w::test_e", "outcome": "error", "reason": " ".join(f"word{i}" for i in range(30))},
        ],
        outputs=[],
        problems=[{"test_id": "w::test_d", "verdict": "drifted", "message": "the form changed\n  index 3 moved to 4"}],
    )
    assert failing_cases(drifted) == [
        ("w::test_d", "drifted: the form changed"),
        ("w::test_e", "error: " + " ".join(f"word{i}" for i in range(12)) + " …"),
    ]


def test_at_most_100_rows_then_how_many_more() -> None:
    many = document(
        tests=[{"test_id": f"t.py::test_{n:03d}", "outcome": "failed", "reason": "boom"} for n in range(130)],
        outputs=[],
    )
    lines = job_summary_markdown(many, results_dir="r").splitlines()
    rows = [line for line in lines if line.startswith("| t.py::test")]
    assert len(rows) == 100
    assert rows[-1] == "| t.py::test\\_099 | boom |"
    assert "30 more failing case(s): see report.html in the results." in lines


def test_a_results_folder_with_a_space_is_quoted_in_the_command() -> None:
    assert "pytest-invokeai accept --failed --results 'my results'\n" in job_summary_markdown(
        document(), results_dir="my results"
    )


def test_the_step_summary_is_appended_and_the_option_file_replaced(tmp_path: Path) -> None:
    step, own = tmp_path / "step.md", tmp_path / "out" / "summary.md"
    step.write_text("## an earlier step\n")
    own.parent.mkdir()
    own.write_text("an older run\n")
    assert write_job_summary("### one\n", step_summary=step, path=own) == [step, own]
    assert write_job_summary("### two", step_summary=step, path=own) == [step, own]
    assert step.read_text() == "## an earlier step\n### one\n### two\n"
    assert own.read_text() == "### two"


def test_the_step_summary_file_comes_from_githubs_variable() -> None:
    assert step_summary_file({"GITHUB_STEP_SUMMARY": "/tmp/s"}) == Path("/tmp/s")
    assert step_summary_file({"GITHUB_STEP_SUMMARY": " "}) is None
    assert step_summary_file({}) is None
