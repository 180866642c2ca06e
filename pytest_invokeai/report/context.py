"""What differs between a baseline and this run besides pixels: InvokeAI version, workflow, models, inputs.

A baseline record keeps the context its images were made in. Setting it against this run's tells a
reviewer why an image may have changed ("recorded on 6.13.0, ran on 6.14.2"), and shows an edit that
did not change the pixels at all (an off-form literal whose effect is too small to see): such a case
passes, and its note is the only trace of the edit. Pure: the judge hands both contexts over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunContext:
    """What a set of images was made from (a record's fields, or this run's)."""

    invokeai_version: str | None = None
    workflow_content_hash: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)  # model name -> hash
    inputs: Sequence[Mapping[str, Any]] = ()  # [{"index": 0, "name": "Width", "value": 64}, ...]


@dataclass(frozen=True)
class ContextNote:
    """One line of the comparison. ``changed``: the run differs from the baseline in this respect."""

    subject: str  # "record", "invokeai_version", "workflow", "models", "model" or "input"
    text: str
    changed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "changed": self.changed}

    @classmethod
    def of(cls, value: ContextNote | Mapping[str, Any]) -> ContextNote:
        """A note, or its JSON form read back (results travel from xdist workers as JSON)."""
        if isinstance(value, ContextNote):
            return value
        return cls(str(value["subject"]), str(value["text"]), bool(value.get("changed", False)))


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def _short(digest: str) -> str:
    """A hash as people compare it: the algorithm and the first 12 hex digits."""
    algorithm, _, hexdigits = digest.rpartition(":")
    return f"{algorithm}:{hexdigits[:12]}" if algorithm else digest[:12]


def _version_note(recorded: str | None, ran: str | None) -> ContextNote:
    was = recorded or "an unknown InvokeAI version"
    now = ran or "an unknown InvokeAI version"
    changed = bool(recorded and ran and recorded != ran)
    return ContextNote("invokeai_version", f"recorded on {was}, ran on {now}", changed)


def _workflow_note(recorded: str | None, ran: str | None) -> ContextNote:
    if not recorded or not ran:
        return ContextNote("workflow", "workflow not compared (the baseline keeps no workflow hash)")
    if recorded == ran:
        return ContextNote("workflow", "workflow unchanged since the baseline")
    return ContextNote(
        "workflow", f"workflow changed since the baseline ({_short(recorded)} -> {_short(ran)})", changed=True
    )


def _model_notes(recorded: Mapping[str, str], ran: Mapping[str, str]) -> list[ContextNote]:
    notes = []
    for name in sorted(set(recorded) | set(ran)):
        was, now = recorded.get(name), ran.get(name)
        if was == now:
            continue
        if was is None:
            notes.append(ContextNote("model", f"model {name!r} used now, not in the baseline", changed=True))
        elif now is None:
            notes.append(ContextNote("model", f"model {name!r} in the baseline, not used now", changed=True))
        else:
            text = f"model {name!r} changed since the baseline ({_short(was)} -> {_short(now)})"
            notes.append(ContextNote("model", text, changed=True))
    if not notes and recorded:
        notes.append(ContextNote("models", f"models unchanged ({len(recorded)})"))
    return notes


def _input_notes(recorded: Sequence[Mapping[str, Any]], ran: Sequence[Mapping[str, Any]]) -> list[ContextNote]:
    was = {item.get("index"): item for item in recorded}
    now = {item.get("index"): item for item in ran}
    notes = []
    for index in sorted(set(was) | set(now), key=lambda i: (not isinstance(i, int), i if isinstance(i, int) else 0)):
        old, new = was.get(index), now.get(index)
        name = (new or old or {}).get("name", "")
        who = f"input #{index} {name!r}" if name else f"input #{index}"
        if old is None and new is not None:
            notes.append(ContextNote("input", f"{who} = {_value(new.get('value'))} now, not set in the baseline", True))
        elif new is None and old is not None:
            notes.append(
                ContextNote("input", f"{who} was {_value(old.get('value'))} in the baseline, not set now", True)
            )
        elif old is not None and new is not None and old.get("value") != new.get("value"):
            text = f"{who} was {_value(old.get('value'))} in the baseline, {_value(new.get('value'))} now"
            notes.append(ContextNote("input", text, changed=True))
    return notes


def compare_context(recorded: RunContext | None, ran: RunContext) -> list[ContextNote]:
    """The notes for a case: version and workflow always, then each model and input that differs.

    ``recorded`` is None when the case has no baseline record yet (nothing to compare against).
    """
    if recorded is None:
        return [ContextNote("record", f"no baseline record yet; ran on {ran.invokeai_version or 'an unknown version'}")]
    return [
        _version_note(recorded.invokeai_version, ran.invokeai_version),
        _workflow_note(recorded.workflow_content_hash, ran.workflow_content_hash),
        *_model_notes(recorded.models, ran.models),
        *_input_notes(recorded.inputs, ran.inputs),
    ]
