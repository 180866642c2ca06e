"""Send recall parameters to a server, and set what it resolved and broadcast beside what was sent.

The server stores every parameter it gets, resolves model names to its own keys (a model it does not
have is dropped, not refused), checks control and reference images (a missing one is dropped) and
broadcasts the result as ``recall_parameters_updated`` to the web UIs on the queue. Its answer's
``parameters`` is exactly what it broadcast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_invokeai.recall.mapping import RecallMapping
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.uploads import upload_image

#: What the InvokeAI 6.14 web UI sets when ``recall_parameters_updated`` arrives (its socket handler);
#: the server stores the other parameters, but that web UI leaves its fields as they are.
GUI_APPLIED = frozenset(
    {
        "positive_prompt",
        "negative_prompt",
        "model",
        "steps",
        "cfg_scale",
        "width",
        "height",
        "seed",
        "loras",
        "control_layers",
        "ip_adapters",
        "reference_images",
    }
)
LIST_PARAMETERS = ("loras", "control_layers", "ip_adapters", "reference_images")

APPLIED = "applied"  # broadcast as sent
RESOLVED = "resolved"  # broadcast after resolving (a model name became the server's key)
DROPPED = "dropped"  # left out of the broadcast (no such model, no such image)


@dataclass(frozen=True)
class Row:
    """One parameter (or one item of a list parameter): what was sent and what the server made of it."""

    parameter: str  # "model", "loras[0]"
    sent: Any
    applied: Any  # what the server broadcast for it; None when it was dropped
    status: str  # APPLIED, RESOLVED or DROPPED
    note: str = ""
    gui_applies: bool = True  # the 6.14 web UI sets a field from it

    def to_json(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "sent": self.sent,
            "applied": self.applied,
            "status": self.status,
            "note": self.note,
            "gui_applies": self.gui_applies,
        }


@dataclass
class RecallOutcome:
    url: str
    queue: str
    version: str
    sent: dict[str, Any]  # the request body
    answer: dict[str, Any]  # the server's whole answer
    rows: list[Row]
    uploaded: dict[str, str] = field(default_factory=dict)  # local image key -> the server's image name

    @property
    def dropped(self) -> list[Row]:
        return [row for row in self.rows if row.status == DROPPED]


def send_recall(client: InvokeAIClient, mapping: RecallMapping, *, queue: str, upload: bool = True) -> RecallOutcome:
    """Check the server, upload the case's local images (with ``upload``), send the parameters, compare."""
    version = client.version()  # a clear error first when this is not InvokeAI 6.x
    client.send(api.recall_status(queue))  # and when this InvokeAI has no recall endpoint
    uploaded: dict[str, str] = {}
    if upload:
        for key, path in mapping.local_images.items():
            uploaded[key] = upload_image(client, path, intermediate=False)  # the web UI shows it as a reference
    body = mapping.body(uploaded)
    answer = client.send(api.recall(queue, body))
    models = _models_by_key(client) if any(k in body for k in ("model", *LIST_PARAMETERS)) else {}
    applied = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    return RecallOutcome(
        url=client.base_url,
        queue=queue,
        version=version,
        sent=body,
        answer=answer,
        rows=compare_parameters(body, applied, models),
        uploaded=uploaded,
    )


def _models_by_key(client: InvokeAIClient) -> dict[str, dict[str, Any]]:
    return {
        config["key"]: config for config in client.send(api.models()) if isinstance(config, dict) and "key" in config
    }


def compare_parameters(
    sent: Mapping[str, Any], applied: Mapping[str, Any], models: Mapping[str, Mapping[str, Any]]
) -> list[Row]:
    """One row per sent parameter (per item for lists), in the order sent."""
    rows: list[Row] = []
    for name, value in sent.items():
        gui = name in GUI_APPLIED
        if name in LIST_PARAMETERS:
            rows += _list_rows(name, value, applied.get(name) or [], models, gui)
        elif name not in applied:
            why = f"no main model named {value!r} on the server" if name == "model" else "the server left it out"
            rows.append(Row(name, value, None, DROPPED, why, gui))
        elif name == "model":
            rows.append(Row(name, value, applied[name], RESOLVED, describe_model(models.get(applied[name])), gui))
        else:
            rows.append(Row(name, value, applied[name], APPLIED if applied[name] == value else RESOLVED, "", gui))
    return rows


def _list_rows(
    name: str,
    sent: list[dict[str, Any]],
    applied: list[dict[str, Any]],
    models: Mapping[str, Mapping[str, Any]],
    gui: bool,
) -> list[Row]:
    """Match each sent item to the server's: by model name (adapters) or image name (reference images)."""
    remaining = [item for item in applied if isinstance(item, dict)]
    rows = []
    for index, item in enumerate(sent):
        where = f"{name}[{index}]"
        match = next((a for a in remaining if _same_item(item, a, models)), None)
        if match is None:
            what = f"model {item['model_name']!r}" if "model_name" in item else f"image {item.get('image_name')!r}"
            rows.append(Row(where, item, None, DROPPED, f"no {what} on the server", gui))
            continue
        remaining.remove(match)
        notes = []
        if "model_key" in match:
            notes.append(describe_model(models.get(match["model_key"])))
        if item.get("image_name") and "image" not in match:
            notes.append(f"image {item['image_name']!r} not found on the server: left out")
        rows.append(Row(where, item, match, RESOLVED, "; ".join(n for n in notes if n), gui))
    return rows


def _same_item(sent: Mapping[str, Any], applied: Mapping[str, Any], models: Mapping[str, Mapping[str, Any]]) -> bool:
    if "model_name" in sent:
        return bool((models.get(applied.get("model_key", "")) or {}).get("name") == sent["model_name"])
    image = applied.get("image")
    return isinstance(image, dict) and image.get("image_name") == sent.get("image_name")


def describe_model(config: Mapping[str, Any] | None) -> str:
    """``tiny-sd15-1, sd-1 main`` for a model's config (empty when unknown)."""
    if not config:
        return ""
    return f"{config.get('name')}, {config.get('base')} {config.get('type')}"
