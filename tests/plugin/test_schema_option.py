"""The plugin's node schema setting: --invokeai-schema, PYTEST_INVOKEAI_SCHEMA and ini invokeai_schema.

A suite file uses a workflow with a custom node: with the schema file named by any of the three the node
is known and collection warns of nothing. Without one, collection guesses its fields' kinds without a
warning: the cases run with the server's live schema, which knows them (tests/server/test_node_packs.py).
Collection alone shows it: no server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import custom_node_schema

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(DATA / "workflows" / "form-nested.json", pytester.path / "nested.json")
    (pytester.path / "my-nodes.schema.json").write_text(json.dumps(custom_node_schema()))
    (pytester.path / "sharpen.invokeai.toml").write_text(
        'workflow = "nested.json"\n\n[inputs]\n3 = 0.75\n\n[[case]]\nid = "strong"\n'
    )
    return pytester


def collected(project: pytest.Pytester, *args: str) -> str:
    result = project.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", *args)
    return result.stdout.str()


def test_without_a_schema_file_collection_does_not_warn_of_a_guess_the_live_schema_replaces(
    project: pytest.Pytester,
) -> None:
    out = collected(project)
    assert "kind was guessed" not in out and "warning" not in out, out
    assert "sharpen.invokeai.toml::strong" in out


@pytest.mark.parametrize("where", ["option", "env", "ini"])
def test_the_option_the_environment_and_the_ini_each_select_the_schema_file(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    args: list[str] = []
    if where == "option":
        args = ["--invokeai-schema=my-nodes.schema.json"]
    elif where == "env":
        monkeypatch.setenv("PYTEST_INVOKEAI_SCHEMA", "my-nodes.schema.json")
    else:
        project.makeini("[pytest]\ninvokeai_schema = my-nodes.schema.json\n")
    out = collected(project, *args)
    assert "kind was guessed" not in out, out  # the schema file knows the custom node
    assert "sharpen.invokeai.toml::strong" in out


def test_a_schema_file_that_cannot_be_read_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "--invokeai-schema=nope.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "command line: bad value for --invokeai-schema:" in result.stderr.str()
    assert "nope.json: cannot read the schema snapshot" in result.stderr.str()
