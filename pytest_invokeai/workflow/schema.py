"""InvokeAI's invocation schema: what each node type's input fields are (kind, title, bounds, choices).

INTERFACE STUB (to be completed): the loader and form code depend only on
``InvocationSchema.node()``, ``InvocationSchema.field()``, ``FieldSpec.kind`` and ``bundled_schema()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class NodeSpec:
    type: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class InvocationSchema:
    invokeai_version: str
    nodes: dict[str, NodeSpec]

    def node(self, node_type: str) -> NodeSpec | None:
        return self.nodes.get(node_type)

    def field(self, node_type: str, field_name: str) -> FieldSpec | None:
        node = self.nodes.get(node_type)
        return node.fields.get(field_name) if node else None


@lru_cache(maxsize=1)
def bundled_schema() -> InvocationSchema:
    return InvocationSchema(invokeai_version="unknown", nodes={})


def _unused(_: Any) -> None:  # pragma: no cover
    pass
