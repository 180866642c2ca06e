"""What a judged case means for each output image and for its baseline record, decided without I/O.

The judge (:mod:`pytest_invokeai.run.judge`) reads the store and decodes the images, hands the
fingerprints here, and writes what comes back: artifacts, the record, the PNG copies beside it.

Per image, :func:`decide` turns the update mode and what the baseline holds into a :class:`Decision`:

=========  ================  ===========  ===============  ==================
mode       baseline matches  differs      none             record unreadable
=========  ================  ===========  ===============  ==================
none       matched           mismatched   missing          the test fails
missing    matched           mismatched   new (written)    the test fails
changed    matched           updated (w)  new (written)    new (rewritten)
all        matched (w)       updated (w)  new (written)    new (rewritten)
=========  ================  ===========  ===============  ==================

Per output, :func:`plan_output` applies the decisions and says which fingerprints the record keeps,
and for each whether its PNG copy is the run's image or the one stored beside the record, so that a
kept copy always shows the fingerprint kept with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from pytest_invokeai.baseline.compare import Comparison, Thresholds, compare
from pytest_invokeai.baseline.fingerprint import Fingerprint
from pytest_invokeai.baseline.record import OutputBaseline
from pytest_invokeai.baseline.update import UpdateMode, should_write
from pytest_invokeai.report.results import Verdict


@dataclass(frozen=True)
class Decision:
    """One output image's verdict, and whether the record takes the run's fingerprint for it."""

    verdict: Verdict
    write: bool


def decide(mode: UpdateMode, *, exists: bool, matched: bool | None) -> Decision:
    """The decision for one image: ``exists`` says a baseline image is stored, ``matched`` (None when
    nothing was compared) whether the run's image is within its thresholds of it."""
    write = should_write(mode, exists=exists, matched=matched)
    if not exists:
        return Decision(Verdict.NEW if write else Verdict.MISSING, write)
    if matched:
        return Decision(Verdict.MATCHED, write)
    return Decision(Verdict.UPDATED if write else Verdict.MISMATCHED, write)


def rewrites_unreadable(mode: UpdateMode) -> bool:
    """Whether an unreadable record counts as no baseline (to be replaced) rather than failing the test.

    Only the modes that rewrite baselines that exist do so: replacing the file is rewriting it.
    """
    return mode in (UpdateMode.CHANGED, UpdateMode.ALL)


def drops_what_the_run_lacks(mode: UpdateMode) -> bool:
    """Whether stored images the run no longer made (or a whole output it no longer compared) leave the
    record; otherwise they stay, and the test fails naming them."""
    return should_write(mode, exists=True, matched=False)


class CopyFrom(Enum):
    """Where the PNG copy of a kept fingerprint comes from: it must show what that fingerprint describes."""

    RUN = "run"  # the image the run made (kept only with --invokeai-save-images)
    STORE = "store"  # the copy already stored beside the record, if there is one


@dataclass(frozen=True)
class KeptImage:
    """One image of an output's record after this run."""

    fingerprint: Fingerprint
    copy_from: CopyFrom
    index: int  # the image's index in the run's images (RUN) or in the stored record (STORE)


@dataclass(frozen=True)
class ImageJudgement:
    """One compared output image: its decision and the comparison behind it (None: no baseline image)."""

    index: int
    decision: Decision
    comparison: Comparison | None

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict


@dataclass(frozen=True)
class OutputPlan:
    """One output of the case: its images' judgements and what its record keeps."""

    node_id: str
    label: str
    compared: bool  # False: in the record, but this run did not compare it
    images: tuple[ImageJudgement, ...]
    kept: tuple[KeptImage, ...]  # empty: the output leaves the record
    changed: bool  # the record must be rewritten for this output
    extra_kept: int = 0  # stored images beyond the run's that the record keeps (a failure of the output)
    thresholds: Thresholds = field(default_factory=Thresholds)  # the output's, after the case's tolerance


def plan_output(
    mode: UpdateMode,
    node_id: str,
    label: str,
    stored: OutputBaseline | None,
    actual: Sequence[Fingerprint],
    thresholds: Thresholds,
) -> OutputPlan:
    """Judge a compared output's images (``actual``, in run order) against its stored baseline images."""
    baseline_images = list(stored.images) if stored is not None else []
    images: list[ImageJudgement] = []
    kept: list[KeptImage] = []
    changed = False
    for index, fp in enumerate(actual):
        baseline = baseline_images[index] if index < len(baseline_images) else None
        comparison = compare(baseline, fp, thresholds) if baseline is not None else None
        decision = decide(mode, exists=baseline is not None, matched=comparison.match if comparison else None)
        images.append(ImageJudgement(index, decision, comparison))
        if decision.write or baseline is None:
            kept.append(KeptImage(fp, CopyFrom.RUN, index))
            changed |= decision.write and baseline != fp
        else:
            kept.append(KeptImage(baseline, CopyFrom.STORE, index))
    extra_kept = 0
    if len(baseline_images) > len(actual):
        if drops_what_the_run_lacks(mode):
            changed = True
        else:
            extra = range(len(actual), len(baseline_images))
            kept += [KeptImage(baseline_images[i], CopyFrom.STORE, i) for i in extra]
            extra_kept = len(extra)
    return OutputPlan(node_id, label, True, tuple(images), tuple(kept), changed, extra_kept, thresholds)


def plan_uncompared(mode: UpdateMode, node_id: str, stored: OutputBaseline) -> OutputPlan:
    """An output in the record that this run did not compare: dropped, or kept (and the test fails)."""
    if drops_what_the_run_lacks(mode):
        return OutputPlan(node_id, stored.label, False, (), (), changed=True)
    kept = tuple(KeptImage(fp, CopyFrom.STORE, i) for i, fp in enumerate(stored.images))
    return OutputPlan(node_id, stored.label, False, (), kept, changed=False)


def record_must_be_saved(mode: UpdateMode, plans: Sequence[OutputPlan], *, had_record: bool, unreadable: bool) -> bool:
    """Whether to write the record: something in it changed, mode ``all`` makes a first one, or an
    unreadable record is being replaced."""
    return any(plan.changed for plan in plans) or (mode is UpdateMode.ALL and not had_record) or unreadable
