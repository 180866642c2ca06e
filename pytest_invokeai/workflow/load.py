"""Load an exported workflow (JSON file, JSON text, dict, or an InvokeAI PNG) the way the web UI does.

What the web UI does on load (``validateWorkflow.ts`` and its migrations), and what we do:
- migrate ``meta.version`` 3.0.0 to 4.0.0 (the only change is the version: 4.0.0 adds
  connector nodes, which 3.0.0 files simply do not have);
- build the form from ``exposedFields`` when the workflow has no form (pre-form exports);
- drop form elements whose node or field no longer exists, with a warning a person sees.
A board field with no value means ``"auto"``, as in the web UI; the document keeps it empty (the web
UI sends it empty in ``batch.workflow``) and the form inputs and the graph builder read it as ``"auto"``.
Where the web UI silently repairs structural damage (an edge to a node that does not exist, a
form tree that does not hold together), we stop with an error instead: a regression suite must
not run a workflow that differs from the one its author saw.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_invokeai.errors import WorkflowError
from pytest_invokeai.workflow.document import (
    FieldInstance,
    Form,
    FormElement,
    Node,
    WorkflowDocument,
)
from pytest_invokeai.workflow.jsonpath import json_path
from pytest_invokeai.workflow.schema import InvocationSchema, bundled_schema
from pytest_invokeai.workflow.terms import (
    CONTAINER,
    CURRENT_VERSION,
    FORM_ELEMENT_TYPES,
    NODE_FIELD,
    SUPPORTED_VERSIONS,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_WORKFLOW_KEY = "invokeai_workflow"


class WorkflowWarning(UserWarning):
    """Something in a workflow was repaired on load, as the web UI would have done."""


@dataclass
class Workflow:
    """A loaded, migrated and checked workflow. Treat it as read-only: builders copy what they change."""

    document: WorkflowDocument
    source: str
    original_version: str
    warnings: list[str] = field(default_factory=list)
    # The node schema it was loaded with: what reads its form or builds its graph uses the same one.
    schema: InvocationSchema = field(default_factory=bundled_schema, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def nodes(self) -> list[Node]:
        return self.document.nodes

    @property
    def form(self) -> Form:
        # Always present after loading (built from exposedFields when missing).
        assert self.document.form is not None
        return self.document.form

    def node(self, node_id: str) -> Node | None:
        return self._nodes_by_id().get(node_id)

    def _nodes_by_id(self) -> dict[str, Node]:
        cached = getattr(self, "_node_index", None)
        if cached is None:
            cached = {n.id: n for n in self.document.nodes}
            object.__setattr__(self, "_node_index", cached)
        return cached

    def to_json_dict(self) -> dict[str, Any]:
        """The migrated workflow as plain JSON data (a fresh copy: changing it changes nothing here)."""
        return self.document.to_json_dict()


def load_workflow(
    source: str | Path | bytes | dict[str, Any],
    *,
    schema: InvocationSchema | None = None,
    name: str | None = None,
) -> Workflow:
    """Load a workflow from a path (``.json`` or an InvokeAI ``.png``), raw bytes, or parsed JSON.

    ``name`` labels the source in error messages when it is not a path.
    Raises :class:`WorkflowError` naming the source and the JSON path of the problem.
    """
    label, raw = _read_source(source, name)
    return parse_workflow(raw, source=label, schema=schema)


def parse_workflow(raw: Any, *, source: str, schema: InvocationSchema | None = None) -> Workflow:
    schema = schema or bundled_schema()
    if not isinstance(raw, dict):
        raise WorkflowError(f"expected a JSON object, found {type(raw).__name__}", source=source, json_path="$")
    version = _read_version(raw, source)
    data = copy.deepcopy(raw)  # the caller's dict is never touched
    try:
        doc = WorkflowDocument.from_json(data)
    except ValueError as exc:
        # pydantic is imported only when a document did not fit the plain reader (see document.py)
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        raise _validation_error(exc, source) from None

    found: list[str] = []
    if version != CURRENT_VERSION:
        doc.meta.version = CURRENT_VERSION
    _check_unique_node_ids(doc, source)
    _check_edges(doc, source)
    if doc.form is None or _form_is_empty(doc.form):
        if doc.exposedFields:
            doc.form = _form_from_exposed_fields(doc, schema, found)
        elif doc.form is None:
            doc.form = Form(
                elements={"root": FormElement(id="root", type=CONTAINER, data={"layout": "column", "children": []})},
                rootElementId="root",
            )
    _check_form_structure(doc.form, source)
    _drop_dangling_form_fields(doc, found)

    for message in found:
        warnings.warn(WorkflowWarning(f"{source}: {message}"), stacklevel=3)
    return Workflow(document=doc, source=source, original_version=version, warnings=found, schema=schema)


# -- reading -------------------------------------------------------------------------------


def _read_source(source: str | Path | bytes | dict[str, Any], name: str | None) -> tuple[str, Any]:
    if isinstance(source, dict):
        return name or "<workflow dict>", source
    if isinstance(source, bytes):
        label = name or "<workflow bytes>"
        return label, _parse_bytes(source, label)
    path = Path(source)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise WorkflowError("no such file", source=str(path)) from None
    except IsADirectoryError:
        raise WorkflowError("is a directory, expected a workflow .json or an InvokeAI .png", source=str(path)) from None
    except OSError as exc:
        raise WorkflowError(f"cannot read: {exc.strerror}", source=str(path)) from None
    return str(path), _parse_bytes(content, str(path))


def _parse_bytes(content: bytes, label: str) -> Any:
    if content.startswith(PNG_SIGNATURE):
        return _parse_json(workflow_text_from_png(content, label), label + " [invokeai_workflow chunk]")
    return _parse_json(content, label)


def _parse_json(text: str | bytes, label: str) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")  # exports are UTF-8; some editors add a BOM
        except UnicodeDecodeError:
            raise WorkflowError("not a workflow: the file is neither UTF-8 JSON text nor a PNG", source=label) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", source=label
        ) from None


def workflow_text_from_png(content: bytes, label: str) -> str:
    """The ``invokeai_workflow`` text chunk that InvokeAI writes into the PNGs it generates."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            text = getattr(image, "text", {}) or {}
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise WorkflowError(f"cannot read this PNG: {exc}", source=label) from None
    if PNG_WORKFLOW_KEY not in text:
        present = ", ".join(sorted(text)) or "none"
        raise WorkflowError(
            f"this PNG has no embedded workflow (no '{PNG_WORKFLOW_KEY}' text chunk; chunks present: {present}). "
            "InvokeAI embeds the workflow only in images generated from the Workflows tab.",
            source=label,
        )
    embedded: str = text[PNG_WORKFLOW_KEY]  # Pillow gives PNG text chunks as str
    return embedded


def _read_version(raw: dict[str, Any], source: str) -> str:
    meta = raw.get("meta")
    if not isinstance(meta, dict) or "version" not in meta:
        raise WorkflowError(
            "no workflow version (meta.version is missing): is this an InvokeAI workflow export?",
            source=source,
            json_path=json_path("meta", "version"),
        )
    version: str = meta["version"]  # checked against the supported version strings next
    if version not in SUPPORTED_VERSIONS:
        raise WorkflowError(
            f"unsupported workflow version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)} "
            "(InvokeAI 5.x and 6.x exports). Open the workflow in a current InvokeAI and export it again.",
            source=source,
            json_path=json_path("meta", "version"),
        )
    return version


def _validation_error(exc: ValidationError, source: str) -> WorkflowError:
    first = exc.errors()[0]
    loc = [p for p in first["loc"] if isinstance(p, (str, int))]
    more = len(exc.errors()) - 1
    message = first["msg"] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
    return WorkflowError(message, source=source, json_path=json_path(*loc))


# -- structure checks ---------------------------------------------------------------------


def _check_unique_node_ids(doc: WorkflowDocument, source: str) -> None:
    seen: dict[str, int] = {}
    for i, node in enumerate(doc.nodes):
        if node.id in seen:
            raise WorkflowError(
                f"node id {node.id!r} is used twice (also at nodes[{seen[node.id]}])",
                source=source,
                json_path=json_path("nodes", i, "id"),
            )
        seen[node.id] = i


def _check_edges(doc: WorkflowDocument, source: str) -> None:
    ids = {n.id for n in doc.nodes}
    for i, edge in enumerate(doc.edges):
        for end in ("source", "target"):
            node_id = getattr(edge, end)
            if node_id not in ids:
                raise WorkflowError(
                    f"edge {edge.id!r} points at node {node_id!r}, which does not exist in this workflow",
                    source=source,
                    json_path=json_path("edges", i, end),
                )
        if edge.type == "default" and not (edge.sourceHandle and edge.targetHandle):
            raise WorkflowError(
                f"edge {edge.id!r} has no sourceHandle/targetHandle (every 'default' edge connects two fields)",
                source=source,
                json_path=json_path("edges", i),
            )


def _form_is_empty(form: Form) -> bool:
    root = form.elements.get(form.rootElementId)
    return root is None or (root.type == CONTAINER and not root.children and len(form.elements) <= 1)


def _check_form_structure(form: Form, source: str) -> None:
    """The form must be a tree of known elements hanging from its root container."""
    for element_id, element in form.elements.items():
        path = json_path("form", "elements", element_id)
        if element.type not in FORM_ELEMENT_TYPES:
            raise WorkflowError(
                f"unknown form element type {element.type!r}; known: {', '.join(sorted(FORM_ELEMENT_TYPES))}",
                source=source,
                json_path=path + ".type",
            )
        if element.type == NODE_FIELD and element.field_identifier is None:
            raise WorkflowError(
                "node-field element has no data.fieldIdentifier {nodeId, fieldName}",
                source=source,
                json_path=path + ".data",
            )
    root_id = form.rootElementId
    root = form.elements.get(root_id)
    if root is None:
        raise WorkflowError(
            f"the form's root element {root_id!r} does not exist",
            source=source,
            json_path=json_path("form", "rootElementId"),
        )
    if root.type != CONTAINER:
        raise WorkflowError(
            f"the form's root element {root_id!r} is a {root.type!r}, expected a container",
            source=source,
            json_path=json_path("form", "elements", root_id, "type"),
        )

    on_path: set[str] = set()
    done: set[str] = set()

    def visit(element_id: str) -> None:
        on_path.add(element_id)
        for i, child_id in enumerate(form.elements[element_id].children):
            where = json_path("form", "elements", element_id, "data", "children", i)
            if child_id not in form.elements:
                raise WorkflowError(
                    f"form element {element_id!r} lists child {child_id!r}, which does not exist in form.elements",
                    source=source,
                    json_path=where,
                )
            if child_id in on_path:
                raise WorkflowError(
                    f"the form tree has a cycle: {child_id!r} contains itself through {element_id!r}",
                    source=source,
                    json_path=where,
                )
            if child_id in done:
                raise WorkflowError(
                    f"form element {child_id!r} appears in two containers", source=source, json_path=where
                )
            visit(child_id)
        on_path.discard(element_id)
        done.add(element_id)

    visit(root_id)


def _form_from_exposed_fields(doc: WorkflowDocument, schema: InvocationSchema, found: list[str]) -> Form:
    """Pre-form exports list their inputs in ``exposedFields``: turn them into a one-column form, in order."""
    nodes = {n.id: n for n in doc.nodes if n.is_invocation}
    elements: dict[str, FormElement] = {}
    children: list[str] = []
    for ident in doc.exposedFields:
        node = nodes.get(ident.nodeId)
        if node is None or ident.fieldName not in node.data.inputs:
            found.append(
                f"exposed field {ident.nodeId}.{ident.fieldName} left out of the form: "
                + ("its node does not exist" if node is None else "the node has no such field")
            )
            continue
        if schema.node(node.data.type) is not None and schema.field(node.data.type, ident.fieldName) is None:
            found.append(
                f"exposed field {ident.nodeId}.{ident.fieldName} left out of the form: "
                f"InvokeAI's {node.data.type!r} node has no field {ident.fieldName!r}"
            )
            continue
        # Deterministic ids (the web UI makes random ones): the index map must not change between loads.
        element_id = f"node-field-{ident.nodeId}-{ident.fieldName}"
        elements[element_id] = FormElement(
            id=element_id,
            type=NODE_FIELD,
            parentId="root",
            data={"fieldIdentifier": {"nodeId": ident.nodeId, "fieldName": ident.fieldName}, "showDescription": False},
        )
        children.append(element_id)
    elements = {
        "root": FormElement(id="root", type=CONTAINER, data={"layout": "column", "children": children}),
        **elements,
    }
    return Form(elements=elements, rootElementId="root")


def _drop_dangling_form_fields(doc: WorkflowDocument, found: list[str]) -> None:
    form = doc.form
    assert form is not None
    nodes = {n.id: n for n in doc.nodes if n.is_invocation}
    for element_id, element in list(form.elements.items()):
        ident = element.field_identifier
        if ident is None:
            continue
        node = nodes.get(ident.nodeId)
        if node is not None and ident.fieldName in node.data.inputs:
            continue
        reason = (
            "its node does not exist" if node is None else f"node {ident.nodeId!r} has no field {ident.fieldName!r}"
        )
        found.append(f"form field {ident.nodeId}.{ident.fieldName} removed from the form: {reason}")
        del form.elements[element_id]
        for container in form.elements.values():
            if container.type == CONTAINER and element_id in container.children:
                container.data = {
                    **(container.data or {}),
                    "children": [c for c in container.children if c != element_id],
                }


__all__ = ["Workflow", "WorkflowWarning", "load_workflow", "parse_workflow", "workflow_text_from_png", "FieldInstance"]
