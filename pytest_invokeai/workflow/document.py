"""The document of an exported InvokeAI workflow (the web UI's "WorkflowV3" format), as plain objects.

The models keep every key they do not know: exports from newer InvokeAI versions carry fields we
have not seen, and dropping them would change what we send back. Only the parts this package reads
are typed.

They behave as pydantic models with ``extra="allow"`` did (they were ones): the same fields and
defaults, unknown keys kept (and readable as attributes), a field assigned counts as set, and
:meth:`WorkflowDocument.to_json_dict` gives what ``model_dump(mode="json", exclude_unset=True)``
gave. But reading a workflow is on the path of every pytest collection that uses one, and importing
pydantic and building its validators cost more than collecting thousands of cases. So a small
reader takes every document whose values already have their declared types (every export the web
UI writes), and anything else (a missing key, a wrong type, a value pydantic converts such as
``"true"`` for a boolean) goes to pydantic models built from the same field tables
(:mod:`.validation`): the errors and the conversions are pydantic's, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from pytest_invokeai.workflow.terms import BATCH_NODE_TYPES, CONTAINER, GENERATOR_NODE_TYPES, NODE_FIELD

REQUIRED: Any = object()  # a field's default when it has none


class NotPlain(Exception):
    """The fast reader met a value it does not take as is: pydantic decides (see :mod:`.validation`)."""


@dataclass(frozen=True)
class Spec:
    """One declared field: its name, what it holds, and its default (or a factory for a fresh one).

    ``kind``: ``str``, ``bool``, ``any``, ``dict`` (a JSON object), ``model`` (one ``model``),
    ``list`` (a list of ``model``) or ``map`` (an object whose values are ``model``); ``optional``:
    None is accepted too.
    """

    name: str
    kind: Literal["str", "bool", "any", "dict", "model", "list", "map"]
    optional: bool = False
    model: type[_Open] | None = None
    default: Any = REQUIRED
    factory: Callable[[], Any] | None = None


class _Open:
    """A JSON object with declared fields (``SPECS``) and any others kept as they are."""

    SPECS: ClassVar[tuple[Spec, ...]] = ()
    _by_name: ClassVar[dict[str, Spec]] = {}
    _fields_set: set[str]
    _extra: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_name = {spec.name: spec for spec in cls.SPECS}

    def __init__(self, **data: Any) -> None:
        """Built from keyword arguments, checked as a document's values are (pydantic's error when one is wrong)."""
        try:
            self._fill(data)
        except NotPlain:
            from pytest_invokeai.workflow.validation import validated

            self._fill(validated(type(self), _python_data(data)), trusted=True)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """An instance from parsed JSON; raises pydantic's ``ValidationError`` when it does not fit."""
        if isinstance(data, cls):
            return data
        instance = cls.__new__(cls)
        try:
            if type(data) is not dict:
                raise NotPlain(cls.__name__)
            instance._fill(data)
        except NotPlain:
            from pytest_invokeai.workflow.validation import validated

            instance._fill(validated(cls, data), trusted=True)
        return instance

    def _fill(self, data: Mapping[str, Any], *, trusted: bool = False) -> None:
        """Set the fields from ``data``. ``trusted``: pydantic has checked and converted it (nothing to check)."""
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            spec = self._by_name.get(key)
            if spec is None:
                extra[key] = value
            else:
                values[key] = _checked(spec, value, trusted)
        for spec in self.SPECS:
            if spec.name not in values:
                if spec.default is REQUIRED and spec.factory is None:
                    raise NotPlain(spec.name)
                values[spec.name] = spec.factory() if spec.factory is not None else spec.default
        state = self.__dict__
        state.update(values)
        state["_extra"] = extra
        state["_fields_set"] = set(data)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: the keys this package does not declare, as pydantic gave them.
        extra = self.__dict__.get("_extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # As pydantic without validate_assignment: stored as given, and from now on the field counts as set.
        if name in self._by_name:
            self.__dict__[name] = value
        else:
            self._extra[name] = value
        self._fields_set.add(name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Open)
        return self._declared() == other._declared() and self._extra == other._extra

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic models are: no hash

    def __repr__(self) -> str:
        shown = [f"{spec.name}={self.__dict__[spec.name]!r}" for spec in self.SPECS]
        shown += [f"{key}={value!r}" for key, value in self._extra.items()]
        return f"{type(self).__name__}({', '.join(shown)})"

    def _declared(self) -> dict[str, Any]:
        return {spec.name: self.__dict__[spec.name] for spec in self.SPECS}

    @property
    def model_fields_set(self) -> set[str]:
        """The keys the document gave (or that were assigned since), declared or not, as in pydantic."""
        return set(self._fields_set)

    @property
    def extra_fields(self) -> dict[str, Any]:
        """The keys this package does not declare, with their values."""
        return dict(self._extra)

    def dump(self, *, json: bool) -> dict[str, Any]:
        """The keys that were given or assigned: declared fields in their order, then the others.

        ``json``: in JSON mode, as pydantic's ``model_dump(mode="json")``: tuples become lists and
        floats that are not finite become None.
        """
        given, state = self._fields_set, self.__dict__
        out = {spec.name: _dumped(state[spec.name], json) for spec in self.SPECS if spec.name in given}
        for key, value in self._extra.items():
            out[key] = _dumped(value, json)
        return out


def _checked(spec: Spec, value: Any, trusted: bool) -> Any:
    """``value`` as the field holds it, or :class:`NotPlain` when pydantic would convert or refuse it."""
    if value is None and spec.optional:
        return None
    kind = spec.kind
    if kind == "any" or (trusted and kind in ("str", "bool")):
        return value
    if kind == "str":
        if type(value) is str:
            return value
    elif kind == "bool":
        if type(value) is bool:
            return value
    elif kind == "dict":
        if trusted or (type(value) is dict and all(type(key) is str for key in value)):
            return dict(value)
    else:
        model = spec.model
        assert model is not None
        if kind == "model":
            return _built(model, value, trusted)
        if kind == "list":
            if trusted or type(value) is list:
                return [_built(model, item, trusted) for item in value]
        elif trusted or (type(value) is dict and all(type(key) is str for key in value)):  # map
            return {key: _built(model, item, trusted) for key, item in value.items()}
    raise NotPlain(spec.name)


def _built(model: type[_Open], data: Any, trusted: bool) -> _Open:
    if isinstance(data, model):
        return data
    if type(data) is not dict and not trusted:
        raise NotPlain(model.__name__)
    instance = model.__new__(model)
    instance._fill(data, trusted=trusted)
    return instance


def _dumped(value: Any, json: bool) -> Any:
    kind = type(value)
    # The JSON a workflow holds first, by exact type: every case's graph is built from a fresh dump.
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: _dumped(item, json) for key, item in value.items()}
    if kind is list:
        return [_dumped(item, json) for item in value]
    if isinstance(value, _Open):
        return value.dump(json=json)
    if isinstance(value, dict):
        return {key: _dumped(item, json) for key, item in value.items()}
    if isinstance(value, list) or (json and isinstance(value, tuple)):
        return [_dumped(item, json) for item in value]
    if json and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _python_data(value: Any) -> Any:
    """Arguments with instances of these classes turned back into data, for pydantic to check."""
    if isinstance(value, _Open):
        return value.dump(json=False)
    if isinstance(value, dict):
        return {key: _python_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_python_data(item) for item in value]
    return value


class FieldInstance(_Open):
    """One input of a node as the editor stores it: ``{"name", "label", "description", "value"}``.

    ``value`` may be absent (an input fed by an edge often has none); ``has_value`` tells
    an absent value from an explicit ``null``.
    """

    SPECS = (
        Spec("name", "str"),
        Spec("label", "str", default=""),
        Spec("description", "str", default=""),
        Spec("value", "any", default=None),
    )
    name: str
    label: str
    description: str
    value: Any

    @property
    def has_value(self) -> bool:
        return "value" in self._fields_set


class NodeData(_Open):
    SPECS = (
        Spec("id", "str"),
        Spec("type", "str"),
        Spec("label", "str", default=""),
        Spec("version", "str", optional=True, default=None),
        Spec("inputs", "map", model=FieldInstance, factory=dict),
        Spec("isIntermediate", "bool", default=True),
        Spec("useCache", "bool", default=True),
    )
    id: str
    type: str
    label: str
    version: str | None
    inputs: dict[str, FieldInstance]
    isIntermediate: bool
    useCache: bool


class Node(_Open):
    SPECS = (
        Spec("id", "str"),
        Spec("type", "str"),  # "invocation", "notes", "connector" (4.0.0), "current_image"
        Spec("data", "model", model=NodeData),
    )
    id: str
    type: str
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
    SPECS = (
        Spec("id", "str"),
        Spec("type", "str", default="default"),  # "default" carries data; "collapsed" is only drawn
        Spec("source", "str"),
        Spec("target", "str"),
        Spec("sourceHandle", "str", optional=True, default=None),
        Spec("targetHandle", "str", optional=True, default=None),
    )
    id: str
    type: str
    source: str
    target: str
    sourceHandle: str | None
    targetHandle: str | None


class FieldIdentifier(_Open):
    SPECS = (Spec("nodeId", "str"), Spec("fieldName", "str"))
    nodeId: str
    fieldName: str


class FormElement(_Open):
    SPECS = (
        Spec("id", "str"),
        Spec("type", "str"),
        Spec("parentId", "str", optional=True, default=None),
        Spec("data", "dict", optional=True, default=None),
    )
    id: str
    type: str
    parentId: str | None
    data: dict[str, Any] | None

    @property
    def children(self) -> list[str]:
        return list((self.data or {}).get("children") or []) if self.type == CONTAINER else []

    @property
    def field_identifier(self) -> FieldIdentifier | None:
        if self.type != NODE_FIELD or not self.data:
            return None
        ident = self.data.get("fieldIdentifier")
        return FieldIdentifier.from_json(ident) if isinstance(ident, dict) else None


class Form(_Open):
    SPECS = (
        Spec("elements", "map", model=FormElement, factory=dict),
        Spec("rootElementId", "str", default="root"),
    )
    elements: dict[str, FormElement]
    rootElementId: str


class WorkflowMeta(_Open):
    SPECS = (Spec("version", "str"), Spec("category", "str", default="user"))
    version: str
    category: str


class WorkflowDocument(_Open):
    """The JSON document itself, as exported (or as embedded in a PNG)."""

    SPECS = (
        Spec("id", "str", optional=True, default=None),
        Spec("name", "str", default=""),
        Spec("author", "str", default=""),
        Spec("description", "str", default=""),
        Spec("version", "str", default=""),
        Spec("contact", "str", default=""),
        Spec("tags", "str", default=""),
        Spec("notes", "str", default=""),
        Spec("exposedFields", "list", model=FieldIdentifier, factory=list),
        Spec("meta", "model", model=WorkflowMeta),
        Spec("form", "model", optional=True, model=Form, default=None),
        Spec("nodes", "list", model=Node, factory=list),
        Spec("edges", "list", model=Edge, factory=list),
    )
    id: str | None
    name: str
    author: str
    description: str
    version: str
    contact: str
    tags: str
    notes: str
    exposedFields: list[FieldIdentifier]
    meta: WorkflowMeta
    form: Form | None
    nodes: list[Node]
    edges: list[Edge]

    def to_json_dict(self) -> dict[str, Any]:
        """The document as plain JSON data, with the keys it was loaded with (nothing invented)."""
        return self.dump(json=True)


EdgeKind = Literal["default", "collapsed"]
