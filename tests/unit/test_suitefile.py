"""Suite files (``*.invokeai.toml``): cases written in TOML, and an error for every mistake naming file and key.

The workflow is tests/data/gui/form-layout.workflow.json, whose form is (by hand): #0 Width, #1 Height,
#2 Value (the seed), #3 Amount, #4 Radius, #5 Board.
"""

from __future__ import annotations

import shutil
import textwrap
import warnings
from pathlib import Path

import pytest

from pytest_invokeai.cases.spec import CaseError
from pytest_invokeai.cases.suite_file import (
    SuiteFileError,
    is_suite_file,
    load_suite_file,
)
from pytest_invokeai.errors import InputValueError
from pytest_invokeai.workflow.form import FormWarning

FORM_LAYOUT = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"
WORKFLOW_LINE = 'workflow = "workflows/form-layout.json"\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "workflows").mkdir()
    shutil.copy(FORM_LAYOUT, tmp_path / "workflows" / "form-layout.json")
    return tmp_path


def write(folder: Path, text: str, name: str = "noise.invokeai.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_full_suite_file(project: Path) -> None:
    path = write(
        project,
        """
        workflow = "workflows/form-layout.json"
        outputs = ["Output"]
        timeout = 120
        models = ["tiny-sd15"]

        [tolerance]
        phash = 0.15

        [inputs]
        0 = 64
        1 = 48

        [[case]]
        id = "small"
        inputs = { 0 = 32 }

        [[case]]
        id = "blurry, v2"
        inputs = { 4 = 5.0, "Value" = 3 }
        timeout = 30
        outputs = ["save"]
        tolerance = { ssim = 0.1 }

        [matrix]
        combine = "zip"
        2 = [1, 2]
        3 = [0.1, 0.9]
        """,
    )
    suite = load_suite_file(path)
    workflow = project / "workflows" / "form-layout.json"
    assert suite.path == path
    assert suite.workflow.name == "form-layout"
    assert [c.case_id for c in suite.cases] == ["small", "blurry, v2", "[Value=1-Amount=0.1]", "[Value=2-Amount=0.9]"]
    assert [c.inputs for c in suite.cases] == [
        {0: 32, 1: 48},
        {0: 64, 1: 48, 4: 5.0, "Value": 3},
        {0: 64, 1: 48, 2: 1, 3: 0.1},
        {0: 64, 1: 48, 2: 2, 3: 0.9},
    ]
    assert [c.timeout for c in suite.cases] == [120.0, 30.0, 120.0, 120.0]
    assert [c.outputs for c in suite.cases] == [("Output",), ("save",), ("Output",), ("Output",)]
    assert [c.tolerance for c in suite.cases] == [
        {"phash": 0.15},
        {"phash": 0.15, "ssim": 0.1},
        {"phash": 0.15},
        {"phash": 0.15},
    ]
    assert all(c.workflow == workflow for c in suite.cases)
    assert all(c.models == ("tiny-sd15",) for c in suite.cases)


def test_matrix_product_is_the_default_and_ids_are_bracketed(project: Path) -> None:
    path = write(project, WORKFLOW_LINE + '[matrix]\n2 = [1, 2]\n"Radius" = [0.5, 1.5]\n')
    suite = load_suite_file(path)
    assert [c.case_id for c in suite.cases] == [
        "[Value=1-Radius=0.5]",
        "[Value=1-Radius=1.5]",
        "[Value=2-Radius=0.5]",
        "[Value=2-Radius=1.5]",
    ]
    assert suite.cases[1].inputs == {2: 1, "Radius": 1.5}
    assert suite.cases[0].outputs is None
    assert suite.cases[0].timeout is None
    assert suite.cases[0].models == ()


def test_a_one_input_matrix(project: Path) -> None:
    suite = load_suite_file(write(project, WORKFLOW_LINE + "[matrix]\n2 = [1]\n"))
    assert [c.case_id for c in suite.cases] == ["[Value=1]"]


def test_case_and_matrix_values_replace_shared_ones_given_by_another_name(project: Path) -> None:
    path = write(
        project,
        WORKFLOW_LINE
        + """
        [inputs]
        "Value" = 7
        "blank.width" = 32

        [[case]]
        id = "seeded"
        inputs = { 2 = 9 }

        [matrix]
        0 = [16, 48]
        """,
    )
    suite = load_suite_file(path)
    assert [c.inputs for c in suite.cases] == [
        {"blank.width": 32, 2: 9},
        {"Value": 7, 0: 16},
        {"Value": 7, 0: 48},
    ]


def test_the_workflow_path_is_relative_to_the_suite_file(project: Path) -> None:
    path = write(
        project, 'workflow = "../workflows/form-layout.json"\n[[case]]\nid = "a"\n', name="suites/deep.invokeai.toml"
    )
    suite = load_suite_file(path)
    assert suite.cases[0].workflow == project / "workflows" / "form-layout.json"


def test_long_matrix_values_that_shorten_alike_get_numbered_ids(project: Path, gui_exports: Path) -> None:
    shutil.copy(gui_exports / "sdxl-text-to-image.json", project / "workflows" / "sdxl.json")
    path = write(
        project,
        """
        workflow = "workflows/sdxl.json"
        [matrix]
        1 = ["a very detailed photograph of a red fox in the snow", "a very detailed photograph of a red fox in the rain"]
        """,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormWarning)
        suite = load_suite_file(path)
    assert [c.case_id for c in suite.cases] == [
        "[positive prompt=a very detailed photograph of a red f...]",
        "[positive prompt=a very detailed photograph of a red f...#2]",
    ]


def test_a_missing_workflow_file_names_the_suite_file_the_key_and_the_path(project: Path) -> None:
    path = write(project, 'workflow = "workflows/missing.json"\n[[case]]\nid = "a"\n')
    with pytest.raises(SuiteFileError) as caught:
        load_suite_file(path)
    assert str(caught.value) == (
        f"{path}: workflow = 'workflows/missing.json': {project / 'workflows' / 'missing.json'}: no such file"
    )


def test_a_broken_workflow_gives_the_loaders_error(project: Path) -> None:
    (project / "workflows" / "broken.json").write_text("[1, 2]", encoding="utf-8")
    path = write(project, 'workflow = "workflows/broken.json"\n[[case]]\nid = "a"\n')
    with pytest.raises(SuiteFileError) as caught:
        load_suite_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: workflow = 'workflows/broken.json': {project / 'workflows' / 'broken.json'}")
    assert "expected a JSON object, found list" in message


def test_an_unreadable_suite_file(project: Path) -> None:
    folder = project / "dir.invokeai.toml"
    folder.mkdir()
    with pytest.raises(SuiteFileError, match="cannot read it"):
        load_suite_file(folder)


# Each: the file's text, and what its error must say besides the file's path.
ERRORS = {
    "bad-toml": ('workflow = "workflows/form-layout.json\n', ["not valid TOML", "line 1"]),
    "unknown-top-key": (
        WORKFLOW_LINE + 'output = ["Output"]\n[[case]]\nid = "a"\n',
        [
            "unknown key(s) output; valid keys: case, inputs, matrix, models, nodes, outputs, timeout, tolerance, workflow"
        ],
    ),
    "no-workflow": ('[[case]]\nid = "a"\n', ['needs `workflow = "path/to/workflow.json"` (relative to this file)']),
    "workflow-not-text": ('workflow = 3\n[[case]]\nid = "a"\n', ["needs `workflow = "]),
    "case-without-id": (WORKFLOW_LINE + "[[case]]\ninputs = { 0 = 32 }\n", ["[[case]] #1: needs an `id`", "got None"]),
    "case-id-not-text": (WORKFLOW_LINE + "[[case]]\nid = 3\n", ["[[case]] #1: needs an `id`", "got 3"]),
    "case-id-with-slash": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\n[[case]]\nid = "a/b"\n',
        ["[[case]] #2: needs an `id`", "'a/b'"],
    ),
    "case-id-starting-with-dash": (WORKFLOW_LINE + '[[case]]\nid = "-a"\n', ["[[case]] #1: needs an `id`", "'-a'"]),
    "case-id-with-newline": (WORKFLOW_LINE + '[[case]]\nid = "a\\n"\n', ["[[case]] #1: needs an `id`", "'a\\n'"]),
    "case-id-with-brackets": (WORKFLOW_LINE + '[[case]]\nid = "[Value=1]"\n', ["[[case]] #1: needs an `id`"]),
    "duplicate-ids": (
        WORKFLOW_LINE + '[[case]]\nid = "small"\n[[case]]\nid = "big"\n[[case]]\nid = "small"\n',
        ["case ids must be unique; repeated: small"],
    ),
    "unknown-case-key": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\ninput = { 0 = 32 }\n',
        ["[[case]] #1: unknown key(s) input; valid keys: id, inputs, outputs, timeout, tolerance"],
    ),
    "models-in-a-case": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\nmodels = ["x"]\n',
        ["[[case]] #1: unknown key(s) models"],
    ),
    "timeout-zero": (WORKFLOW_LINE + 'timeout = 0\n[[case]]\nid = "a"\n', ["timeout: seconds, a number > 0, got 0"]),
    "timeout-text": (
        WORKFLOW_LINE + 'timeout = "2m"\n[[case]]\nid = "a"\n',
        ["timeout: seconds, a number > 0, got '2m'"],
    ),
    "case-timeout": (
        WORKFLOW_LINE + '[[case]]\nid = "quick"\ntimeout = -1\n',
        ["[[case]] #1 (quick): timeout: seconds, a number > 0, got -1"],
    ),
    "outputs-not-a-list": (WORKFLOW_LINE + 'outputs = "Output"\n[[case]]\nid = "a"\n', ["outputs: a non-empty list"]),
    "outputs-empty": (WORKFLOW_LINE + 'outputs = []\n[[case]]\nid = "a"\n', ["outputs: a non-empty list"]),
    "case-outputs": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\noutputs = [1]\n',
        ["[[case]] #1 (a): outputs: a non-empty list"],
    ),
    "models-not-a-list": (
        WORKFLOW_LINE + 'models = "tiny"\n[[case]]\nid = "a"\n',
        ["models: a list of model names, got 'tiny'"],
    ),
    "inputs-not-a-table": (
        WORKFLOW_LINE + 'inputs = 3\n[[case]]\nid = "a"\n',
        ["`inputs` must be a table ([inputs]), got int"],
    ),
    "tolerance-not-a-table": (WORKFLOW_LINE + 'tolerance = 3\n[[case]]\nid = "a"\n', ["`tolerance` must be a table"]),
    "case-tolerance-not-a-table": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\ntolerance = 12\n',
        ["[[case]] #1 (a): tolerance must be a table like { phash = 0.15 }, got 12"],
    ),
    "case-not-an-array-of-tables": (WORKFLOW_LINE + "case = 3\n", ["cases are written as [[case]] tables"]),
    "matrix-not-a-table": (WORKFLOW_LINE + "matrix = [1, 2]\n", ["`matrix` must be a table ([matrix]), got list"]),
    "matrix-bad-combine": (
        WORKFLOW_LINE + '[matrix]\ncombine = "cross"\n2 = [1, 2]\n',
        ["[matrix] combine must be one of product, zip, got 'cross'"],
    ),
    "matrix-only-combine": (
        WORKFLOW_LINE + '[matrix]\ncombine = "zip"\n',
        ["[matrix]: a matrix is a non-empty mapping"],
    ),
    "matrix-zip-unequal": (
        WORKFLOW_LINE + '[matrix]\ncombine = "zip"\n2 = [1, 2, 3]\n4 = [0.5, 1.5]\n',
        ["[matrix]: a zipped matrix needs lists of equal length; got 2: 3, 4: 2"],
    ),
    "matrix-value-not-a-list": (
        WORKFLOW_LINE + "[matrix]\n2 = 5\n",
        ["[matrix]: matrix input 2 needs a non-empty list"],
    ),
    "matrix-unknown-index": (
        WORKFLOW_LINE + "[matrix]\n9 = [1, 2]\n",
        ["[matrix]", "there is no form input #9", "#0 'Width' (blank.width)", "#5 'Board' (save.board)"],
    ),
    "shared-unknown-index": (
        WORKFLOW_LINE + '[inputs]\n6 = 1\n[[case]]\nid = "a"\n',
        ["[inputs]: there is no form input #6", "#4 'Radius' (blur.radius)"],
    ),
    "case-unknown-name": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\ninputs = { "Seed" = 1 }\n',
        ["[[case]] #1 (a): inputs: there is no form input named 'Seed'", "#2 'Value' (seed.value)"],
    ),
    "case-inputs-not-a-table": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\ninputs = [1]\n',
        ["[[case]] #1 (a): inputs: inputs must be a mapping"],
    ),
    "one-input-twice-in-a-case": (
        WORKFLOW_LINE + '[[case]]\nid = "a"\ninputs = { 2 = 1, "Value" = 2 }\n',
        ["[[case]] #1 (a): inputs: input #2 'Value' (seed.value) is given twice, as 2 and as 'Value'"],
    ),
    "no-cases": (WORKFLOW_LINE + "timeout = 10\n", ["has no cases: add [[case]] tables or a [matrix]"]),
}


@pytest.mark.parametrize(("text", "expected"), list(ERRORS.values()), ids=list(ERRORS))
def test_every_mistake_names_the_file_and_the_key(project: Path, text: str, expected: list[str]) -> None:
    path = write(project, text)
    with pytest.raises((CaseError, InputValueError)) as caught:  # CaseError includes SuiteFileError
        load_suite_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("colors.invokeai.toml", True),
        ("a.b.invokeai.toml", True),
        (".invokeai.toml", False),
        ("colors.toml", False),
        ("colors.invokeai.toml.bak", False),
        ("colors.invokeai.json", False),
    ],
)
def test_is_suite_file(name: str, expected: bool) -> None:
    assert is_suite_file(Path("suites") / name) is expected
