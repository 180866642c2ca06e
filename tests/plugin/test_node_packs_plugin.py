"""Node pack folders named to pytest (no server needed: each mistake is found before one would start).

``--invokeai-nodes`` (option, environment, ini) is the run's: a folder that is no pack stops the run as a
usage error naming it. ``nodes=`` of a marker or a suite file is relative to that file and belongs to its
tests: a wrong folder fails those tests only, and the other tests of the run are not touched by it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    (pytester.path / "empty").mkdir()
    pytester.makepyfile(
        test_plain="""
def test_not_invokeai():
    assert True
"""
    )
    return pytester


@pytest.mark.parametrize("where", ["option", "env", "ini"])
def test_a_run_folder_that_is_no_pack_is_a_usage_error_naming_it(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    args: list[str] = []
    if where == "option":
        args = ["--invokeai-nodes=empty"]
    elif where == "env":
        monkeypatch.setenv("PYTEST_INVOKEAI_NODES", "empty")
    else:
        project.makeini("[pytest]\ninvokeai_nodes = empty\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{project.path / 'empty'} is not a node pack (it has no __init__.py)" in result.stderr.str()


def test_a_markers_wrong_folder_fails_its_own_tests_only(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_packs="""
import pytest

@pytest.mark.invokeai(workflow="noise.json", nodes=["missing"])
def test_missing_folder(invokeai_run):
    invokeai_run()

@pytest.mark.invokeai(workflow="noise.json", nodes="empty")
def test_not_a_pack(invokeai_run):
    invokeai_run()
"""
    )
    (project.path / "suite.invokeai.toml").write_text(
        'workflow = "noise.json"\nnodes = ["nowhere"]\n\n[[case]]\nid = "one"\n'
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-rfE")
    output = result.stdout.str()
    # The marker's tests fail at setup (as any marker that cannot be used), the suite file as one test.
    result.assert_outcomes(passed=1, failed=1, errors=2)
    assert f"test_packs.py::test_missing_folder: nodes: node pack folder {project.path / 'missing'} does not exist" in (
        output
    )
    assert f"{project.path / 'empty'} is not a node pack (it has no __init__.py)" in output
    assert f"suite.invokeai.toml: nodes: node pack folder {project.path / 'nowhere'} does not exist" in output
