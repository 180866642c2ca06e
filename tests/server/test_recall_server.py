"""Recall on a real InvokeAI: model names come back as the server's keys, what it lacks is dropped, its 422 shown."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from recall_workflows import rich_workflow

from pytest_invokeai.baseline.record import BaselineRecord
from pytest_invokeai.cli import main
from pytest_invokeai.local.model_install import TINY_SD15_NAME
from pytest_invokeai.recall.apply import DROPPED, RESOLVED, send_recall
from pytest_invokeai.recall.mapping import map_recall
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.workflow.load import load_workflow

SD15 = Path(__file__).resolve().parents[2] / "example_suite" / "workflows" / "sd15-text-to-image.json"


@pytest.fixture
def client(invokeai_server_url: str) -> Iterator[InvokeAIClient]:
    with InvokeAIClient(invokeai_server_url) as c:
        yield c


def suite_with_record(root: Path, inputs: list[dict]) -> Path:
    """A suite root holding the SD-1.5 example workflow and one baseline record of it; returns the record."""
    (root / "wf").mkdir(parents=True)
    shutil.copy(SD15, root / "wf" / "sd15.json")
    record = root / "record.json"
    record.write_text(
        BaselineRecord(test_id="suite/test_x.py::test_x", outputs={}, workflow="wf/sd15.json", inputs=inputs).to_json()
    )
    return record


def test_the_recall_endpoint_answers_a_status(client):
    answer = client.send(api.recall_status("default"))
    assert answer["status"] == "success" and answer["queue_id"] == "default"


def test_a_model_given_by_name_comes_back_as_the_servers_key(client, tiny_sd15):
    mapping = map_recall(load_workflow(SD15), {1: "a recalled fox"})
    outcome = send_recall(client, mapping, queue="default")
    assert outcome.sent["model"] == TINY_SD15_NAME == tiny_sd15["name"]
    assert outcome.answer["parameters"]["model"] == tiny_sd15["key"]
    rows = {row.parameter: row for row in outcome.rows}
    assert (rows["model"].status, rows["model"].applied) == (RESOLVED, tiny_sd15["key"])
    assert rows["model"].note == f"{TINY_SD15_NAME}, sd-1 main"
    assert rows["positive_prompt"].applied == "a recalled fox"
    assert outcome.dropped == []
    assert outcome.answer["updated_count"] == len(outcome.sent)


def test_models_the_server_lacks_are_dropped_not_refused(client, gui_exports):
    mapping = map_recall(load_workflow(gui_exports / "sdxl-text-to-image.json"))
    outcome = send_recall(client, mapping, queue="default")
    assert "model" not in outcome.answer["parameters"]
    assert [(row.parameter, row.status, row.note) for row in outcome.dropped] == [
        ("model", DROPPED, "no main model named 'juggernautXL_v9Rundiffusionphoto2' on the server")
    ]
    assert outcome.answer["parameters"]["positive_prompt"] == "deep space, high quality, colorful"


def test_loras_and_adapters_the_server_lacks_are_dropped_and_the_rest_is_applied(client):
    outcome = send_recall(client, map_recall(load_workflow(rich_workflow())), queue="default")
    assert {row.parameter for row in outcome.dropped} == {
        "model",
        "loras[0]",
        "loras[1]",
        "control_layers[0]",
        "control_layers[1]",
        "ip_adapters[0]",
    }
    applied = outcome.answer["parameters"]
    assert (applied["loras"], applied["control_layers"], applied["ip_adapters"]) == ([], [], [])
    assert (applied["clip_skip"], applied["denoise_strength"], applied["seamless_x"]) == (2, 0.7, True)


def test_the_command_prints_what_was_sent_beside_what_the_server_applied(
    invokeai_server_url, tiny_sd15, tmp_path, capsys
):
    record = suite_with_record(tmp_path, [{"index": 1, "name": "Prompt", "value": "a printed fox"}])
    assert main(["recall", str(record), "--url", invokeai_server_url]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert lines["model"].split()[3:] == [
        f'"{TINY_SD15_NAME}"',
        f'"{tiny_sd15["key"]}"',
        f"({TINY_SD15_NAME},",
        "sd-1",
        "main)",
    ]
    assert lines["positive_prompt"].endswith('"a printed fox"  "a printed fox"')
    assert lines["server"].startswith(f"server    {invokeai_server_url} (InvokeAI 6.")


def test_the_command_as_json_holds_the_servers_answer(invokeai_server_url, tiny_sd15, tmp_path, capsys):
    record = suite_with_record(tmp_path, [{"index": 3, "name": "Seed", "value": 11}])
    assert main(["recall", str(record), "--url", invokeai_server_url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sent"]["seed"] == 11 and data["server"]["answer"]["parameters"]["seed"] == 11
    assert data["server"]["answer"]["parameters"]["model"] == tiny_sd15["key"]
    assert {row["parameter"]: row["status"] for row in data["server"]["rows"]}["model"] == RESOLVED


def test_a_value_out_of_the_endpoints_range_shows_the_servers_422_message(invokeai_server_url, tmp_path, capsys):
    # 32 is a valid noise width (a multiple of 8), but the recall endpoint takes widths from 64.
    record = suite_with_record(tmp_path, [{"index": 4, "name": "Width", "value": 32}])
    assert main(["recall", str(record), "--url", invokeai_server_url]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"pytest-invokeai: error: InvokeAI at {invokeai_server_url} refused to apply the recall parameters (HTTP 422): "
        "width: Input should be greater than or equal to 64",
        "  sent width = 32, from #4 'Width'",
    ]


SD15_TEST = """
import pytest

@pytest.mark.invokeai(workflow="sd15.json", models=["tiny-sd15"], matrix={3: [1, 2]})
def test_t2i(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


def test_a_runs_report_carries_each_cases_recall_lines(pytester, invokeai_server_url, tiny_sd15, capsys):
    # Two xdist workers: the cases travel from the workers to the report with their results.
    shutil.copy(SD15, pytester.path / "sd15.json")
    pytester.makepyfile(test_t2i=SD15_TEST)
    run = pytester.runpytest_subprocess(
        f"--invokeai-url={invokeai_server_url}",
        "-p",
        "no:cacheprovider",
        "--invokeai-update-baselines=missing",
        "-n",
        "2",
    )
    run.assert_outcomes(passed=2)
    summary = json.loads((pytester.path / "invokeai-results" / "report.json").read_text())
    test_id = "test_t2i.py::test_t2i[Seed=2]"
    assert summary["cases"][test_id] == {
        "workflow": "sd15.json",
        "inputs": [{"index": 3, "name": "Seed", "value": 2}],
        "server": invokeai_server_url,
    }
    extra = next(output["extra"] for output in summary["outputs"] if output["test_id"] == test_id)
    assert extra["recall in the GUI"] == f"pytest-invokeai recall '{test_id}' --url {invokeai_server_url}"
    assert '"seed":2' in extra["recall with curl"]
    assert (pytester.path / "invokeai-results" / "report.html").read_text().count("recall with curl") == 2

    capsys.readouterr()  # pytester's own lines
    assert main(["recall", "Seed=2", "--rootdir", str(pytester.path), "--url", invokeai_server_url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["origin"].startswith("last run ") and data["server"]["answer"]["parameters"]["seed"] == 2


def test_a_cases_local_image_is_uploaded_and_sent_by_its_server_name(client, tmp_path):
    face = tmp_path / "face.png"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(face)
    outcome = send_recall(client, map_recall(load_workflow(rich_workflow()), {3: face}), queue="default")
    try:
        name = outcome.uploaded["ip_adapters[0].image_name"]
        assert client.send(api.image_record(name))["width"] == 16
        assert outcome.sent["ip_adapters"][0]["image_name"] == name
    finally:
        client.send(api.delete_images(list(outcome.uploaded.values())))
