"""Judge one finished case against its baseline: compare every output image, update what the mode allows.

Each output image gets a verdict: ``matched``; ``mismatched`` (fails; artifacts written);
``updated`` (it differed or vanished and the update mode rewrote it); ``new`` (no baseline yet and
the mode wrote one); ``missing`` (no baseline and mode ``none``: fails, naming the command that
writes it). Decisions are per output: a ``missing`` update never rewrites a mismatched output of
the same test. The record is written only when something in it changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baseline.compare import Thresholds, compare
from .baseline.fingerprint import Fingerprint, fingerprint
from .baseline.image import DecodedImage
from .baseline.record import BaselineRecord, OutputBaseline
from .baseline.store import BaselineStore
from .baseline.update import UpdateMode, should_write
from .cases import CaseError, CaseSpec
from .report.artifacts import write_artifacts
from .report.results import OutputResult
from .server.session import GenerationResult, OutputImage
from .workflow.content_hash import content_hash
from .workflow.form import form_inputs, resolve_input
from .workflow.load import Workflow


@dataclass
class JudgeSettings:
    store: BaselineStore
    update_mode: UpdateMode
    results_dir: Path
    rootdir: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    save_images: bool = False
    invokeai_version: str | None = None


@dataclass
class Judgement:
    outputs: list[OutputResult]
    failures: list[str]  # one paragraph per failed output, for the test's failure message
    written: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def select_outputs(
    images: Mapping[str, Sequence[OutputImage]], wanted: Sequence[str] | None, *, where: str
) -> dict[str, list[OutputImage]]:
    """The outputs to compare: the gallery's (non-intermediate) by default, else those named by id or label."""
    if wanted is None:
        return {n: list(imgs) for n, imgs in images.items() if imgs and not imgs[0].is_intermediate}
    chosen: dict[str, list[OutputImage]] = {}
    for name in wanted:
        found = [n for n, imgs in images.items() if n == name or (imgs and imgs[0].node_label == name)]
        if len(found) != 1:
            problem = "matches several outputs" if found else "is not an image output of this run"
            available = ", ".join(
                f"{n} ({imgs[0].node_label or imgs[0].node_type}{', intermediate' if imgs[0].is_intermediate else ''})"
                for n, imgs in sorted(images.items())
                if imgs
            )
            raise CaseError(f"{where}: output {name!r} {problem}; image outputs: {available or 'none'}")
        chosen[found[0]] = list(images[found[0]])
    return chosen


def thresholds_for(base: Thresholds, tolerance: Mapping[str, Any], node_id: str, label: str, *, where: str) -> Thresholds:
    """``tolerance`` holds signal names (for every output) and output ids/labels (a table of signals each)."""
    per_test = {k: v for k, v in tolerance.items() if not isinstance(v, Mapping)}
    per_output: dict[str, float] = {}
    for key, value in tolerance.items():
        if isinstance(value, Mapping) and key in (node_id, label):
            per_output.update(value)
    try:
        return base.with_overrides(per_test).with_overrides(per_output)
    except ValueError as exc:
        raise CaseError(f"{where}: tolerance: {exc}") from None


def check_tolerance_outputs(tolerance: Mapping[str, Any], outputs: Mapping[str, Sequence[OutputImage]], *, where: str) -> None:
    known = {n for n in outputs} | {imgs[0].node_label for imgs in outputs.values() if imgs}
    for key, value in tolerance.items():
        if isinstance(value, Mapping) and key not in known:
            raise CaseError(
                f"{where}: tolerance names output {key!r}, which is not compared; compared outputs: "
                f"{', '.join(sorted(outputs))}"
            )


def recorded_inputs(workflow: Workflow, values: Mapping[Any, Any], rootdir: Path) -> list[dict[str, Any]]:
    """The case's input values as the record keeps them: by index, with the display name, JSON-safe."""
    inputs = form_inputs(workflow)
    entries = []
    for key, value in values.items():
        form_input = resolve_input(inputs, key, source=workflow.source)
        entries.append({"index": form_input.index, "name": form_input.display_name, "value": _json_safe(value, rootdir)})
    return sorted(entries, key=lambda e: e["index"])


def _json_safe(value: Any, rootdir: Path) -> Any:
    if isinstance(value, Path):
        try:
            return value.resolve().relative_to(rootdir.resolve()).as_posix()
        except ValueError:
            return value.as_posix()
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, rootdir) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, rootdir) for v in value]
    return value


def judge(
    settings: JudgeSettings,
    *,
    test_id: str,
    spec: CaseSpec,
    workflow: Workflow,
    workflow_key: str,
    result: GenerationResult,
    models: Mapping[str, str] | None = None,
) -> Judgement:
    where = test_id
    outputs = select_outputs(result.images, spec.outputs, where=where)
    if not outputs:
        raise CaseError(
            f"{where}: the run produced no image outputs to compare (none that the gallery shows); name the "
            "outputs to compare with outputs=[...]"
        )
    check_tolerance_outputs(spec.tolerance, outputs, where=where)
    record = settings.store.load(test_id)
    inputs = recorded_inputs(workflow, spec.inputs, settings.rootdir)
    case = {"workflow": workflow_key, "inputs": inputs, "server": result.server}
    baseline_outputs = dict(record.outputs) if record is not None else {}
    mode = settings.update_mode
    new_outputs: dict[str, OutputBaseline] = {}
    images_to_keep: dict[str, list[bytes]] = {}
    changed = False
    results: list[OutputResult] = []
    failures: list[str] = []

    for node_id, images in sorted(outputs.items()):
        label = images[0].node_label
        thresholds = thresholds_for(settings.thresholds, spec.tolerance, node_id, label, where=where)
        stored = baseline_outputs.get(node_id)
        keep_fps: list[Fingerprint] = []
        keep_pngs: list[bytes | None] = []
        for index, img in enumerate(images):
            # Decoded once, one image at a time: its fingerprint and its artifacts share the pixels.
            image = DecodedImage.decode(img.png, f"output {label or node_id!r} ({node_id}) image {index}")
            actual = fingerprint(image)
            baseline_fp = stored.images[index] if stored is not None and index < len(stored.images) else None
            exists = baseline_fp is not None
            comparison = compare(baseline_fp, actual, thresholds) if baseline_fp is not None else None
            matched = comparison.match if comparison is not None else None
            write = should_write(mode, exists=exists, matched=matched)
            if not exists:
                verdict = "new" if write else "missing"
            elif matched:
                verdict = "matched"
            else:
                verdict = "updated" if write else "mismatched"
            baseline_png = _stored_png(settings.store, test_id, node_id, index)
            keep_fps.append(actual if write or baseline_fp is None else baseline_fp)
            # The PNG copy must show what the kept fingerprint describes: a new image's copy is made
            # only with save_images, a kept image keeps the copy it has (if any).
            new_png = img.png if settings.save_images else None
            keep_pngs.append(new_png if write or baseline_fp is None else baseline_png)
            changed |= write and (baseline_fp is None or baseline_fp != actual)
            artifacts = write_artifacts(
                settings.results_dir,
                test_id,
                node_id,
                index,
                actual_png=image,
                baseline_png=baseline_png if verdict in ("mismatched", "updated") else None,
                comparison=comparison if comparison is not None and not comparison.match else None,
            )
            explanation = comparison.explain() if comparison is not None else "no baseline"
            results.append(
                OutputResult(
                    test_id=test_id,
                    output=node_id,
                    label=label,
                    image_index=index,
                    verdict=verdict,
                    distances=dict(comparison.distances) if comparison is not None else {},
                    thresholds=thresholds.as_dict(),
                    failed=list(comparison.failed) if comparison is not None else [],
                    explanation=explanation,
                    actual=artifacts.actual,
                    baseline=artifacts.baseline,
                    diff=artifacts.diff,
                    side_by_side=artifacts.side_by_side,
                    case=case,
                )
            )
            name = f"output {label or node_id!r} ({node_id}) image {index}"
            if verdict == "mismatched":
                seen = artifacts.side_by_side or artifacts.diff
                shown = f"  diff: {seen}\n" if seen else "  (keep PNG copies with --invokeai-save-images to get diff images)\n"
                failures.append(
                    f"{name} does not match its baseline:\n  {explanation.replace(chr(10), chr(10) + '  ')}\n"
                    f"  actual: {artifacts.actual}\n{shown}"
                    f"  accept it with: pytest --invokeai-update-baselines=changed {_quoted(test_id)}"
                )
            elif verdict == "missing":
                failures.append(
                    f"{name} has no baseline (looked in {settings.store.record_path(test_id)}); actual: "
                    f"{artifacts.actual}\n  record it with: pytest --invokeai-update-baselines=missing {_quoted(test_id)}"
                )
        if stored is not None and len(stored.images) > len(images):
            extra = len(stored.images) - len(images)
            if should_write(mode, exists=True, matched=False):
                changed = True
            else:
                keep_fps += stored.images[len(images) :]
                keep_pngs += [_stored_png(settings.store, test_id, node_id, i) for i in range(len(images), len(stored.images))]
                failures.append(f"output {label or node_id!r} ({node_id}) made {len(images)} image(s); its baseline has {extra} more")
        new_outputs[node_id] = OutputBaseline(images=keep_fps, label=label)
        if all(png is not None for png in keep_pngs) and len(keep_pngs) == len(keep_fps):
            images_to_keep[node_id] = [png for png in keep_pngs if png is not None]

    for node_id, stored in sorted(baseline_outputs.items()):
        if node_id in outputs:
            continue
        if should_write(mode, exists=True, matched=False):
            changed = True  # the output is gone and the mode accepts changes: drop it from the record
        else:
            new_outputs[node_id] = stored
            copies = [_stored_png(settings.store, test_id, node_id, i) for i in range(len(stored.images))]
            if all(png is not None for png in copies):
                images_to_keep[node_id] = [png for png in copies if png is not None]
            failures.append(
                f"output {stored.label or node_id!r} ({node_id}) is in the baseline but this run did not compare it "
                f"(the workflow lost the output, or it is intermediate now)"
            )

    written = None
    if changed or (mode is UpdateMode.ALL and record is None):
        new_record = BaselineRecord(
            test_id=test_id,
            outputs=new_outputs,
            invokeai_version=settings.invokeai_version,
            workflow=workflow_key,
            workflow_content_hash=content_hash(workflow),
            inputs=inputs,
            models=dict(models or {}),
        )
        # Copies not passed here are deleted: only those that still show their kept fingerprints stay.
        written = settings.store.save(new_record, images=images_to_keep)
    return Judgement(outputs=results, failures=failures, written=written)


def _stored_png(store: BaselineStore, test_id: str, node_id: str, index: int) -> bytes | None:
    path = store.image_path(test_id, node_id, index)
    return path.read_bytes() if path is not None else None


def _quoted(test_id: str) -> str:
    return "'" + test_id.replace("'", "'\\''") + "'"
