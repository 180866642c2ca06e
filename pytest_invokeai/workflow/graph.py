"""Turn a loaded workflow (plus values for its inputs) into the body of ``POST .../enqueue_batch``.

The body is the one InvokeAI 6.14.2's web UI sends when you press Invoke in the Workflows tab
(``useEnqueueWorkflows.ts`` and ``buildNodesGraph.ts``); ``tests/data/gui/*.enqueue.json`` are real
captures of it and ``tests/test_graph.py`` holds us to them. The graph holds the executable
invocation nodes only: notes, connector and current-image nodes are editor-only, and batch and
generator nodes become ``batch.data`` (see :mod:`.batch`). Everything works on a plain-JSON copy of
the workflow, so the :class:`~.load.Workflow` passed in is never changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pytest_invokeai.errors import InputValueError, WorkflowError
from pytest_invokeai.workflow.batch import batch_data as compute_batch_data
from pytest_invokeai.workflow.connectors import resolve_connector_source
from pytest_invokeai.workflow.embedded import embedded_workflow, input_value
from pytest_invokeai.workflow.jsonpath import json_path
from pytest_invokeai.workflow.load import Workflow
from pytest_invokeai.workflow.schema import InvocationSchema
from pytest_invokeai.workflow.terms import AUTO_BOARD, BATCH_NODE_TYPES, GENERATOR_NODE_TYPES

#: Node types whose inputs the UI passes on even when the schema does not list them (pydantic ``extra="allow"``).
NODES_ACCEPTING_EXTRA_INPUTS = frozenset({"core_metadata"})
#: Node types whose graph the UI builds with help from the server; we refuse them rather than guess.
UNSUPPORTED_NODE_TYPES = {
    "call_saved_workflow": "its inputs come from another saved workflow, which the web UI fetches from the server",
}
NO_BOARD = "none"

NodeField = tuple[str, str]


def build_enqueue_body(
    workflow: Workflow,
    values: Mapping[NodeField, Any] | None = None,
    *,
    board: str | None = None,
    origin: str = "workflows",
    destination: str = "gallery",
    runs: int = 1,
    prepend: bool = False,
    batch_data: list[list[dict[str, Any]]] | None = None,
    schema: InvocationSchema | None = None,
) -> dict[str, Any]:
    """The ``enqueue_batch`` request body for ``workflow`` with ``values`` set, as the web UI builds it.

    ``values`` maps ``(node_id, field_name)`` to the value that replaces that node input's value
    (also in the workflow embedded in the batch, as when a person edits the form). ``board`` is the
    board id that inputs set to ``"auto"`` save to (the web UI's auto-add board); ``None`` leaves
    them out, which saves to "Uncategorized". ``batch_data`` replaces the ``batch.data``
    computed from the batch and generator nodes
    (``[[{node_path, field_name, items}, ...], ...]``: inner lists zip, the outer list multiplies).
    """
    schema = schema or workflow.schema
    document = with_values(workflow, values or {})
    graph = build_graph(document, schema=schema, board=board, source=workflow.source)
    data = compute_batch_data(document, source=workflow.source) if batch_data is None else batch_data
    return {
        "prepend": prepend,
        "batch": {
            "graph": graph,
            "workflow": embedded_workflow(document),
            "runs": runs,
            "origin": origin,
            "destination": destination,
            "data": data,
        },
    }


def with_values(workflow: Workflow, values: Mapping[NodeField, Any]) -> dict[str, Any]:
    """A plain-JSON copy of the workflow with ``values`` written into its node inputs."""
    document = workflow.to_json_dict()
    nodes = {node["id"]: node for node in document.get("nodes", [])}
    for key, value in values.items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(part, str) for part in key)):
            raise InputValueError(
                f"values must be keyed by (node_id, field_name), found {key!r}", source=workflow.source
            )
        node_id, field_name = key
        node = nodes.get(node_id)
        if node is None or node.get("type") != "invocation":
            known = ", ".join(sorted(n for n, v in nodes.items() if v.get("type") == "invocation"))
            raise InputValueError(
                f"cannot set {node_id}.{field_name}: no invocation node {node_id!r}; nodes: {known}",
                source=workflow.source,
            )
        inputs = node["data"].get("inputs", {})
        if field_name not in inputs:
            raise InputValueError(
                f"cannot set {node_id}.{field_name}: node {node_id!r} ({node['data'].get('type')}) has no input "
                f"{field_name!r}; its inputs: {', '.join(inputs) or 'none'}",
                source=workflow.source,
            )
        inputs[field_name]["value"] = value
    return document


def build_graph(
    document: dict[str, Any], *, schema: InvocationSchema, board: str | None, source: str
) -> dict[str, Any]:
    """``batch.graph``: the executable nodes with their input values, and the data edges between them."""
    all_nodes = document.get("nodes", [])
    nodes_by_id = {node["id"]: node for node in all_nodes}
    executable = {node["id"]: node for node in all_nodes if is_executable(node)}
    graph_nodes = {
        node_id: _graph_node(node, index, schema=schema, board=board, source=source)
        for index, node in enumerate(all_nodes)
        if (node_id := node["id"]) in executable
    }

    edges: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, str]] = set()
    for edge in document.get("edges", []):
        resolved = _resolve_edge(edge, nodes_by_id, executable, document.get("edges", []))
        if resolved is None or resolved in seen:  # connector chains can repeat a direct edge
            continue
        seen.add(resolved)
        src, src_field, dst, dst_field = resolved
        edges.append(
            {"source": {"node_id": src, "field": src_field}, "destination": {"node_id": dst, "field": dst_field}}
        )
    for edge in edges:  # an input fed by an edge takes no value of its own
        graph_nodes[edge["destination"]["node_id"]].pop(edge["destination"]["field"], None)
    return {"id": str(uuid.uuid4()), "nodes": graph_nodes, "edges": edges}


def is_executable(node: dict[str, Any]) -> bool:
    return node.get("type") == "invocation" and node["data"]["type"] not in BATCH_NODE_TYPES | GENERATOR_NODE_TYPES


def _graph_node(
    node: dict[str, Any], index: int, *, schema: InvocationSchema, board: str | None, source: str
) -> dict[str, Any]:
    data = node["data"]
    node_type = data["type"]
    if node_type in UNSUPPORTED_NODE_TYPES:
        raise WorkflowError(
            f"node {node['id']!r} is a {node_type!r} node, which is not supported yet: {UNSUPPORTED_NODE_TYPES[node_type]}",
            source=source,
            json_path=json_path("nodes", index),
        )
    spec = schema.node(node_type)
    fields: dict[str, Any] = {}
    for name, instance in data.get("inputs", {}).items():
        field_spec = spec.fields.get(name) if spec else None
        if spec is not None and field_spec is None and node_type not in NODES_ACCEPTING_EXTRA_INPUTS:
            continue  # the UI leaves out inputs its node template does not have
        value = input_value(instance)
        is_board = field_spec.kind == "board" if field_spec else name == "board"
        if is_board:
            value = _board_value(value, board)
        if value is not None:
            fields[name] = value
    return {
        "type": node_type,
        "id": node["id"],
        **fields,
        "use_cache": data.get("useCache", True),
        "is_intermediate": data.get("isIntermediate", True),
    }


def _board_value(value: Any, board: str | None) -> Any:
    """The UI shows "auto" (the auto-add board) and "none" (Uncategorized); the graph takes ``{board_id}`` or nothing."""
    if value == NO_BOARD:
        return None
    if value == AUTO_BOARD or not value:
        return {"board_id": board} if board is not None else None
    return value


def _resolve_edge(
    edge: dict[str, Any], nodes: dict[str, dict[str, Any]], executable: dict[str, Any], edges: list[dict[str, Any]]
) -> tuple[str, str, str, str] | None:
    """``(source, source_field, target, target_field)`` of a data edge between executable nodes, else None."""
    if edge.get("type", "default") != "default" or edge["target"] not in executable:
        return None
    source = nodes.get(edge["source"])
    if source is None:
        return None
    if source.get("type") == "connector":
        resolved = resolve_connector_source(source["id"], nodes, edges)
        if resolved is None:
            return None
        source_id, source_field = resolved
    else:
        source_id, source_field = edge["source"], edge.get("sourceHandle", "")
    if source_id not in executable or not source_field or not edge.get("targetHandle"):
        return None
    return source_id, source_field, edge["target"], edge["targetHandle"]
