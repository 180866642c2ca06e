"""Recall parameters from workflows and cases (pytest_invokeai.recall), without a server.

Expected values are read off the workflow files by hand (the node that holds each value is named
in a comment), never computed by the code under test.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from recall_workflows import rich_workflow

from pytest_invokeai.baseline.record import BaselineRecord
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.cli import main
from pytest_invokeai.errors import InputValueError
from pytest_invokeai.recall.cases import (
    CaseLookup,
    CaseNotFound,
    RecallCase,
    case_values,
)
from pytest_invokeai.recall.commands import (
    COMMAND_KEY,
    CURL_KEY,
    add_recall_lines,
    curl_command,
    recall_command,
)
from pytest_invokeai.recall.mapping import map_recall
from pytest_invokeai.report.html import render_html
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import OutputResult, summarize
from pytest_invokeai.workflow.load import load_workflow

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "example_suite" / "workflows"
NO_DENOISE = "the workflow has no denoising node: nothing in it maps to recall parameters"

SD15_DEFAULTS = {  # example_suite/workflows/sd15-text-to-image.json, node by node
    "positive_prompt": "a lighthouse on a cliff at dusk",  # compel:zFNMqz2Pqg -> positive_conditioning
    "negative_prompt": "blurry",  # compel:V9Ij4n9wbg -> negative_conditioning
    "model": "tiny-sd15-1",  # main_model_loader:367FX76CY9 -> unet
    "scheduler": "euler",  # denoise_latents:SyZ9HZNo4Z
    "steps": 4,
    "cfg_scale": 7.5,
    "cfg_rescale_multiplier": 0,
    "width": 64,  # noise:0Gs2gzddvn -> noise
    "height": 64,
    "seed": 1234,
}


def mapped_inputs(mapping) -> dict[str, tuple[str, ...]]:
    return {item.name: item.parameters for item in mapping.inputs}


# -- the project's example workflows -----------------------------------------------------------


def test_sd15_every_form_input_maps_to_its_parameter():
    mapping = map_recall(load_workflow(EXAMPLES / "sd15-text-to-image.json"))
    assert mapping.body() == SD15_DEFAULTS
    assert mapped_inputs(mapping) == {
        "Model": ("model",),
        "Prompt": ("positive_prompt",),
        "Negative prompt": ("negative_prompt",),
        "Seed": ("seed",),
        "Width": ("width",),
        "Height": ("height",),
        "Steps": ("steps",),
        "CFG scale": ("cfg_scale",),
        "Scheduler": ("scheduler",),
    }
    assert mapping.notes == []
    assert mapping.origin("seed") == "#3 'Seed'"
    assert mapping.origin("cfg_rescale_multiplier") == "workflow (denoise_latents:SyZ9HZNo4Z.cfg_rescale_multiplier)"


def test_a_cases_values_replace_the_workflows_and_are_marked_as_the_cases():
    mapping = map_recall(load_workflow(EXAMPLES / "sd15-text-to-image.json"), {1: "a red fox", "Seed": 7, "4": "128"})
    assert mapping.body() == {**SD15_DEFAULTS, "positive_prompt": "a red fox", "seed": 7, "width": 128}
    assert [item.index for item in mapping.inputs if item.set_by_case] == [1, 3, 4]


def test_the_mapping_follows_the_fields_not_the_form_order():
    document = json.loads((EXAMPLES / "sd15-text-to-image.json").read_text())
    root = document["form"]["elements"][document["form"]["rootElementId"]]
    root["data"]["children"].reverse()
    reordered = map_recall(load_workflow(document))
    assert reordered.body() == SD15_DEFAULTS
    prompt = next(item for item in reordered.inputs if item.name == "Prompt")
    assert prompt.index != 1 and prompt.parameters == ("positive_prompt",)


def test_a_value_the_workflow_would_refuse_is_refused_here_too():
    with pytest.raises(InputValueError, match=r"#3 'Seed'.*out of bounds"):
        map_recall(load_workflow(EXAMPLES / "sd15-text-to-image.json"), {3: -1})


def test_sdxl_example():
    mapping = map_recall(load_workflow(EXAMPLES / "sdxl-text-to-image.json"))
    assert mapping.body() == {  # sdxl_compel_prompt nodes, sdxl_model_loader, noise:xYSbJgeBxx, denoise_latents
        "positive_prompt": "a lighthouse on a cliff at dusk",
        "negative_prompt": "blurry",
        "model": "sd_xl_base_1.0",
        "scheduler": "euler",
        "steps": 30,
        "cfg_scale": 6,
        "cfg_rescale_multiplier": 0,
        "width": 1024,
        "height": 1024,
        "seed": 1234,
    }
    assert not mapping.unmapped


@pytest.mark.parametrize("name", ["noise-texture.json", "color-blocks.json", "image-to-image.json"])
def test_model_free_workflows_map_nothing_and_say_why(name):
    mapping = map_recall(load_workflow(EXAMPLES / name))
    assert mapping.is_empty and mapping.body() == {}
    assert mapping.notes[0].startswith("the workflow has no denoising node")
    assert {item.reason for item in mapping.inputs} == {NO_DENOISE}


# -- real exported workflows (tests/data/exports) ---------------------------------------------


def test_exported_sdxl_prompts_come_from_the_string_nodes_feeding_the_encoders(gui_exports):
    mapping = map_recall(load_workflow(gui_exports / "sdxl-text-to-image.json"))
    # pos_cond:o9T4cKV8xt has prompt "" of its own: the string node "Positive Prompt" feeds it.
    assert mapping.body() == {
        "positive_prompt": "deep space, high quality, colorful",
        "negative_prompt": "earth, star war, blurry",
        "model": "juggernautXL_v9Rundiffusionphoto2",
        "scheduler": "dpmpp_3m_k",
        "steps": 30,
        "cfg_scale": 7.5,
        "cfg_rescale_multiplier": 0,
        "width": 768,
        "height": 1024,
    }
    assert mapped_inputs(mapping)["positive prompt"] == ("positive_prompt",)
    assert mapped_inputs(mapping)["negative prompt"] == ("negative_prompt",)
    # noise.seed is fed by a rand_int node: there is no seed to recall.
    assert mapping.notes == [
        "seed: not recalled: it comes from output 'value' of rand_int node 'fe37ca02-b720-41f8-a10c-5ab7f110e336', "
        "a new random value every run"
    ]
    assert [(item.index, item.reason) for item in mapping.unmapped] == [
        (8, "the board images are saved to is not a recall parameter")
    ]


def test_exported_flux_image_to_image(gui_exports):
    mapping = map_recall(load_workflow(gui_exports / "flux-image-to-image.json"))
    assert mapping.body() == {  # flux_model_loader f8d9d7c8, flux_text_encoder nodes, flux_denoise_meta 9c773392
        "positive_prompt": "good looking girl",
        "negative_prompt": "naked, adult",
        "model": "flux1-schnell",
        "vae_model": "FLUX.1-schnell_ae",
        "steps": 10,
        "cfg_scale": 1,
        "guidance": 4,
        "denoise_strength": 0.6,  # denoising_start 0.4
    }
    assert mapped_inputs(mapping)["Denoising Start"] == ("denoise_strength",)
    assert mapped_inputs(mapping)["Num Steps"] == ("steps",)
    reasons = {item.name: item.reason for item in mapping.unmapped}
    assert reasons == {
        "Image": "the recall endpoint takes images only for control layers, IP adapters and reference images",
        "T5 Encoder": "the recall endpoint has no parameter for a t5_encoder model",
        "CLIP Embed": "the recall endpoint has no parameter for a clip_embed model",
        "Board": "the board images are saved to is not a recall parameter",
    }
    # The size is the input image's (flux_vae_encode); the seed a rand_int's.
    assert [note.split(":")[0] for note in mapping.notes] == ["width", "height", "seed"]
    assert "flux_vae_encode node '2981a67c-480f-4237-9384-26b68dbf912b'" in mapping.notes[0]


# -- LoRAs, clip skip, seamless, control layers, IP adapters, connectors ------------------------


RICH_BODY = {
    "positive_prompt": "a castle",  # string "text" -> connector -> compel "pos" -> collect -> den
    "negative_prompt": "fog",
    "model": "my-sd15",
    "vae_model": "better-vae",
    "scheduler": "dpmpp_2m",
    "steps": 25,
    "cfg_scale": 6.5,
    "cfg_rescale_multiplier": 0.2,
    "width": 512,
    "height": 768,
    "seed": 99,
    "denoise_strength": 0.7,  # 1 - denoising_start 0.3
    "clip_skip": 2,
    "seamless_x": True,
    "seamless_y": False,
    "loras": [
        {"model_name": "style-lora", "weight": 0.5, "is_enabled": True},  # nearest the loader first
        {"model_name": "detail-lora", "weight": -1.25, "is_enabled": True},
    ],
    "control_layers": [
        {
            "model_name": "canny",
            "weight": 0.8,
            "begin_step_percent": 0.1,
            "end_step_percent": 0.9,
            "control_mode": "more_control",
            "image_name": "edges.png",
        },
        {"model_name": "depth", "weight": 1.5},  # "unbalanced" is not a mode the endpoint takes
    ],
    "ip_adapters": [
        {
            "model_name": "ip-plus",
            "weight": 0.6,
            "begin_step_percent": 0,
            "end_step_percent": 1,
            "method": "style",
            "image_name": "face.png",
        },
    ],
}


def test_loras_adapters_and_the_rest_are_found_by_following_the_edges():
    mapping = map_recall(load_workflow(rich_workflow()))
    assert mapping.body() == RICH_BODY
    by_index = {item.index: (item.parameters, item.reason) for item in mapping.inputs}
    assert by_index == {
        0: (("positive_prompt",), ""),
        1: (("loras[0]",), ""),
        2: (("control_layers[0]",), ""),
        3: (("ip_adapters[0]",), ""),
        4: (("seed",), ""),
        5: ((), "the board images are saved to is not a recall parameter"),
        6: (("denoise_strength",), ""),
        7: ((), "the recall endpoint takes images only for control layers, IP adapters and reference images"),
    }
    assert mapping.notes == [
        "control_layers[1].control_mode: not recalled: cn2.control_mode is 'unbalanced'; the recall endpoint takes "
        "balanced / more_prompt / more_control"
    ]


def test_a_local_image_file_is_left_out_until_uploaded(tmp_path):
    face = tmp_path / "face.png"
    mapping = map_recall(load_workflow(rich_workflow()), {3: face})
    assert mapping.local_images == {"ip_adapters[0].image_name": face}
    without = {k: v for k, v in RICH_BODY["ip_adapters"][0].items() if k != "image_name"}
    assert mapping.body()["ip_adapters"] == [without]
    assert mapping.body({"ip_adapters[0].image_name": "uploaded-1.png"})["ip_adapters"] == [
        {**without, "image_name": "uploaded-1.png"}
    ]
    assert mapping.inputs[3].value == {"file": str(face)} and mapping.inputs[3].set_by_case


# -- finding a case ---------------------------------------------------------------------------

SD15_ID = "suite/test_sd15.py::test_t2i[Prompt=a red fox-Seed=2]"
OTHER_ID = "suite/test_sd15.py::test_t2i[Prompt=a lighthouse-Seed=1]"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A suite root with the SD-1.5 workflow and two baseline records of it."""
    (tmp_path / "wf").mkdir()
    shutil.copy(EXAMPLES / "sd15-text-to-image.json", tmp_path / "wf" / "sd15.json")
    store = BaselineStore(tmp_path / "baselines")
    for test_id, prompt, seed in ((SD15_ID, "a red fox", 2), (OTHER_ID, "a lighthouse", 1)):
        store.save(
            BaselineRecord(
                test_id=test_id,
                outputs={},
                workflow="wf/sd15.json",
                inputs=[{"index": 1, "name": "Prompt", "value": prompt}, {"index": 3, "name": "Seed", "value": seed}],
            )
        )
    return tmp_path


def lookup(root: Path, **extra) -> CaseLookup:
    return CaseLookup(
        rootdir=root,
        baseline_dir=root / "baselines",
        profile=None,
        summary=root / "invokeai-results" / "report.json",
        **extra,
    )


def write_summary(root: Path, cases: dict) -> None:
    path = root / "invokeai-results" / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "pytest-invokeai-summary", "cases": cases}))


def test_a_case_is_found_by_id_by_a_unique_part_or_by_its_file_name_form(suite):
    for query in (SD15_ID, "red fox", "Prompt=a_red_fox-Seed=2"):
        case = lookup(suite).find(query)
        assert case.test_id == SD15_ID
        assert case.origin.startswith("baseline ") and case.workflow_path == suite / "wf" / "sd15.json"


def test_an_ambiguous_part_lists_the_matches(suite):
    with pytest.raises(CaseNotFound, match=r"'test_t2i' matches 2 test ids") as info:
        lookup(suite).find("test_t2i")
    assert SD15_ID in str(info.value) and OTHER_ID in str(info.value)


def test_an_unknown_id_lists_the_closest(suite):
    with pytest.raises(
        CaseNotFound, match=r"(?s)no test id .*closest: suite/test_sd15.py::test_t2i\[Prompt=a red fox-Seed=2\]"
    ) as info:
        lookup(suite).find("suite/test_sd15.py::test_t2i[Prompt=a red fix-Seed=2]")
    assert "not there" in str(info.value)  # it says where it looked, and that there was no run summary


def test_the_last_run_wins_over_the_baseline_unless_told(suite):
    write_summary(
        suite,
        {
            SD15_ID: {
                "workflow": "wf/sd15.json",
                "server": "http://gpu:9090",
                "inputs": [{"index": 1, "name": "Prompt", "value": "a red fox, run 2"}],
            }
        },
    )
    case = lookup(suite).find(SD15_ID)
    assert case.origin.startswith("last run ") and case.server == "http://gpu:9090"
    assert case.inputs == [{"index": 1, "name": "Prompt", "value": "a red fox, run 2"}]
    assert lookup(suite, source="baseline").find(SD15_ID).origin.startswith("baseline ")
    with pytest.raises(CaseNotFound):
        lookup(suite, source="results").find(OTHER_ID)


def test_a_record_file_finds_its_own_suite_root(suite, tmp_path, monkeypatch):
    record = BaselineStore(suite / "baselines").find(SD15_ID)
    monkeypatch.chdir(tmp_path.parent)
    case = lookup(Path.cwd()).find(str(record))
    assert case.rootdir == suite and case.test_id == SD15_ID


def test_recorded_inputs_are_found_again_after_the_form_is_reordered(suite):
    workflow = load_workflow(suite / "wf" / "sd15.json")
    case = RecallCase(
        test_id="t",
        workflow_key="wf/sd15.json",
        origin="test",
        rootdir=suite,
        inputs=[{"index": 3, "name": "Prompt", "value": "moved"}, {"index": 3, "name": "Seed", "value": 5}],
    )
    values, notes = case_values(case, workflow)
    assert values == {1: "moved", 3: 5}
    assert notes == ["input 'Prompt' was #3 when the case was recorded and is #1 now"]
    gone = RecallCase(
        test_id="t",
        workflow_key="wf/sd15.json",
        origin="baseline x.json",
        rootdir=suite,
        inputs=[{"index": 9, "name": "Strength", "value": 1}],
    )
    with pytest.raises(InputValueError, match=r"recorded input #9 'Strength' is not on the form of wf/sd15.json"):
        case_values(gone, workflow)


# -- the lines to copy ------------------------------------------------------------------------


def test_the_command_and_curl_line_survive_the_shell():
    odd = 't.py::test[it\'s "quoted" & $HOME]'
    assert shlex.split(recall_command(odd, url="http://h:9090")) == [
        "pytest-invokeai",
        "recall",
        odd,
        "--url",
        "http://h:9090",
    ]
    body = {"positive_prompt": "it's a 'test' & $PATH", "steps": 3}
    words = shlex.split(curl_command(body, url="http://h:9090/", queue="my queue"))
    assert words[4] == "http://h:9090/api/v1/recall/my%20queue"
    assert json.loads(words[words.index("-d") + 1]) == body


def test_the_curl_line_of_a_run_with_a_token_sends_it_from_the_environment_and_never_holds_it(tmp_path):
    body = {"positive_prompt": "a fox", "steps": 3}
    line = curl_command(body, url="http://h:9090", authorized=True)
    assert '-H "Authorization: Bearer $PYTEST_INVOKEAI_TOKEN"' in line
    # The shell expands the variable (printf stands in for curl, to see the words curl would get).
    words = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + line.removeprefix("curl ")],
        capture_output=True,
        text=True,
        env={"PYTEST_INVOKEAI_TOKEN": "t0ken", "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout.splitlines()
    assert words[words.index("-H", words.index("-H") + 1) + 1] == "Authorization: Bearer t0ken"
    assert json.loads(words[words.index("-d") + 1]) == body
    assert "Authorization" not in curl_command(body, url="http://h:9090")  # no token, no header


def test_report_lines_are_added_per_case_and_only_where_something_maps(suite):
    sd15 = {
        "workflow": "wf/sd15.json",
        "server": "http://gpu:9090",
        "inputs": [{"index": 1, "name": "Prompt", "value": "a <red> fox"}],
    }
    (suite / "wf" / "noise.json").write_text((EXAMPLES / "noise-texture.json").read_text())
    outputs = [
        OutputResult(SD15_ID, "l2i", case=sd15),
        OutputResult(SD15_ID, "l2i", image_index=1, case=sd15),
        OutputResult("noise", "save", case={"workflow": "wf/noise.json", "inputs": []}),
        OutputResult("no case", "save"),
    ]
    add_recall_lines(outputs, rootdir=suite, server_known=True)
    command = f"pytest-invokeai recall '{SD15_ID}' --url http://gpu:9090"
    assert outputs[0].extra[COMMAND_KEY] == command == outputs[1].extra[COMMAND_KEY]
    sent = json.loads(shlex.split(outputs[0].extra[CURL_KEY])[-1])
    assert sent == {**SD15_DEFAULTS, "positive_prompt": "a <red> fox"}
    assert outputs[2].extra == {} and outputs[3].extra == {}
    page = render_html(outputs, [], summary=summarize(outputs, []), run=RunOutcome(0), folder=suite)
    assert page.count("recall in the GUI") == 2 and "a &lt;red&gt; fox" in page


def test_a_run_on_its_own_server_recalls_to_the_default_address(suite):
    output = OutputResult(
        SD15_ID, "l2i", case={"workflow": "wf/sd15.json", "server": "http://127.0.0.1:41234", "inputs": []}
    )
    add_recall_lines([output], rootdir=suite, server_known=False, summary=suite / "out" / "r.json")
    assert output.extra[COMMAND_KEY] == f"pytest-invokeai recall '{SD15_ID}' --results out/r.json"
    assert "http://127.0.0.1:9090/api/v1/recall/default" in output.extra[CURL_KEY]


# -- the command, without a server ----------------------------------------------------------------


def test_dry_run_shows_each_parameter_with_the_input_it_came_from(suite, capsys):
    assert main(["recall", "red fox", "--rootdir", str(suite), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"case      {SD15_ID}" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert lines["positive_prompt"].endswith('  "a red fox"')
    assert "#1 'Prompt'" in lines["positive_prompt"] and "#3 'Seed'" in lines["seed"]
    assert "scheduler *" in out and "the InvokeAI 6.14 web UI does not set a field from it" in out
    assert "curl -sS -X POST http://127.0.0.1:9090/api/v1/recall/default" in out


def test_dry_run_json(suite, capsys):
    assert main(["recall", SD15_ID, "--rootdir", str(suite), "--dry-run", "--json", "--url", "http://x:1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"] == {**SD15_DEFAULTS, "positive_prompt": "a red fox", "seed": 2}
    assert data["sent"] is None and data["server"] is None and data["dry_run"] is True
    assert data["from"]["seed"] == "#3 'Seed'"
    assert data["curl"].startswith("curl -sS -X POST http://x:1/api/v1/recall/default")


def test_a_model_free_case_says_there_is_nothing_to_recall(suite, capsys):
    (suite / "wf" / "noise.json").write_text((EXAMPLES / "noise-texture.json").read_text())
    record = suite / "noise-record.json"
    record.write_text(
        BaselineRecord(
            test_id="t::noise", outputs={}, workflow="wf/noise.json", inputs=[{"index": 2, "name": "Seed", "value": 8}]
        ).to_json()
    )
    assert main(["recall", str(record), "--rootdir", str(suite)]) == 1  # nothing sent: no server needed
    out = capsys.readouterr().out
    assert "nothing to recall: the workflow has no denoising node" in out
    assert (
        "not mapped: every form input (#0 'Width', #1 'Height', #2 'Seed', #3 'Noise amount', #4 'Blur radius')" in out
    )


def test_an_unknown_test_id_is_an_error_naming_the_closest(suite, capsys):
    assert main(["recall", "suite/test_sd15.py::test_t2i[Prompt=a red fax-Seed=2]", "--rootdir", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "no test id" in err and SD15_ID in err


def test_a_server_that_is_not_invokeai_is_named_as_such(suite, tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plain = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        assert main(["recall", SD15_ID, "--rootdir", str(suite), "--url", url]) == 2
    finally:
        plain.terminate()
        plain.wait(10)
    assert capsys.readouterr().err.strip() == (
        f"pytest-invokeai: error: {url} does not look like an InvokeAI server: GET /api/v1/app/version answered "
        "404 Not Found (is this the right port? InvokeAI listens on 9090 by default)"
    )
