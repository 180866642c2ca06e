"""Ordered form inputs of a workflow, and setting their values by index, name or identity.

INTERFACE CONTRACT (to be completed): other modules rely on ``FormInput`` as defined here and on
``form_inputs(workflow, schema=None) -> list[FormInput]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    @property
    def identity(self) -> str:
        """``node_id.field_name``, with ``#N`` for the second and later occurrences on one form."""
        base = f"{self.node_id}.{self.field_name}"
        return base if self.occurrence == 0 else f"{base}#{self.occurrence}"
