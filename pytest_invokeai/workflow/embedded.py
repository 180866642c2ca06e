"""The workflow as the web UI embeds it in a batch (``batch.workflow``), and input values as the UI holds them.

The web UI does not send the file it loaded: it sends its editor state passed through its workflow
schema (zod, ``features/nodes/types/workflow.ts``), which keeps only the keys it knows, fills some
defaults and drops ``null`` input values. We apply the same rules, checked against real captures
(``tests/data/gui/*.enqueue.json``):

- top level: ``name author description version contact tags notes exposedFields meta form nodes
  edges`` (no ``id``: "embedded workflows don't have an id"); ``meta`` is ``{category, version}``;
- nodes: ``{id, type, data, position}`` for invocation, connector and notes nodes only;
  invocation data gets ``nodePack: "invokeai"`` and ``dynamicInputTemplates: {}`` when missing;
- inputs: ``{name, label, description, value}``, without ``value`` when it is ``null`` or absent;
- edges: ``default`` ones keep ``id type source target sourceHandle targetHandle [hidden]``,
  ``collapsed`` ones ``id type source target``; others are dropped;
- form elements keep the keys of their type; a node field's ``showDescription`` defaults to true.

Input values are otherwise passed as they are (the UI's per-type value schemas can coerce odd
values, e.g. a value that fits no type becomes "no value"; exports made by the UI never have those).
"""

from __future__ import annotations

from typing import Any

WORKFLOW_KEYS = (
    "name",
    "author",
    "description",
    "version",
    "contact",
    "tags",
    "notes",
    "exposedFields",
    "meta",
    "form",
)
EMBEDDED_NODE_TYPES = ("invocation", "connector", "notes")
INVOCATION_DATA_KEYS = (
    "id",
    "version",
    "nodePack",
    "label",
    "notes",
    "type",
    "inputs",
    "dynamicInputTemplates",
    "isOpen",
    "isIntermediate",
    "useCache",
)
DATA_KEYS = {"connector": ("id", "type", "label", "isOpen"), "notes": ("id", "type", "label", "isOpen", "notes")}
EDGE_KEYS = {
    "default": ("id", "type", "source", "target", "sourceHandle", "targetHandle", "hidden"),
    "collapsed": ("id", "type", "source", "target"),
}
FORM_DATA_KEYS = {"container": ("layout", "children"), "heading": ("content",), "text": ("content",)}
FIELD_SETTINGS_KEYS = {
    "integer-field-config": ("type", "showShuffle", "component", "min", "max"),
    "float-field-config": ("type", "showShuffle", "component", "min", "max"),
    "string-field-config": ("type", "component", "options"),
}

NUMBER_SETTINGS_DEFAULTS = {"showShuffle": False, "component": "number-input"}


def input_value(instance: dict[str, Any]) -> Any:
    """An input's value as the UI holds it: the UI's schema reads ``null`` as "no value" (``None`` here)."""
    return instance.get("value")


def embedded_workflow(document: dict[str, Any]) -> dict[str, Any]:
    """``batch.workflow`` for a plain-JSON workflow document (already migrated to 4.0.0)."""
    # The server requires these strings; files written by hand may leave them out (the UI always has them).
    out: dict[str, Any] = {key: document.get(key, "") for key in WORKFLOW_KEYS[:7]}
    out["nodes"] = [_node(node) for node in document.get("nodes", []) if node.get("type") in EMBEDDED_NODE_TYPES]
    out["edges"] = [
        _pick(edge, EDGE_KEYS[edge.get("type")]) for edge in document.get("edges", []) if edge.get("type") in EDGE_KEYS
    ]
    out["exposedFields"] = [_pick(ident, ("nodeId", "fieldName")) for ident in document.get("exposedFields", [])]
    meta = document.get("meta", {})
    out["meta"] = {"category": meta.get("category", "user"), "version": meta.get("version")}
    if "form" in document:
        form = document["form"]
        out["form"] = {
            "elements": {key: _form_element(element) for key, element in form.get("elements", {}).items()},
            "rootElementId": form.get("rootElementId"),
        }
    return out


def _node(node: dict[str, Any]) -> dict[str, Any]:
    position = node.get("position") or {}
    out = {
        "id": node["id"],
        "type": node["type"],
        "data": None,
        "position": {"x": position.get("x", 0), "y": position.get("y", 0)},
    }
    data = node.get("data", {})
    if node["type"] == "invocation":
        data = {"nodePack": "invokeai", "dynamicInputTemplates": {}, **data}
        picked = _pick(data, INVOCATION_DATA_KEYS)
        picked["inputs"] = {name: _input(instance) for name, instance in data.get("inputs", {}).items()}
        out["data"] = picked
    else:
        out["data"] = _pick(data, DATA_KEYS[node["type"]])
    return out


def _input(instance: dict[str, Any]) -> dict[str, Any]:
    out = {
        "name": instance.get("name"),
        "label": instance.get("label", ""),
        "description": instance.get("description", ""),
    }
    if input_value(instance) is not None:
        out["value"] = instance["value"]
    return out


def _form_element(element: dict[str, Any]) -> dict[str, Any]:
    kind = element.get("type")
    out = _pick(element, ("id", "parentId", "type"))
    data = element.get("data") or {}
    if kind == "node-field":
        field_data: dict[str, Any] = {
            "fieldIdentifier": _pick(data.get("fieldIdentifier", {}), ("nodeId", "fieldName")),
            "showDescription": data.get("showDescription", True),
        }
        settings = data.get("settings")
        if isinstance(settings, dict):
            defaults = (
                NUMBER_SETTINGS_DEFAULTS
                if settings.get("type") in ("integer-field-config", "float-field-config")
                else {}
            )
            field_data["settings"] = _pick(
                {**defaults, **settings}, FIELD_SETTINGS_KEYS.get(settings.get("type", ""), tuple(settings))
            )
        out["data"] = field_data
    elif kind in FORM_DATA_KEYS:
        out["data"] = _pick(data, FORM_DATA_KEYS[kind])
    return out


def _pick(mapping: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}
