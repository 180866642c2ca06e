"""Accept cases of a finished run: read its results folder, refuse what must not be written, write baselines.

Nothing here contacts a server: the records and images come from what the run kept (:mod:`.candidate`).
It refuses, naming the workflow, a case whose workflow file changed since the run (its content hash
differs: the images show another workflow) and a case the run judged against another baseline profile
than the one asked for. A refusal writes nothing at all, so a request is accepted whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_invokeai.accept.selection import ACCEPTABLE, DRIFTED, RunCase, run_states, select
from pytest_invokeai.baseline.record import BaselineRecord
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.write import write_baseline
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.run.candidate import (
    KIND_BASELINE,
    Candidate,
    CandidateError,
    read_candidate,
)
from pytest_invokeai.workflow.content_hash import content_hash
from pytest_invokeai.workflow.drift import IndexMap
from pytest_invokeai.workflow.load import load_workflow
from pytest_invokeai.workflow.schema import load_schema

SUMMARY_NAME = "report.json"  # the run's summary in its results folder

EXIT_WROTE = 0
EXIT_NOTHING = 1
EXIT_REFUSED = 2


@dataclass(frozen=True)
class AcceptRequest:
    results_dir: Path
    rootdir: Path
    baselines: Path | None = None  # None: the folder the run used
    profile: str | None = None  # None: the profile the run used
    accept_drift: bool = False
    dry_run: bool = False
    schema: str | None = None  # the node schema file workflows are read with (None: the bundled one)


@dataclass
class AcceptOutcome:
    written: list[tuple[str, Path]] = field(default_factory=list)  # (test id, record file), or would be (dry run)
    index_maps: list[tuple[str, Path]] = field(default_factory=list)  # (workflow, index map file) rewritten
    run_again: list[str] = field(default_factory=list)  # drifted cases whose map was rewritten: nothing to record
    listed: list[tuple[str, str]] = field(default_factory=list)  # (test id, why nothing was written for it)
    refused: list[str] = field(default_factory=list)  # why the request was refused (then nothing was written)

    @property
    def exit_code(self) -> int:
        if self.refused:
            return EXIT_REFUSED
        return EXIT_WROTE if self.written or self.index_maps else EXIT_NOTHING


class ResultsError(InvokeAITestError):
    """The results folder holds no usable run summary."""


def read_summary(results_dir: Path) -> dict[str, Any]:
    path = results_dir / SUMMARY_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(
            f"{path}: no run summary there; run the tests first, or name the results folder with --results DIR"
        ) from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot read the run summary: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "pytest-invokeai-summary":
        raise ResultsError(f"{path}: not a pytest-invokeai run summary")
    return data


def acceptable_cases(request: AcceptRequest) -> list[RunCase]:
    """The run's cases that ``accept`` would write (for the review page's buttons)."""
    states = run_states(read_summary(request.results_dir))
    return [case for case in states.values() if case.state == ACCEPTABLE]


def review_states(request: AcceptRequest) -> tuple[list[str], list[str]]:
    """For the review page: the test ids that accepting would write now, and those accepted already."""
    acceptable = [case.test_id for case in acceptable_cases(request)]
    if not acceptable:
        return [], []
    trial = accept(replace(request, dry_run=True, accept_drift=False), acceptable, failed=False)
    if trial.refused:  # clicking says why; the buttons stay
        return acceptable, []
    return [test_id for test_id, _ in trial.written], [t for t, why in trial.listed if why.startswith("already")]


def accept(request: AcceptRequest, queries: Sequence[str], *, failed: bool) -> AcceptOutcome:
    """Accept the cases ``queries`` name (and every failed one with ``failed``) from the run's results."""
    states = run_states(read_summary(request.results_dir))
    chosen = select(states, queries, failed=failed, where=f"looked in {request.results_dir / SUMMARY_NAME}")
    outcome = AcceptOutcome()
    candidates: list[Candidate] = []
    for case in chosen:
        candidate = read_candidate(request.results_dir, case.test_id) if case.state in (ACCEPTABLE, DRIFTED) else None
        if candidate is None:
            outcome.listed.append((case.test_id, _why_not(case)))
        elif candidate.kind == KIND_BASELINE or request.accept_drift:
            candidates.append(candidate)
        else:
            outcome.listed.append(
                (case.test_id, "drifted: its workflow's form changed; --accept-drift rewrites its index map")
            )
    outcome.refused = _refusals(request, candidates)
    if not outcome.refused:
        _write(request, candidates, outcome)
    return outcome


def _why_not(case: RunCase) -> str:
    if case.state in (ACCEPTABLE, DRIFTED):
        return f"{case.state}, but the run kept nothing to accept it from: run the tests again"
    return case.state + (f": {case.reason}" if case.reason else "")


def _refusals(request: AcceptRequest, candidates: Sequence[Candidate]) -> list[str]:
    refused = []
    hashes: dict[str, str | None] = {}
    for candidate in candidates:
        where = f"{candidate.test_id} (workflow {candidate.workflow})"
        if request.profile is not None and candidate.profile != request.profile:
            ran = f"baseline profile {candidate.profile}" if candidate.profile else "the default baselines"
            refused.append(f"{where}: the run was judged against {ran}, not profile {request.profile}")
            continue
        if candidate.workflow not in hashes:
            hashes[candidate.workflow] = _current_hash(request, candidate.workflow)
        now = hashes[candidate.workflow]
        if now is None:
            refused.append(
                f"{where}: the workflow is not at {request.rootdir / candidate.workflow}; run from the suite's root or "
                "pass --rootdir"
            )
        elif now != candidate.workflow_content_hash:
            refused.append(
                f"{where}: the workflow file changed since the run (content hash {now}, the run's "
                f"{candidate.workflow_content_hash}); its images show the old workflow: run the tests again"
            )
    return refused


def _current_hash(request: AcceptRequest, key: str) -> str | None:
    path = request.rootdir / key
    if not path.is_file():
        return None
    return content_hash(load_workflow(path, schema=load_schema(request.schema)))


def _write(request: AcceptRequest, candidates: Sequence[Candidate], outcome: AcceptOutcome) -> None:
    maps: dict[str, Path] = {}
    for candidate in candidates:
        store = BaselineStore(request.baselines or request.rootdir / candidate.baselines, profile=candidate.profile)
        if candidate.kind == KIND_BASELINE:
            accepted = _record_and_copies(request, candidate, store)
            if _already_stored(store, accepted.record):
                outcome.listed.append((candidate.test_id, "already accepted: its baseline is this run's"))
                continue
            path = store.record_path(candidate.test_id) if request.dry_run else write_accepted(store, accepted)
            outcome.written.append((candidate.test_id, path))
            continue
        if candidate.workflow not in maps:
            maps[candidate.workflow] = store.index_map_path(candidate.workflow)
            if not request.dry_run:
                index_map = IndexMap.from_json(candidate.index_map, source=f"the candidate of {candidate.test_id}")
                store.save_index_map(candidate.workflow, index_map)
            outcome.index_maps.append((candidate.workflow, maps[candidate.workflow]))
        outcome.run_again.append(candidate.test_id)


def _already_stored(store: BaselineStore, record: BaselineRecord) -> bool:
    """The record is on disk as it would be written (accepted before): writing it again would change nothing.

    Compared without the standard pHashes, which writing adds to the candidate's record."""
    try:
        path = store.record_path(record.test_id)
        stored = BaselineRecord.from_json(path.read_bytes(), source=str(path))
    except (OSError, ValueError, InvokeAITestError):
        return False
    return _without_phashes(stored).to_dict() == _without_phashes(record).to_dict()


def _without_phashes(record: BaselineRecord) -> BaselineRecord:
    outputs = {node: replace(output, imagehash_phashes=[]) for node, output in record.outputs.items()}
    return replace(record, outputs=outputs)


@dataclass(frozen=True)
class Accepted:
    """One case's baseline as accepting writes it."""

    record: BaselineRecord
    # node id -> per image of the record, the run's PNG it was made from (None: kept from the store as it was)
    pictures: dict[str, list[bytes | None]]
    copies: dict[str, list[bytes]]  # the PNG copies a run with --invokeai-save-images keeps beside the record
    preview_size: int  # the run's preview size (0: none)


def _record_and_copies(request: AcceptRequest, candidate: Candidate, store: BaselineStore) -> Accepted:
    """The record to write, the run's pictures of its images, and the PNG copies a run would have kept."""
    record = BaselineRecord.from_dict(candidate.record, source=f"the candidate of {candidate.test_id}")
    pictures: dict[str, list[bytes | None]] = {}
    copies: dict[str, list[bytes]] = {}
    for node_id, kept in candidate.images.items():
        pictures[node_id] = [
            None if image.run_file is None else _results_file(request.results_dir, image.run_file, candidate.test_id)
            for image in kept
        ]
        pngs = []
        for image, picture in zip(kept, pictures[node_id], strict=True):
            if picture is not None:
                pngs.append(picture)
            elif candidate.save_images and image.store_index is not None:
                stored = store.image_path(candidate.test_id, node_id, image.store_index)
                if stored is not None:
                    pngs.append(stored.read_bytes())
        # As in a run: copies only where every kept image of the output has one (else none, none stale).
        if candidate.save_images and len(pngs) == len(kept):
            copies[node_id] = pngs
    return Accepted(record, pictures, copies, candidate.preview_size)


def _results_file(results_dir: Path, name: str, test_id: str) -> bytes:
    path = results_dir / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CandidateError(
            f"{path}: the actual image of {test_id} is not in the results folder ({exc.strerror or exc}); copy the "
            "whole folder, or run the tests again"
        ) from None


def write_accepted(store: BaselineStore, accepted: Accepted) -> Path:
    """Write one accepted record and what goes beside it (standard pHashes, previews, PNG copies) through the
    one function a run with an update mode writes baselines with, so both write the same files."""
    written = write_baseline(
        store, accepted.record, accepted.pictures, preview_size=accepted.preview_size, png_copies=accepted.copies
    )
    return written.record
