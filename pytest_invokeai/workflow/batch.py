"""``batch.data`` from a workflow's batch nodes (and the generator nodes that fill them), as the web UI builds it.

Batch nodes (``image_batch``, ``string_batch``, ``integer_batch``, ``float_batch``) are not graph
nodes: each one gives a list of items to the inputs its output edges reach. Nodes with the same
``batch_group_id`` ("Group 1".."Group 5") are zipped into one entry; each node in group "None" is an
entry of its own; the server runs the cartesian product of the entries. The order is the web UI's
(``getBatchDataForWorkflowGeneration`` in ``useEnqueueWorkflows.ts``): groups in the order their
first node appears in the workflow, nodes in workflow order, edges in workflow order.
"""

from __future__ import annotations

from typing import Any

from pytest_invokeai.errors import WorkflowError
from pytest_invokeai.workflow.connectors import resolve_connector_source
from pytest_invokeai.workflow.embedded import input_value
from pytest_invokeai.workflow.generators import UnsupportedGenerator, generator_values
from pytest_invokeai.workflow.jsonpath import json_path

#: Batch node type -> (its collection input, its output handle).
BATCH_FIELDS = {
    "image_batch": ("images", "image"),
    "string_batch": ("strings", "value"),
    "integer_batch": ("integers", "value"),
    "float_batch": ("floats", "value"),
}
UNGROUPED = "None"


def batch_data(document: dict[str, Any], *, source: str) -> list[list[dict[str, Any]]]:
    nodes = document.get("nodes", [])
    edges = document.get("edges", [])
    nodes_by_id = {node["id"]: node for node in nodes}
    groups: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
    for index, node in enumerate(nodes):
        if node.get("type") == "invocation" and node["data"]["type"] in BATCH_FIELDS:
            group = input_value(node["data"].get("inputs", {}).get("batch_group_id", {}))
            groups.setdefault(group, []).append((index, node))

    data: list[list[dict[str, Any]]] = []
    for group, members in groups.items():
        zipped: list[dict[str, Any]] = []
        sizes: list[tuple[str, int]] = []
        for index, node in members:
            items = _items(node, index, nodes_by_id, edges, source)
            if not items:
                raise WorkflowError(
                    f"batch node {node['id']!r} has no items; the web UI refuses to enqueue an empty batch",
                    source=source,
                    json_path=json_path("nodes", index),
                )
            sizes.append((node["id"], len(items)))
            entries = [
                {
                    "node_path": _target(edge, nodes_by_id, node, index, source),
                    "field_name": edge["targetHandle"],
                    "items": items,
                }
                for edge in edges
                if edge["source"] == node["id"]
                and edge.get("sourceHandle") == BATCH_FIELDS[node["data"]["type"]][1]
                and edge.get("targetHandle")
            ]
            if group == UNGROUPED:
                if entries:
                    data.append(entries)
            else:
                zipped.extend(entries)
        if group != UNGROUPED and len({size for _, size in sizes}) > 1:
            listed = ", ".join(f"{node_id} has {size}" for node_id, size in sizes)
            raise WorkflowError(
                f"batch group {group!r} zips batches of different lengths ({listed}); "
                "the batches of one group must have the same number of items",
                source=source,
            )
        if zipped:
            data.append(zipped)
    return data


def _items(
    node: dict[str, Any], index: int, nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]], source: str
) -> list[Any]:
    """The batch's own list, or the values of the generator wired into its collection input."""
    collection = BATCH_FIELDS[node["data"]["type"]][0]
    feeding = next((e for e in edges if e["target"] == node["id"] and e.get("targetHandle") == collection), None)
    if feeding is None:
        return list(input_value(node["data"].get("inputs", {}).get(collection, {})) or [])
    generator = nodes.get(feeding["source"])
    if generator is not None and generator.get("type") == "connector":
        resolved = resolve_connector_source(generator["id"], nodes, edges)
        generator = nodes.get(resolved[0]) if resolved else None
    if (
        generator is None
        or generator.get("type") != "invocation"
        or "generator" not in generator["data"].get("inputs", {})
    ):
        raise WorkflowError(
            f"the {collection!r} input of batch node {node['id']!r} is fed by an edge, but not from a generator node",
            source=source,
            json_path=json_path("nodes", index),
        )
    value = input_value(generator["data"]["inputs"]["generator"])
    try:
        return generator_values(generator["data"]["type"], value)
    except UnsupportedGenerator as exc:
        raise WorkflowError(
            f"generator node {generator['id']!r} ({generator['data']['type']}): {exc}", source=source
        ) from None


def _target(
    edge: dict[str, Any], nodes: dict[str, dict[str, Any]], batch: dict[str, Any], index: int, source: str
) -> str:
    target = nodes.get(edge["target"])
    if target is not None and target.get("type") == "connector":
        # The web UI would send the connector's id as node_path, which the server rejects.
        raise WorkflowError(
            f"batch node {batch['id']!r} feeds connector {target['id']!r}; InvokeAI 6.14.2's web UI cannot "
            "enqueue that (it names the connector as the batch target). Connect the batch node directly.",
            source=source,
            json_path=json_path("nodes", index),
        )
    target_id: str = edge["target"]
    return target_id
