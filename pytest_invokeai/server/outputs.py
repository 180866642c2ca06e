"""Find the images a finished queue item produced, by the workflow node that made them.

A queue item's session maps each source node id (the id in the workflow) to the ids of its prepared
copies (``source_prepared_mapping``; a node inside an iterate runs once per item, so it has several),
and each prepared id to its output (``results``). Any output that carries ``{"image_name": ...}`` values
counts: ``image_output`` has one under ``image``; collection outputs have a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ImageRef:
    """One image made by one run of a node."""

    image_name: str
    node_id: str  # the source node id, as in the workflow
    prepared_id: str  # the id of this run of the node inside the session
    output_field: str  # "image", "collection", ...
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class NodeImages:
    node_id: str
    node_type: str
    node_label: str
    is_intermediate: bool
    images: tuple[ImageRef, ...]


def images_by_node(
    queue_item: dict[str, Any], graph_nodes: dict[str, dict[str, Any]] | None = None
) -> dict[str, NodeImages]:
    """Every node of the item's graph that produced images, keyed by source node id.

    ``graph_nodes`` (id -> graph node as enqueued) supplies types and flags; it defaults to the graph the
    server stored with the session. Node labels come from the workflow, so callers that have one add them.
    """
    session = queue_item.get("session") or {}
    mapping: dict[str, list[str]] = session.get("source_prepared_mapping") or {}
    results: dict[str, Any] = session.get("results") or {}
    nodes = graph_nodes if graph_nodes is not None else (session.get("graph") or {}).get("nodes") or {}
    found: dict[str, NodeImages] = {}
    for source_id in sorted(mapping):
        refs: list[ImageRef] = []
        for prepared_id in mapping[source_id]:
            output = results.get(prepared_id)
            if isinstance(output, dict):
                refs.extend(_images_in_output(output, source_id, prepared_id))
        if not refs:
            continue
        node = nodes.get(source_id, {})
        found[source_id] = NodeImages(
            node_id=source_id,
            node_type=str(node.get("type", "")),
            node_label="",
            is_intermediate=bool(node.get("is_intermediate", False)),
            images=tuple(refs),
        )
    return found


def _images_in_output(output: dict[str, Any], source_id: str, prepared_id: str) -> list[ImageRef]:
    refs = []
    width, height = output.get("width"), output.get("height")
    for field_name, value in output.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, dict) and isinstance(item.get("image_name"), str):
                refs.append(
                    ImageRef(
                        image_name=item["image_name"],
                        node_id=source_id,
                        prepared_id=prepared_id,
                        output_field=field_name,
                        width=width if isinstance(width, int) else None,
                        height=height if isinstance(height, int) else None,
                    )
                )
    return refs
