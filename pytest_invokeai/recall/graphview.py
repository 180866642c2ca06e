"""A read-only view of a workflow's data edges, for following a value back to the node field it comes from.

Works on the plain-JSON document (values of the case already written in, see
:func:`~pytest_invokeai.workflow.graph.with_values`). Edges from connector nodes are followed to the
invocation output that feeds the connector, as the web UI does before it enqueues. ``collect`` nodes
are looked through: what feeds a collection is what feeds each of its items.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pytest_invokeai.workflow.connectors import resolve_connector_source
from pytest_invokeai.workflow.embedded import input_value

#: Node types whose output is their input of the given name, unchanged (the editor's "primitive" nodes).
PASS_THROUGH = {"string": "value", "integer": "value", "float": "value", "boolean": "value", "image": "image"}
COLLECT = "collect"
COLLECT_INPUT = "item"


@dataclass(frozen=True, order=True)
class FieldRef:
    """One input field of one node: where a recalled value was read."""

    node_id: str
    field: str

    def __str__(self) -> str:
        return f"{self.node_id}.{self.field}"


@dataclass(frozen=True)
class Found:
    value: Any
    ref: FieldRef  # the field the value is stored in (after following pass-through nodes)


@dataclass(frozen=True)
class NotFound:
    reason: str  # why there is no plain value: "it comes from rand_int node 'x' (...)"


class GraphView:
    def __init__(self, document: dict[str, Any]) -> None:
        all_nodes = {node["id"]: node for node in document.get("nodes", [])}
        self._nodes = {node_id: node for node_id, node in all_nodes.items() if node.get("type") == "invocation"}
        self.order = list(self._nodes)  # node order of the file: "the first" means the first here
        edges = [e for e in document.get("edges", []) if e.get("type", "default") == "default"]
        self._feeds: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for edge in edges:
            source = all_nodes.get(edge.get("source"))
            target, handle = edge.get("target"), edge.get("targetHandle")
            if source is None or target not in self._nodes or not handle:
                continue
            if source.get("type") == "connector":
                resolved = resolve_connector_source(source["id"], all_nodes, edges)
                if resolved is None:
                    continue
            else:
                resolved = (source["id"], edge.get("sourceHandle"))
            if resolved[0] in self._nodes and resolved[1]:
                feeds = self._feeds.setdefault((target, handle), [])
                if resolved not in feeds:
                    feeds.append(resolved)

    # -- nodes --------------------------------------------------------------------------------

    def node_type(self, node_id: str) -> str:
        node_type: str = self._nodes[node_id]["data"].get("type", "")
        return node_type

    def has_input(self, node_id: str, field: str) -> bool:
        """The node has this input: stored in the node, or fed by an edge (a file may leave a fed input out)."""
        return field in self._nodes[node_id]["data"].get("inputs", {}) or (node_id, field) in self._feeds

    def input_names(self, node_id: str) -> list[str]:
        stored = list(self._nodes[node_id]["data"].get("inputs", {}))
        return stored + [field for (target, field) in self._feeds if target == node_id and field not in stored]

    def stored_value(self, node_id: str, field: str) -> Any:
        return input_value(self._nodes[node_id]["data"].get("inputs", {}).get(field, {}))

    def describe(self, node_id: str) -> str:
        """``rand_int node 'fe37ca02'`` (with its label when it has one), for messages."""
        label = self._nodes[node_id]["data"].get("label") or ""
        return f"{self.node_type(node_id)} node {node_id!r}" + (f" ({label!r})" if label else "")

    # -- edges --------------------------------------------------------------------------------

    def sources(self, node_id: str, field: str) -> list[tuple[str, str]]:
        """``(source node, output)`` of every edge into this input."""
        return list(self._feeds.get((node_id, field), []))

    def source(self, node_id: str, field: str) -> tuple[str, str] | None:
        found = self.sources(node_id, field)
        return found[0] if found else None

    def chain(self, node_id: str, field: str | None) -> Iterator[tuple[str, str]]:
        """Walk up a pass-through chain: the node feeding ``field``, then the node feeding *its* input of the
        same name as the output used (a LoRA loader's ``unet`` from the model loader's ``unet``), and so on.
        Yields ``(node, output)``; stops at the chain's start or at a loop."""
        feed = self.source(node_id, field) if field and self.has_input(node_id, field) else None
        seen: set[str] = set()
        while feed is not None and feed[0] not in seen:
            seen.add(feed[0])
            yield feed
            current, output = feed
            feed = self.source(current, output) if self.has_input(current, output) else None

    def consumers(self, node_id: str, output: str) -> list[tuple[str, str]]:
        """``(target node, input)`` of every edge out of this output, in node order."""
        found = [(target, handle) for (target, handle), feeds in self._feeds.items() if (node_id, output) in feeds]
        return sorted(found, key=lambda pair: self.order.index(pair[0]))

    def fan_in(self, node_id: str, field: str) -> list[str]:
        """The nodes whose outputs reach this input, looking through ``collect`` nodes, in edge order."""
        found: list[str] = []
        pending = [source for source, _ in self.sources(node_id, field)]
        seen: set[str] = set()
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if self.node_type(current) == COLLECT:
                pending[:0] = [source for source, _ in self.sources(current, COLLECT_INPUT)]
            else:
                found.append(current)
        return found

    def upstream(self, node_id: str) -> set[str]:
        """Every node that feeds this one, directly or through others."""
        seen: set[str] = set()
        pending = [node_id]
        while pending:
            current = pending.pop()
            for (target, _), feeds in self._feeds.items():
                if target == current:
                    for source, _ in feeds:
                        if source not in seen:
                            seen.add(source)
                            pending.append(source)
        return seen

    # -- values ------------------------------------------------------------------------------

    def trace(self, node_id: str, field: str) -> Found | NotFound:
        """The plain value this input gets: its own, or that of a primitive node feeding it."""
        seen: set[FieldRef] = set()
        ref = FieldRef(node_id, field)
        while ref not in seen:
            seen.add(ref)
            feed = self.source(ref.node_id, ref.field)
            if feed is None:
                return Found(self.stored_value(ref.node_id, ref.field), ref)
            source, output = feed
            passed = PASS_THROUGH.get(self.node_type(source))
            if passed != output:
                return NotFound(self._computed(source, output))
            ref = FieldRef(source, passed)
        return NotFound(f"{ref} is part of a loop of edges")

    def _computed(self, node_id: str, output: str) -> str:
        why = f"it comes from output {output!r} of {self.describe(node_id)}"
        if self.node_type(node_id).startswith("rand"):
            why += ", a new random value every run"
        return why
