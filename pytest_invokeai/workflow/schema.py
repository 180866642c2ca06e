"""InvokeAI's invocation schema: what each node type's input fields are (kind, title, bounds, choices).

The source of truth is the server's ``/openapi.json``: every ``components.schemas.*`` entry with
``"class": "invocation"`` is a node type, and its properties with ``field_kind`` ``"input"`` or
``"internal"`` are the fields the web UI shows (``internal`` is how InvokeAI marks ``board`` and
``metadata``). Node attributes (``id``, ``type``, ``is_intermediate``, ``use_cache``) are not fields.

We keep a compact snapshot of the schema of the InvokeAI version we test against in
``data/invocation-schema.json`` (:func:`bundled_schema`). Users with custom nodes refresh it from
their own server with :func:`fetch_schema` (or ``scripts/snapshot_schema.py --url URL``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_invokeai.errors import InvokeAITestError, ServerError

#: Bumped when the snapshot layout changes; :meth:`InvocationSchema.load` refuses other formats.
SNAPSHOT_FORMAT = 1
BUNDLED_SNAPSHOT = Path(__file__).parent / "data" / "invocation-schema.json"

#: Where a field's value may come from (InvokeAI's ``Input`` enum).
INPUT_MODES = ("any", "direct", "connection")
#: ``single``, ``collection`` (a list), or ``single_or_collection`` (``float | list[float]``).
CARDINALITIES = ("single", "collection", "single_or_collection")

_FIELD_KINDS_IN_FORM = ("input", "internal")
_PRIMITIVE_KINDS = {"string": "string", "integer": "integer", "number": "float", "boolean": "boolean"}
_COLLECTION_KINDS = {"string": "string_collection", "integer": "integer_collection", "number": "float_collection"}
_REF_KINDS = {"ImageField": "image", "BoardField": "board", "ColorField": "color", "ModelIdentifierField": "model"}
# Bounds as the schema spells them (pydantic writes ``ge``/``le`` when they sit on a union).
_BOUND_KEYS = {
    "minimum": "minimum",
    "ge": "minimum",
    "maximum": "maximum",
    "le": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "multipleOf": "multiple_of",
}
_MODEL_HINT_KEYS = {
    "ui_model_base": "model_base",
    "ui_model_type": "model_type",
    "ui_model_variant": "model_variant",
    "ui_model_format": "model_format",
}


class SchemaError(InvokeAITestError):
    """A schema snapshot or an ``/openapi.json`` document cannot be read."""


@dataclass(frozen=True)
class FieldSpec:
    """One input field of a node type.

    ``type_name`` is InvokeAI's own type (``integer``, ``ImageField``, ``list[string]``...), kept for
    messages and drift reports; ``kind`` is our coarser, frozen classification (see ``form.KINDS``).
    ``constraints`` holds only what applies: ``minimum``, ``maximum``, ``exclusive_minimum``,
    ``exclusive_maximum``, ``multiple_of``, ``choices`` and the model hints ``model_base``,
    ``model_type``, ``model_variant``, ``model_format`` (lists of accepted values).
    """

    name: str
    kind: str
    title: str = ""
    description: str = ""
    type_name: str = ""
    cardinality: str = "single"
    nullable: bool = False
    required: bool = False
    input: str = "any"
    has_default: bool = False
    default: Any = None
    ui_type: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)

    @property
    def choices(self) -> tuple[Any, ...] | None:
        choices = self.constraints.get("choices")
        return tuple(choices) if choices is not None else None

    def to_json(self) -> dict[str, Any]:
        """Only what differs from the defaults above: the snapshot stays small and diffs stay readable."""
        out: dict[str, Any] = {"kind": self.kind}
        for key, value, unset in (
            ("type", self.type_name, self.kind),
            ("title", self.title, start_case(self.name)),
            ("description", self.description, ""),
            ("cardinality", self.cardinality, "single"),
            ("nullable", self.nullable, False),
            ("required", self.required, False),
            ("input", self.input, "any"),
            ("ui_type", self.ui_type, ""),
            ("constraints", self.constraints, {}),
        ):
            if value != unset:
                out[key] = value
        if self.has_default:
            out["default"] = self.default
        return out

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> FieldSpec:
        return cls(
            name=name,
            kind=data["kind"],
            type_name=data.get("type", data["kind"]),
            title=data["title"] if "title" in data else start_case(name),  # only when needed: 1,500 fields
            description=data.get("description", ""),
            cardinality=data.get("cardinality", "single"),
            nullable=data.get("nullable", False),
            required=data.get("required", False),
            input=data.get("input", "any"),
            ui_type=data.get("ui_type", ""),
            constraints=dict(data.get("constraints", {})),
            has_default="default" in data,
            default=data.get("default"),
        )


@dataclass(frozen=True)
class OutputSpec:
    """One output field of a node type (``image``, ``latents``, ``width``...)."""

    name: str
    kind: str
    type_name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind} if self.type_name == self.kind else {"kind": self.kind, "type": self.type_name}

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> OutputSpec:
        return cls(name=name, kind=data["kind"], type_name=data.get("type", data["kind"]))


@dataclass(frozen=True)
class NodeSpec:
    type: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    title: str = ""
    version: str = ""
    category: str = ""
    node_pack: str = ""
    output_type: str = ""  # e.g. "image_output"
    outputs: dict[str, OutputSpec] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "version": self.version,
            "category": self.category,
            "node_pack": self.node_pack,
            "output_type": self.output_type,
            "fields": {name: spec.to_json() for name, spec in self.fields.items()},
            "outputs": {name: spec.to_json() for name, spec in self.outputs.items()},
        }

    @classmethod
    def from_json(cls, node_type: str, data: dict[str, Any]) -> NodeSpec:
        return cls(
            type=node_type,
            title=data.get("title", ""),
            version=data.get("version", ""),
            category=data.get("category", ""),
            node_pack=data.get("node_pack", ""),
            output_type=data.get("output_type", ""),
            fields={name: FieldSpec.from_json(name, f) for name, f in data.get("fields", {}).items()},
            outputs={name: OutputSpec.from_json(name, o) for name, o in data.get("outputs", {}).items()},
        )


class _NodesOnDemand(Mapping[str, NodeSpec]):
    """Node types of a snapshot, each built from its JSON when first asked for.

    A workflow uses a handful of InvokeAI's 300-odd node types, and building them all cost more
    than collecting thousands of cases: the bundled snapshot (known good) is read this way.
    """

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self._built: dict[str, NodeSpec] = {}

    def __getitem__(self, node_type: str) -> NodeSpec:
        node = self._built.get(node_type)
        if node is None:
            node = self._built[node_type] = NodeSpec.from_json(node_type, self._raw[node_type])
        return node

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@dataclass(frozen=True)
class InvocationSchema:
    invokeai_version: str
    nodes: Mapping[str, NodeSpec]

    def node(self, node_type: str) -> NodeSpec | None:
        return self.nodes.get(node_type)

    def field(self, node_type: str, field_name: str) -> FieldSpec | None:
        node = self.nodes.get(node_type)
        return node.fields.get(field_name) if node else None

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_openapi(cls, openapi: dict[str, Any], *, invokeai_version: str) -> InvocationSchema:
        """Read the node types out of an InvokeAI ``/openapi.json`` document.

        ``invokeai_version`` comes from ``/api/v1/app/version``: the document's own ``info.version``
        is the API's version, not InvokeAI's.
        """
        schemas = (openapi.get("components") or {}).get("schemas")
        if not isinstance(schemas, dict):
            raise SchemaError("not an InvokeAI OpenAPI document: it has no components.schemas")
        nodes: dict[str, NodeSpec] = {}
        for schema_name, schema in schemas.items():
            if isinstance(schema, dict) and schema.get("class") == "invocation":
                node = _node_from_openapi(schema_name, schema, schemas)
                nodes[node.type] = node
        if not nodes:
            raise SchemaError('not an InvokeAI OpenAPI document: no schema has "class": "invocation"')
        return cls(invokeai_version=invokeai_version, nodes=nodes)

    # -- snapshot files ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "invokeai_version": self.invokeai_version,
            "nodes": {node_type: node.to_json() for node_type, node in self.nodes.items()},
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "<schema>", on_demand: bool = False) -> InvocationSchema:
        """``on_demand``: build each node type when first used (for a snapshot known to be good)."""
        if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT or "nodes" not in data:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise SchemaError(
                f"{source}: not a pytest-invokeai schema snapshot of format {SNAPSHOT_FORMAT} (found format {found!r}); "
                "make a new one with scripts/snapshot_schema.py --url URL"
            )
        nodes: Mapping[str, NodeSpec] = (
            _NodesOnDemand(data["nodes"])
            if on_demand
            else {node_type: NodeSpec.from_json(node_type, node) for node_type, node in data["nodes"].items()}
        )
        return cls(invokeai_version=str(data.get("invokeai_version", "unknown")), nodes=nodes)

    def save(self, path: str | Path) -> None:
        """Write the snapshot: sorted keys, one line per field, so that a refresh diffs cleanly."""
        Path(path).write_text(_dump_json(self.to_json()) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, *, on_demand: bool = False) -> InvocationSchema:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaError(f"{path}: cannot read the schema snapshot: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return cls.from_json(data, source=str(path), on_demand=on_demand)


@lru_cache(maxsize=1)
def bundled_schema() -> InvocationSchema:
    """The snapshot shipped with the package (the InvokeAI version the plugin is tested against)."""
    return InvocationSchema.load(BUNDLED_SNAPSHOT, on_demand=True)


def load_schema(path: str | Path | None = None) -> InvocationSchema:
    """The schema snapshot at ``path`` (written by ``pytest-invokeai schema fetch``, for custom nodes), or the
    bundled one when ``path`` is None. Callers pass what the user set (``--invokeai-schema``, the CLI's
    ``--schema``); the schema then travels with each loaded :class:`~pytest_invokeai.workflow.load.Workflow`."""
    return _schema_file(str(Path(path).resolve())) if path else bundled_schema()


@lru_cache(maxsize=8)
def _schema_file(path: str) -> InvocationSchema:
    return InvocationSchema.load(path)


def fetch_schema(url: str, *, timeout: float = 30.0, transport: Any = None) -> InvocationSchema:
    """The schema of a running InvokeAI server (with its custom nodes), e.g. ``http://127.0.0.1:9090``.

    ``transport`` is an optional ``httpx`` transport (tests pass an ``httpx.MockTransport``).
    """
    import httpx

    base = url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=timeout, transport=transport) as client:
            version = _get_json(client, "/api/v1/app/version", base).get("version")
            openapi = _get_json(client, "/openapi.json", base)
    except httpx.HTTPError as exc:
        raise ServerError(f"cannot read the schema from {base}: {exc}") from None
    if not isinstance(version, str):
        raise ServerError(f'{base}/api/v1/app/version did not answer {{"version": ...}}: is this an InvokeAI server?')
    try:
        return InvocationSchema.from_openapi(openapi, invokeai_version=version)
    except SchemaError as exc:
        raise SchemaError(f"{base}/openapi.json: {exc}") from None


_ONE_LINE_DEPTH = 4


def _dump_json(value: Any, depth: int = 0) -> str:
    """JSON with sorted keys; objects below ``nodes.<type>.fields`` (depth 4) stay on one line."""
    if not isinstance(value, dict) or not value or depth >= _ONE_LINE_DEPTH:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    pad = " " * (depth + 1)
    items = [f"{pad}{json.dumps(key)}: {_dump_json(value[key], depth + 1)}" for key in sorted(value)]
    return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"


def _get_json(client: Any, path: str, base: str) -> Any:
    response = client.get(path)
    if response.status_code != 200:
        raise ServerError(f"GET {base}{path} answered HTTP {response.status_code}")
    # InvokeAI answers unknown paths with its web page (200, text/html): check what we got.
    if "json" not in response.headers.get("content-type", ""):
        raise ServerError(
            f"GET {base}{path} answered {response.headers.get('content-type', 'no content type')}, "
            "not JSON: is this an InvokeAI server?"
        )
    return response.json()


# -- reading one node type out of the OpenAPI document -----------------------------------------


def _node_from_openapi(schema_name: str, schema: dict[str, Any], schemas: dict[str, Any]) -> NodeSpec:
    properties = schema.get("properties") or {}
    type_property = properties.get("type") or {}
    node_type = type_property.get("const", type_property.get("default"))
    if not isinstance(node_type, str):
        raise SchemaError(f"components.schemas.{schema_name}: an invocation without a 'type' const")
    fields = {
        name: _field_from_openapi(name, prop)
        for name, prop in properties.items()
        if isinstance(prop, dict) and prop.get("field_kind") in _FIELD_KINDS_IN_FORM
    }
    output_type, outputs = _outputs_from_openapi(schema.get("output"), schemas)
    return NodeSpec(
        type=node_type,
        title=str(schema.get("title", "")).replace("Invocation", ""),  # as the web UI titles nodes
        version=str(schema.get("version", "")),
        category=str(schema.get("category", "")),
        node_pack=str(schema.get("node_pack", "")),
        output_type=output_type,
        outputs=outputs,
        fields=fields,
    )


def _outputs_from_openapi(output_ref: Any, schemas: dict[str, Any]) -> tuple[str, dict[str, OutputSpec]]:
    if not isinstance(output_ref, dict) or "$ref" not in output_ref:
        return "", {}
    output = schemas.get(_ref_name(output_ref)) or {}
    properties = output.get("properties") or {}
    type_property = properties.get("type") or {}
    outputs = {}
    for name, prop in properties.items():
        if isinstance(prop, dict) and prop.get("field_kind") == "output":
            type_name, cardinality, _, _ = _parse_type(prop)
            outputs[name] = OutputSpec(name=name, kind=_kind(type_name, cardinality, prop), type_name=type_name)
    return str(type_property.get("const", type_property.get("default", ""))), outputs


def _field_from_openapi(name: str, prop: dict[str, Any]) -> FieldSpec:
    type_name, cardinality, nullable, choices = _parse_type(prop)
    constraints: dict[str, Any] = {}
    for key, ours in _BOUND_KEYS.items():
        if isinstance(prop.get(key), (int, float)) and not isinstance(prop.get(key), bool):
            constraints[ours] = prop[key]
    if choices is not None:
        constraints["choices"] = choices
    for key, ours in _MODEL_HINT_KEYS.items():
        if prop.get(key):
            hint = prop[key]
            constraints[ours] = list(hint) if isinstance(hint, list) else [hint]
    input_mode = prop.get("input", "any")
    required = bool(prop.get("orig_required", False))
    # InvokeAI gives required fields ``default: null`` in the schema so that the UI may leave them
    # for an edge; ``orig_default`` is the real one. A required field has no default.
    has_default = "orig_default" in prop or ("default" in prop and not required)
    default = prop.get("orig_default", prop.get("default"))
    return FieldSpec(
        name=name,
        kind=_kind(type_name, cardinality, prop),
        title=prop.get("title") or start_case(name),
        description=prop.get("description") or "",
        type_name=type_name,
        cardinality=cardinality,
        nullable=nullable,
        required=required,
        input=input_mode if input_mode in INPUT_MODES else "any",
        has_default=has_default,
        default=default,
        ui_type=prop.get("ui_type") or "",
        constraints=constraints,
    )


def _parse_type(prop: dict[str, Any]) -> tuple[str, str, bool, list[Any] | None]:
    """(type name, cardinality, nullable, enum choices) of a property, the way the web UI reads it.

    ``anyOf`` with ``null`` is an optional value; ``anyOf`` of T and ``list[T]`` is ``single_or_collection``.
    """
    options = prop.get("anyOf") or prop.get("allOf") or prop.get("oneOf")
    if options is None:
        return (*_parse_single(prop), False, _choices(prop))
    non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
    nullable = len(non_null) < len(options)
    if len(non_null) == 1:
        type_name, cardinality = _parse_single(non_null[0])
        return type_name, cardinality, nullable, _choices(non_null[0])
    parsed = [_parse_single(o) for o in non_null]
    if len(parsed) == 2 and {c for _, c in parsed} == {"single", "collection"}:
        single = next(t for t, c in parsed if c == "single")
        if f"list[{single}]" in {t for t, _ in parsed}:
            return single, "single_or_collection", nullable, None
    return " | ".join(t for t, _ in parsed), "single", nullable, None


def _parse_single(schema: Any) -> tuple[str, str]:
    if not isinstance(schema, dict):
        return "unknown", "single"
    if "$ref" in schema:
        return _ref_name(schema), "single"
    if schema.get("type") == "array":
        item, _ = _parse_single(schema.get("items") or {})
        return f"list[{item}]", "collection"
    if "enum" in schema or "const" in schema:
        return "enum", "single"
    if isinstance(schema.get("type"), str):
        return schema["type"], "single"
    return "any", "single"


def _choices(schema: dict[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:  # ``Literal["x"]``
        return [schema["const"]]
    return None


def _kind(type_name: str, cardinality: str, prop: dict[str, Any]) -> str:
    """Our frozen kind for an InvokeAI type (see ``form.KINDS``)."""
    ui_type = prop.get("ui_type") or ""
    if ui_type.endswith("ModelField") or prop.get("ui_model_type") or prop.get("ui_model_base"):
        return "model"  # ModelIdentifierField and the older per-model ui_types
    if type_name == "enum":
        return "enum"
    if cardinality == "collection":
        item = type_name[len("list[") : -1]
        if item == "ImageField":
            return "image_collection"
        return _COLLECTION_KINDS.get(item, "object")
    # ``single_or_collection`` (cfg_scale: ``float | list[float]``) takes the single kind.
    if type_name in _PRIMITIVE_KINDS:
        return _PRIMITIVE_KINDS[type_name]
    return _REF_KINDS.get(type_name, "object")


def _ref_name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def start_case(name: str) -> str:
    """``cfg_scale`` -> ``Cfg Scale``: the title the web UI shows for a field without one."""
    return " ".join(word[:1].upper() + word[1:] for word in _WORD.findall(name))
