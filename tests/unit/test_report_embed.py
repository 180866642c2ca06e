"""--invokeai-report-embed: from the command line, the environment or the ini to a report that is one file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from report_html_cases import compared
from report_images import blurred, noise_image

from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.writer import write_reports
from pytest_invokeai.run.settings import resolve
from pytest_invokeai.run.state import RunResults


def settings_from(tmp_path: Path, *, cli=None, env=None, ini=None):
    return resolve(cli or {}, lambda name: (ini or {}).get(name, ""), rootdir=tmp_path, environ=env or {})


@pytest.mark.parametrize(
    ("where", "embed"),
    [
        ({}, False),
        ({"cli": {"invokeai_report_embed": True}}, True),
        ({"env": {"PYTEST_INVOKEAI_REPORT_EMBED": "1"}}, True),
        ({"ini": {"invokeai_report_embed": "true"}}, True),
        ({"env": {"PYTEST_INVOKEAI_REPORT_EMBED": "1"}, "cli": {"invokeai_report_embed": False}}, False),
    ],
    ids=["default", "command line", "env", "ini", "command line over env"],
)
def test_the_run_writes_its_images_into_the_report_only_when_asked(tmp_path, where, embed):
    settings = settings_from(tmp_path, **where)
    assert settings.report_embed is embed
    result, actual = compared(settings.results_dir, "test_one", noise_image(4), blurred(noise_image(4)))
    outcome = RunOutcome(exit_status=1)
    outcome.record("test_one", "failed", "does not match", invokeai=True)
    html, _ = write_reports(RunResults(outputs=[result]), outcome, settings=settings, rootdir=tmp_path)
    text = html.read_text()
    assert (base64.b64encode(actual).decode() in text) is embed
    assert ('src="test_one/' in text) is not embed  # else the image loads from the results folder beside it
