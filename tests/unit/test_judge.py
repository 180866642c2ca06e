"""Judging one finished case against its baseline (pytest_invokeai.run.judge), as plain Python: no server.

The images are made here with Pillow, for two "runs" ``a`` and ``b`` of a noise workflow shaped like
tests/data/gui/form-layout.workflow.json (outputs save, blur, noise, blank): the same noise recipe with
seeds 1 and 2 (32x32, +-115 levels around mid-gray), so the two runs do not match each other with the
default thresholds (measured: phash about 1.41, color 0.34, layout 2.81, sharpness 0.42). Every situation
below is built from them: records are written with the store and the fingerprint functions, never with
the judge. The per-image decision is unit-tested on its own at the end, with expected values by hand.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageFilter
from report_images import count_decodes, sha256_of

from pytest_invokeai.baseline.compare import Thresholds
from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.cases.spec import CaseError, CaseSpec
from pytest_invokeai.report.artifacts import Artifacts
from pytest_invokeai.report.results import Verdict
from pytest_invokeai.run.decision import CopyFrom, KeptImage, decide, plan_output, plan_uncompared, rewrites_unreadable
from pytest_invokeai.run.judge import (
    Judgement,
    JudgeSettings,
    image_name,
    judge,
    mismatch_message,
    missing_message,
    output_failures,
    output_result,
)
from pytest_invokeai.server.runs import CaseResult
from pytest_invokeai.server.session import GenerationResult, OutputImage
from pytest_invokeai.workflow.content_hash import content_hash
from pytest_invokeai.workflow.load import Workflow, load_workflow

GUI = Path(__file__).parents[1] / "data" / "gui"
WORKFLOW = GUI / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius, 5 Board
TEST_ID = "test_noise.py::test_noise[Value=1]"
VALUES = {0: 32, 1: 32, 3: 0.9, 4: 0}
# Loose enough for seed 1 against seed 2 (see the module docstring), on every signal that differs.
LOOSE = {"phash": 2.0, "color": 10.0, "layout": 10.0}
SERVER = "http://127.0.0.1:9090"


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noise(seed: int) -> Image.Image:
    """Deterministic RGB noise around mid-gray, the same for a seed on every machine."""
    levels = np.random.default_rng(seed).integers(-115, 116, (32, 32, 3))
    return Image.fromarray(np.clip(128 + levels, 0, 255).astype(np.uint8))


def generation(seed: int) -> GenerationResult:
    """What the workflow's run with this seed gives: a gallery output ``save`` and three intermediates."""
    made = noise(seed)

    def image(node_id: str, node_type: str, label: str, intermediate: bool, picture: Image.Image) -> OutputImage:
        return OutputImage(node_id, node_type, label, intermediate, f"{node_id}-{seed}.png", png(picture))

    images = {
        "blank": [image("blank", "blank_image", "", True, Image.new("RGB", (32, 32), (128, 128, 128)))],
        "noise": [image("noise", "img_noise", "", True, made)],
        "blur": [image("blur", "img_blur", "", True, made.filter(ImageFilter.GaussianBlur(2)))],
        "save": [image("save", "save_image", "Output", False, made)],
    }
    return GenerationResult(case=CaseResult(key=f"seed-{seed}", items=[], images={}), images=images, server=SERVER)


class Runs:
    """Two results: ``a`` (seed 1) and ``b`` (seed 2); images by name, "A"/"B" = the save node's."""

    def __init__(self, workflow: Workflow, a: GenerationResult, b: GenerationResult) -> None:
        self.workflow, self.a, self.b = workflow, a, b
        self.save = {"A": a.images["save"][0], "B": b.images["save"][0]}
        self.blur = {"A": a.images["blur"][0], "B": b.images["blur"][0]}

    def result(self, **images: list[OutputImage]) -> GenerationResult:
        """Run A's result with other images per output (a node that made more or fewer images)."""
        return replace(self.a, images={**self.a.images, **images})


@pytest.fixture(scope="module")
def runs() -> Runs:
    return Runs(load_workflow(WORKFLOW), generation(1), generation(2))


@pytest.fixture
def store(tmp_path: Path) -> BaselineStore:
    return BaselineStore(tmp_path / "baselines")


def settings(store: BaselineStore, tmp_path: Path, mode: UpdateMode, **extra) -> JudgeSettings:
    return JudgeSettings(
        store=store,
        update_mode=mode,
        results_dir=tmp_path / "results",
        rootdir=tmp_path,
        invokeai_version="6.14.2",
        **extra,
    )


def spec(**fields) -> CaseSpec:
    return CaseSpec(workflow=WORKFLOW, inputs={**VALUES, 2: 1}, **fields)


def run_judge(runs: Runs, store, tmp_path, mode, result=None, case=None, **extra) -> Judgement:
    return judge(
        settings(store, tmp_path, mode, **extra),
        test_id=TEST_ID,
        spec=case or spec(),
        workflow=runs.workflow,
        workflow_key="noise.json",
        result=result or runs.a,
        models={"tiny": "blake3:abc"},
    )


def save_record(store: BaselineStore, outputs: dict[str, list[OutputImage]], *, copies: bool = False) -> Path:
    record = BaselineRecord(
        test_id=TEST_ID,
        outputs={
            node: OutputBaseline(images=[fingerprint(i.png) for i in images], label=images[0].node_label)
            for node, images in outputs.items()
        },
    )
    pngs = {node: [i.png for i in images] for node, images in outputs.items()} if copies else None
    return store.save(record, images=pngs)


def fingerprints(*images: OutputImage) -> list[dict]:
    return [json.loads(fingerprint(i.png).to_json()) for i in images]


def stored_images(store: BaselineStore) -> dict[str, list[dict]]:
    """The record's fingerprints per output (without the standard pHash beside them: see stored_phashes)."""
    data = json.loads(store.record_path(TEST_ID).read_text())
    return {
        node: [{k: v for k, v in image.items() if k != "imagehash_phash"} for image in output["images"]]
        for node, output in data["outputs"].items()
    }


def stored_phashes(store: BaselineStore) -> dict[str, list[str | None]]:
    data = json.loads(store.record_path(TEST_ID).read_text())
    return {node: [i.get("imagehash_phash") for i in output["images"]] for node, output in data["outputs"].items()}


def standard_phash(image: OutputImage) -> str:
    """What anyone checks a recorded image against: imagehash's pHash of the PNG, computed here independently."""
    return str(imagehash.phash(Image.open(io.BytesIO(image.png))))


def stored_previews(store: BaselineStore) -> set[str]:
    return {path.name for path in store.record_path(TEST_ID).parent.glob("*.preview.*")}


# -- every update mode in every situation --------------------------------------------------------

NONE, MISSING, CHANGED, ALL = UpdateMode.NONE, UpdateMode.MISSING, UpdateMode.CHANGED, UpdateMode.ALL

# situation -> (record before: output -> image names or None, the run's "save" images, compared outputs)
SITUATIONS = {
    "no record": (None, ["A"]),
    "record matches": ({"save": ["A"]}, ["A"]),
    "record mismatches": ({"save": ["B"]}, ["A"]),
    "record has an output the run lacks": ({"save": ["A"], "blur": ["A"]}, ["A"]),
    "run has more images": ({"save": ["A"]}, ["A", "B"]),
    "run has fewer images": ({"save": ["A", "B"]}, ["A"]),
}
# (situation, mode) -> (verdicts of the save images, passed, the record afterwards when rewritten, else None)
EXPECTED = {
    ("no record", NONE): (["missing"], False, None),
    ("no record", MISSING): (["new"], True, {"save": ["A"]}),
    ("no record", CHANGED): (["new"], True, {"save": ["A"]}),
    ("no record", ALL): (["new"], True, {"save": ["A"]}),
    ("record matches", NONE): (["matched"], True, None),
    ("record matches", MISSING): (["matched"], True, None),
    ("record matches", CHANGED): (["matched"], True, None),
    # Identical fingerprints; the record (written without the standard pHash) is rewritten only to gain it.
    ("record matches", ALL): (["matched"], True, {"save": ["A"]}),
    ("record mismatches", NONE): (["mismatched"], False, None),
    ("record mismatches", MISSING): (["mismatched"], False, None),
    ("record mismatches", CHANGED): (["updated"], True, {"save": ["A"]}),
    ("record mismatches", ALL): (["updated"], True, {"save": ["A"]}),
    ("record has an output the run lacks", NONE): (["matched"], False, None),
    ("record has an output the run lacks", MISSING): (["matched"], False, None),
    ("record has an output the run lacks", CHANGED): (["matched"], True, {"save": ["A"]}),
    ("record has an output the run lacks", ALL): (["matched"], True, {"save": ["A"]}),
    ("run has more images", NONE): (["matched", "missing"], False, None),
    ("run has more images", MISSING): (["matched", "new"], True, {"save": ["A", "B"]}),
    ("run has more images", CHANGED): (["matched", "new"], True, {"save": ["A", "B"]}),
    ("run has more images", ALL): (["matched", "new"], True, {"save": ["A", "B"]}),
    ("run has fewer images", NONE): (["matched"], False, None),
    ("run has fewer images", MISSING): (["matched"], False, None),
    ("run has fewer images", CHANGED): (["matched"], True, {"save": ["A"]}),
    ("run has fewer images", ALL): (["matched"], True, {"save": ["A"]}),
}


@pytest.mark.parametrize("mode", [NONE, MISSING, CHANGED, ALL], ids=str)
@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_verdicts_and_record_writes_per_mode_and_situation(runs, store, tmp_path, situation, mode):
    before, run_images = SITUATIONS[situation]
    images = {"save": runs.save, "blur": runs.blur}
    if before is not None:
        save_record(store, {node: [images[node][name] for name in names] for node, names in before.items()})
    record_file = store.record_path(TEST_ID)
    old_bytes = record_file.read_bytes() if before is not None else None

    judgement = run_judge(runs, store, tmp_path, mode, result=runs.result(save=[runs.save[n] for n in run_images]))

    verdicts, passed, after = EXPECTED[(situation, mode)]
    assert [(o.output, o.image_index, o.verdict) for o in judgement.outputs] == [
        ("save", i, v) for i, v in enumerate(verdicts)
    ]
    assert judgement.passed is passed
    assert len(judgement.failures) == (0 if passed else 1)
    if after is None:
        assert judgement.written is None
        assert (record_file.read_bytes() if record_file.exists() else None) == old_bytes
    else:
        assert judgement.written == record_file
        assert stored_images(store) == {
            node: fingerprints(*(images[node][n] for n in names)) for node, names in after.items()
        }
        assert stored_phashes(store) == {
            node: [standard_phash(images[node][n]) for n in names] for node, names in after.items()
        }
    # Every update mode (even missing) leaves a preview of each image that was written or matched, never of
    # a mismatched one; mode none writes none.
    shown = [] if mode is NONE else [i for i, v in enumerate(verdicts) if v in ("new", "updated", "matched")]
    expected_previews = {f"{record_file.stem}.save.{i}.preview.png" for i in shown}
    assert stored_previews(store) == expected_previews
    assert sorted(p.name for p in judgement.previews) == sorted(expected_previews)


@pytest.mark.parametrize("mode", [MISSING, CHANGED, ALL], ids=str)
def test_a_record_that_matches_with_everything_in_place_is_never_rewritten(runs, store, tmp_path, mode):
    run_judge(runs, store, tmp_path, MISSING)  # a record of today, with its pHash and preview
    record_file = store.record_path(TEST_ID)
    before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in record_file.parent.iterdir()}

    judgement = run_judge(runs, store, tmp_path, mode)

    assert [o.verdict for o in judgement.outputs] == ["matched"] and judgement.passed
    assert (judgement.written, judgement.previews) == (None, [])
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in record_file.parent.iterdir()} == before


def test_changed_mode_rewrites_a_mismatch_but_keeps_the_matching_outputs_preview(runs, store, tmp_path):
    run_judge(runs, store, tmp_path, MISSING, case=spec(outputs=("save", "blur")))
    save_preview = store.preview_path(TEST_ID, "save", 0)
    kept = save_preview.read_bytes(), save_preview.stat().st_mtime_ns
    # blur's baseline becomes run B's: run A now mismatches it there, and still matches at save.
    record = store.load(TEST_ID)
    record.outputs["blur"] = OutputBaseline(images=[fingerprint(runs.blur["B"].png)], label="")
    store.save(record)

    judgement = run_judge(runs, store, tmp_path, CHANGED, case=spec(outputs=("save", "blur")))

    assert [(o.output, o.verdict) for o in judgement.outputs] == [("blur", "updated"), ("save", "matched")]
    assert stored_images(store)["save"] == fingerprints(runs.save["A"])  # the matching one is as it was
    assert (save_preview.read_bytes(), save_preview.stat().st_mtime_ns) == kept
    assert [p.name for p in judgement.previews] == [f"{store.record_path(TEST_ID).stem}.blur.0.preview.png"]
    assert (
        Image.open(store.preview_path(TEST_ID, "blur", 0)).tobytes()
        == Image.open(io.BytesIO(runs.blur["A"].png)).tobytes()
    )


def test_preview_size_zero_writes_no_preview_and_drops_one_that_shows_an_old_image(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["B"]]})
    run_judge(runs, store, tmp_path, ALL, result=runs.b)  # B's preview, beside B's record
    assert store.preview_path(TEST_ID, "save", 0) is not None

    judgement = run_judge(runs, store, tmp_path, CHANGED, preview_size=0)

    assert [o.verdict for o in judgement.outputs] == ["updated"] and judgement.previews == []
    assert store.preview_path(TEST_ID, "save", 0) is None  # it showed B; the record now holds A


def test_failure_messages_name_the_output_and_the_command_that_fixes_it(runs, store, tmp_path):
    missing = run_judge(runs, store, tmp_path, NONE)
    assert missing.failures[0].startswith("output 'Output' (save) image 0 has no baseline")
    # The whole line, run as printed, is tested in tests/server/test_accept_server.py.
    assert "record it from this run's image with: " in missing.failures[0]
    assert " accept 'test_noise.py::test_noise[Value=1]' --rootdir " in missing.failures[0]

    save_record(store, {"save": [runs.save["B"]], "blur": [runs.blur["B"]]})
    mismatched = run_judge(runs, store, tmp_path, NONE)
    assert len(mismatched.failures) == 2
    assert "output 'Output' (save) image 0 does not match its baseline" in mismatched.failures[0]
    assert "phash distance" in mismatched.failures[0]
    assert "accept it with: " in mismatched.failures[0]
    assert " accept 'test_noise.py::test_noise[Value=1]' --rootdir " in mismatched.failures[0]
    assert "--invokeai-save-images" in mismatched.failures[0]  # no PNG copy: no diff image to show
    assert mismatched.failures[1].startswith("output 'blur' (blur) is in the baseline but this run did not compare it")

    save_record(store, {"save": [runs.save["A"], runs.save["B"]]})
    fewer = run_judge(runs, store, tmp_path, NONE)
    assert fewer.failures == ["output 'Output' (save) made 1 image(s); its baseline has 1 more"]


def test_a_new_record_holds_the_context_it_was_made_in(runs, store, tmp_path):
    case = spec()
    case = replace(case, inputs={"Height": 32, 0: 32, 2: 1, "Amount": 0.9, 4: 0})
    run_judge(runs, store, tmp_path, MISSING, case=case)
    data = json.loads(store.record_path(TEST_ID).read_text())
    assert data["test_id"] == TEST_ID
    assert data["workflow"] == "noise.json"
    assert data["invokeai_version"] == "6.14.2"
    assert data["models"] == {"tiny": "blake3:abc"}
    assert data["outputs"]["save"]["label"] == "Output"
    assert data["inputs"] == [
        {"index": 0, "name": "Width", "value": 32},
        {"index": 1, "name": "Height", "value": 32},
        {"index": 2, "name": "Value", "value": 1},
        {"index": 3, "name": "Amount", "value": 0.9},
        {"index": 4, "name": "Radius", "value": 0},
    ]


def test_missing_mode_adds_a_new_output_but_keeps_the_mismatched_one(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["B"]]}, copies=True)
    both = spec(outputs=("save", "blur"))

    judgement = run_judge(runs, store, tmp_path, MISSING, case=both, save_images=True)

    assert [(o.output, o.verdict) for o in judgement.outputs] == [("blur", "new"), ("save", "mismatched")]
    assert not judgement.passed and len(judgement.failures) == 1 and "(save)" in judgement.failures[0]
    assert judgement.written == store.record_path(TEST_ID)
    assert stored_images(store) == {"save": fingerprints(runs.save["B"]), "blur": fingerprints(runs.blur["A"])}
    # The kept PNG copies show what the kept fingerprints describe: the old save image, the new blur image.
    assert store.image_path(TEST_ID, "save", 0).read_bytes() == runs.save["B"].png
    assert store.image_path(TEST_ID, "blur", 0).read_bytes() == runs.blur["A"].png


def test_a_rewrite_keeps_the_png_copies_of_images_it_kept(runs, store, tmp_path):
    # save: two baseline images, the run makes one (kept in mode missing); blur: new, so the record is rewritten.
    save_record(store, {"save": [runs.save["A"], runs.save["B"]]}, copies=True)

    judgement = run_judge(runs, store, tmp_path, MISSING, case=spec(outputs=("save", "blur")), save_images=True)

    assert judgement.written is not None
    assert stored_images(store) == {
        "save": fingerprints(runs.save["A"], runs.save["B"]),
        "blur": fingerprints(runs.blur["A"]),
    }
    assert store.image_path(TEST_ID, "save", 0).read_bytes() == runs.save["A"].png
    assert store.image_path(TEST_ID, "save", 1).read_bytes() == runs.save["B"].png
    assert store.image_path(TEST_ID, "blur", 0).read_bytes() == runs.blur["A"].png


def test_a_rewrite_keeps_the_png_copies_of_an_output_the_run_did_not_compare(runs, store, tmp_path):
    # noise: in the record, not compared this time (kept in mode missing); blur: new.
    save_record(store, {"save": [runs.save["A"]], "noise": [runs.a.images["noise"][0]]}, copies=True)

    judgement = run_judge(runs, store, tmp_path, MISSING, case=spec(outputs=("save", "blur")), save_images=True)

    assert judgement.written is not None and len(judgement.failures) == 1
    assert set(stored_images(store)) == {"save", "noise", "blur"}
    assert store.image_path(TEST_ID, "noise", 0).read_bytes() == runs.a.images["noise"][0].png


def test_without_save_images_a_rewrite_drops_only_the_copies_that_no_longer_fit(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["A"]], "blur": [runs.blur["B"]]}, copies=True)

    judgement = run_judge(runs, store, tmp_path, CHANGED, case=spec(outputs=("save", "blur")))

    assert [(o.output, o.verdict) for o in judgement.outputs] == [("blur", "updated"), ("save", "matched")]
    assert store.image_path(TEST_ID, "save", 0).read_bytes() == runs.save["A"].png  # untouched: kept
    assert store.image_path(TEST_ID, "blur", 0) is None  # it showed the old fingerprint; no new copy asked for


def test_changed_mode_stores_the_new_png_with_the_new_fingerprint(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["B"]]}, copies=True)
    judgement = run_judge(runs, store, tmp_path, CHANGED, save_images=True)
    assert [o.verdict for o in judgement.outputs] == ["updated"]
    assert stored_images(store) == {"save": fingerprints(runs.save["A"])}
    assert store.image_path(TEST_ID, "save", 0).read_bytes() == runs.save["A"].png


def test_a_mismatch_writes_the_actual_baseline_diff_and_comparison(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["B"]]}, copies=True)
    judgement = run_judge(runs, store, tmp_path, NONE)
    (result,) = judgement.outputs
    assert result.verdict == "mismatched" and "phash" in result.failed
    assert result.actual.read_bytes() == runs.save["A"].png
    assert result.baseline.read_bytes() == runs.save["B"].png
    assert result.diff.is_file() and result.side_by_side.is_file()
    assert f"diff: {result.side_by_side}" in judgement.failures[0]
    comparison = json.loads(result.actual.with_name("save-0.comparison.json").read_text())
    assert comparison["match"] is False and comparison["test_id"] == TEST_ID
    assert result.actual.parent.parent == tmp_path / "results"


def test_each_image_of_a_mismatch_is_decoded_once(runs, store, tmp_path, monkeypatch):
    """The fingerprint, the heat map and the side-by-side share one decoding of each image."""
    save_record(store, {"save": [runs.save["B"]]}, copies=True)
    decodes = count_decodes(monkeypatch)
    (result,) = run_judge(runs, store, tmp_path, NONE).outputs
    assert result.verdict == "mismatched" and result.diff.is_file() and result.side_by_side.is_file()
    assert decodes == {sha256_of(runs.save["A"].png): 1, sha256_of(runs.save["B"].png): 1}


def test_a_match_copies_the_baseline_image_beside_the_actual_one_and_makes_no_diff(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["A"]]}, copies=True)
    (result,) = run_judge(runs, store, tmp_path, NONE).outputs
    assert result.verdict == "matched" and result.actual.read_bytes() == runs.save["A"].png
    assert result.baseline == result.actual.with_name("save-0.baseline.png")
    assert result.baseline.read_bytes() == runs.save["A"].png and result.baseline_kind == "image"
    assert (result.diff, result.side_by_side) == (None, None)


def write_preview(store: BaselineStore, image: Image.Image, fmt: str = "PNG") -> bytes:
    """A preview where the store looks for one (the store's own naming), as the record's writer leaves it."""
    suffix = ".preview.jpg" if fmt == "JPEG" else ".preview.png"
    path = BaselineStore.preview_file(store.record_path(TEST_ID), "save", 0, suffix)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def test_without_a_png_copy_the_report_gets_the_preview_and_a_diff_against_it(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["B"]]})
    preview = write_preview(store, noise(2).resize((16, 16)), "JPEG")
    (result,) = run_judge(runs, store, tmp_path, NONE).outputs
    assert result.verdict == "mismatched" and result.baseline_kind == "preview"
    assert result.baseline.name == "save-0.baseline-preview.jpg" and result.baseline.read_bytes() == preview
    with Image.open(result.diff) as diff:  # the actual image scaled down to the preview's size
        assert diff.size == (16, 16)
    assert result.side_by_side.is_file()


def test_a_baseline_with_no_picture_gives_the_report_none_and_a_later_run_drops_an_old_copy(runs, store, tmp_path):
    save_record(store, {"save": [runs.save["A"]]})
    write_preview(store, noise(1))
    (first,) = run_judge(runs, store, tmp_path, NONE).outputs
    assert first.baseline_kind == "preview" and first.baseline.name == "save-0.baseline-preview.png"
    BaselineStore.preview_file(store.record_path(TEST_ID), "save", 0, ".preview.png").unlink()
    (again,) = run_judge(runs, store, tmp_path, NONE).outputs
    assert (again.baseline, again.baseline_kind) == (None, "")
    assert not first.baseline.exists(), "no picture of an earlier run is left to be mistaken for this one's"


def test_every_output_carries_the_records_context_against_this_runs(runs, store, tmp_path):
    path = save_record(store, {"save": [runs.save["A"]]})
    data = json.loads(path.read_text())
    data.update(
        invokeai_version="6.13.0",
        workflow_content_hash="sha256:" + "0" * 64,  # the workflow was edited since
        models={"tiny": "blake3:abc"},
        inputs=[{"index": 2, "name": "Value", "value": 7}],
    )
    path.write_text(json.dumps(data))
    (result,) = run_judge(runs, store, tmp_path, NONE).outputs
    assert result.verdict == "matched", "the pixels did not change: the notes are the only trace of the edit"
    assert [(note.text, note.changed) for note in result.context] == [
        ("recorded on 6.13.0, ran on 6.14.2", True),
        (f"workflow changed since the baseline (sha256:000000000000 -> {content_hash(runs.workflow)[:19]})", True),
        ("models unchanged (1)", False),
        ("input #0 'Width' = 32 now, not set in the baseline", True),
        ("input #1 'Height' = 32 now, not set in the baseline", True),
        ("input #2 'Value' was 7 in the baseline, 1 now", True),
        ("input #3 'Amount' = 0.9 now, not set in the baseline", True),
        ("input #4 'Radius' = 0 now, not set in the baseline", True),
    ]


def test_a_case_with_no_record_says_so(runs, store, tmp_path):
    (result,) = run_judge(runs, store, tmp_path, MISSING).outputs
    assert [(note.text, note.changed) for note in result.context] == [("no baseline record yet; ran on 6.14.2", False)]


# -- tolerance -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tolerance", "verdict"),
    [
        ({}, "mismatched"),
        (LOOSE, "matched"),  # for the whole test
        ({"phash": 2.0}, "mismatched"),  # color and layout still over
        ({"save": LOOSE}, "matched"),  # for one output, by node id
        ({"Output": LOOSE}, "matched"),  # ... by label
        ({"phash": 0.01, "Output": LOOSE}, "matched"),  # the output's own beats the test's
        ({"blur": LOOSE}, "mismatched"),  # another output's does not apply
    ],
    ids=["none", "test", "test-partial", "node-id", "label", "output-over-test", "other-output"],
)
def test_tolerance_per_test_and_per_output(runs, store, tmp_path, tolerance, verdict):
    save_record(store, {"save": [runs.save["B"]], "blur": [runs.blur["B"]]})
    case = spec(outputs=("save", "blur"), tolerance=tolerance)
    by_output = {o.output: o for o in run_judge(runs, store, tmp_path, NONE, case=case).outputs}
    assert by_output["save"].verdict == verdict
    if "Output" in tolerance or "save" in tolerance:
        assert by_output["save"].thresholds["phash"] == 2.0


def test_an_unknown_output_raises_a_case_error_listing_the_outputs(runs, store, tmp_path):
    with pytest.raises(CaseError) as info:
        run_judge(runs, store, tmp_path, MISSING, case=spec(outputs=("Result",)))
    assert str(info.value) == (
        f"{TEST_ID}: output 'Result' is not an image output of this run; image outputs: blank (blank_image, "
        "intermediate), blur (img_blur, intermediate), noise (img_noise, intermediate), save (Output)"
    )
    assert not store.record_path(TEST_ID).exists()


def test_tolerance_for_an_output_not_compared_raises_a_case_error(runs, store, tmp_path):
    with pytest.raises(CaseError) as info:
        run_judge(runs, store, tmp_path, MISSING, case=spec(tolerance={"Result": {"phash": 1}}))
    assert str(info.value) == (
        f"{TEST_ID}: tolerance names output 'Result', which is not compared; compared outputs: save"
    )
    with pytest.raises(CaseError, match=r"unknown threshold name.*ssim"):
        run_judge(runs, store, tmp_path, MISSING, case=spec(tolerance={"ssim": 0.1}))


def test_a_run_with_only_intermediate_images_is_a_case_error(runs, store, tmp_path):
    only_intermediate = replace(runs.a, images={"blur": runs.a.images["blur"]})
    with pytest.raises(CaseError, match=r"no image outputs to compare.*outputs=\[...\]"):
        run_judge(runs, store, tmp_path, MISSING, result=only_intermediate)


# -- recorded inputs -----------------------------------------------------------------------------


# -- the pure parts: the per-image decision, the output plan, the result and the messages ------------

MATCHED, MISMATCHED, NEW, UPDATED, MISSING_VERDICT = (
    Verdict.MATCHED,
    Verdict.MISMATCHED,
    Verdict.NEW,
    Verdict.UPDATED,
    Verdict.MISSING,
)
FAILS = "the test fails, naming the file"
# (what the baseline holds, mode) -> (verdict, whether the record takes the run's fingerprint), written by hand.
DECISIONS = {
    ("matched", NONE): (MATCHED, False),
    ("matched", MISSING): (MATCHED, False),
    ("matched", CHANGED): (MATCHED, False),
    ("matched", ALL): (MATCHED, True),  # all rewrites even a match (the fingerprint may have moved a little)
    ("mismatched", NONE): (MISMATCHED, False),
    ("mismatched", MISSING): (MISMATCHED, False),
    ("mismatched", CHANGED): (UPDATED, True),
    ("mismatched", ALL): (UPDATED, True),
    ("no baseline", NONE): (MISSING_VERDICT, False),
    ("no baseline", MISSING): (NEW, True),
    ("no baseline", CHANGED): (NEW, True),
    ("no baseline", ALL): (NEW, True),
    ("unreadable record", NONE): FAILS,
    ("unreadable record", MISSING): FAILS,
    ("unreadable record", CHANGED): (NEW, True),  # it counts as no baseline, and is replaced
    ("unreadable record", ALL): (NEW, True),
}


@pytest.mark.parametrize(("baseline", "mode"), list(DECISIONS), ids=[f"{b}-{m}" for b, m in DECISIONS])
def test_the_decision_for_one_image(baseline, mode):
    if baseline == "unreadable record":
        if not rewrites_unreadable(mode):
            assert DECISIONS[(baseline, mode)] == FAILS
            return
        baseline = "no baseline"
    exists = baseline != "no baseline"
    decision = decide(mode, exists=exists, matched={"matched": True, "mismatched": False}.get(baseline))
    assert (decision.verdict, decision.write) == DECISIONS[(baseline, mode)]


def fp(run: Runs, name: str):
    return fingerprint(run.save[name].png)


def test_the_plan_of_an_output_with_fewer_images_than_its_baseline(runs):
    stored = OutputBaseline(images=[fp(runs, "A"), fp(runs, "B")], label="Output")

    kept_in_missing = plan_output(MISSING, "save", "Output", stored, [fp(runs, "A")], Thresholds())
    assert [each.verdict for each in kept_in_missing.images] == [MATCHED]
    assert kept_in_missing.kept == (
        KeptImage(fp(runs, "A"), CopyFrom.STORE, 0),
        KeptImage(fp(runs, "B"), CopyFrom.STORE, 1),
    )
    assert (kept_in_missing.changed, kept_in_missing.extra_kept) == (False, 1)
    assert output_failures(kept_in_missing) == ["output 'Output' (save) made 1 image(s); its baseline has 1 more"]

    dropped_in_changed = plan_output(CHANGED, "save", "Output", stored, [fp(runs, "B")], Thresholds())
    assert [each.verdict for each in dropped_in_changed.images] == [UPDATED]
    assert dropped_in_changed.kept == (KeptImage(fp(runs, "B"), CopyFrom.RUN, 0),)
    assert (dropped_in_changed.changed, dropped_in_changed.extra_kept) == (True, 0)
    assert output_failures(dropped_in_changed) == []


def test_the_plan_of_an_output_the_run_did_not_compare(runs):
    stored = OutputBaseline(images=[fp(runs, "A")], label="")
    kept = plan_uncompared(MISSING, "blur", stored)
    assert (kept.kept, kept.changed) == ((KeptImage(fp(runs, "A"), CopyFrom.STORE, 0),), False)
    assert output_failures(kept) == [
        "output 'blur' (blur) is in the baseline but this run did not compare it (the workflow lost the output, "
        "or it is intermediate now)"
    ]
    dropped = plan_uncompared(ALL, "blur", stored)
    assert (dropped.kept, dropped.changed, output_failures(dropped)) == ((), True, [])


def test_the_result_of_a_judged_image_carries_its_comparison(runs, tmp_path):
    stored = OutputBaseline(images=[fp(runs, "B")], label="Final image")
    plan = plan_output(NONE, "out", "Final image", stored, [fp(runs, "A")], Thresholds().with_overrides({"phash": 1.0}))
    files = Artifacts(actual=tmp_path / "a.png", diff=tmp_path / "d.png")
    result = output_result("t", plan, plan.images[0], files, {"workflow": "w.json"})
    assert (result.test_id, result.output, result.label, result.image_index) == ("t", "out", "Final image", 0)
    assert result.verdict is Verdict.MISMATCHED
    assert result.thresholds == {"phash": 1.0, "color": 2.0, "layout": 0.85, "sharpness": 0.5}
    assert set(result.distances) == {"phash", "color", "layout", "sharpness"} and result.failed == ["phash", "layout"]
    assert result.explanation.startswith("MISMATCH")
    assert (result.actual, result.baseline, result.diff, result.side_by_side) == (files.actual, None, files.diff, None)
    assert result.case == {"workflow": "w.json"}

    new = plan_output(MISSING, "out", "", None, [fp(runs, "A")], Thresholds())
    result = output_result("t", new, new.images[0], files, {})
    assert (result.verdict, result.distances, result.failed, result.explanation) == (Verdict.NEW, {}, [], "no baseline")
    assert result.thresholds == {"phash": 0.075, "color": 2.0, "layout": 0.85, "sharpness": 0.5}


def test_the_messages_end_with_the_accept_command():
    name = image_name("save", "Output", 0)
    files = Artifacts(actual=Path("/r/t/save-0.actual.png"), side_by_side=Path("/r/t/save-0.side-by-side.png"))
    line = "pytest-invokeai accept 'test_a.py::test_it'\"'\"'s[1]'"
    assert mismatch_message(name, "MISMATCH\nphash distance 1.4", files, line) == (
        "output 'Output' (save) image 0 does not match its baseline:\n"
        "  MISMATCH\n"
        "  phash distance 1.4\n"
        "  actual: /r/t/save-0.actual.png\n"
        "  diff: /r/t/save-0.side-by-side.png\n"
        "  accept it with: pytest-invokeai accept 'test_a.py::test_it'\"'\"'s[1]'"
    )
    assert missing_message(image_name("save", "", 2), Path("/b/t.json"), files.actual, "X accept t") == (
        "output 'save' (save) image 2 has no baseline (looked in /b/t.json); actual: /r/t/save-0.actual.png\n"
        "  record it from this run's image with: X accept t"
    )
