"""Cases of a workflow: matrices, readable ids, marker arguments.

Expected values are written by hand from the workflows' forms:
- form-layout (tests/data/gui): #0 Width (64), #1 Height (48), #2 Value (the seed, 7), #3 Amount (0.25),
  #4 Radius (2.5), #5 Board;
- sdxl-text-to-image (tests/data/exports): #0 Model, #1 positive prompt, #2 negative prompt, #3 Width, #4 Height,
  #5 Steps, #6 CFG Scale, #7 Scheduler, #8 Board.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_invokeai.cases.spec import (
    CaseError,
    CaseSpec,
    case_id,
    check_models,
    check_outputs,
    check_timeout,
    expand_matrix,
    matrix_cases,
    merge_marker_kwargs,
    normalize_inputs,
    spec_from_marker,
    unique_ids,
)
from pytest_invokeai.errors import InputValueError
from pytest_invokeai.workflow.form import FormWarning, form_inputs
from pytest_invokeai.workflow.load import Workflow, load_workflow

FORM_LAYOUT = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"
WHERE = "tests/test_x.py::test_y"


@pytest.fixture(scope="module")
def form_layout() -> Workflow:
    return load_workflow(FORM_LAYOUT)


@pytest.fixture(scope="module")
def sdxl(gui_exports: Path) -> Workflow:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormWarning)
        return load_workflow(gui_exports / "sdxl-text-to-image.json")


# -- expanding a matrix ---------------------------------------------------------------------


def test_product_of_four_by_two_is_eight_rows_in_row_major_order() -> None:
    rows = expand_matrix({0: [32, 48, 64, 96], 2: [1, 2]}, "product", where=WHERE)
    assert rows == [
        {0: 32, 2: 1},
        {0: 32, 2: 2},
        {0: 48, 2: 1},
        {0: 48, 2: 2},
        {0: 64, 2: 1},
        {0: 64, 2: 2},
        {0: 96, 2: 1},
        {0: 96, 2: 2},
    ]


def test_product_is_the_default_and_three_inputs_multiply() -> None:
    rows = expand_matrix({0: [32, 64], 1: [16, 48], 2: [1, 2, 3]}, where=WHERE)
    assert len(rows) == 12
    assert rows[0] == {0: 32, 1: 16, 2: 1}
    assert rows[1] == {0: 32, 1: 16, 2: 2}
    assert rows[3] == {0: 32, 1: 48, 2: 1}
    assert rows[11] == {0: 64, 1: 48, 2: 3}


def test_zip_takes_the_nth_values_together() -> None:
    rows = expand_matrix({0: [32, 64, 96], 2: [1, 2, 3]}, "zip", where=WHERE)
    assert rows == [{0: 32, 2: 1}, {0: 64, 2: 2}, {0: 96, 2: 3}]


def test_zip_with_unequal_lengths_names_the_lengths() -> None:
    with pytest.raises(InputValueError) as caught:
        expand_matrix({0: [32, 64, 96], 2: [1, 2]}, "zip", where=WHERE)
    message = str(caught.value)
    assert message.startswith(WHERE)
    assert "equal length" in message
    assert "0: 3" in message
    assert "2: 2" in message


def test_a_bad_combine_lists_the_valid_ones() -> None:
    with pytest.raises(InputValueError, match=r"combine must be one of product, zip, got 'cartesian'"):
        expand_matrix({0: [1]}, "cartesian", where=WHERE)


def test_an_empty_matrix_is_an_error() -> None:
    with pytest.raises(InputValueError, match="non-empty mapping"):
        expand_matrix({}, where=WHERE)


@pytest.mark.parametrize("values", [64, "64", [], (), {"a": 1}, None], ids=repr)
def test_matrix_values_must_be_a_non_empty_list(values: object) -> None:
    with pytest.raises(InputValueError, match=r"matrix input 0 needs a non-empty list of values"):
        expand_matrix({0: values}, where=WHERE)


def test_tuples_are_lists_of_values_too() -> None:
    assert expand_matrix({4: (0.5, 1.5)}, where=WHERE) == [{4: 0.5}, {4: 1.5}]


def test_digit_string_keys_are_indices_and_other_strings_are_names() -> None:
    rows = expand_matrix({"2": [1], " 3 ": [0.5], "Radius": [1.0], "blur.radius#1": [2.0]}, where=WHERE)
    assert rows == [{2: 1, 3: 0.5, "Radius": 1.0, "blur.radius#1": 2.0}]
    assert normalize_inputs({"-1": 1, "²": 2}, where=WHERE) == {-1: 1, "²": 2}


def test_the_same_index_as_number_and_text_is_an_error() -> None:
    with pytest.raises(InputValueError, match="given twice"):
        expand_matrix({2: [1], "2": [2]}, where=WHERE)


@pytest.mark.parametrize("key", [True, 1.5, None, ("a",)], ids=repr)
def test_keys_must_be_indices_or_names(key: object) -> None:
    with pytest.raises(InputValueError, match="form index or display name"):
        normalize_inputs({key: 1}, where=WHERE)


def test_inputs_must_be_a_mapping() -> None:
    assert normalize_inputs(None, where=WHERE) == {}
    with pytest.raises(InputValueError, match=r"inputs must be a mapping \{index: value\}, got list"):
        normalize_inputs([1, 2], where=WHERE)  # type: ignore[arg-type]


# -- ids --------------------------------------------------------------------------------------


def test_ids_use_display_names_in_the_given_order(form_layout: Workflow) -> None:
    inputs = form_inputs(form_layout)
    assert case_id(inputs, {2: 1, 4: 2}) == "Value=1-Radius=2"
    assert case_id(inputs, {4: 2, 2: 1}) == "Radius=2-Value=1"
    assert case_id(inputs, {"Width": 64, "blur.radius": 0.5}) == "Width=64-Radius=0.5"
    assert case_id(inputs, {3: 2.0, 5: "none"}) == "Amount=2.0-Board=none"


def test_ids_of_the_sdxl_workflow(sdxl: Workflow) -> None:
    inputs = form_inputs(sdxl)
    assert case_id(inputs, {1: "a cat", 6: 7.5, 7: "euler"}) == "positive prompt=a cat-CFG Scale=7.5-Scheduler=euler"
    assert case_id(inputs, {"Steps": 20}) == "Steps=20"


def test_long_values_are_shortened_to_forty_characters(form_layout: Workflow) -> None:
    inputs = form_inputs(form_layout)
    forty = "abcdefghij" * 4
    assert case_id(inputs, {2: forty}) == "Value=" + forty
    assert case_id(inputs, {2: forty + "k"}) == "Value=abcdefghijabcdefghijabcdefghijabcdefg..."


def test_newlines_and_tabs_leave_ids(form_layout: Workflow) -> None:
    inputs = form_inputs(form_layout)
    assert case_id(inputs, {2: "a red\nfox\t in  snow\r\n"}) == "Value=a red fox in snow"
    assert case_id(inputs, {0: Path("/some/where/mask.png"), 1: b"\x00\x01\x02"}) == "Width=mask.png-Height=3-bytes"


def test_unknown_index_in_an_id_lists_the_inputs(form_layout: Workflow) -> None:
    with pytest.raises(InputValueError, match="no form input #6"):
        case_id(form_inputs(form_layout), {6: 1})


def spec(case_id: str) -> CaseSpec:
    return CaseSpec(workflow=Path("/w.json"), case_id=case_id)


def test_unique_ids_number_collisions() -> None:
    assert unique_ids([spec("a"), spec("a"), spec("b"), spec("a")]) == ["a", "a#2", "b", "a#3"]
    assert unique_ids([spec("x"), spec("y")]) == ["x", "y"]


def test_unique_ids_never_reuse_an_id_that_exists() -> None:
    assert unique_ids([spec("a"), spec("a"), spec("a#2")]) == ["a", "a#3", "a#2"]


# -- matrix cases of a workflow --------------------------------------------------------------


def full_base_case() -> CaseSpec:
    """A base case with every field set, so a matrix case shows which it kept."""
    return CaseSpec(
        workflow=FORM_LAYOUT,
        inputs={0: 64},
        outputs=("Output",),
        tolerance={"phash": 12},
        timeout=30.0,
        models=("tiny",),
        nodes=(FORM_LAYOUT.parent / "packs",),
    )


def test_matrix_cases_of_form_layout(form_layout: Workflow) -> None:
    base = full_base_case()
    cases = matrix_cases(form_layout, base, {2: [1, 2], "4": [0.5, 1.5]}, where=WHERE)
    assert [c.case_id for c in cases] == [
        "Value=1-Radius=0.5",
        "Value=1-Radius=1.5",
        "Value=2-Radius=0.5",
        "Value=2-Radius=1.5",
    ]
    assert [c.inputs for c in cases] == [
        {0: 64, 2: 1, 4: 0.5},
        {0: 64, 2: 1, 4: 1.5},
        {0: 64, 2: 2, 4: 0.5},
        {0: 64, 2: 2, 4: 1.5},
    ]
    for case in cases:
        assert (case.workflow, case.outputs, case.tolerance, case.timeout, case.models) == (
            FORM_LAYOUT,
            ("Output",),
            {"phash": 12},
            30.0,
            ("tiny",),
        )


def test_a_large_matrix_resolves_its_inputs_once_not_per_row(form_layout: Workflow, monkeypatch) -> None:
    # Collecting 10,000 cases must not look each input up 10,000 times (a probe: the real lookup runs).
    import pytest_invokeai.cases.spec as cases_module

    real, lookups = cases_module.resolve_input, []

    def counting(*args, **kwargs):
        lookups.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(cases_module, "resolve_input", counting)
    base = CaseSpec(workflow=FORM_LAYOUT, inputs={0: 64, 1: 48})
    cases = matrix_cases(form_layout, base, {2: list(range(1000)), "Radius": [0.5, 1.5]}, where=WHERE)
    assert len(cases) == 2000 and cases[-1].case_id == "Value=999-Radius=1.5"
    assert cases[-1].inputs == {0: 64, 1: 48, 2: 999, "Radius": 1.5}
    assert len(lookups) <= 6, lookups  # 2 matrix keys and 2 base keys (plus the names of the 2 matrix keys)


def test_integer_values_in_ids_are_shortened_like_any_other(form_layout: Workflow) -> None:
    inputs = form_inputs(form_layout)
    assert case_id(inputs, {2: -5}) == "Value=-5"
    assert case_id(inputs, {2: 10**39}) == "Value=1" + "0" * 39  # 40 characters: kept
    assert case_id(inputs, {2: -(10**39)}) == "Value=-" + "1" + "0" * 35 + "..."  # 41: shortened
    assert case_id(inputs, {2: True}) == "Value=True"


def test_a_matrix_case_equals_the_base_case_with_its_row_in_every_field(form_layout: Workflow) -> None:
    """Matrix cases are built field by field for speed; every field must be the base case's or the row's."""
    base = full_base_case()
    for matrix in ({2: [7]}, {2: [7], "4": [0.5]}):
        (case,) = matrix_cases(form_layout, base, matrix, where=WHERE)
        row = {2: 7} if len(matrix) == 1 else {2: 7, 4: 0.5}  # "4" names input 4
        expected_id = "Value=7" if len(matrix) == 1 else "Value=7-Radius=0.5"
        assert case == replace(base, inputs={0: 64, **row}, case_id=expected_id)
        assert vars(case) == vars(replace(base, inputs={0: 64, **row}, case_id=expected_id))


def test_matrix_cases_zipped(form_layout: Workflow) -> None:
    base = CaseSpec(workflow=FORM_LAYOUT)
    cases = matrix_cases(form_layout, base, {"Width": [32, 64], "Height": [16, 48]}, "zip", where=WHERE)
    assert [c.case_id for c in cases] == ["Width=32-Height=16", "Width=64-Height=48"]
    assert [c.inputs for c in cases] == [{"Width": 32, "Height": 16}, {"Width": 64, "Height": 48}]


def test_a_matrix_value_replaces_a_shared_value_given_by_another_name(form_layout: Workflow) -> None:
    base = CaseSpec(workflow=FORM_LAYOUT, inputs={"Value": 7, "blank.width": 32})
    cases = matrix_cases(form_layout, base, {2: [1, 2]}, where=WHERE)
    assert [c.inputs for c in cases] == [{"blank.width": 32, 2: 1}, {"blank.width": 32, 2: 2}]


def test_a_matrix_naming_one_input_twice_is_an_error(form_layout: Workflow) -> None:
    with pytest.raises(InputValueError, match=r"#2 'Value' \(seed.value\) is given twice, as 2 and as 'Value'"):
        matrix_cases(form_layout, CaseSpec(workflow=FORM_LAYOUT), {2: [1], "Value": [2]}, where=WHERE)


def test_unknown_index_in_a_matrix_lists_the_workflows_inputs(form_layout: Workflow) -> None:
    with pytest.raises(InputValueError) as caught:
        matrix_cases(form_layout, CaseSpec(workflow=FORM_LAYOUT), {9: [1, 2]}, where=WHERE)
    message = str(caught.value)
    assert message.startswith(WHERE)
    assert str(FORM_LAYOUT) in message
    assert "there is no form input #9" in message
    for listed in (
        "#0 'Width' (blank.width)",
        "#1 'Height' (blank.height)",
        "#2 'Value' (seed.value)",
        "#3 'Amount' (noise.amount)",
        "#4 'Radius' (blur.radius)",
        "#5 'Board' (save.board)",
    ):
        assert listed in message


def test_unknown_name_in_a_matrix_is_an_error(form_layout: Workflow) -> None:
    with pytest.raises(InputValueError, match="there is no form input named 'Seed'"):
        matrix_cases(form_layout, CaseSpec(workflow=FORM_LAYOUT), {"Seed": [1]}, where=WHERE)


def test_sdxl_matrix(sdxl: Workflow) -> None:
    base = CaseSpec(workflow=Path("/w/sdxl.json"), inputs={1: "a lighthouse"})
    cases = matrix_cases(sdxl, base, {5: [10, 20], "Scheduler": ["euler", "ddim"]}, where=WHERE)
    assert [c.case_id for c in cases] == [
        "Steps=10-Scheduler=euler",
        "Steps=10-Scheduler=ddim",
        "Steps=20-Scheduler=euler",
        "Steps=20-Scheduler=ddim",
    ]
    assert cases[3].inputs == {1: "a lighthouse", 5: 20, "Scheduler": "ddim"}


def test_long_prompts_that_shorten_alike_get_unique_ids(sdxl: Workflow) -> None:
    prompts = [
        "a very detailed photograph of a red fox in the snow",
        "a very detailed photograph of a red fox in the rain",
    ]
    cases = matrix_cases(sdxl, CaseSpec(workflow=Path("/w/sdxl.json")), {1: prompts}, where=WHERE)
    shortened = "positive prompt=a very detailed photograph of a red f..."
    assert [c.case_id for c in cases] == [shortened, shortened]
    assert unique_ids(cases) == [shortened, shortened + "#2"]


# -- marker arguments ------------------------------------------------------------------------


def test_closest_marker_wins_key_by_key() -> None:
    function_mark = ((), {"inputs": {2: 1}, "timeout": 5})
    class_mark = (("flows/a.json",), {"inputs": {0: 64}, "outputs": ["Output"]})
    module_mark = ((), {"workflow": "flows/b.json", "timeout": 60, "models": ["tiny"]})
    merged = merge_marker_kwargs([function_mark, class_mark, module_mark], where=WHERE)
    assert merged == {
        "workflow": "flows/a.json",
        "inputs": {2: 1},
        "timeout": 5,
        "outputs": ["Output"],
        "models": ["tiny"],
    }


def test_the_workflow_is_the_only_positional_argument() -> None:
    with pytest.raises(CaseError, match="only positional argument"):
        merge_marker_kwargs([(("a.json", "b.json"), {})], where=WHERE)
    with pytest.raises(CaseError, match="workflow twice"):
        merge_marker_kwargs([(("a.json",), {"workflow": "b.json"})], where=WHERE)


def test_unknown_marker_arguments_are_listed_with_the_valid_ones() -> None:
    with pytest.raises(CaseError) as caught:
        merge_marker_kwargs([(("a.json",), {"seeds": [1], "inptus": {}})], where=WHERE)
    assert str(caught.value) == (
        f"{WHERE}: @pytest.mark.invokeai got unknown argument(s) inptus, seeds; "
        "valid: workflow, inputs, matrix, combine, outputs, tolerance, timeout, models, nodes"
    )


def test_spec_from_marker_resolves_the_workflow_against_the_test_folder(tmp_path: Path) -> None:
    tests_dir = tmp_path / "project" / "tests"
    kwargs = {
        "workflow": "../workflows/form-layout.json",
        "inputs": {"2": 5, "Radius": 1.0},
        "outputs": ["Output"],
        "tolerance": {"phash": 12},
        "timeout": 30,
        "models": ["tiny-sd15"],
        "matrix": {0: [32, 64]},  # expanded elsewhere (matrix_cases), not part of the spec
    }
    spec = spec_from_marker(kwargs, base_dir=tests_dir, where=WHERE)
    assert spec == CaseSpec(
        workflow=tmp_path / "project" / "workflows" / "form-layout.json",
        inputs={2: 5, "Radius": 1.0},
        outputs=("Output",),
        tolerance={"phash": 12},
        timeout=30.0,
        models=("tiny-sd15",),
        case_id="",
    )
    assert (
        spec_from_marker({"workflow": Path("w.json")}, base_dir=tests_dir, where=WHERE).workflow == tests_dir / "w.json"
    )
    absolute = tmp_path / "elsewhere" / "w.json"
    assert spec_from_marker({"workflow": str(absolute)}, base_dir=tests_dir, where=WHERE).workflow == absolute


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, 'needs workflow="path/to/workflow.json"'),
        ({"workflow": ""}, 'needs workflow="path/to/workflow.json"'),
        ({"workflow": 3}, 'needs workflow="path/to/workflow.json"'),
        ({"workflow": "w.json", "tolerance": 12}, "tolerance must be a mapping"),
        ({"workflow": "w.json", "outputs": "Output"}, "outputs: a non-empty list of output node ids or labels"),
        ({"workflow": "w.json", "timeout": "30"}, "timeout: seconds, a number > 0, got '30'"),
        ({"workflow": "w.json", "models": "tiny"}, "models: a list of model names, got 'tiny'"),
        ({"workflow": "w.json", "inputs": [1]}, "inputs must be a mapping"),
    ],
)
def test_bad_marker_arguments_name_the_test_and_the_argument(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises((CaseError, InputValueError)) as caught:
        spec_from_marker(kwargs, base_dir=tmp_path, where=WHERE)
    assert str(caught.value).startswith(WHERE)
    assert message in str(caught.value)


@pytest.mark.parametrize("value", [0, -1, True, float("nan"), float("inf"), "30", [30]], ids=repr)
def test_check_timeout_refuses(value: object) -> None:
    with pytest.raises(CaseError, match="a number > 0"):
        check_timeout(value, "here")


def test_checks_accept_good_values() -> None:
    assert check_timeout(None, "here") is None
    assert check_timeout(2, "here") == 2.0
    assert check_outputs(None, "here") is None
    assert check_outputs(("Output", "save"), "here") == ("Output", "save")
    assert check_models(None, "here") == ()
    assert check_models(["tiny-sd15"], "here") == ("tiny-sd15",)


@pytest.mark.parametrize("value", [[], [""], ["Output", 3], "Output"], ids=repr)
def test_check_outputs_refuses(value: object) -> None:
    with pytest.raises(CaseError, match="non-empty list of output node ids or labels"):
        check_outputs(value, "here")


@pytest.mark.parametrize("value", [[""], [3], "tiny", {"tiny": 1}], ids=repr)
def test_check_models_refuses(value: object) -> None:
    with pytest.raises(CaseError, match="a list of model names"):
        check_models(value, "here")
