"""The example suite with its committed baselines, as a user runs it.

- ``pytest example_suite`` with no server options starts the managed local InvokeAI, installs the tiny
  SD-1.5 model, and passes against ``baselines/`` (SDXL is skipped: no such model here).
- In a copy of the project: a changed workflow value fails exactly the tests of that workflow with a
  readable diff; a reordered form fails that workflow's tests with drift and runs none of them.
- The fingerprints of the images the suite makes are, bit for bit, the ones committed in ``baselines/``
  wherever the pixels are the recorded ones: a faster fingerprint must not change a single value.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import imagehash
import pytest
from example_runs import ROOT, edit_workflow, node_by_type, run_pytest, swap_block_x_and_y
from helpers import require
from PIL import Image

from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.store import BaselineStore


def outcomes(output: str) -> str:
    return output.strip().splitlines()[-1]


def assert_fingerprints_are_the_committed_ones(summary_json: Path, *, at_least: int) -> None:
    """Fingerprint each image the run wrote again; where its pixels are the recorded ones (same pixel
    SHA-256), every value must be the committed one, bit for bit.

    The expected values are read from the record files in ``baselines/`` as committed (made by the code of
    that time), never computed here. Every committed record must also still load.
    """
    store = BaselineStore(ROOT / "baselines")
    records = store.record_files()
    assert records, "no committed baselines found"
    for path in records:
        assert store.load(store.read_test_id(path)) is not None, path
    same_pixels = []
    for output in json.loads(summary_json.read_text())["outputs"]:
        record_file = store.find(output["test_id"])
        assert record_file is not None, f"no committed record for {output['test_id']}"
        committed = json.loads(record_file.read_text())["outputs"][output["output"]]["images"][output["image_index"]]
        image = (summary_json.parent / output["artifacts"]["actual"]).read_bytes()
        measured = json.loads(fingerprint(image).to_json())
        # The standard pHash sits beside the fingerprint; imagehash computes it here, as anyone would.
        committed_phash = committed.pop("imagehash_phash")
        if measured["pixel_sha256"] == committed["pixel_sha256"]:
            assert measured == committed, f"{output['test_id']} {output['output']} image {output['image_index']}"
            assert committed_phash == str(imagehash.phash(Image.open(io.BytesIO(image)))), output["test_id"]
            same_pixels.append(output["test_id"])
    assert len(same_pixels) >= at_least, f"only {len(same_pixels)} images have the recorded pixels: {same_pixels}"


def test_example_suite_passes_on_the_managed_server_with_the_committed_baselines(tmp_path):
    from pytest_invokeai.local.install import installed_python

    require(installed_python() is not None, "the managed server needs the project's InvokeAI install")
    report = tmp_path / "report.html"
    result = run_pytest(ROOT, "example_suite", f"--invokeai-results-dir={tmp_path}", f"--invokeai-report={report}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "20 passed, 1 skipped" in outcomes(output), output[-3000:]
    assert "sd_xl_base_1.0" in output and "is not installed" in output  # the skip names the model
    document = json.loads(report.with_suffix(".json").read_text())
    summary = document["summary"]
    assert summary["compared"] == 20 and summary["matched"] == 20, summary
    assert "orphaned baselines: 0" in output
    assert_pytests_outcome_in_report(document)
    # The 14 model-free images always have the recorded pixels; the tiny SD-1.5 model's depend on the
    # CPU's floating point (they match by the thresholds), so they are checked where they are equal.
    assert_fingerprints_are_the_committed_ones(report.with_suffix(".json"), at_least=14)


def assert_pytests_outcome_in_report(document: dict) -> None:
    """The report says what pytest said: passed, 20 passed and 1 skipped, and which test skipped and why."""
    assert (document["status"], document["exit_status"]) == ("passed", 0)
    assert document["summary"]["tests"] == {
        "passed": 20,
        "failed": 0,
        "skipped": 1,
        "errors": 0,
        "xfailed": 0,
        "xpassed": 0,
    }
    (skipped,) = document["tests"]
    assert skipped["outcome"] == "skipped" and "sdxl" in skipped["test_id"], skipped
    assert "sd_xl_base_1.0" in skipped["reason"] and "is not installed" in skipped["reason"], skipped


def test_fingerprints_of_the_model_free_examples_are_the_committed_ones_bit_for_bit(tmp_path, invokeai_server_url):
    report = tmp_path / "report.html"
    result = run_pytest(
        ROOT, "example_suite", f"--invokeai-url={invokeai_server_url}", "-k", "not sd15 and not sdxl",
        f"--invokeai-results-dir={tmp_path}", f"--invokeai-report={report}",
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    # 5 noise textures, 4 image-to-image, 5 colour blocks: all model-free, so the server makes the same pixels.
    assert_fingerprints_are_the_committed_ones(report.with_suffix(".json"), at_least=14)


@pytest.fixture
def project_copy(tmp_path):
    for folder in ("example_suite", "baselines"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    return tmp_path


def test_a_changed_value_fails_exactly_that_workflows_tests(project_copy, invokeai_server_url):
    def weaker_noise(data):
        node_by_type(data, "img_noise")["data"]["inputs"]["amount"]["value"] = 0.3

    edit_workflow(project_copy / "example_suite" / "workflows" / "noise-texture.json", weaker_noise)
    result = run_pytest(
        project_copy, "example_suite", f"--invokeai-url={invokeai_server_url}", "-k", "not sd15 and not sdxl"
    )
    output = result.stdout
    failed = sorted(line.split(" ")[1] for line in output.splitlines() if line.startswith("FAILED "))
    assert failed == [
        "example_suite/test_noise_texture.py::test_noise_texture[Seed=7-Blur",
        "example_suite/test_noise_texture.py::test_noise_texture[Seed=7-Blur",
        "example_suite/test_noise_texture.py::test_noise_texture[Seed=8-Blur",
        "example_suite/test_noise_texture.py::test_noise_texture[Seed=8-Blur",
        "example_suite/test_noise_texture.py::test_output_has_the_size_of_the_form",
    ], output[-3000:]
    assert "does not match its baseline" in output
    assert (
        "accept it with: " in output and " accept 'example_suite/test_noise_texture.py::test_noise_texture[" in output
    )
    assert "9 passed" in outcomes(output)


def test_a_reordered_form_fails_that_workflows_tests_with_drift(project_copy, invokeai_server_url):
    edit_workflow(project_copy / "example_suite" / "workflows" / "color-blocks.json", swap_block_x_and_y)
    result = run_pytest(
        project_copy, "example_suite", f"--invokeai-url={invokeai_server_url}", "-k", "not sd15 and not sdxl"
    )
    output = result.stdout
    failed = [line for line in output.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 5 and all("color_blocks.invokeai.toml" in line for line in failed), output[-3000:]
    assert "the form of workflow example_suite/workflows/color-blocks.json changed" in output
    assert "Block x" in output and "Block y" in output
    assert "drifted workflows: 1" in output


def test_xdist_workers_share_one_managed_server(tmp_path):
    from pytest_invokeai.local.install import installed_python

    require(installed_python() is not None, "the managed server needs the project's InvokeAI install")
    report = tmp_path / "report.html"
    result = run_pytest(
        ROOT, "example_suite", "-n", "2", f"--invokeai-results-dir={tmp_path}", f"--invokeai-report={report}"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "20 passed, 1 skipped" in outcomes(output), output[-3000:]
    # Both workers' results reach the controller's report, and both generated on one server.
    document = json.loads(report.with_suffix(".json").read_text())
    assert document["summary"]["matched"] == 20, document["summary"]
    assert_pytests_outcome_in_report(document)  # counted by the controller, from both workers' reports
    servers = [line for line in output.splitlines() if line.startswith("managed local InvokeAI: ")]
    assert len(servers) == 1 and "," not in servers[0], servers
