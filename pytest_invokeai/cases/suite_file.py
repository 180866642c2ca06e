"""Suite files: test cases of one workflow written in TOML, with no Python at all.

A file named ``*.invokeai.toml`` beside the workflows::

    workflow = "workflows/color-blocks.json"   # relative to this file
    outputs = ["Output"]                       # optional: node ids or labels to compare
    timeout = 120                              # optional: seconds per generation
    models = ["tiny-sd15"]                     # optional: models the managed server installs
    nodes = ["nodes"]                          # optional: node pack folders the managed server loads

    [tolerance]                                # optional: {signal = max} or {output = {signal = max}}
    phash = 0.15

    [inputs]                                   # shared by every case, by form index (or display name)
    0 = 64

    [[case]]                                   # one test per case; the id is yours
    id = "small"
    inputs = { 1 = 32 }

    [matrix]                                   # and/or a matrix: one test per combination
    combine = "product"                        # or "zip"
    2 = [1, 2, 3]

Every case becomes a test item, ``colors.invokeai.toml::small`` or ``colors.invokeai.toml::[Seed=1]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_invokeai.cases.spec import (
    COMBINE_MODES,
    CaseError,
    CaseSpec,
    check_models,
    check_nodes,
    check_outputs,
    check_timeout,
    matrix_cases,
    normalize_inputs,
    override_inputs,
    unique_ids,
)
from pytest_invokeai.errors import WorkflowError
from pytest_invokeai.workflow.form import FormInput, form_inputs

if TYPE_CHECKING:  # the plugin imports this module in every pytest run; the loader waits for a suite file
    from pytest_invokeai.workflow.load import Workflow

SUFFIX = ".invokeai.toml"
TOP_KEYS = {"workflow", "outputs", "timeout", "models", "nodes", "tolerance", "inputs", "case", "matrix"}
CASE_KEYS = {"id", "inputs", "outputs", "timeout", "tolerance"}
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.,=+@-]*$")


class SuiteFileError(CaseError):
    """A suite file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    workflow: Workflow
    cases: list[CaseSpec]


def is_suite_file(path: Path) -> bool:
    return path.name.endswith(SUFFIX) and len(path.name) > len(SUFFIX)


def load_suite_file(path: Path, *, load: Callable[[Path], Workflow] | None = None) -> SuiteFile:
    """The suite file at ``path``; ``load`` reads its workflow (the run's, with the run's node schema;
    by default :func:`~pytest_invokeai.workflow.load.load_workflow`)."""
    import tomllib

    if load is None:
        from pytest_invokeai.workflow.load import load_workflow

        load = load_workflow
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteFileError(f"not valid TOML: {exc}", source=where) from None
    except OSError as exc:
        raise SuiteFileError(f"cannot read it: {exc.strerror}", source=where) from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise SuiteFileError(
            f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(TOP_KEYS))}", source=where
        )
    if not isinstance(data.get("workflow"), str) or not data["workflow"].strip():
        raise SuiteFileError('needs `workflow = "path/to/workflow.json"` (relative to this file)', source=where)
    workflow_path = (path.parent / data["workflow"]).resolve()
    try:
        workflow = load(workflow_path)
    except WorkflowError as exc:  # the loader names the resolved path; say which line of this file led there
        raise SuiteFileError(f"workflow = {data['workflow']!r}: {exc}", source=where) from None
    inputs = form_inputs(workflow)
    shared = normalize_inputs(_table(data, "inputs", where), where=f"{where}: [inputs]", base_dir=path.parent)
    base = CaseSpec(
        workflow=workflow_path,
        inputs=override_inputs(inputs, {}, shared, source=f"{where}: [inputs]"),
        outputs=check_outputs(data.get("outputs"), f"{where}: outputs"),
        tolerance=_table(data, "tolerance", where),
        timeout=check_timeout(data.get("timeout"), f"{where}: timeout"),
        models=check_models(data.get("models"), f"{where}: models"),
        nodes=check_nodes(data.get("nodes"), f"{where}: nodes", path.parent),
    )
    cases = [_case(entry, n, base, inputs, where, path.parent) for n, entry in enumerate(_cases_list(data, where))]
    if "matrix" in data:
        matrix = dict(_table(data, "matrix", where))
        combine = matrix.pop("combine", "product")
        if combine not in COMBINE_MODES:
            raise SuiteFileError(
                f"[matrix] combine must be one of {', '.join(COMBINE_MODES)}, got {combine!r}", source=where
            )
        rows = matrix_cases(workflow, base, matrix, combine, where=f"{where}: [matrix]")
        # Like a parametrized test's id; ids that shortened values made equal get #2, #3.
        cases += [replace(c, case_id=f"[{i}]") for c, i in zip(rows, unique_ids(rows), strict=True)]
    if not cases:
        raise SuiteFileError("has no cases: add [[case]] tables or a [matrix]", source=where)
    ids = [c.case_id for c in cases]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SuiteFileError(f"case ids must be unique; repeated: {', '.join(repeated)}", source=where)
    return SuiteFile(path=path, workflow=workflow, cases=cases)


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SuiteFileError(f"`{key}` must be a table ([{key}]), got {type(value).__name__}", source=where)
    return value


def _cases_list(data: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    entries = data.get("case", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SuiteFileError("cases are written as [[case]] tables", source=where)
    return entries


def _case(
    entry: dict[str, Any], number: int, base: CaseSpec, inputs: list[FormInput], where: str, base_dir: Path
) -> CaseSpec:
    here = f"{where}: [[case]] #{number + 1}"
    unknown = sorted(set(entry) - CASE_KEYS)
    if unknown:
        raise SuiteFileError(f"{here}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(CASE_KEYS))}")
    case_id = entry.get("id")
    if not isinstance(case_id, str) or not CASE_ID.fullmatch(case_id):
        raise SuiteFileError(
            f"{here}: needs an `id` (letters, digits, space and _ . , = + @ -, starting with a letter or digit), "
            f"got {case_id!r}"
        )
    here = f"{here} ({case_id})"
    own = normalize_inputs(entry.get("inputs", {}), where=f"{here}: inputs", base_dir=base_dir)
    tolerance = entry.get("tolerance", {})
    if not isinstance(tolerance, dict):
        raise SuiteFileError(f"{here}: tolerance must be a table like {{ phash = 0.15 }}, got {tolerance!r}")
    return CaseSpec(
        workflow=base.workflow,
        inputs=override_inputs(inputs, base.inputs, own, source=f"{here}: inputs"),
        outputs=check_outputs(entry["outputs"], f"{here}: outputs") if "outputs" in entry else base.outputs,
        tolerance={**base.tolerance, **tolerance},
        timeout=check_timeout(entry["timeout"], f"{here}: timeout") if "timeout" in entry else base.timeout,
        models=base.models,
        nodes=base.nodes,
        case_id=case_id,
    )
