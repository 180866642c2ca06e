"""Connector nodes (workflow format 4.0.0): editor-only relays that pass one output on to many inputs.

A connector has one input handle ``in`` and one output handle ``out``; connectors may be chained.
Before a graph goes to the server, every edge leaving a connector is re-pointed at the invocation
output that feeds the chain (``connectorTopology.ts`` in the web UI).
"""

from __future__ import annotations

from typing import Any

CONNECTOR_INPUT = "in"


def resolve_connector_source(
    connector_id: str, nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]
) -> tuple[str, str] | None:
    """The invocation output that feeds a connector (through any chain of connectors), or None if nothing does."""
    visited: set[str] = set()
    current = connector_id
    while current not in visited:
        visited.add(current)
        incoming = next(
            (
                e
                for e in edges
                if e.get("type", "default") == "default"
                and e["target"] == current
                and e.get("targetHandle") == CONNECTOR_INPUT
                and isinstance(e.get("sourceHandle"), str)
            ),
            None,
        )
        source = nodes.get(incoming["source"]) if incoming else None
        if source is None or incoming is None:
            return None
        if source.get("type") == "invocation":
            return source["id"], incoming["sourceHandle"]
        if source.get("type") != "connector":
            return None
        current = source["id"]
    return None  # a loop of connectors
