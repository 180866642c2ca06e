"""Ordered form inputs of a workflow, and setting their values by index, name or identity.

The inputs are the ``node-field`` elements of the workflow's form (the web UI's Form panel), in
the order a person reads them: depth-first, pre-order, from ``form.rootElementId``, containers in
``children`` order. ``heading``, ``text`` and ``divider`` elements take no index.

An input is addressed by its index (``3`` or ``"3"``), its display name (``"CFG Scale"``) or its
identity (``"denoise_latents:TRC0Y88EWe.cfg_scale"``; ``...#1`` for a second occurrence of the
same field on one form).

Inputs that cannot take a value still get an index, so that the numbering matches what a person
sees: a field fed by an edge (``connected_from`` says from where; the edge's value wins at run
time, as in the web UI) and a field InvokeAI accepts only from a connection (``input_mode ==
"connection"``). Giving either a value is an error (see :attr:`FormInput.settable`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_invokeai.errors import InputValueError, WorkflowError
from pytest_invokeai.workflow.terms import AUTO_BOARD, NODE_FIELD
from pytest_invokeai.workflow.values import parse_value

# Only types: reading a form imports neither the document's classes nor the graph builder.
if TYPE_CHECKING:
    from pytest_invokeai.workflow.document import Form, FormElement
    from pytest_invokeai.workflow.load import Workflow
    from pytest_invokeai.workflow.schema import InvocationSchema

#: The kind names are frozen: index maps and baselines store them. Never rename one.
KINDS = (
    "string",
    "integer",
    "float",
    "boolean",
    "enum",
    "color",
    "image",
    "image_collection",
    "board",
    "model",
    "string_collection",
    "integer_collection",
    "float_collection",
    "object",
)


class FormWarning(UserWarning):
    """Something about a form input was guessed (a node type or field the schema does not know)."""


@dataclass(frozen=True)
class FormInput:
    index: int  # position in the Form panel, depth-first pre-order, from 0
    node_id: str
    node_type: str
    node_label: str
    field_name: str
    label: str  # the field's own label in the workflow, else ""
    display_name: str  # label, else the schema's title for the field, else the field name
    description: str
    kind: str  # one of KINDS
    value: Any
    constraints: dict[str, Any] = field(default_factory=dict)  # minimum, maximum, multiple_of, choices, ...
    occurrence: int = 0  # 0 for the first time this node field appears on the form, 1 for the second...
    kind_inferred: bool = False  # True when the node type is unknown to the schema (custom node)
    # Added after the first contract (all optional):
    element_id: str = ""  # the form element's id
    input_mode: str = "any"  # InvokeAI's Input: "any", "direct" or "connection" (connection only)
    connected_from: str = ""  # "node_id.field" of the edge that feeds this field, else ""
    required: bool = False
    nullable: bool = False  # None is an accepted value
    cardinality: str = "single"  # "single", "collection" or "single_or_collection" (cfg_scale: float | list)
    warning: str = ""  # the warning issued when the kind was guessed, else ""

    @property
    def identity(self) -> str:
        """``node_id.field_name``, with ``#N`` for the second and later occurrences on one form."""
        base = f"{self.node_id}.{self.field_name}"
        return base if self.occurrence == 0 else f"{base}#{self.occurrence}"

    @property
    def settable(self) -> bool:
        return not self.unsettable_reason

    @property
    def unsettable_reason(self) -> str:
        """Why a value given for this input would not reach the server ("" when it would)."""
        if self.connected_from:
            return f"it is fed by an edge from {self.connected_from}, which overrides any value given here"
        if self.input_mode == "connection":
            return "InvokeAI accepts this field only from a connection (an edge), not as a value"
        return ""

    def describe(self) -> str:
        """``#5 "CFG Scale" (denoise_latents:TRC0Y88EWe.cfg_scale)``: for messages."""
        return f"#{self.index} {self.display_name!r} ({self.identity})"


def form_inputs(workflow: Workflow, schema: InvocationSchema | None = None) -> list[FormInput]:
    """The workflow's form inputs in Form-panel order, each with its kind and constraints.

    Fields of node types (or fields) the schema does not know get a kind guessed from their value,
    with a :class:`FormWarning` (also kept in :attr:`FormInput.warning`).
    """
    schema = schema or workflow.schema
    feeds = _edge_feeds(workflow)
    occurrences: dict[tuple[str, str], int] = {}
    inputs: list[FormInput] = []
    for element in _node_field_elements(workflow.form):
        ident = element.field_identifier
        assert ident is not None  # node-field elements without one are rejected on load
        node = workflow.node(ident.nodeId)
        if node is None or ident.fieldName not in node.data.inputs:
            raise WorkflowError(
                f"form element {element.id!r} shows field {ident.fieldName!r} of node {ident.nodeId!r}, "
                "which does not exist (load workflows with load_workflow, which removes such elements)",
                source=workflow.source,
            )
        instance = node.data.inputs[ident.fieldName]
        key = (ident.nodeId, ident.fieldName)
        occurrence = occurrences.get(key, 0)
        occurrences[key] = occurrence + 1
        index = len(inputs)
        spec = schema.field(node.data.type, ident.fieldName)
        value = instance.value
        if spec is not None and spec.kind == "board" and not value:
            value = AUTO_BOARD  # the web UI's reading of an empty board field
        warning = ""
        if spec is None:
            warning = _guessed_kind_warning(workflow.source, schema, node.data.type, ident.fieldName, index, value)
            warnings.warn(FormWarning(warning), stacklevel=2)
        inputs.append(
            FormInput(
                index=index,
                node_id=ident.nodeId,
                node_type=node.data.type,
                node_label=node.data.label,
                field_name=ident.fieldName,
                label=instance.label,
                display_name=instance.label or (spec.title if spec else "") or ident.fieldName,
                description=instance.description or (spec.description if spec else ""),
                kind=spec.kind if spec else infer_kind(value),
                value=value,
                constraints=dict(spec.constraints) if spec else {},
                occurrence=occurrence,
                kind_inferred=spec is None,
                element_id=element.id,
                input_mode=spec.input if spec else "any",
                connected_from=feeds.get(key, ""),
                required=spec.required if spec else False,
                nullable=spec.nullable if spec else True,
                cardinality=spec.cardinality if spec else "single",
                warning=warning,
            )
        )
    return inputs


def resolve_input(inputs: Sequence[FormInput], key: int | str, *, source: str | None = None) -> FormInput:
    """The input ``key`` names: an index (``3`` or ``"3"``), an identity, or a display name.

    A display name shared by different fields is ambiguous: the error lists the candidates.
    """
    if isinstance(key, bool) or not isinstance(key, (int, str)):
        raise InputValueError(
            f"a form input is named by its index (int), display name or identity (str), got {type(key).__name__} {key!r}",
            source=source,
        )
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key.strip())
    if isinstance(key, int):
        if 0 <= key < len(inputs):
            return inputs[key]
        raise InputValueError(f"there is no form input #{key}; {_listing(inputs)}", source=source)
    for matches in (
        [i for i in inputs if i.identity == key],
        [i for i in inputs if i.display_name == key],
        [i for i in inputs if i.display_name.casefold() == key.strip().casefold()],
    ):
        # Two occurrences of one field are the same input: not ambiguous.
        if matches and len({(i.node_id, i.field_name) for i in matches}) == 1:
            return matches[0]
        if matches:
            candidates = ", ".join(i.describe() for i in matches)
            raise InputValueError(
                f"form input name {key!r} is ambiguous: it matches {candidates}; use the index or the identity",
                source=source,
            )
    raise InputValueError(f"there is no form input named {key!r}; {_listing(inputs)}", source=source)


def collect_values(
    workflow: Workflow,
    values: Mapping[int | str, Any],
    schema: InvocationSchema | None = None,
    *,
    inputs: list[FormInput] | None = None,
) -> dict[tuple[str, str], Any]:
    """``{(node_id, field_name): value}`` for the graph builder, from values keyed like :func:`resolve_input`.

    Text values are parsed by kind, Python values are checked (:func:`parse_value`). Raises
    :class:`InputValueError` naming the workflow and the input. ``inputs``: the workflow's
    :func:`form_inputs`, when the caller has them (reading the form costs more than checking a case).
    """
    inputs = inputs if inputs is not None else form_inputs(workflow, schema)
    collected: dict[tuple[str, str], Any] = {}
    given_as: dict[tuple[str, str], int | str] = {}
    for key, raw in values.items():
        form_input = resolve_input(inputs, key, source=workflow.source)
        if not form_input.settable:
            raise InputValueError(
                f"input {form_input.describe()} cannot take a value: {form_input.unsettable_reason}",
                source=workflow.source,
            )
        value = parse_value(form_input, raw, source=workflow.source)
        target = (form_input.node_id, form_input.field_name)
        if target in collected and collected[target] != value:
            raise InputValueError(
                f"input {form_input.describe()} is given two different values: {collected[target]!r} "
                f"(as {given_as[target]!r}) and {value!r} (as {key!r}); both set field "
                f"{form_input.field_name!r} of node {form_input.node_id!r}",
                source=workflow.source,
            )
        collected[target] = value
        given_as[target] = key
    return collected


def infer_kind(value: Any) -> str:
    """A kind guessed from a field's value, for node types the schema does not know."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        if "image_name" in value:
            return "image"
        if "board_id" in value:
            return "board"
        if {"key", "base", "type"} <= set(value):
            return "model"
        if set(value) == {"r", "g", "b", "a"}:
            return "color"
    if isinstance(value, list) and value:
        item_kinds = {infer_kind(item) for item in value}
        if len(item_kinds) == 1:
            kind = f"{item_kinds.pop()}_collection"
            return kind if kind in KINDS else "object"
        if item_kinds == {"integer", "float"}:
            return "float_collection"
    return "object"


# -- helpers ----------------------------------------------------------------------------------


def _node_field_elements(form: Form) -> Iterator[FormElement]:
    """``node-field`` elements, depth-first pre-order from the root (load checked it is a tree)."""
    stack = [form.rootElementId]
    while stack:
        element = form.elements[stack.pop()]
        if element.type == NODE_FIELD:
            yield element
        stack.extend(reversed(element.children))


def _edge_feeds(workflow: Workflow) -> dict[tuple[str, str], str]:
    """``(target node, target field) -> "source node.source field"`` for edges that carry data."""
    return {
        (edge.target, edge.targetHandle): f"{edge.source}.{edge.sourceHandle}"
        for edge in workflow.document.edges
        if edge.type == "default" and edge.targetHandle
    }


def _guessed_kind_warning(
    source: str, schema: InvocationSchema, node_type: str, field_name: str, index: int, value: Any
) -> str:
    kind = infer_kind(value)
    what = (
        f"node type {node_type!r} is not in the InvokeAI {schema.invokeai_version} schema (a custom node?)"
        if schema.node(node_type) is None
        else f"InvokeAI {schema.invokeai_version}'s {node_type!r} node has no field {field_name!r}"
    )
    return (
        f"{source}: form input #{index} ({node_type}.{field_name}): {what}, so its kind was guessed "
        f"from its value {value!r} as {kind!r}, with no bounds or choices. A test run reads the schema of the "
        "server it runs on; with no server at hand, save your server's once (pytest-invokeai schema fetch --url URL "
        "-o FILE) and use that schema (--schema FILE, --invokeai-schema FILE)."
    )


def _listing(inputs: Sequence[FormInput]) -> str:
    if not inputs:
        return "this workflow's form has no inputs"
    return "valid inputs: " + "; ".join(f"{i.describe()} [{i.kind}]" for i in inputs)


__all__ = [
    "KINDS",
    "FormInput",
    "FormWarning",
    "collect_values",
    "form_inputs",
    "infer_kind",
    "parse_value",
    "resolve_input",
]
