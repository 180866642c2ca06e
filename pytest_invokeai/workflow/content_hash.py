"""A content hash of a workflow: what decides the images it makes, and nothing the editor only draws.

Two exports hash the same when they would enqueue the same graph with the same form. Moving a node
on the canvas, collapsing it, editing a notes node, renaming the workflow or re-laying out the form
with headings and dividers does not change the hash. Changing a node's id, type or an input value,
``useCache``/``isIntermediate``, a data edge, or the order of the form's inputs does.

Stability: the hashed document is canonical JSON (sorted keys, no whitespace, UTF-8) and nodes and
edges are sorted, so the hash does not depend on the order the editor happened to save them in.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pytest_invokeai.workflow.form import form_inputs

if TYPE_CHECKING:
    from pytest_invokeai.workflow.load import Workflow

#: Bump when the hashed content changes meaning; stored hashes of another version never compare equal.
HASH_VERSION = 1
HASH_PREFIX = "sha256:"

#: Node types that carry generation content. "notes" and "current_image" only live in the editor.
_HASHED_NODE_TYPES = frozenset({"invocation", "connector"})


def content_hash(workflow: Workflow) -> str:
    """``sha256:<hex>`` of :func:`hashed_content` in canonical JSON."""
    return HASH_PREFIX + hashlib.sha256(canonical_json(hashed_content(workflow))).hexdigest()


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def hashed_content(workflow: Workflow) -> dict[str, Any]:
    """The part of a workflow that reaches the server (or decides which value goes where), as plain data."""
    nodes = []
    for node in workflow.nodes:
        if node.type not in _HASHED_NODE_TYPES:
            continue
        data = node.data
        nodes.append(
            {
                "id": node.id,
                "kind": node.type,
                "type": data.type,
                "useCache": data.useCache,
                "isIntermediate": data.isIntermediate,
                # An input fed by an edge usually has no value; absent and null must hash apart.
                "inputs": {
                    name: ({"value": field.value} if field.has_value else {}) for name, field in data.inputs.items()
                },
            }
        )
    edges = sorted(
        [edge.source, edge.sourceHandle, edge.target, edge.targetHandle]
        for edge in workflow.document.edges
        if edge.type == "default"  # "collapsed" edges are drawn only, they carry no data
    )
    form_order = [[i.node_id, i.field_name] for i in form_inputs(workflow)]
    return {
        "hash_version": HASH_VERSION,
        "nodes": sorted(nodes, key=lambda n: n["id"]),
        "edges": edges,
        "form": form_order,
    }
