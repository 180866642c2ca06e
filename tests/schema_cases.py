"""What server/test_schema_server.py and unit/test_schema.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _snapshot_script() -> Any:
    """``scripts/snapshot_schema.py`` as a module (``scripts`` is not a package)."""
    spec = importlib.util.spec_from_file_location("snapshot_schema", REPO / "scripts" / "snapshot_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _field(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**schema, "field_kind": "input", "input": "any", "orig_required": False, **extra}


TINY_OPENAPI: dict[str, Any] = {
    "info": {"version": "1.0.0"},
    "components": {
        "schemas": {
            "ImageField": {"type": "object", "properties": {"image_name": {"type": "string"}}},
            "TinyInvocation": {
                "class": "invocation",
                "title": "Tiny Thing Invocation",
                "version": "1.2.3",
                "category": "testing",
                "node_pack": "tiny-pack",
                "output": _ref("TinyOutput"),
                "properties": {
                    "id": {"type": "string", "field_kind": "node_attribute", "title": "Id"},
                    "is_intermediate": {"type": "boolean", "field_kind": "node_attribute", "ui_type": "IsIntermediate"},
                    "use_cache": {"type": "boolean", "field_kind": "node_attribute", "default": True},
                    "type": {"const": "tiny", "default": "tiny", "field_kind": "node_attribute", "type": "string"},
                    "text": _field(
                        {"type": "string"}, default="", orig_default="", title="Text", description="Some text"
                    ),
                    "count": _field(
                        {"type": "integer"}, default=8, orig_default=8, minimum=0, maximum=64, multipleOf=8
                    ),
                    "ratio": _field({"type": "number"}, default=0.5, exclusiveMinimum=0, exclusiveMaximum=1),
                    "weight": _field(
                        {"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]}, ge=-1, le=2
                    ),
                    "flag": _field({"type": "boolean"}, default=True),
                    "mode": _field({"type": "string", "enum": ["fast", "slow"]}, default="fast"),
                    "only": _field(_optional({"const": "the-one", "type": "string"})),
                    "picture": _field(_optional(_ref("ImageField")), default=None, orig_required=True),
                    "pictures": _field({"type": "array", "items": _ref("ImageField")}, default=[]),
                    "board": _field(_optional(_ref("BoardField")), field_kind="internal", input="direct", default=None),
                    "model": _field(
                        _optional(_ref("ModelIdentifierField")), ui_model_base=["sdxl"], ui_model_type=["main"]
                    ),
                    "old_model": _field(_optional(_ref("MainModelField")), ui_type="MainModelField"),
                    "tint": _field(_ref("ColorField")),
                    "names": _field({"type": "array", "items": {"type": "string"}}),
                    "numbers": _field({"type": "array", "items": {"type": "integer"}}),
                    "floats": _field({"type": "array", "items": {"type": "number"}}),
                    "switches": _field({"type": "array", "items": {"type": "boolean"}}),
                    "latents": _field(_optional(_ref("LatentsField")), input="connection", orig_required=True),
                    "seed": _field(_optional({"type": "integer"}), default=None, orig_default=None),
                },
            },
            "TinyOutput": {
                "class": "output",
                "properties": {
                    "image": {**_ref("ImageField"), "field_kind": "output"},
                    "width": {"type": "integer", "field_kind": "output"},
                    "type": {"const": "tiny_output", "default": "tiny_output", "field_kind": "node_attribute"},
                },
            },
        }
    },
}
