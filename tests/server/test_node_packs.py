"""Custom node packs on a real InvokeAI 6.14.2: loaded by the managed server, typed by its live schema,
hashed into baselines, missing ones skipped by name, broken ones failing the run with InvokeAI's own words.

One managed server with the example suite's pack (example_suite/nodes/checkerboard_nodes) serves this
module; the broken pack needs a start of its own (it must fail). The plugin's managed server loading a
suite file's ``nodes`` is the example suite's checkerboard case (tests/server/test_example_suite.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import managed_server_url, require

from pytest_invokeai.local.install import home_dir, installed_python
from pytest_invokeai.local.node_packs import find_packs
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.live_schema import fetch_live_schema
from pytest_invokeai.workflow.form import form_inputs
from pytest_invokeai.workflow.load import load_workflow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_suite"
PACK = EXAMPLE / "nodes" / "checkerboard_nodes"
CHECKERBOARD = EXAMPLE / "workflows" / "checkerboard.json"
#: Read before pytester points HOME at a temporary folder: the runs it starts use the project's InvokeAI install.
INVOKEAI_HOME = home_dir()
CUSTOM_NODE_WORKFLOW = REPO / "tests" / "data" / "workflows" / "form-nested.json"  # uses 'my_custom_sharpen'


@pytest.fixture(scope="module")
def pack_server_url() -> Iterator[str]:
    with managed_server_url(node_packs=find_packs([PACK])) as url:
        yield url


def test_the_managed_server_loads_the_pack_and_its_live_schema_types_the_form(pack_server_url: str) -> None:
    with InvokeAIClient(pack_server_url) as client:
        schema = fetch_live_schema(client, client.probe_version())
    node = schema.node("checkerboard_image")
    assert node is not None and node.node_pack == "checkerboard_nodes"
    inputs = {i.display_name: i for i in form_inputs(load_workflow(CHECKERBOARD, schema=schema))}
    # Written from the pack's source (example_suite/nodes/checkerboard_nodes/__init__.py), not read back.
    assert (inputs["Width"].kind, inputs["Width"].constraints) == (
        "integer",
        {"minimum": 8, "maximum": 1024, "multiple_of": 8},
    )
    assert (inputs["Cell size"].kind, inputs["Cell size"].constraints) == ("integer", {"minimum": 1, "maximum": 256})
    assert (inputs["Pattern"].kind, inputs["Pattern"].constraints) == ("enum", {"choices": ["squares", "stripes"]})
    assert inputs["First colour"].kind == "color"
    assert not any(i.kind_inferred for i in inputs.values())


def copy_example(project: Path) -> None:
    shutil.copytree(EXAMPLE / "nodes", project / "nodes")
    (project / "workflows").mkdir()
    shutil.copy(CHECKERBOARD, project / "workflows" / "checkerboard.json")
    shutil.copy(CUSTOM_NODE_WORKFLOW, project / "workflows" / "custom.json")
    (project / "checkerboard.invokeai.toml").write_text(
        'workflow = "workflows/checkerboard.json"\nnodes = ["nodes/checkerboard_nodes"]\n\n'
        '[[case]]\nid = "stripes"\ninputs = { 3 = "stripes" }\n\n'
        '[[case]]\nid = "zigzag"\ninputs = { 3 = "zigzag" }\n'
    )
    (project / "custom.invokeai.toml").write_text('workflow = "workflows/custom.json"\n\n[[case]]\nid = "sharpen"\n')


def test_with_a_url_packs_are_hashed_into_baselines_and_missing_node_types_skip(
    pytester: pytest.Pytester, pack_server_url: str
) -> None:
    copy_example(pytester.path)
    result = pytester.runpytest_subprocess(
        f"--invokeai-url={pack_server_url}", "-p", "no:cacheprovider", "-rs", "--invokeai-update-baselines=missing"
    )
    output = result.stdout.str()
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    # The live schema knows Pattern's choices: a value outside them fails its own test, naming them.
    assert "'zigzag' is not one of the choices: squares, stripes" in output
    # A node type the server lacks skips the test with its name, like a missing model.
    assert "has no node type 'my_custom_sharpen'" in output
    assert "FormWarning" not in output and "guessed" not in output  # no kind was guessed: nothing to warn of
    (record,) = (pytester.path / "baselines").rglob("stripes.json")
    pack_hash = find_packs([PACK])[0].hash
    assert json.loads(record.read_text())["node_packs"] == {"checkerboard_nodes": pack_hash}

    # The pack changes: the baseline still matches (its images are the same), and the run says what changed.
    init = pytester.path / "nodes" / "checkerboard_nodes" / "__init__.py"
    init.write_text(init.read_text() + "\n# a comment changes the pack's content\n")
    result = pytester.runpytest_subprocess(
        f"--invokeai-url={pack_server_url}", "-p", "no:cacheprovider", "-k", "stripes"
    )
    result.assert_outcomes(passed=1)
    changed = [line for line in result.stdout.lines if "node packs changed since the baseline" in line]
    assert (
        len(changed) == 1 and f"checkerboard_nodes changed ({pack_hash.removeprefix('sha256:')[:12]} -> " in changed[0]
    )
    summary = json.loads((pytester.path / "invokeai-results" / "report.json").read_text())
    (output_result,) = summary["outputs"]
    assert output_result["extra"]["node packs changed since the baseline"].startswith("checkerboard_nodes changed")


def test_a_pack_that_fails_to_load_fails_the_run_with_invokeais_own_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (A suite file's pack loaded by the managed server the run starts: the example suite's checkerboard
    # cases, in tests/server/test_example_suite.py.)
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(INVOKEAI_HOME))
    require(installed_python() is not None, "the managed server needs the project's InvokeAI install")
    copy_example(pytester.path)
    (pytester.path / "custom.invokeai.toml").unlink()
    broken = pytester.path / "nodes" / "broken_pack"
    broken.mkdir()
    (broken / "__init__.py").write_text('raise RuntimeError("this pack is broken on purpose")\n')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--invokeai-nodes={broken}", "-k", "stripes")
    output = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert "InvokeAI could not load a node pack" in output
    assert "Failed to load node pack broken_pack" in output  # InvokeAI's own words, from its log
    assert "RuntimeError: this pack is broken on purpose" in output
