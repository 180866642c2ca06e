"""Pydantic models of an exported InvokeAI workflow (the web UI's "WorkflowV3" format).

The models keep every key they do not know (``extra="allow"``): exports from newer InvokeAI
versions carry fields we have not seen, and dropping them would change what we send back.
Only the parts this package reads are typed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: ``meta.version`` values this package loads. 3.0.0 is migrated to 4.0.0 on load.
SUPPORTED_VERSIONS = ("3.0.0", "4.0.0")
CURRENT_VERSION = "4.0.0"

#: Node types that exist only in the editor and never reach the server.
BATCH_NODE_TYPES = frozenset({"image_batch", "string_batch", "integer_batch", "float_batch"})
GENERATOR_NODE_TYPES = frozenset({"image_generator", "string_generator", "integer_generator", "float_generator"})

#: Form element types, and those that are only decoration (they take no input index).
CONTAINER = "container"
NODE_FIELD = "node-field"
DECORATION_ELEMENTS = frozenset({"heading", "text", "divider"})
FORM_ELEMENT_TYPES = frozenset({CONTAINER, NODE_FIELD}) | DECORATION_ELEMENTS


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FieldInstance(_Open):
    """One input of a node as the editor stores it: ``{"name", "label", "description", "value"}``.

    ``value`` may be absent (an input fed by an edge often has none); ``has_value`` tells
    an absent value from an explicit ``null``.
    """

    name: str
    label: str = ""
    description: str = ""
    value: Any = None

    @property
    def has_value(self) -> bool:
        return "value" in self.model_fields_set


class NodeData(_Open):
    id: str
    type: str
    label: str = ""
    version: str | None = None
    inputs: dict[str, FieldInstance] = Field(default_factory=dict)
    isIntermediate: bool = True
    useCache: bool = True


class Node(_Open):
    id: str
    type: str  # "invocation", "notes", "connector" (4.0.0), "current_image"
    data: NodeData

    @property
    def is_invocation(self) -> bool:
        return self.type == "invocation"

    @property
    def is_connector(self) -> bool:
        return self.type == "connector"

    @property
    def is_batch(self) -> bool:
        return self.is_invocation and self.data.type in BATCH_NODE_TYPES

    @property
    def is_generator(self) -> bool:
        return self.is_invocation and self.data.type in GENERATOR_NODE_TYPES

    @property
    def is_executable(self) -> bool:
        """True for nodes that become graph nodes (batch and generator nodes become ``batch.data``)."""
        return self.is_invocation and not self.is_batch and not self.is_generator


class Edge(_Open):
    id: str
    type: str = "default"  # "default" carries data; "collapsed" is only drawn between collapsed nodes
    source: str
    target: str
    sourceHandle: str | None = None
    targetHandle: str | None = None


class FieldIdentifier(_Open):
    nodeId: str
    fieldName: str


class FormElement(_Open):
    id: str
    type: str
    parentId: str | None = None
    data: dict[str, Any] | None = None

    @property
    def children(self) -> list[str]:
        return list((self.data or {}).get("children") or []) if self.type == CONTAINER else []

    @property
    def field_identifier(self) -> FieldIdentifier | None:
        if self.type != NODE_FIELD or not self.data:
            return None
        ident = self.data.get("fieldIdentifier")
        return FieldIdentifier.model_validate(ident) if isinstance(ident, dict) else None


class Form(_Open):
    elements: dict[str, FormElement] = Field(default_factory=dict)
    rootElementId: str = "root"


class WorkflowMeta(_Open):
    version: str
    category: str = "user"


class WorkflowDocument(_Open):
    """The JSON document itself, as exported (or as embedded in a PNG)."""

    id: str | None = None
    name: str = ""
    author: str = ""
    description: str = ""
    version: str = ""
    contact: str = ""
    tags: str = ""
    notes: str = ""
    exposedFields: list[FieldIdentifier] = Field(default_factory=list)
    meta: WorkflowMeta
    form: Form | None = None
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The document as plain JSON data, with the keys it was loaded with (nothing invented)."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


EdgeKind = Literal["default", "collapsed"]
