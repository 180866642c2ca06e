"""Baselines recorded on another InvokeAI version than the run's: the note the failure, the report data and the summary carry."""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.report.artifacts import Artifacts
from pytest_invokeai.report.results import VERSION_NOTE_KEY, OutputResult
from pytest_invokeai.report.writer import version_lines
from pytest_invokeai.run.judge import mismatch_message, version_note
from pytest_invokeai.run.state import RunResults


def test_the_note_names_both_versions_only_when_they_differ() -> None:
    assert version_note("6.13.8", "6.14.2") == "recorded on 6.13.8, ran on 6.14.2"
    assert version_note("6.14.2", "6.14.2") is None
    assert version_note(None, "6.14.2") is None  # a record from before versions were kept says nothing
    assert version_note("6.13.8", None) is None


def test_a_mismatch_message_says_the_baseline_came_from_another_version(tmp_path: Path) -> None:
    artifacts = Artifacts(actual=tmp_path / "a.png")
    text = mismatch_message(
        "output 'Output' (n1) image 0", "color 3.1 > 0.8", artifacts, "t[x]", "recorded on 6.13.8, ran on 6.14.2"
    )
    assert text.startswith(
        "output 'Output' (n1) image 0 does not match its baseline (recorded on 6.13.8, ran on 6.14.2):"
    )
    assert "its baseline:" in mismatch_message("o", "e", artifacts, "t[x]")


def test_the_summary_counts_the_outputs_per_pair_of_versions() -> None:
    note = "recorded on 6.13.8, ran on 6.14.2"
    outputs = [
        OutputResult(test_id="a", output="n", extra={VERSION_NOTE_KEY: note}),
        OutputResult(test_id="b", output="n", extra={VERSION_NOTE_KEY: note}),
        OutputResult(test_id="c", output="n"),
    ]
    assert version_lines(RunResults(outputs=outputs)) == [
        f"compared with baselines of another InvokeAI version: {note} (2 output image(s))"
    ]
    assert version_lines(RunResults(outputs=outputs[2:])) == []


def test_credentials_and_auth_never_show_the_password_or_token() -> None:
    from pytest_invokeai.server.auth import Auth, Credentials

    credentials = Credentials("me@x.org", "s3cret-pw")
    assert "s3cret-pw" not in repr(credentials)
    assert repr(Auth(credentials=credentials)) == "Auth(user='me@x.org')"
    assert "tok-123" not in repr(Auth("tok-123"))
