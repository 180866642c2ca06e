"""Test cases of a workflow: input values by form index, matrices over them, and readable ids.

A case is what one test runs: a workflow, the values of some form inputs (by index, display name
or identity), which outputs to compare, tolerances and a timeout. A *matrix* ``{index: [values]}``
expands into many cases, as a cartesian product (every combination) or zipped (the n-th values
together). Ids are made from the inputs' display names, ``prompt=a cat-seed=1``, because that is
what a person reads in a failure list.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_invokeai.errors import InputValueError, WorkflowError
from pytest_invokeai.workflow.form import FormInput, form_inputs, resolve_input

if TYPE_CHECKING:  # the loader is imported by the callers that load a workflow, not with the plugin
    from pytest_invokeai.workflow.load import Workflow

COMBINE_MODES = ("product", "zip")
ID_VALUE_MAX = 40  # longer values are shortened in ids (the full value is in the report)
ID_ELLIPSIS = "..."  # ASCII: pytest would print a non-ASCII id character as an escape (\u2026)
INDEX_TEXT = re.compile(r"-?[0-9]+")  # ASCII only: str.isdigit() also accepts "²", which int() refuses

InputKey = int | str


class CaseError(WorkflowError):
    """A case, marker or suite file that cannot be used; the message names where and what is valid."""


@dataclass(frozen=True)
class CaseSpec:
    """One case: what to run and how to judge it. ``workflow`` is an absolute path."""

    workflow: Path
    inputs: Mapping[InputKey, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] | None = None  # node ids or labels; None: the non-intermediate image outputs
    tolerance: Mapping[str, Any] = field(default_factory=dict)  # {signal: max} and {output: {signal: max}}
    timeout: float | None = None
    models: tuple[str, ...] = ()  # models the managed server must have (installed for the run)
    nodes: tuple[Path, ...] = ()  # node pack folders the managed server loads (absolute)
    case_id: str = ""  # the id suffix ("" for an unparametrized test)


def normalize_key(key: Any, *, where: str) -> InputKey:
    """Input keys from Python or TOML: ints, digit strings (indices) or names."""
    if isinstance(key, bool) or not isinstance(key, (int, str)):
        raise InputValueError(f"{where}: an input is named by its form index or display name, got {key!r}")
    if isinstance(key, str) and INDEX_TEXT.fullmatch(key.strip()):
        return int(key.strip())
    return key


def normalize_inputs(
    inputs: Mapping[Any, Any] | None, *, where: str, base_dir: Path | None = None
) -> dict[InputKey, Any]:
    """``{index: value}`` with index keys as ints; with ``base_dir``, image files resolved against it.

    An image input takes a file: a :class:`~pathlib.Path` in Python, ``{ file = "path" }`` in TOML. A
    relative path is relative to the test or suite file (``base_dir``), not to the current directory.
    """
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise InputValueError(f"{where}: inputs must be a mapping {{index: value}}, got {type(inputs).__name__}")
    return {normalize_key(k, where=where): _file_value(v, base_dir, where) for k, v in inputs.items()}


def _file_value(value: Any, base_dir: Path | None, where: str) -> Any:
    if isinstance(value, Mapping) and set(value) == {"file"}:
        if not isinstance(value["file"], str) or not value["file"]:
            raise InputValueError(f"{where}: {{ file = ... }} needs a path, got {value['file']!r}")
        value = Path(value["file"])
    if isinstance(value, Path) and base_dir is not None:
        path = value if value.is_absolute() else base_dir / value
        if not path.is_file():
            raise InputValueError(f"{where}: image file {path} does not exist")
        return path.resolve()
    return value


def expand_matrix(
    matrix: Mapping[Any, Sequence[Any]], combine: str = "product", *, where: str
) -> list[dict[InputKey, Any]]:
    """Every combination (``product``) or the n-th values together (``zip``) of ``{index: [values]}``."""
    keys, rows = matrix_rows(matrix, combine, where=where)
    return [dict(zip(keys, row, strict=True)) for row in rows]


def matrix_rows(
    matrix: Mapping[Any, Sequence[Any]], combine: str = "product", *, where: str
) -> tuple[list[InputKey], list[tuple[Any, ...]]]:
    """The matrix's input keys, and its rows as tuples of values in the keys' order (see :func:`expand_matrix`)."""
    if combine not in COMBINE_MODES:
        raise InputValueError(f"{where}: combine must be one of {', '.join(COMBINE_MODES)}, got {combine!r}")
    if not isinstance(matrix, Mapping) or not matrix:
        raise InputValueError(f"{where}: a matrix is a non-empty mapping {{index: [values, ...]}}")
    keys = [normalize_key(k, where=where) for k in matrix]
    repeated = sorted({repr(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise InputValueError(f"{where}: matrix input {', '.join(repeated)} is given twice (as a number and as text)")
    columns = []
    for key, values in zip(keys, matrix.values(), strict=True):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise InputValueError(f"{where}: matrix input {key!r} needs a non-empty list of values, got {values!r}")
        columns.append(list(values))
    if combine == "zip":
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            told = ", ".join(f"{k!r}: {len(c)}" for k, c in zip(keys, columns, strict=True))
            raise InputValueError(f"{where}: a zipped matrix needs lists of equal length; got {told}")
        rows = list(zip(*columns, strict=True))
    else:
        rows = list(itertools.product(*columns))
    return keys, rows


def value_for_id(value: Any) -> str:
    if type(value) is int:  # the common case (seeds, sizes): no whitespace to fold
        text = str(value)
        if len(text) <= ID_VALUE_MAX:
            return text
    if isinstance(value, Path):
        text = value.name
    elif isinstance(value, bytes):
        text = f"{len(value)}-bytes"
    else:
        text = str(value)
    text = " ".join(text.split())  # newlines and tabs would break the terminal line
    return text if len(text) <= ID_VALUE_MAX else text[: ID_VALUE_MAX - len(ID_ELLIPSIS)] + ID_ELLIPSIS


def case_id(inputs: Sequence[FormInput], values: Mapping[InputKey, Any], *, source: str | None = None) -> str:
    """``Width=64-Seed=3``: display names of the varied inputs, with their values, in the given order."""
    parts = []
    for key, value in values.items():
        name = resolve_input(inputs, key, source=source).display_name if inputs else str(key)
        parts.append(f"{name}={value_for_id(value)}")
    return "-".join(parts)


def matrix_cases(
    workflow: Workflow,
    base: CaseSpec,
    matrix: Mapping[Any, Sequence[Any]],
    combine: str = "product",
    *,
    where: str,
) -> list[CaseSpec]:
    """Cases of ``base`` for each row of the matrix, with ids from the workflow's display names."""
    inputs = form_inputs(workflow)
    keys, rows = matrix_rows(matrix, combine, where=where)
    # Every row names the same inputs in the same order: they are resolved against the form (and
    # checked against the base inputs) once, not once per row, with the same errors.
    kept = inputs_not_overridden(inputs, base.inputs, keys, source=f"{where} ({workflow.source})")
    names = [resolve_input(inputs, key, source=workflow.source).display_name if inputs else str(key) for key in keys]
    if len(keys) == 1:  # the common matrix, over one input: no row dict, no join
        (key,), prefix = keys, f"{names[0]}="
        made = [({**kept, key: value}, prefix + value_for_id(value)) for (value,) in rows]
    else:
        made = [
            (
                {**kept, **dict(zip(keys, row, strict=True))},
                "-".join(f"{n}={value_for_id(v)}" for n, v in zip(names, row, strict=True)),
            )
            for row in rows
        ]
    return [_row_case(base, row_inputs, row_id) for row_inputs, row_id in made]


def _row_case(base: CaseSpec, inputs: dict[InputKey, Any], case_id: str, _set: Any = object.__setattr__) -> CaseSpec:
    """``replace(base, inputs=inputs, case_id=case_id)`` at a fraction of its cost.

    Collection makes one case per matrix row, and a suite may have tens of thousands: what each costs
    is what the plugin adds to pytest's own parametrize. Every field is set, in the class's order (so
    the instance keeps its compact attribute layout: as little memory as one made by ``__init__``);
    a field added to :class:`CaseSpec` must be added here (test_cases compares the two ways).
    """
    case = object.__new__(CaseSpec)
    _set(case, "workflow", base.workflow)
    _set(case, "inputs", inputs)
    _set(case, "outputs", base.outputs)
    _set(case, "tolerance", base.tolerance)
    _set(case, "timeout", base.timeout)
    _set(case, "models", base.models)
    _set(case, "nodes", base.nodes)
    _set(case, "case_id", case_id)
    return case


def override_inputs(
    inputs: list[FormInput], base: Mapping[InputKey, Any], override: Mapping[InputKey, Any], *, source: str
) -> dict[InputKey, Any]:
    """``base`` with ``override`` on top, by form input rather than by key: ``2`` replaces ``"Value"``.

    Every key must name an input of the form (the error lists them), so mistakes show at collection;
    one input named twice in ``override`` is an error, as it would set one field to two values.
    """
    return {**inputs_not_overridden(inputs, base, list(override), source=source), **override}


def inputs_not_overridden(
    inputs: list[FormInput], base: Mapping[InputKey, Any], override_keys: Sequence[InputKey], *, source: str
) -> dict[InputKey, Any]:
    """The entries of ``base`` whose form input no key of ``override_keys`` names (see :func:`override_inputs`)."""
    overridden: dict[tuple[str, str], InputKey] = {}
    for key in override_keys:
        found = resolve_input(inputs, key, source=source)
        target = (found.node_id, found.field_name)
        if target in overridden:
            raise InputValueError(
                f"input {found.describe()} is given twice, as {overridden[target]!r} and as {key!r}", source=source
            )
        overridden[target] = key
    kept = {}
    for key, value in base.items():
        found = resolve_input(inputs, key, source=source)
        if (found.node_id, found.field_name) not in overridden:
            kept[key] = value
    return kept


def unique_ids(cases: Sequence[CaseSpec]) -> list[str]:
    """Case ids, with ``#2``, ``#3`` added where shortened values made two ids equal."""
    taken = {case.case_id for case in cases}
    if len(taken) == len(cases):  # no two alike (the usual case): nothing to number
        return [case.case_id for case in cases]
    seen: set[str] = set()
    ids = []
    for case in cases:
        candidate, count = case.case_id, 1
        while candidate in seen or (count > 1 and candidate in taken):
            count += 1
            candidate = f"{case.case_id}#{count}"
        seen.add(candidate)
        ids.append(candidate)
    return ids


def check_outputs(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        raise CaseError(f"{where}: a non-empty list of output node ids or labels, got {value!r}")
    return tuple(value)


def check_timeout(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise CaseError(f"{where}: seconds, a number > 0, got {value!r}")
    return float(value)


def check_models(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise CaseError(f"{where}: a list of model names, got {value!r}")
    return tuple(value)


def check_nodes(value: Any, where: str, base_dir: Path) -> tuple[Path, ...]:
    """Node pack folders (a pack, or a folder of packs), relative to the file that names them."""
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, Path)) and str(v) for v in value):
        raise CaseError(f"{where}: a list of node pack folders (relative to this file), got {value!r}")
    folders = tuple((base_dir / Path(v).expanduser()).resolve() for v in value)
    for folder in folders:
        if not folder.is_dir():
            raise CaseError(f"{where}: node pack folder {folder} does not exist")
    return folders


MARKER_KEYS = ("workflow", "inputs", "matrix", "combine", "outputs", "tolerance", "timeout", "models", "nodes")


def merge_marker_kwargs(markers: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]], *, where: str) -> dict[str, Any]:
    """One set of marker arguments from several ``invokeai`` marks, the closest (function) first.

    A class can name the workflow and its methods the inputs; a key given closer wins.
    """
    merged: dict[str, Any] = {}
    for args, kwargs in markers:
        if len(args) > 1:
            raise CaseError(f"{where}: @pytest.mark.invokeai takes the workflow as its only positional argument")
        given = dict(kwargs)
        if args:
            if "workflow" in given:
                raise CaseError(f"{where}: @pytest.mark.invokeai got the workflow twice, positionally and as workflow=")
            given["workflow"] = args[0]
        unknown = sorted(set(given) - set(MARKER_KEYS))
        if unknown:
            raise CaseError(
                f"{where}: @pytest.mark.invokeai got unknown argument(s) {', '.join(unknown)}; "
                f"valid: {', '.join(MARKER_KEYS)}"
            )
        for key, value in given.items():
            merged.setdefault(key, value)
    return merged


def spec_from_marker(kwargs: Mapping[str, Any], *, base_dir: Path, where: str) -> CaseSpec:
    """The case a marker declares (without its matrix). Paths are relative to the test file's folder."""
    workflow = kwargs.get("workflow")
    if not isinstance(workflow, (str, Path)) or not str(workflow):
        raise CaseError(
            f'{where}: @pytest.mark.invokeai needs workflow="path/to/workflow.json" (relative to the test file)'
        )
    tolerance = kwargs.get("tolerance") or {}
    if not isinstance(tolerance, Mapping):
        raise CaseError(f"{where}: tolerance must be a mapping like {{'phash': 0.15}}, got {tolerance!r}")
    return CaseSpec(
        workflow=(base_dir / workflow).resolve(),
        inputs=normalize_inputs(kwargs.get("inputs"), where=f"{where}: inputs", base_dir=base_dir),
        outputs=check_outputs(kwargs.get("outputs"), f"{where}: outputs"),
        tolerance=dict(tolerance),
        timeout=check_timeout(kwargs.get("timeout"), f"{where}: timeout"),
        models=check_models(kwargs.get("models"), f"{where}: models"),
        nodes=check_nodes(kwargs.get("nodes"), f"{where}: nodes", base_dir),
    )
