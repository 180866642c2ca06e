"""Judge one finished case against its baseline: compare every output image, update what the mode allows.

Each output image gets a verdict: ``matched``; ``mismatched`` (fails; artifacts written);
``updated`` (it differed or vanished and the update mode rewrote it); ``new`` (no baseline yet and
the mode wrote one); ``missing`` (no baseline and mode ``none``: fails, naming the command that
writes it). Decisions are per output: a ``missing`` update never rewrites a mismatched output of
the same test. The record is written only when something in it changed.

An unreadable record (empty, cut short, binary, another test's) fails the test naming the file, unless
the mode rewrites baselines that exist (``changed``, ``all``): then it counts as no baseline, and the
new record replaces it, the old bytes kept as ``<name>.broken`` beside it (:attr:`Judgement.replaced`).

The decisions are pure and live in :mod:`pytest_invokeai.run.decision`; :func:`judge` is the I/O around
them (the store, the images, the artifacts), and the texts of failures come from the formatters below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_invokeai._util.keys import rootdir_key
from pytest_invokeai.baseline.compare import Thresholds
from pytest_invokeai.baseline.fingerprint import Fingerprint, fingerprint
from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.baseline.preview import DEFAULT_PREVIEW_SIZE
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import (
    BaselineStore,
    UnreadableBaseline,
)
from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.baseline.write import add_missing_previews, write_baseline
from pytest_invokeai.cases.spec import CaseError, CaseSpec
from pytest_invokeai.local.node_packs import PACKS_CHANGED, describe_pack_changes
from pytest_invokeai.report.artifacts import Artifacts, write_artifacts
from pytest_invokeai.report.context import ContextNote, RunContext, compare_context
from pytest_invokeai.report.results import VERSION_NOTE_KEY, OutputResult, Verdict
from pytest_invokeai.run.accept_command import accept_command
from pytest_invokeai.run.candidate import (
    KIND_BASELINE,
    Candidate,
    remove_candidate,
    results_relative,
    write_candidate,
)
from pytest_invokeai.run.candidate import KeptImage as CandidateImage
from pytest_invokeai.run.decision import (
    CopyFrom,
    ImageJudgement,
    OutputPlan,
    plan_output,
    plan_uncompared,
    record_must_be_saved,
    rewrites_unreadable,
)
from pytest_invokeai.server.live_schema import packs_used_by
from pytest_invokeai.server.session import GenerationResult, OutputImage
from pytest_invokeai.workflow.content_hash import content_hash
from pytest_invokeai.workflow.form import form_inputs, resolve_input
from pytest_invokeai.workflow.load import Workflow


@dataclass
class JudgeSettings:
    store: BaselineStore
    update_mode: UpdateMode
    results_dir: Path
    rootdir: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    save_images: bool = False
    invokeai_version: str | None = None
    preview_size: int = DEFAULT_PREVIEW_SIZE  # longest side of the previews written with baselines; 0: none
    node_packs: dict[str, str] = field(default_factory=dict)  # the run's node packs -> content hash (all of them)


def version_note(recorded: str | None, running: str | None) -> str | None:
    """``"recorded on 6.13.8, ran on 6.14.2"`` when a baseline comes from another InvokeAI than this run's, else None.

    An upgrade is the usual reason pictures change: the reports and the failure say so beside the images.
    A record without a version (written before versions were kept) says nothing either way.
    """
    if not recorded or not running or recorded == running:
        return None
    return f"recorded on {recorded}, ran on {running}"


@dataclass
class Judgement:
    outputs: list[OutputResult]
    failures: list[str]  # one paragraph per failed output, for the test's failure message
    written: Path | None = None
    replaced: tuple[Path, Path] | None = None  # (unreadable record, where its bytes were kept) when it was rewritten
    previews: list[Path] = field(default_factory=list)  # previews written (with the record, or added to it)
    test_id: str = ""  # whose baseline (a second run in one test has its own)

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


def thresholds_for(
    base: Thresholds, tolerance: Mapping[str, Any], node_id: str, label: str, *, where: str
) -> Thresholds:
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


def check_tolerance_outputs(
    tolerance: Mapping[str, Any], outputs: Mapping[str, Sequence[OutputImage]], *, where: str
) -> None:
    known = set(outputs) | {imgs[0].node_label for imgs in outputs.values() if imgs}
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
        entries.append(
            {"index": form_input.index, "name": form_input.display_name, "value": _json_safe(value, rootdir)}
        )
    return sorted(entries, key=lambda e: e["index"])


def _json_safe(value: Any, rootdir: Path) -> Any:
    if isinstance(value, Path):
        return rootdir_key(value, rootdir)
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
    """Judge the case's outputs: read the store, decide (:mod:`.decision`), write artifacts and the record."""
    outputs = select_outputs(result.images, spec.outputs, where=test_id)
    if not outputs:
        raise CaseError(
            f"{test_id}: the run produced no image outputs to compare (none that the gallery shows); name the "
            "outputs to compare with outputs=[...]"
        )
    check_tolerance_outputs(spec.tolerance, outputs, where=test_id)
    record, unreadable = _load_record(settings, test_id)
    stored_outputs = dict(record.outputs) if record is not None else {}
    mode = settings.update_mode
    plans: list[OutputPlan] = []
    decoded: dict[str, list[DecodedImage]] = {}
    actuals: dict[str, list[Fingerprint]] = {}
    for node_id, images in sorted(outputs.items()):
        label = images[0].node_label
        thresholds = thresholds_for(settings.thresholds, spec.tolerance, node_id, label, where=test_id)
        # Decoded once: the fingerprint and the artifacts (heat map, side by side) share the pixels.
        decoded[node_id] = [
            DecodedImage.decode(image.png, image_name(node_id, label, i)) for i, image in enumerate(images)
        ]
        actual = actuals[node_id] = [fingerprint(image) for image in decoded[node_id]]
        plans.append(plan_output(mode, node_id, label, stored_outputs.get(node_id), actual, thresholds))
    plans += [
        plan_uncompared(mode, node_id, stored)
        for node_id, stored in sorted(stored_outputs.items())
        if node_id not in outputs
    ]

    inputs = recorded_inputs(workflow, spec.inputs, settings.rootdir)
    case = {"workflow": workflow_key, "inputs": inputs, "server": result.server}
    ran = RunContext(settings.invokeai_version, content_hash(workflow), dict(models or {}), inputs)
    context = compare_context(record_context(record), ran)
    versions = version_note(record.invokeai_version if record else None, settings.invokeai_version)
    results: list[OutputResult] = []
    failures: list[str] = []
    for plan in plans:
        pixels = decoded.get(plan.node_id, [])
        judged = [
            _write_image_artifacts(settings, test_id, plan, each, pixels[each.index], case, context, versions)
            for each in plan.images
        ]
        results += [output for output, _ in judged]
        failures += [text for _, text in judged if text is not None]
        failures += output_failures(plan)
    packs = packs_used_by(workflow, settings.node_packs)
    _note_pack_changes(results, record, packs)

    facts = {
        "workflow": workflow,
        "workflow_key": workflow_key,
        "inputs": inputs,
        "models": models,
        "node_packs": packs,
    }
    _keep_candidate(settings, test_id, plans, actuals, stored_outputs, results, facts)
    must_save = record_must_be_saved(mode, plans, had_record=record is not None, unreadable=unreadable is not None)
    if must_save or _gains_standard_phash(mode, plans, record):
        written, previews, replaced = _save_record(
            settings, test_id, plans, outputs, decoded, record, unreadable, facts
        )
        if replaced is not None:
            note = f"{rootdir_key(replaced[0], settings.rootdir)} (kept as {replaced[1].name})"
            for each in results:
                each.extra["replaced unreadable baseline"] = note
        return Judgement(results, failures, written=written, replaced=replaced, previews=previews, test_id=test_id)
    previews = []
    if mode is not UpdateMode.NONE and record is not None:
        # Any update mode gives a record that matched the previews it lacks, without rewriting its fingerprints.
        previews = add_missing_previews(
            settings.store,
            test_id,
            _preview_sources(settings, test_id, plans, decoded, None),
            preview_size=settings.preview_size,
        )
    return Judgement(outputs=results, failures=failures, previews=previews, test_id=test_id)


def _gains_standard_phash(mode: UpdateMode, plans: Sequence[OutputPlan], record: BaselineRecord | None) -> bool:
    """Mode ``all`` writes every baseline: a record from before the standard pHash gains it where the run made
    the very pixels it fingerprints (its fingerprints stay as they are)."""
    if mode is not UpdateMode.ALL or record is None:
        return False
    for plan in plans:
        stored = record.outputs.get(plan.node_id)
        for kept in plan.kept:
            if (
                kept.copy_from is CopyFrom.RUN
                and stored is not None
                and kept.index < len(stored.images)
                and stored.imagehash_phash(kept.index) is None
                and stored.images[kept.index] == kept.fingerprint
            ):
                return True
    return False


def _save_record(
    settings: JudgeSettings,
    test_id: str,
    plans: Sequence[OutputPlan],
    outputs: Mapping[str, Sequence[OutputImage]],
    decoded: Mapping[str, Sequence[DecodedImage]],
    record: BaselineRecord | None,
    unreadable: Path | None,
    context: dict[str, Any],
) -> tuple[Path, list[Path], tuple[Path, Path] | None]:
    """Write the record the plans keep, with its previews and PNG copies: (record file, previews, replaced)."""
    copies = {
        plan.node_id: _copies(settings, test_id, plan, outputs.get(plan.node_id, [])) for plan in plans if plan.kept
    }
    replaced = (unreadable, settings.store.set_aside(unreadable)) if unreadable is not None else None
    new = baseline_record(settings, test_id, plans, stored=record, **context)
    written = write_baseline(
        settings.store,
        new,
        _preview_sources(settings, test_id, plans, decoded, settings.store.record_path(test_id)),
        preview_size=settings.preview_size,
        # Copies not passed here are deleted: only those that still show their kept fingerprints stay.
        png_copies={node: pngs for node, pngs in copies.items() if pngs is not None},
    )
    return written.record, written.previews, replaced


def _preview_sources(
    settings: JudgeSettings,
    test_id: str,
    plans: Sequence[OutputPlan],
    decoded: Mapping[str, Sequence[DecodedImage]],
    record_file: Path | None,
) -> dict[str, list[DecodedImage | None]]:
    """Per kept image of each output, the run's image a preview may be made from, else None.

    A preview shows only an image that was written as the baseline (kept from the run) or that matched it.
    ``record_file``: the record being rewritten; a kept stored image that matched gets a preview from the
    run only where it has none, so rewriting a record never churns the previews of images it kept."""
    verdicts = {(plan.node_id, each.index): each.verdict for plan in plans for each in plan.images}
    sources: dict[str, list[DecodedImage | None]] = {}
    for plan in plans:
        if not plan.kept:
            continue
        images = decoded.get(plan.node_id, [])
        sources[plan.node_id] = []
        for position, kept in enumerate(plan.kept):
            from_run = kept.copy_from is CopyFrom.RUN
            matched = verdicts.get((plan.node_id, kept.index)) is Verdict.MATCHED
            if (
                not from_run
                and record_file is not None
                and settings.store.has_preview(record_file, plan.node_id, position)
            ):
                matched = False  # keep the stored preview
            sources[plan.node_id].append(
                images[kept.index] if (from_run or matched) and kept.index < len(images) else None
            )
    return sources


def _note_pack_changes(results: list[OutputResult], record: BaselineRecord | None, packs: dict[str, str]) -> None:
    """A node pack the workflow uses changed since its baseline: each output says so (for the report and summary)."""
    changed = describe_pack_changes(record.node_packs, packs) if record is not None else ""
    if changed:
        for each in results:
            each.extra[PACKS_CHANGED] = changed


def _write_image_artifacts(
    settings: JudgeSettings,
    test_id: str,
    plan: OutputPlan,
    judged: ImageJudgement,
    image: DecodedImage,
    case: dict[str, Any],
    context: list[ContextNote],
    versions: str | None = None,
) -> tuple[OutputResult, str | None]:
    """Write one compared image's artifacts; its result for the reports, and its failure text (None: it passed).

    Every image compared against a stored one gets a copy of the baseline's picture in the results (so the
    report shows both, and stands alone when the folder is uploaded); only one that differed gets a diff.
    ``versions``: the :func:`version_note` of the record this image was compared with (None: same version).
    """
    verdict, comparison = judged.verdict, judged.comparison
    had_baseline = verdict in (Verdict.MISMATCHED, Verdict.UPDATED, Verdict.MATCHED)
    picture = baseline_picture(settings.store, test_id, plan.node_id, judged.index) if had_baseline else None
    artifacts = write_artifacts(
        settings.results_dir,
        test_id,
        plan.node_id,
        judged.index,
        actual_png=image,
        baseline_png=picture[0] if picture else None,
        baseline_is_preview=picture is not None and picture[1] == "preview",
        with_diff=verdict is not Verdict.MATCHED,
        comparison=comparison if comparison is not None and not comparison.match else None,
    )
    kind = picture[1] if picture else ""
    output = output_result(test_id, plan, judged, artifacts, case, baseline_kind=kind, context=context)
    if versions is not None and judged.comparison is not None:  # compared with a record of another version
        output.extra[VERSION_NOTE_KEY] = versions
    name = image_name(plan.node_id, plan.label, judged.index)
    if verdict not in ACCEPTABLE:
        return output, None
    accept_line = accept_command([test_id], results_dir=settings.results_dir, rootdir=settings.rootdir)
    if verdict is Verdict.MISMATCHED:
        return output, mismatch_message(name, output.explanation, artifacts, accept_line, versions)
    if verdict is Verdict.MISSING:
        return output, missing_message(name, settings.store.record_path(test_id), artifacts.actual, accept_line)
    return output, None


def output_result(
    test_id: str,
    plan: OutputPlan,
    judged: ImageJudgement,
    artifacts: Artifacts,
    case: dict[str, Any],
    *,
    baseline_kind: str = "",
    context: Sequence[ContextNote] = (),
) -> OutputResult:
    """The reports' record of one judged image (the one place an :class:`OutputResult` is built from a comparison)."""
    comparison = judged.comparison
    return OutputResult(
        test_id=test_id,
        output=plan.node_id,
        label=plan.label,
        image_index=judged.index,
        verdict=judged.verdict,
        distances=dict(comparison.distances) if comparison is not None else {},
        thresholds=plan.thresholds.as_dict(),
        failed=list(comparison.failed) if comparison is not None else [],
        explanation=comparison.explain() if comparison is not None else "no baseline",
        actual=artifacts.actual,
        baseline=artifacts.baseline,
        diff=artifacts.diff,
        side_by_side=artifacts.side_by_side,
        baseline_kind=baseline_kind,
        case=case,
        context=list(context),
    )


def baseline_record(
    settings: JudgeSettings,
    test_id: str,
    plans: Sequence[OutputPlan],
    *,
    workflow: Workflow,
    workflow_key: str,
    inputs: list[dict[str, Any]],
    models: Mapping[str, str] | None,
    stored: BaselineRecord | None = None,
    node_packs: Mapping[str, str] | None = None,
) -> BaselineRecord:
    """The record to save: every output the plans keep, with the context the images were made in.

    A fingerprint kept from ``stored`` keeps its standard pHash; :func:`write_baseline` adds the others'."""
    return BaselineRecord(
        test_id=test_id,
        outputs={
            plan.node_id: OutputBaseline(
                images=[kept.fingerprint for kept in plan.kept],
                label=plan.label,
                imagehash_phashes=_stored_phashes(plan, stored),
            )
            for plan in plans
            if plan.kept
        },
        invokeai_version=settings.invokeai_version,
        workflow=workflow_key,
        workflow_content_hash=content_hash(workflow),
        inputs=inputs,
        models=dict(models or {}),
        node_packs=dict(node_packs or {}),
    )


def _stored_phashes(plan: OutputPlan, stored: BaselineRecord | None) -> list[str | None]:
    output = stored.outputs.get(plan.node_id) if stored is not None else None
    if output is None:
        return []
    phashes = [output.imagehash_phash(kept.index) if kept.copy_from is CopyFrom.STORE else None for kept in plan.kept]
    return phashes if any(phashes) else []


# -- failure messages: one paragraph per failed output image or output -----------------------------


def image_name(node_id: str, label: str, index: int) -> str:
    return f"output {label or node_id!r} ({node_id}) image {index}"


def mismatch_message(
    name: str, explanation: str, artifacts: Artifacts, accept_line: str, versions: str | None = None
) -> str:
    """``accept_line``: the shell command that accepts the test's images (:func:`accept_command`); ``versions``:
    the :func:`version_note` when the baseline was recorded on another InvokeAI."""
    seen = artifacts.side_by_side or artifacts.diff
    shown = f"  diff: {seen}\n" if seen else "  (keep PNG copies with --invokeai-save-images to get diff images)\n"
    indented = explanation.replace("\n", "\n  ")
    baseline = f"its baseline ({versions})" if versions else "its baseline"
    return (
        f"{name} does not match {baseline}:\n  {indented}\n  actual: {artifacts.actual}\n{shown}"
        f"  accept it with: {accept_line}"
    )


def missing_message(name: str, record_path: Path, actual: Path | None, accept_line: str) -> str:
    return (
        f"{name} has no baseline (looked in {record_path}); actual: {actual}\n"
        f"  record it from this run's image with: {accept_line}"
    )


def output_failures(plan: OutputPlan) -> list[str]:
    """What fails the output as a whole: stored images it no longer made, or its not being compared at all."""
    who = f"output {plan.label or plan.node_id!r} ({plan.node_id})"
    if not plan.compared:
        if not plan.kept:
            return []  # dropped from the record by the update mode
        return [
            f"{who} is in the baseline but this run did not compare it (the workflow lost the output, or it is intermediate now)"
        ]
    if plan.extra_kept:
        return [f"{who} made {len(plan.images)} image(s); its baseline has {plan.extra_kept} more"]
    return []


# -- what `pytest-invokeai accept` needs ---------------------------------------------------------

#: An image with one of these verdicts can be accepted later from the run's results.
ACCEPTABLE = (Verdict.MISMATCHED, Verdict.MISSING)


def _keep_candidate(
    settings: JudgeSettings,
    test_id: str,
    plans: Sequence[OutputPlan],
    actuals: Mapping[str, Sequence[Fingerprint]],
    stored: Mapping[str, OutputBaseline],
    results: Sequence[OutputResult],
    context: dict[str, Any],
) -> None:
    """Keep in the results what accepting this case needs: the record update mode ``changed`` would write.

    Only for a case with an image that did not match (mismatched, or no baseline); a case that matched
    removes what an earlier run kept, so accepting never picks up a stale candidate."""
    if not any(each.verdict in ACCEPTABLE for plan in plans for each in plan.images):
        remove_candidate(settings.results_dir, test_id)
        return
    mode = UpdateMode.CHANGED
    candidate_plans = [
        plan_output(mode, plan.node_id, plan.label, stored.get(plan.node_id), actuals[plan.node_id], plan.thresholds)
        if plan.compared
        else plan_uncompared(mode, plan.node_id, stored[plan.node_id])
        for plan in plans
    ]
    # Every compared image's actual PNG is among the artifacts (write_artifacts always writes it).
    actual_files = {(each.output, each.image_index): each.actual for each in results if each.actual is not None}
    images = {
        plan.node_id: [
            CandidateImage(run_file=results_relative(actual_files[plan.node_id, image.index], settings.results_dir))
            if image.copy_from is CopyFrom.RUN
            else CandidateImage(store_index=image.index)
            for image in plan.kept
        ]
        for plan in candidate_plans
        if plan.kept
    }
    record = baseline_record(settings, test_id, candidate_plans, **context)
    write_candidate(
        settings.results_dir,
        Candidate(
            test_id=test_id,
            kind=KIND_BASELINE,
            workflow=context["workflow_key"],
            workflow_content_hash=content_hash(context["workflow"]),
            profile=settings.store.profile,
            baselines=rootdir_key(settings.store.root, settings.rootdir),
            save_images=settings.save_images,
            preview_size=settings.preview_size,
            record=record.to_dict(),
            images=images,
        ),
    )


# -- the store's side ----------------------------------------------------------------------------


def _copies(
    settings: JudgeSettings, test_id: str, plan: OutputPlan, images: Sequence[OutputImage]
) -> list[bytes] | None:
    """The PNG copies to keep beside the record for one output: all of its kept images', or none."""
    copies = []
    for kept in plan.kept:
        if kept.copy_from is CopyFrom.RUN:
            png = images[kept.index].png if settings.save_images else None
        else:
            png = _stored_png(settings.store, test_id, plan.node_id, kept.index)
        if png is None:
            return None
        copies.append(png)
    return copies


def _load_record(settings: JudgeSettings, test_id: str) -> tuple[BaselineRecord | None, Path | None]:
    """The stored record, or (None, its file) when it is unreadable and this mode rewrites it."""
    try:
        return settings.store.load(test_id), None
    except UnreadableBaseline as exc:
        if not rewrites_unreadable(settings.update_mode) or exc.path != settings.store.record_path(test_id):
            raise
        return None, exc.path


def record_context(record: BaselineRecord | None) -> RunContext | None:
    """What a stored record says its images were made from (None: no record to compare with)."""
    if record is None:
        return None
    return RunContext(record.invokeai_version, record.workflow_content_hash, dict(record.models), record.inputs)


def baseline_picture(store: BaselineStore, test_id: str, node_id: str, index: int) -> tuple[bytes, str] | None:
    """The baseline's picture of one output image and its kind: the full PNG copy where one is kept, else
    the record's preview; None when the baseline keeps neither."""
    for kind, path in (
        ("image", store.image_path(test_id, node_id, index)),
        ("preview", store.preview_path(test_id, node_id, index)),
    ):
        if path is not None:
            return path.read_bytes(), kind
    return None


def _stored_png(store: BaselineStore, test_id: str, node_id: str, index: int) -> bytes | None:
    path = store.image_path(test_id, node_id, index)
    return path.read_bytes() if path is not None else None
