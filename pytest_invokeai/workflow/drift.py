"""Index maps and drift checks: has the form of a workflow changed under the tests that use it?

Tests set form inputs by index ("input 3 = 768"). When someone edits the workflow in the GUI and
drags a field to another place, index 3 silently becomes another field. An :class:`IndexMap` is a
saved snapshot of which input sits at which index; :func:`check_drift` compares a workflow with it
and says, for every input, whether it is ``unchanged``, ``moved``, ``missing``, ``new`` or ``changed``.

Decisions:
- Inputs are matched by identity (``node_id.field_name``). Same identity at the same index with another
  name, label, kind or node type is ``changed``. Same identity at another index is ``moved``, and the
  moved item also carries any name/kind changes (one status per input; "moved" is what breaks tests).
- The GUI gives a node a new id when it is deleted and re-added, or copied and pasted. When an input's
  node no longer exists and exactly one new input has the same node type, field name and display name
  (and no other old input fits that new one), it is the same input whose node id changed. It is reported
  as ``moved`` or ``unchanged`` with a note "node id changed from X to Y", not as missing plus new.
- A node id change at the same index is not drift: every value set by index still reaches the same
  field of the same kind of node, so runs and baselines are unaffected. The report still prints a note,
  because test code that names inputs by identity (``noise:abc.seed``) has to be updated.
- The content hash (see :mod:`.content_hash`) is carried along for information. A changed hash with the
  same inputs (a new default value, say) is not drift: it does not change which value goes where.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai.errors import WorkflowError
from pytest_invokeai.workflow.content_hash import content_hash
from pytest_invokeai.workflow.form import FormInput, form_inputs

if TYPE_CHECKING:  # the store imports this module for its index maps, in every run: the loader waits
    from pytest_invokeai.workflow.load import Workflow
    from pytest_invokeai.workflow.schema import InvocationSchema

MAP_FORMAT = "pytest-invokeai index map"
MAP_FORMAT_VERSION = 1

UNCHANGED, MOVED, MISSING, NEW, CHANGED = "unchanged", "moved", "missing", "new", "changed"
STATUSES = (UNCHANGED, MOVED, MISSING, NEW, CHANGED)


class IndexMapError(WorkflowError):
    """An index map file cannot be read (missing, not JSON, unknown format version, damaged entry)."""


# -- the map -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapEntry:
    """One form input as an index map records it."""

    index: int
    identity: str
    node_id: str
    field_name: str
    node_type: str
    display_name: str
    label: str
    kind: str

    FIELDS: ClassVar[tuple[str, ...]] = (
        "index",
        "identity",
        "node_id",
        "field_name",
        "node_type",
        "display_name",
        "label",
        "kind",
    )

    @classmethod
    def from_input(cls, form_input: FormInput) -> MapEntry:
        return cls(
            index=form_input.index,
            identity=form_input.identity,
            node_id=form_input.node_id,
            field_name=form_input.field_name,
            node_type=form_input.node_type,
            display_name=form_input.display_name,
            label=form_input.label,
            kind=form_input.kind,
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    @property
    def node_field(self) -> str:
        return f"node {self.node_id} field {self.field_name}"


@dataclass(frozen=True)
class IndexMap:
    """Which input sits at which index of a workflow's form, plus the workflow's content hash."""

    workflow_name: str
    inputs: tuple[MapEntry, ...]
    content_hash: str | None = None

    @classmethod
    def from_workflow(cls, workflow: Workflow, *, schema: InvocationSchema | None = None) -> IndexMap:
        return cls(
            workflow_name=workflow.name,
            inputs=tuple(MapEntry.from_input(i) for i in form_inputs(workflow, schema)),
            content_hash=content_hash(workflow),
        )

    @classmethod
    def from_inputs(cls, inputs: Sequence[FormInput], *, workflow_name: str = "") -> IndexMap:
        return cls(workflow_name=workflow_name, inputs=tuple(MapEntry.from_input(i) for i in inputs))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MAP_FORMAT,
            "format_version": MAP_FORMAT_VERSION,
            "workflow_name": self.workflow_name,
            "content_hash": self.content_hash,
            "inputs": [entry.to_json() for entry in self.inputs],
        }

    def save(self, path: str | Path) -> None:
        """Write the map as JSON; atomically, so a crash never leaves half a map behind."""
        path = Path(path)
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            raise IndexMapError(f"cannot write the index map: {exc.strerror or exc}", source=str(path)) from None

    @classmethod
    def load(cls, path: str | Path) -> IndexMap:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise IndexMapError("no such index map file", source=source) from None
        except IsADirectoryError:
            raise IndexMapError("is a directory, expected an index map .json file", source=source) from None
        except UnicodeDecodeError:
            raise IndexMapError("is not UTF-8 JSON text (binary data?)", source=source) from None
        except OSError as exc:
            raise IndexMapError(f"cannot read the index map: {exc.strerror}", source=source) from None
        if not text.strip():
            raise IndexMapError("is empty", source=source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IndexMapError(
                f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}", source=source
            ) from None
        return cls.from_json(data, source=source)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "<index map>") -> IndexMap:
        if not isinstance(data, dict) or data.get("format") != MAP_FORMAT:
            raise IndexMapError(
                f'not an index map (expected a JSON object with "format": "{MAP_FORMAT}"; '
                "make one with 'pytest-invokeai drift export WORKFLOW -o MAP')",
                source=source,
            )
        version = data.get("format_version")
        if version != MAP_FORMAT_VERSION:
            raise IndexMapError(
                f"unknown index map format_version {version!r}; this pytest-invokeai reads version "
                f"{MAP_FORMAT_VERSION}. Export the map again with this version.",
                source=source,
                json_path="$.format_version",
            )
        name = data.get("workflow_name", "")
        digest = data.get("content_hash")
        if not isinstance(name, str) or not (digest is None or isinstance(digest, str)):
            raise IndexMapError("workflow_name and content_hash must be strings", source=source)
        raw_inputs = data.get("inputs")
        if not isinstance(raw_inputs, list):
            raise IndexMapError('"inputs" must be a list', source=source, json_path="$.inputs")
        entries = tuple(_entry_from_json(item, i, source) for i, item in enumerate(raw_inputs))
        _check_unique(entries, source)
        return cls(workflow_name=name, inputs=entries, content_hash=digest)


def _entry_from_json(item: Any, position: int, source: str) -> MapEntry:
    where = f"$.inputs[{position}]"
    if not isinstance(item, dict):
        raise IndexMapError("each input must be a JSON object", source=source, json_path=where)
    missing = [name for name in MapEntry.FIELDS if name not in item]
    if missing:
        raise IndexMapError(f"input lacks {', '.join(missing)}", source=source, json_path=where)
    index = item["index"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise IndexMapError(
            f"index must be a whole number >= 0, found {index!r}", source=source, json_path=where + ".index"
        )
    for name in MapEntry.FIELDS[1:]:
        if not isinstance(item[name], str):
            raise IndexMapError(
                f"{name} must be a string, found {item[name]!r}", source=source, json_path=f"{where}.{name}"
            )
    return MapEntry(**{name: item[name] for name in MapEntry.FIELDS})


def _check_unique(entries: Sequence[MapEntry], source: str) -> None:
    for attr in ("index", "identity"):
        seen: set[Any] = set()
        for position, entry in enumerate(entries):
            value = getattr(entry, attr)
            if value in seen:
                raise IndexMapError(
                    f"{attr} {value!r} appears twice in the map",
                    source=source,
                    json_path=f"$.inputs[{position}].{attr}",
                )
            seen.add(value)


# -- the comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class InputChange:
    """One attribute of an input that differs between the map and the workflow."""

    what: str  # "name", "label", "kind" or "node type"
    old: str
    new: str

    def describe(self) -> str:
        if self.what == "kind":
            return f"kind {self.old} -> {self.new}"
        return f"{self.what} '{self.old}' -> '{self.new}'"

    def to_json(self) -> dict[str, str]:
        return {"what": self.what, "from": self.old, "to": self.new}


@dataclass(frozen=True)
class DriftItem:
    """The fate of one input: ``saved`` is its map entry (None if new), ``current`` its entry now (None if missing)."""

    status: str
    saved: MapEntry | None
    current: MapEntry | None
    changes: tuple[InputChange, ...] = ()

    @property
    def node_id_changed(self) -> bool:
        return self.saved is not None and self.current is not None and self.saved.node_id != self.current.node_id

    @property
    def sort_index(self) -> tuple[int, int]:
        # Old inputs in their old order first, then new ones in their order.
        return (0, self.saved.index) if self.saved is not None else (1, self.current.index)  # type: ignore[union-attr]

    def describe(self) -> str:
        saved, current = self.saved, self.current
        if self.status == NEW:
            assert current is not None
            return f"new input at index {current.index} '{current.display_name}' ({current.node_field})"
        assert saved is not None
        head = f"index {saved.index} '{saved.display_name}'"
        if self.status == MISSING:
            return f"{head} is missing ({saved.node_field})"
        assert current is not None
        id_note = f"node id changed from {saved.node_id} to {current.node_id}" if self.node_id_changed else ""
        changes = ", ".join(c.describe() for c in self.changes)
        if self.status == MOVED:
            text = f"{head} moved to {current.index}"
            if changes:
                text += f", and changed: {changes}"
        elif self.status == CHANGED:
            text = f"{head} changed: {changes}"
        else:
            text = head
        if id_note:
            text += f" ({id_note})" if self.status != UNCHANGED else f": {id_note} (same place, not drift)"
        return text

    def to_json(self) -> dict[str, Any]:
        entry = self.current or self.saved
        assert entry is not None
        out: dict[str, Any] = {}
        if self.status == MOVED:
            assert self.saved is not None
            out["from"] = self.saved.index
            out["to"] = entry.index
        else:
            out["index"] = entry.index
        out.update(
            identity=entry.identity,
            display_name=entry.display_name,
            node_id=entry.node_id,
            field_name=entry.field_name,
            node_type=entry.node_type,
            kind=entry.kind,
        )
        if self.changes:
            out["changes"] = [c.to_json() for c in self.changes]
        if self.node_id_changed:
            assert self.saved is not None and self.current is not None
            out["node_id_changed"] = {"from": self.saved.node_id, "to": self.current.node_id}
            out["previous_identity"] = self.saved.identity
        return out


@dataclass(frozen=True)
class DriftReport:
    items: tuple[DriftItem, ...]
    workflow_name: str = ""  # the workflow's name now
    saved_workflow_name: str = ""  # the name recorded in the map
    saved_hash: str | None = None
    current_hash: str | None = None  # None when only inputs (no workflow) were compared

    def with_status(self, status: str) -> list[DriftItem]:
        return sorted((i for i in self.items if i.status == status), key=lambda i: i.sort_index)

    @property
    def unchanged(self) -> list[DriftItem]:
        return self.with_status(UNCHANGED)

    @property
    def moved(self) -> list[DriftItem]:
        return self.with_status(MOVED)

    @property
    def missing(self) -> list[DriftItem]:
        return self.with_status(MISSING)

    @property
    def new(self) -> list[DriftItem]:
        return self.with_status(NEW)

    @property
    def changed(self) -> list[DriftItem]:
        return self.with_status(CHANGED)

    @property
    def has_drift(self) -> bool:
        """True when any input is not where (or not what) the map says. Node id changes alone are not drift."""
        return any(i.status != UNCHANGED for i in self.items)

    @property
    def node_id_changes(self) -> list[DriftItem]:
        return sorted((i for i in self.items if i.node_id_changed), key=lambda i: i.sort_index)

    @property
    def content_changed(self) -> bool | None:
        """Whether the content hash differs from the map's; None when either side has no hash."""
        if self.saved_hash is None or self.current_hash is None:
            return None
        return self.saved_hash != self.current_hash

    def text(self) -> str:
        """The report for a person: a summary line, then one line per input that is not plainly unchanged."""
        counts = {s: len(self.with_status(s)) for s in STATUSES}
        if self.has_drift:
            parts = [f"{counts[s]} {s}" for s in (MOVED, MISSING, NEW, CHANGED) if counts[s]]
            lines = [f"drift: {', '.join(parts)} ({counts[UNCHANGED]} unchanged)"]
        else:
            lines = [f"no drift: all {counts[UNCHANGED]} inputs are where the map says"]
        noteworthy = [i for i in self.items if i.status != UNCHANGED or i.node_id_changed]
        lines += ["  " + i.describe() for i in sorted(noteworthy, key=lambda i: i.sort_index)]
        if self.workflow_name and self.saved_workflow_name and self.workflow_name != self.saved_workflow_name:
            lines.append(
                f"note: the map was saved for workflow '{self.saved_workflow_name}', "
                f"this workflow is named '{self.workflow_name}'"
            )
        if self.content_changed:
            lines.append(
                "note: the workflow's content hash differs from the map's (input values, edges, node settings "
                "or form order changed); a content change alone does not move any input"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {s: [i.to_json() for i in self.with_status(s)] for s in STATUSES}
        out["has_drift"] = self.has_drift
        out["content_hash"] = {"saved": self.saved_hash, "current": self.current_hash}
        return out


def check_drift(
    current: Workflow | Sequence[FormInput] | IndexMap,
    saved_map: IndexMap,
    *,
    schema: InvocationSchema | None = None,
) -> DriftReport:
    """Compare a workflow (or its inputs, or a map made from it) with a saved index map."""
    # Workflow is known here by elimination: this module does not import the loader when it is imported.
    if isinstance(current, IndexMap):
        now = current
        existing_node_ids = {e.node_id for e in now.inputs}
    elif isinstance(current, Sequence):
        now = IndexMap.from_inputs(current)
        existing_node_ids = {e.node_id for e in now.inputs}
    else:
        now = IndexMap.from_workflow(current, schema=schema)
        existing_node_ids = {n.id for n in current.nodes}

    pairs = _match_inputs(saved_map.inputs, now.inputs, existing_node_ids)
    matched_saved = {id(s) for s, _ in pairs}
    matched_now = {id(c) for _, c in pairs}
    items = [_classify(s, c) for s, c in pairs]
    items += [DriftItem(MISSING, s, None) for s in saved_map.inputs if id(s) not in matched_saved]
    items += [DriftItem(NEW, None, c) for c in now.inputs if id(c) not in matched_now]
    return DriftReport(
        items=tuple(sorted(items, key=lambda i: i.sort_index)),
        workflow_name=now.workflow_name,
        saved_workflow_name=saved_map.workflow_name,
        saved_hash=saved_map.content_hash,
        current_hash=now.content_hash,
    )


def _match_inputs(
    saved: Sequence[MapEntry], now: Sequence[MapEntry], existing_node_ids: set[str]
) -> list[tuple[MapEntry, MapEntry]]:
    by_identity = {c.identity: c for c in now}
    pairs = [(s, by_identity[s.identity]) for s in saved if s.identity in by_identity]
    paired = {s.identity for s, _ in pairs}

    # Node id regenerated: the old node is gone, the new one was not in the map, and the pairing is unique both ways.
    saved_node_ids = {s.node_id for s in saved}
    orphans = [s for s in saved if s.identity not in paired and s.node_id not in existing_node_ids]
    saved_identities = {s.identity for s in saved}
    newcomers = [c for c in now if c.identity not in saved_identities and c.node_id not in saved_node_ids]

    def fits(s: MapEntry, c: MapEntry) -> bool:
        return (s.node_type, s.field_name, s.display_name) == (c.node_type, c.field_name, c.display_name)

    for s in orphans:
        candidates = [c for c in newcomers if fits(s, c)]
        if len(candidates) == 1 and sum(fits(o, candidates[0]) for o in orphans) == 1:
            pairs.append((s, candidates[0]))
    return pairs


def _classify(saved: MapEntry, current: MapEntry) -> DriftItem:
    changes: list[InputChange] = []
    if saved.display_name != current.display_name:
        changes.append(InputChange("name", saved.display_name, current.display_name))
    elif saved.label != current.label:
        changes.append(InputChange("label", saved.label, current.label))
    if saved.kind != current.kind:
        changes.append(InputChange("kind", saved.kind, current.kind))
    if saved.node_type != current.node_type:
        changes.append(InputChange("node type", saved.node_type, current.node_type))
    if saved.index != current.index:
        status = MOVED
    else:
        status = CHANGED if changes else UNCHANGED
    return DriftItem(status, saved, current, tuple(changes))


__all__ = [
    "IndexMap",
    "IndexMapError",
    "MapEntry",
    "DriftItem",
    "DriftReport",
    "InputChange",
    "check_drift",
    "MAP_FORMAT",
    "MAP_FORMAT_VERSION",
]
