"""A baseline record: what one test's run produced, as fingerprints, plus the context it ran in.

One JSON file per test, meant to be committed and reviewed in diffs, so the text is stable: keys
sorted, two-space indent, a trailing newline, and writing a record that was just read gives the same
bytes. Example (fingerprints shortened)::

    {
      "format": "pytest-invokeai-baseline",
      "inputs": [{"index": 0, "name": "Width", "value": 64}],
      "invokeai_version": "6.14.2",
      "models": {"sdxl-base": "blake3:..."},
      "outputs": {
        "canvas_output:JbPTiAJ26r": {
          "images": [{"color": [...], "imagehash_phash": "c3d1a58e9a8c5c3e", "phash": "...", ...}],
          "label": "Result"
        }
      },
      "test_id": "example_suite/test_noise.py::test_noise[seed=1]",
      "version": 1,
      "workflow": "example_suite/noise.json",
      "workflow_content_hash": "..."
    }

Only ``outputs`` is compared; the rest tells a person what the baseline was made from. Each image's
entry is its :class:`~pytest_invokeai.baseline.fingerprint.Fingerprint` plus, optionally,
``imagehash_phash``: ``str(imagehash.phash(image))`` of the full image, an identifier any tool can check an
image against without this plugin (the judging stays with the fingerprint). Records written before it
existed load without it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_invokeai.errors import BaselineError

if TYPE_CHECKING:  # numpy and PIL load when a record's fingerprints are read, not when the store is opened
    from pytest_invokeai.baseline.fingerprint import Fingerprint

FORMAT = "pytest-invokeai-baseline"
FORMAT_VERSION = 1

_REQUIRED_KEYS = ("format", "version", "test_id", "outputs")
_OPTIONAL_KEYS = ("invokeai_version", "workflow", "workflow_content_hash", "inputs", "models", "node_packs")
_OUTPUT_KEYS = ("images", "label")
# An image entry's optional key beside the fingerprint's own: the standard pHash (see the module's docstring).
IMAGEHASH_PHASH_KEY = "imagehash_phash"
_IMAGEHASH_PHASH = re.compile(r"[0-9a-f]{16}")  # imagehash's default 8x8 hash as hex


@dataclass
class OutputBaseline:
    images: list[Fingerprint]  # in the order the node produced them
    label: str = ""  # the node's label, for people
    # The standard pHash of each image, by position in ``images`` (None or missing: not recorded).
    imagehash_phashes: list[str | None] = field(default_factory=list)

    def imagehash_phash(self, index: int) -> str | None:
        """The standard pHash recorded for image ``index``, or None."""
        return self.imagehash_phashes[index] if index < len(self.imagehash_phashes) else None

    def to_dict(self) -> dict[str, Any]:
        entries = []
        for index, image in enumerate(self.images):
            entry = json.loads(image.to_json())
            phash = self.imagehash_phash(index)
            if phash is not None:  # absent rather than null: a record without it keeps its bytes
                entry[IMAGEHASH_PHASH_KEY] = phash
            entries.append(entry)
        return {"images": entries, "label": self.label}


@dataclass
class BaselineRecord:
    test_id: str  # pytest node id
    outputs: dict[str, OutputBaseline]  # keyed by output (source) node id
    invokeai_version: str | None = None
    workflow: str | None = None  # workflow path relative to the rootdir, posix
    workflow_content_hash: str | None = None  # informational
    inputs: list[dict[str, Any]] = field(default_factory=list)  # [{"index": 0, "name": "Width", "value": 64}, ...]
    models: dict[str, str] = field(default_factory=dict)  # model name -> hash (environment info)
    node_packs: dict[str, str] = field(default_factory=dict)  # custom node pack loaded from a folder -> content hash

    @property
    def image_count(self) -> int:
        return sum(len(output.images) for output in self.outputs.values())

    def to_dict(self) -> dict[str, Any]:
        # ``node_packs`` only when there are some: records of runs without packs keep their bytes.
        packs = {"node_packs": dict(self.node_packs)} if self.node_packs else {}
        return {
            **packs,
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "test_id": self.test_id,
            "outputs": {node_id: output.to_dict() for node_id, output in self.outputs.items()},
            "invokeai_version": self.invokeai_version,
            "workflow": self.workflow,
            "workflow_content_hash": self.workflow_content_hash,
            "inputs": sorted((dict(item) for item in self.inputs), key=lambda item: item.get("index", -1)),
            "models": dict(self.models),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str) -> BaselineRecord:
        """Parse a record; any problem raises :class:`RecordError` naming ``source`` and the JSON path."""
        return cls.from_dict(parse_json(text, source=source), source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str) -> BaselineRecord:
        test_id = check_header(data, source=source)
        for key in ("invokeai_version", "workflow", "workflow_content_hash"):
            if not isinstance(data.get(key), (str, type(None))):
                raise _error(source, f"$.{key}", f"must be a string or null, found {data[key]!r}")
        return cls(
            test_id=test_id,
            outputs=_outputs_from_json(data["outputs"], source),
            invokeai_version=data.get("invokeai_version"),
            workflow=data.get("workflow"),
            workflow_content_hash=data.get("workflow_content_hash"),
            inputs=_inputs_from_json(data.get("inputs", []), source),
            models=_models_from_json(data.get("models", {}), source),
            node_packs=_node_packs_from_json(data.get("node_packs", {}), source),
        )


class RecordError(BaselineError):
    """A record that cannot be read. ``problem`` is the message without the file's name (for listings);
    ``newer`` marks a record written by a newer pytest-invokeai (readable after an upgrade: not broken)."""

    def __init__(self, source: str, json_path: str | None, problem: str, *, newer: bool = False) -> None:
        self.problem = f"{json_path}: {problem}" if json_path else problem
        self.newer = newer
        super().__init__(f"{source}: {self.problem}" if source else self.problem)


def parse_json(text: str | bytes, *, source: str) -> Any:
    """The JSON document of a record file; an empty, binary or malformed file raises :class:`RecordError`."""
    if not text.strip():
        raise _error(source, None, "is empty")
    try:
        # utf-8-sig: a byte order mark added by an editor is harmless; json.loads would refuse it.
        decoded = text.decode("utf-8-sig") if isinstance(text, (bytes, bytearray)) else text
        if "\x00" in decoded:  # valid UTF-8, but no text file holds NUL
            raise UnicodeDecodeError("utf-8", b"\x00", 0, 1, "NUL byte")
        return json.loads(decoded)
    except UnicodeDecodeError:
        raise _error(source, None, "is not UTF-8 JSON text (binary data?)") from None
    except json.JSONDecodeError as exc:
        raise _error(source, None, f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None


def check_header(data: Any, *, source: str) -> str:
    """Check what marks a record (format, version, keys, test id) without reading its fingerprints; the test id.

    Cheap enough for a scan of the whole store at collection (the fingerprints need numpy)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _error(source, None, f'not a baseline record (expected a JSON object with "format": "{FORMAT}")')
    version = data.get("version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
        raise _error(
            source,
            "$.version",
            f"baseline format version {version!r} is not supported; this pytest-invokeai reads version "
            f"{FORMAT_VERSION}"
            + (" (the file was written by a newer pytest-invokeai: upgrade to read it)" if newer else ""),
            newer=newer,
        )
    missing = [key for key in _REQUIRED_KEYS if key not in data]
    unknown = sorted(set(data) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if missing or unknown:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        valid = ", ".join(sorted(_REQUIRED_KEYS + _OPTIONAL_KEYS))
        raise _error(source, "$", f"keys do not match: {'; '.join(problems)} (valid keys: {valid})")
    test_id = data["test_id"]
    if not isinstance(test_id, str) or not test_id:
        raise _error(source, "$.test_id", f"must be a non-empty string (a pytest node id), found {test_id!r}")
    return test_id


def _error(source: str, json_path: str | None, message: str, *, newer: bool = False) -> RecordError:
    return RecordError(source, json_path, message, newer=newer)


def _outputs_from_json(raw: Any, source: str) -> dict[str, OutputBaseline]:
    if not isinstance(raw, dict):
        raise _error(source, "$.outputs", "must be an object mapping output node ids to {images, label}")
    outputs = {}
    for node_id, item in raw.items():
        where = f"$.outputs[{json.dumps(node_id, ensure_ascii=False)}]"
        if not isinstance(item, dict) or set(item) - set(_OUTPUT_KEYS) or "images" not in item:
            raise _error(source, where, 'must be an object {"images": [fingerprints...], "label": "..."}')
        images, label = item["images"], item.get("label", "")
        if not isinstance(images, list):
            raise _error(source, f"{where}.images", "must be a list of fingerprints")
        if not isinstance(label, str):
            raise _error(source, f"{where}.label", f"must be a string, found {label!r}")
        from pytest_invokeai.baseline.fingerprint import Fingerprint

        fingerprints = []
        phashes: list[str | None] = []
        for position, image in enumerate(images):
            if not isinstance(image, dict):
                raise _error(source, f"{where}.images[{position}]", "must be a fingerprint object")
            entry = dict(image)
            phashes.append(
                _imagehash_phash(entry.pop(IMAGEHASH_PHASH_KEY, None), f"{where}.images[{position}]", source)
            )
            try:
                fingerprints.append(Fingerprint.from_json(entry))
            except (BaselineError, TypeError, ValueError) as exc:
                raise _error(source, f"{where}.images[{position}]", str(exc)) from None
        kept_phashes = phashes if any(p is not None for p in phashes) else []
        outputs[node_id] = OutputBaseline(images=fingerprints, label=label, imagehash_phashes=kept_phashes)
    return outputs


def _imagehash_phash(raw: Any, where: str, source: str) -> str | None:
    if raw is None or (isinstance(raw, str) and _IMAGEHASH_PHASH.fullmatch(raw)):
        return raw
    raise _error(
        source,
        f"{where}.{IMAGEHASH_PHASH_KEY}",
        f"must be 16 lowercase hex digits (str(imagehash.phash(image))), found {raw!r}",
    )


def _inputs_from_json(raw: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise _error(source, "$.inputs", 'must be a list of {"index": N, "name": ..., "value": ...}')
    for position, item in enumerate(raw):
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise _error(
                source,
                f"$.inputs[{position}]",
                'must be an object with "index" a whole number >= 0 (and "name", "value")',
            )
    return [dict(item) for item in raw]


def _models_from_json(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(value, str) for value in raw.values()):
        raise _error(source, "$.models", "must be an object mapping model names to hash strings")
    return dict(raw)


def _node_packs_from_json(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(value, str) for value in raw.values()):
        raise _error(source, "$.node_packs", "must be an object mapping node pack names to hash strings")
    return dict(raw)
