"""What a run keeps in its results folder so that ``pytest-invokeai accept`` can write baselines later.

For each test whose images did not match (mismatched, or no baseline), the judge writes
``<results>/<test folder>/candidate.json`` beside the test's artifacts: the record a run with an update mode
on would have written, and for each kept image where its picture is (the actual PNG in the results folder,
or the copy already stored beside the old record). A drifted test gets one too, holding the workflow's
form as it is now (its new index map). Paths are relative to the results folder, so a folder copied to
another machine (a CI artifact) still reads; the baseline folder is kept relative to the rootdir.

One file per test, written atomically by the process that ran the test: xdist workers never share one.
A test that matched removes its file, so the folder never offers a stale candidate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai._util.keys import rootdir_key
from pytest_invokeai._util.names import safe_stem
from pytest_invokeai.baseline.preview import DEFAULT_PREVIEW_SIZE
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.workflow.content_hash import content_hash
from pytest_invokeai.workflow.drift import IndexMap
from pytest_invokeai.workflow.load import Workflow

CANDIDATE_NAME = "candidate.json"
FORMAT = "pytest-invokeai-accept-candidate"
FORMAT_VERSION = 1
KIND_BASELINE = "baseline"  # the record and images to write
KIND_DRIFTED = "drifted"  # the form's new index map; the case generated nothing


class CandidateError(InvokeAITestError):
    """A candidate file in a results folder that cannot be used."""


@dataclass(frozen=True)
class KeptImage:
    """Where the picture of one kept fingerprint is: a file of the results folder, or the store's copy."""

    run_file: str | None = None  # relative to the results folder, forward slashes
    store_index: int | None = None  # the image's index in the stored record

    def to_json(self) -> dict[str, Any]:
        if self.run_file is not None:
            return {"from": "run", "file": self.run_file}
        return {"from": "store", "index": self.store_index}


@dataclass
class Candidate:
    test_id: str
    kind: str
    workflow: str  # the workflow's key: relative to the rootdir, forward slashes
    workflow_content_hash: str
    profile: str | None  # the run's baseline profile
    baselines: str  # the run's baseline folder: relative to the rootdir, or absolute when outside it
    save_images: bool = False  # the run kept full PNG copies (--invokeai-save-images)
    preview_size: int = DEFAULT_PREVIEW_SIZE  # the run's --invokeai-preview-size: accepting writes the same previews
    record: dict[str, Any] | None = None  # KIND_BASELINE: the record as BaselineRecord.to_dict gives it
    images: dict[str, list[KeptImage]] = field(default_factory=dict)  # output node id -> its kept images, in order
    index_map: dict[str, Any] | None = None  # KIND_DRIFTED: IndexMap.to_json of the form as the run saw it

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "test_id": self.test_id,
            "kind": self.kind,
            "workflow": self.workflow,
            "workflow_content_hash": self.workflow_content_hash,
            "profile": self.profile,
            "baselines": self.baselines,
            "save_images": self.save_images,
            "preview_size": self.preview_size,
            "record": self.record,
            "images": {node: [image.to_json() for image in kept] for node, kept in self.images.items()},
            "index_map": self.index_map,
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str) -> Candidate:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CandidateError(f"{source}: not a candidate file of pytest-invokeai (format {FORMAT!r})")
        if data.get("version") != FORMAT_VERSION:
            raise CandidateError(
                f"{source}: candidate format version {data.get('version')!r}; this pytest-invokeai reads version "
                f"{FORMAT_VERSION} (accept with the pytest-invokeai that ran the tests)"
            )
        try:
            images = {
                str(node): [
                    KeptImage(run_file=str(item["file"]))
                    if item["from"] == "run"
                    else KeptImage(store_index=int(item["index"]))
                    for item in kept
                ]
                for node, kept in (data.get("images") or {}).items()
            }
            candidate = cls(
                test_id=str(data["test_id"]),
                kind=str(data["kind"]),
                workflow=str(data["workflow"]),
                workflow_content_hash=str(data["workflow_content_hash"]),
                profile=data.get("profile"),
                baselines=str(data["baselines"]),
                save_images=bool(data.get("save_images")),
                preview_size=int(data.get("preview_size", DEFAULT_PREVIEW_SIZE)),
                record=data.get("record"),
                images=images,
                index_map=data.get("index_map"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CandidateError(f"{source}: a candidate file with a missing or wrong key: {exc!r}") from None
        if candidate.kind not in (KIND_BASELINE, KIND_DRIFTED):
            raise CandidateError(f"{source}: unknown kind {candidate.kind!r} (valid: {KIND_BASELINE}, {KIND_DRIFTED})")
        return candidate


def drifted_candidate(
    test_id: str, key: str, workflow: Workflow, *, store: BaselineStore, rootdir: Path, save_images: bool
) -> Candidate:
    """The candidate of a case its workflow's drift blocked: the form's index map as the run saw it."""
    return Candidate(
        test_id=test_id,
        kind=KIND_DRIFTED,
        workflow=key,
        workflow_content_hash=content_hash(workflow),
        profile=store.profile,
        baselines=rootdir_key(store.root, rootdir),
        save_images=save_images,
        index_map=IndexMap.from_workflow(workflow).to_json(),
    )


def candidate_path(results_dir: Path, test_id: str) -> Path:
    """The test's candidate file: in the folder its artifacts go to (see report/artifacts.py)."""
    return Path(results_dir) / safe_stem(test_id) / CANDIDATE_NAME


def write_candidate(results_dir: Path, candidate: Candidate) -> Path:
    path = candidate_path(results_dir, candidate.test_id)
    text = json.dumps(candidate.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"))
    return path


def remove_candidate(results_dir: Path, test_id: str) -> None:
    """The test matched: what an earlier run offered to accept no longer applies."""
    candidate_path(results_dir, test_id).unlink(missing_ok=True)


def read_candidate(results_dir: Path, test_id: str) -> Candidate | None:
    """The test's candidate, or None when the run kept none; a broken file raises :class:`CandidateError`."""
    path = candidate_path(results_dir, test_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CandidateError(f"{path}: cannot read it: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CandidateError(f"{path}: not valid JSON: {exc}") from None
    return Candidate.from_json(data, source=str(path))


def results_relative(path: Path, results_dir: Path) -> str:
    """A file of the results folder named relative to it (forward slashes), so the folder can move."""
    return Path(path).resolve().relative_to(Path(results_dir).resolve()).as_posix()
