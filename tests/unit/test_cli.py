"""The ``pytest-invokeai`` command: exit codes, stdout JSON, stderr messages.

The commands run in this process (``run_cli``); a few tests at the end start the real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CliResult, custom_node_schema, run_cli
from PIL import Image
from PIL.PngImagePlugin import PngInfo

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2


def cli(*args: str | Path) -> CliResult:
    """The command run in this process (fast); the tests at the end of the file start the real one."""
    return run_cli(*args)


def real_cli(*args: str | Path, program: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a real subprocess, ``python -m pytest_invokeai.cli`` unless another program is given."""
    return subprocess.run(
        [*(program or [sys.executable, "-m", "pytest_invokeai.cli"]), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean_error(result: CliResult | subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2, the message on stderr (a few lines, no traceback), nothing on stdout."""
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert 0 < len(result.stderr.strip().splitlines()) <= 4, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture
def sdxl_path(gui_exports: Path) -> Path:
    return gui_exports / "sdxl-text-to-image.json"


@pytest.fixture
def sdxl(sdxl_path: Path) -> dict:
    return json.loads(sdxl_path.read_text())


def form_fields_of_export(doc: dict) -> list[tuple[str, str]]:
    """The form's (node id, field name) pairs in order, read straight from the export (a flat form)."""
    elements = doc["form"]["elements"]
    return [
        (elements[c]["data"]["fieldIdentifier"]["nodeId"], elements[c]["data"]["fieldIdentifier"]["fieldName"])
        for c in elements["root"]["data"]["children"]
    ]


def write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def write_png(path: Path, text_chunks: dict[str, str]) -> Path:
    info = PngInfo()
    for key, value in text_chunks.items():
        info.add_text(key, value)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path, pnginfo=info)
    return path


# -- usage -----------------------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    result = cli("--help")
    assert result.returncode == EXIT_OK
    for command in ("inputs", "graph", "drift"):
        assert command in result.stdout


def test_no_command_prints_help_and_exits_2() -> None:
    result = cli()
    assert result.returncode == EXIT_USAGE
    assert "usage: pytest-invokeai" in result.stderr


def test_drift_without_an_action_prints_its_help_and_exits_2() -> None:
    result = cli("drift")
    assert result.returncode == EXIT_USAGE
    assert "export" in result.stderr and "check" in result.stderr


def test_an_unknown_option_is_a_usage_error(sdxl_path: Path) -> None:
    result = cli("inputs", sdxl_path, "--frobnicate")
    assert result.returncode == EXIT_USAGE
    assert "unrecognized arguments: --frobnicate" in result.stderr


# -- inputs --------------------------------------------------------------------------------


def test_inputs_json_lists_the_form_in_order(sdxl_path: Path, sdxl: dict) -> None:
    result = cli("inputs", sdxl_path, "--json")
    assert result.returncode == EXIT_OK, result.stderr
    listed = json.loads(result.stdout)
    expected_fields = form_fields_of_export(sdxl)
    assert [(i["node_id"], i["field_name"]) for i in listed] == expected_fields
    assert [i["index"] for i in listed] == list(range(len(expected_fields)))
    nodes = {n["id"]: n for n in sdxl["nodes"]}
    for item in listed:
        assert {
            "index",
            "node_id",
            "node_type",
            "field_name",
            "label",
            "kind",
            "value",
            "display_name",
            "identity",
        } <= set(item)
        node = nodes[item["node_id"]]
        assert item["node_type"] == node["data"]["type"]
        assert item["label"] == node["data"]["inputs"][item["field_name"]].get("label", "")
        assert item["identity"] == f"{item['node_id']}.{item['field_name']}"
    width = next(i for i in listed if i["field_name"] == "width")
    assert width["kind"] == "integer"
    assert width["value"] == nodes[width["node_id"]]["data"]["inputs"]["width"]["value"]


def test_inputs_table_has_one_row_per_input(sdxl_path: Path, sdxl: dict) -> None:
    result = cli("inputs", sdxl_path)
    assert result.returncode == EXIT_OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["INDEX", "NAME", "KIND", "VALUE", "IDENTITY"]
    fields = form_fields_of_export(sdxl)
    assert len(lines) == 1 + len(fields)
    for index, (line, (node_id, field_name)) in enumerate(zip(lines[1:], fields, strict=True)):
        assert line.split()[0] == str(index)
        assert line.endswith(f"{node_id}.{field_name}")


def test_inputs_of_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert_clean_error(cli("inputs", missing), str(missing), "no such file")


def test_inputs_of_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x",')
    assert_clean_error(cli("inputs", path), str(path), "not valid JSON")


def test_load_warnings_go_to_stderr(tmp_path: Path, sdxl: dict) -> None:
    node_id, field_name = form_fields_of_export(sdxl)[0]
    sdxl["nodes"] = [n for n in sdxl["nodes"] if n["id"] != node_id]
    sdxl["edges"] = [e for e in sdxl["edges"] if node_id not in (e["source"], e["target"])]
    path = write_json(tmp_path / "dangling.json", sdxl)

    result = cli("inputs", path, "--json")

    assert result.returncode == EXIT_OK, result.stderr
    assert "warning:" in result.stderr and f"{node_id}.{field_name}" in result.stderr
    assert len(json.loads(result.stdout)) == len(form_fields_of_export(sdxl)) - 1


# -- PNG workflows -------------------------------------------------------------------------------


def test_a_png_with_an_embedded_workflow_reads_like_the_export(tmp_path: Path, sdxl_path: Path) -> None:
    png = write_png(tmp_path / "made-by-invokeai.png", {"invokeai_workflow": sdxl_path.read_text()})
    from_png = cli("inputs", png, "--json")
    from_json = cli("inputs", sdxl_path, "--json")
    assert from_png.returncode == EXIT_OK, from_png.stderr
    assert json.loads(from_png.stdout) == json.loads(from_json.stdout)


def test_a_png_without_a_workflow(tmp_path: Path) -> None:
    png = write_png(tmp_path / "plain.png", {"Software": "paint"})
    assert_clean_error(cli("inputs", png), str(png), "no embedded workflow", "Software")


# -- graph --------------------------------------------------------------------------------------


def test_graph_sets_inputs_by_index_name_and_identity(sdxl_path: Path, sdxl: dict) -> None:
    inputs = json.loads(cli("inputs", sdxl_path, "--json").stdout)
    width = next(i for i in inputs if i["field_name"] == "width")
    height = next(i for i in inputs if i["field_name"] == "height")
    steps = next(i for i in inputs if i["field_name"] == "steps")

    result = cli(
        "graph",
        sdxl_path,
        "--json",
        "--set",
        f"{width['index']}=512",
        "--set",
        f"{height['identity']}=640",
        "--set",
        f"{steps['display_name']}=7",
    )

    assert result.returncode == EXIT_OK, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1  # --json is one line for machines
    graph_nodes = json.loads(result.stdout)["batch"]["graph"]["nodes"]
    assert graph_nodes[width["node_id"]]["width"] == 512
    assert graph_nodes[height["node_id"]]["height"] == 640
    assert graph_nodes[steps["node_id"]]["steps"] == 7


def test_graph_default_output_is_indented_json(sdxl_path: Path) -> None:
    result = cli("graph", sdxl_path)
    assert result.returncode == EXIT_OK, result.stderr
    assert len(result.stdout.splitlines()) > 10
    assert "graph" in json.loads(result.stdout)["batch"]


def test_graph_board_option(sdxl_path: Path, sdxl: dict) -> None:
    board_node = next(n["id"] for n in sdxl["nodes"] if "board" in n["data"]["inputs"])
    result = cli("graph", sdxl_path, "--json", "--board", "my-board-id")
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["batch"]["graph"]["nodes"][board_node]["board"] == {"board_id": "my-board-id"}


def test_graph_with_an_index_that_does_not_exist_lists_the_valid_ones(sdxl_path: Path, sdxl: dict) -> None:
    count = len(form_fields_of_export(sdxl))
    result = cli("graph", sdxl_path, "--set", f"{count + 5}=1")
    assert_clean_error(result, str(sdxl_path), f"#{count + 5}", "valid inputs")
    for index, (node_id, field_name) in enumerate(form_fields_of_export(sdxl)):
        assert f"#{index} " in result.stderr and f"{node_id}.{field_name}" in result.stderr


def test_graph_with_a_value_of_the_wrong_kind(sdxl_path: Path) -> None:
    inputs = json.loads(cli("inputs", sdxl_path, "--json").stdout)
    width = next(i for i in inputs if i["field_name"] == "width")
    result = cli("graph", sdxl_path, "--set", f"{width['index']}=wide")
    assert_clean_error(result, "'wide'", width["display_name"])


def test_graph_set_without_equals_is_a_usage_error(sdxl_path: Path) -> None:
    result = cli("graph", sdxl_path, "--set", "3")
    assert result.returncode == EXIT_USAGE
    assert "expected INPUT=VALUE" in result.stderr and "usage:" in result.stderr


def test_graph_setting_one_input_twice_is_an_error(sdxl_path: Path) -> None:
    inputs = json.loads(cli("inputs", sdxl_path, "--json").stdout)
    width = next(i for i in inputs if i["field_name"] == "width")
    same_key = cli("graph", sdxl_path, "--set", f"{width['index']}=512", "--set", f"{width['index']}=640")
    assert_clean_error(same_key, f"--set {width['index']}=... is given twice ('512' and '640')")
    two_keys = cli("graph", sdxl_path, "--set", f"{width['index']}=512", "--set", f"{width['identity']}=640")
    assert_clean_error(two_keys, "given two different values", width["identity"])


# -- drift ----------------------------------------------------------------------------------------


def test_drift_export_then_check_an_unchanged_workflow(tmp_path: Path, sdxl_path: Path) -> None:
    index_map = tmp_path / "sdxl.map.json"
    exported = cli("drift", "export", sdxl_path, "-o", index_map)
    assert exported.returncode == EXIT_OK, exported.stderr
    assert str(index_map) in exported.stdout
    assert json.loads(index_map.read_text())["workflow_name"] == "sdxl-text-to-image"

    checked = cli("drift", "check", sdxl_path, index_map)
    assert checked.returncode == EXIT_OK, checked.stderr
    assert checked.stdout.startswith("no drift")


def test_drift_check_finds_a_moved_input_and_exits_1(tmp_path: Path, sdxl_path: Path, sdxl: dict) -> None:
    index_map = tmp_path / "sdxl.map.json"
    assert cli("drift", "export", sdxl_path, "-o", index_map).returncode == EXIT_OK
    children = sdxl["form"]["elements"]["root"]["data"]["children"]
    children[0], children[1] = children[1], children[0]
    edited = write_json(tmp_path / "edited.json", sdxl)

    text = cli("drift", "check", edited, index_map)
    assert text.returncode == EXIT_DRIFT, text.stderr
    assert "index 0 '" in text.stdout and "' moved to 1" in text.stdout

    as_json = cli("drift", "check", edited, index_map, "--json")
    assert as_json.returncode == EXIT_DRIFT
    report = json.loads(as_json.stdout)
    assert report["has_drift"] is True
    assert [(m["from"], m["to"]) for m in report["moved"]] == [(0, 1), (1, 0)]


def test_drift_check_with_an_unreadable_map(tmp_path: Path, sdxl_path: Path) -> None:
    bad_map = tmp_path / "map.json"
    bad_map.write_text(json.dumps({"format": "pytest-invokeai index map", "format_version": 7, "inputs": []}))
    assert_clean_error(cli("drift", "check", sdxl_path, bad_map), str(bad_map), "format_version 7")


def test_drift_export_needs_an_output(sdxl_path: Path) -> None:
    result = cli("drift", "export", sdxl_path)
    assert result.returncode == EXIT_USAGE
    assert "-o/--output" in result.stderr


# -- in-process: what a subprocess cannot easily provoke ------------------------------------------


def test_a_bug_exits_3_with_the_traceback_never_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sdxl_path: Path
) -> None:
    import pytest_invokeai.cli.inputs as inputs_command
    from pytest_invokeai.cli import main

    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(inputs_command, "run", broken)
    assert main(["inputs", str(sdxl_path)]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "internal error" in err


# -- custom nodes: a schema file of the user's own server -------------------------------------


def test_a_schema_file_makes_custom_nodes_known(tmp_path: Path) -> None:
    workflow = Path(__file__).parents[1] / "data" / "workflows" / "form-nested.json"
    guessed = cli("inputs", workflow, "--json")
    assert guessed.returncode == EXIT_OK
    assert "my_custom_sharpen" in guessed.stderr, "without a schema the kind is guessed, and the user is told"

    schema_file = custom_schema_file(tmp_path)
    known = cli("--schema", schema_file, "inputs", workflow, "--json")
    assert known.returncode == EXIT_OK, known.stderr
    assert "my_custom_sharpen" not in known.stderr
    (strength,) = [i for i in json.loads(known.stdout) if i["field_name"] == "strength"]
    assert strength["display_name"] == "Sharpen strength"
    bad = cli("--schema", schema_file, "graph", workflow, "--set", "custom:1.strength=1.5")
    assert_clean_error(bad, "1.5 is out of bounds: must be >= 0 and <= 1")


def test_a_missing_schema_file_is_named(tmp_path: Path, sdxl_path: Path) -> None:
    result = cli("--schema", tmp_path / "nope.json", "inputs", sdxl_path)
    assert_clean_error(result, f"{tmp_path / 'nope.json'}: cannot read the schema snapshot")


def custom_schema_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "my-nodes.schema.json", custom_node_schema())


def test_the_schema_flag_is_passed_to_the_command_not_written_to_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_invokeai.cli import main

    workflow = Path(__file__).parents[1] / "data" / "workflows" / "form-nested.json"
    before = dict(os.environ)
    assert main(["--schema", str(custom_schema_file(tmp_path)), "inputs", str(workflow), "--json"]) == EXIT_OK
    assert dict(os.environ) == before
    (strength,) = [i for i in json.loads(capsys.readouterr().out) if i["field_name"] == "strength"]
    assert strength["display_name"] == "Sharpen strength"  # the file's title: the command used it
    assert main(["inputs", str(workflow), "--json"]) == EXIT_OK  # and the next command in this process does not
    (strength,) = [i for i in json.loads(capsys.readouterr().out) if i["field_name"] == "strength"]
    assert strength["display_name"] != "Sharpen strength"


def test_the_schema_environment_variable_still_selects_a_schema_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_invokeai.cli import main

    monkeypatch.setenv("PYTEST_INVOKEAI_SCHEMA", str(custom_schema_file(tmp_path)))
    workflow = Path(__file__).parents[1] / "data" / "workflows" / "form-nested.json"
    assert main(["inputs", str(workflow), "--json"]) == EXIT_OK
    (strength,) = [i for i in json.loads(capsys.readouterr().out) if i["field_name"] == "strength"]
    assert strength["display_name"] == "Sharpen strength"


# -- the real process: kept as subprocesses on purpose --------------------------------------------
# Every test above runs the command in this process (fast); these few start the real program, so the
# entry points, the exit code a shell sees and what lands on a real stderr stay tested.


def test_the_real_module_entry_point_prints_json_and_exits_0(sdxl_path: Path, sdxl: dict) -> None:
    result = real_cli("inputs", sdxl_path, "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert len(json.loads(result.stdout)) == len(form_fields_of_export(sdxl))


def test_the_real_process_reports_a_usage_error_on_stderr_and_exits_2(tmp_path: Path) -> None:
    assert_clean_error(real_cli("inputs", tmp_path / "nope.json"), str(tmp_path / "nope.json"))


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).with_name("pytest-invokeai")
    if not script.exists():
        pytest.skip(f"no pytest-invokeai console script beside {sys.executable}")
    result = real_cli(program=[str(script)])
    assert result.returncode == EXIT_USAGE
    assert "usage: pytest-invokeai" in result.stderr
