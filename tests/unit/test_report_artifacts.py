"""The report layer without a browser: heat map, side-by-side, artifact files, counts, JSON summary, JUnit properties."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_images import blurred, count_decodes, noise_image, png, sha256_of

from pytest_invokeai.baseline.compare import Thresholds, compare
from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.errors import BaselineError
from pytest_invokeai.report.artifacts import (
    LABEL_HEIGHT,
    NO_COUNTERPART,
    PANEL_GAP,
    diff_heatmap,
    side_by_side,
    write_artifacts,
)
from pytest_invokeai.report.context import ContextNote
from pytest_invokeai.report.junit import junit_properties
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    VERDICTS,
    AcceptedDrift,
    OutputResult,
    TestProblem,
    Verdict,
    ordered,
    summarize,
)
from pytest_invokeai.report.summary import write_json_summary

BLACK = (0, 0, 0)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- heat map ---------------------------------------------------------------------------------


def test_identical_images_give_an_all_black_heat_map():
    image = noise_image(1)
    heat = diff_heatmap(png(image), png(image.copy()))
    assert heat.size == image.size
    assert not pixels(heat).any()


def test_a_changed_region_is_hot_there_and_black_everywhere_else():
    before = noise_image(2, width=80, height=60)
    changed = np.array(before)
    changed[10:30, 40:70] = 255 - changed[10:30, 40:70]  # invert a 30x20 block: every pixel in it changes
    heat = pixels(diff_heatmap(png(before), png(Image.fromarray(changed))))
    region = np.zeros(heat.shape[:2], dtype=bool)
    region[10:30, 40:70] = True
    assert heat[region].any(axis=-1).all(), "every changed pixel is hot"
    assert not heat[~region].any(), "every unchanged pixel is black"


def test_heat_grows_with_the_difference_and_small_differences_stay_visible():
    gray = Image.new("RGB", (8, 8), (100, 100, 100))
    slightly = Image.new("RGB", (8, 8), (102, 100, 100))  # 2 levels: a re-run's noise
    white = Image.new("RGB", (8, 8), (255, 255, 255))
    black = Image.new("RGB", (8, 8), (0, 0, 0))
    small = tuple(pixels(diff_heatmap(png(gray), png(slightly)))[0, 0])
    largest = tuple(pixels(diff_heatmap(png(black), png(white)))[0, 0])
    assert small != BLACK and small[1] == 0 and small[2] == 0, f"a small difference is a dark red, got {small}"
    assert largest == (255, 255, 255)


def test_hidden_colour_under_full_transparency_is_no_difference():
    # Fingerprints composite over mid-gray; the heat map must agree with them.
    clear_red = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    clear_blue = Image.new("RGBA", (16, 16), (0, 0, 255, 0))
    assert not pixels(diff_heatmap(png(clear_red), png(clear_blue))).any()


def test_a_smaller_actual_is_compared_on_the_overlap_and_the_rest_is_marked():
    baseline = noise_image(3, width=64, height=64)
    cropped = baseline.crop((0, 0, 64, 48))  # the bottom 16 rows are gone
    heat = pixels(diff_heatmap(png(baseline), png(cropped)))
    assert heat.shape == (64, 64, 3)
    assert not heat[:48].any(), "the overlap is unchanged"
    assert (heat[48:] == NO_COUNTERPART).all()
    assert NO_COUNTERPART[2] > NO_COUNTERPART[0], "the marker is blue, off the black-red-yellow-white scale"


def test_sizes_that_differ_both_ways_cover_both_images():
    wide = noise_image(4, width=60, height=40)
    tall = noise_image(4, width=40, height=60)
    heat = pixels(diff_heatmap(png(wide), png(tall)))
    assert heat.shape == (60, 60, 3)
    assert (heat[:40, 40:] == NO_COUNTERPART).all()  # only in the wide image
    assert (heat[40:, :40] == NO_COUNTERPART).all()  # only in the tall image
    corner = heat[40:, 40:]
    assert not (corner == NO_COUNTERPART).all(axis=-1).any(), (
        "the corner in neither image is not marked as a difference"
    )


def test_unreadable_bytes_name_the_image():
    with pytest.raises(BaselineError, match="baseline image"):
        diff_heatmap(b"not a png", png(noise_image()))


# -- side by side -----------------------------------------------------------------------------


def test_side_by_side_places_labelled_panels_left_to_right():
    baseline = noise_image(5, width=160, height=48)  # wider than its label, so the image sets the panel's width
    actual = blurred(baseline)
    heat = diff_heatmap(png(baseline), png(actual))
    combined = pixels(side_by_side(png(baseline), png(actual), heat))
    assert combined.shape == (LABEL_HEIGHT + 48 + PANEL_GAP, 160 * 3 + PANEL_GAP * 4, 3)
    for number, image in enumerate([baseline, actual, heat]):
        x = PANEL_GAP + number * (160 + PANEL_GAP)
        assert (combined[LABEL_HEIGHT : LABEL_HEIGHT + 48, x : x + 160] == pixels(image)).all(), f"panel {number}"
    labels = combined[:LABEL_HEIGHT]
    assert (labels.max(axis=-1) > 200).sum() > 50, "the labels are drawn in light text"


def test_a_label_wider_than_its_image_widens_the_panel():
    tiny = noise_image(5, width=8, height=8)
    combined = pixels(side_by_side(png(tiny), png(tiny), None))
    assert combined.shape[1] > 2 * 8 + 3 * PANEL_GAP
    second_panel = combined[LABEL_HEIGHT : LABEL_HEIGHT + 8]
    starts = [
        x for x in range(PANEL_GAP + 1, combined.shape[1] - 8) if (second_panel[:, x : x + 8] == pixels(tiny)).all()
    ]
    assert starts and starts[0] > PANEL_GAP + 8 + PANEL_GAP, "the actual panel starts after the baseline's label"


def test_side_by_side_without_baseline_shows_only_the_actual():
    actual = noise_image(6, width=128, height=32)
    combined = pixels(side_by_side(None, png(actual), None))
    assert combined.shape == (LABEL_HEIGHT + 32 + PANEL_GAP, 128 + 2 * PANEL_GAP, 3)
    assert (combined[LABEL_HEIGHT:-PANEL_GAP, PANEL_GAP:-PANEL_GAP] == pixels(actual)).all()


# -- artifact files ---------------------------------------------------------------------------

ODD_TEST_ID = 'test_x[a/b<&>"q"]'


def test_write_artifacts_with_baseline_and_comparison(tmp_path):
    baseline, actual = noise_image(7), blurred(noise_image(7))
    comparison = compare(fingerprint(baseline), fingerprint(actual))
    assert not comparison.match  # precondition: a blur of noise is a mismatch
    files = write_artifacts(
        tmp_path,
        ODD_TEST_ID,
        "canvas_output:Jb26r",
        1,
        actual_png=png(actual),
        baseline_png=png(baseline),
        comparison=comparison,
    )

    written = [files.actual, files.baseline, files.diff, files.side_by_side, files.comparison_json]
    assert all(path is not None and path.is_file() for path in written)
    folders = {path.parent for path in written}
    assert len(folders) == 1
    (folder,) = folders
    assert folder.parent == tmp_path, "the test id's / < > & \" do not make extra folders"
    assert [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name] == []
    assert files.actual.read_bytes() == png(actual)
    assert files.baseline.read_bytes() == png(baseline)
    assert decode(files.diff.read_bytes()).size == actual.size
    assert decode(files.side_by_side.read_bytes()).width > 3 * actual.width

    record = json.loads(files.comparison_json.read_text(encoding="utf-8"))
    assert (record["test_id"], record["output"], record["image_index"]) == (ODD_TEST_ID, "canvas_output:Jb26r", 1)
    assert record["match"] is False
    assert record["failed"] == list(comparison.failed)
    for name, distance in comparison.distances.items():
        signal = record["signals"][name]
        assert signal == {
            "distance": distance,
            "threshold": getattr(Thresholds(), name),
            "over": name in comparison.failed,
        }


def test_write_artifacts_without_baseline_writes_only_the_actual_and_clears_old_files(tmp_path):
    baseline, actual = noise_image(8), noise_image(9)
    first = write_artifacts(
        tmp_path,
        "test_a",
        "out",
        0,
        actual_png=png(actual),
        baseline_png=png(baseline),
        comparison={"note": "an earlier run"},
    )
    assert first.diff.is_file() and first.comparison_json.is_file()

    second = write_artifacts(tmp_path, "test_a", "out", 0, actual_png=png(baseline), baseline_png=None, comparison=None)
    assert second.actual == first.actual and second.actual.read_bytes() == png(baseline)
    assert (second.baseline, second.diff, second.side_by_side, second.comparison_json) == (None, None, None, None)
    assert sorted(p.name for p in second.actual.parent.iterdir()) == [second.actual.name]


def test_outputs_and_image_indices_get_separate_files(tmp_path):
    image = png(noise_image(10))
    paths = {
        write_artifacts(tmp_path, "t", output, index, actual_png=image, baseline_png=None, comparison=None).actual
        for output, index in [("a:b", 0), ("a_b", 0), ("a:b", 1)]
    }
    assert len(paths) == 3


def test_an_image_decoded_once_is_not_decoded_again_and_the_baseline_once(tmp_path, monkeypatch):
    actual_png, baseline_png = png(blurred(noise_image(11))), png(noise_image(11))
    actual = DecodedImage.decode(actual_png)  # as the judge does, for the fingerprint
    decodes = count_decodes(monkeypatch)
    files = write_artifacts(tmp_path, "t", "out", 0, actual_png=actual, baseline_png=baseline_png, comparison=None)
    # The heat map and the side-by-side share one decoding of the baseline and none of the actual.
    assert decodes == {sha256_of(baseline_png): 1}
    assert files.actual.read_bytes() == actual_png and files.baseline.read_bytes() == baseline_png
    assert files.diff.is_file() and files.side_by_side.is_file()


def test_a_decoded_image_gives_the_same_artifacts_as_its_bytes(tmp_path):
    baseline, actual = noise_image(12, mode="RGBA"), blurred(noise_image(12))
    from_bytes = write_artifacts(
        tmp_path / "bytes", "t", "out", 0, actual_png=png(actual), baseline_png=png(baseline), comparison=None
    )
    decoded = write_artifacts(
        tmp_path / "decoded", "t", "out", 0,
        actual_png=DecodedImage.decode(png(actual)), baseline_png=DecodedImage.decode(png(baseline)), comparison=None,
    )  # fmt: skip
    for kind in ("actual", "baseline", "diff", "side_by_side"):
        assert getattr(decoded, kind).read_bytes() == getattr(from_bytes, kind).read_bytes(), kind


def test_write_artifacts_refuses_an_unreadable_actual(tmp_path):
    with pytest.raises(BaselineError, match="actual image"):
        write_artifacts(tmp_path, "t", "out", 0, actual_png=b"<html>oops</html>", baseline_png=None, comparison=None)


# -- results and counts -----------------------------------------------------------------------


def test_unknown_verdicts_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="mismatched, missing, error, drifted, new, updated, matched"):
        OutputResult("t", "out", verdict="passed")
    with pytest.raises(ValueError, match="drifted, missing, error"):
        TestProblem("t", "matched", "fine")


def test_verdicts_are_one_str_enum_in_report_order_skipped_included():
    assert [str(v) for v in VERDICTS] == [
        "mismatched",
        "missing",
        "error",
        "drifted",
        "new",
        "updated",
        "matched",
        "skipped",
    ]
    assert Verdict.SKIPPED == "skipped" and f"{Verdict.NEW}" == "new" and json.dumps([Verdict.MATCHED]) == '["matched"]'
    # A verdict given as text (e.g. read back from a worker's JSON) becomes the enum member.
    assert OutputResult("t", "out", verdict="updated").verdict is Verdict.UPDATED
    assert TestProblem("t", "drifted", "index 1 moved").verdict is Verdict.DRIFTED
    with pytest.raises(ValueError, match="output verdict 'skipped' is not one of"):
        OutputResult("t", "out", verdict="skipped")  # a skipped test compared no image


def test_summarize_counts_outputs_and_problems():
    verdicts = ["matched", "matched", "mismatched", "missing", "new", "updated", "error", "drifted"]
    outputs = [OutputResult(f"t{i}", "out", verdict=v) for i, v in enumerate(verdicts)]
    problems = [TestProblem("d", "drifted", "index 3 moved"), TestProblem("e", "error", "server gone")]
    assert summarize(outputs, problems, orphans=["old.json"]) == {
        "compared": 8,
        "matched": 2,
        "mismatched": 1,
        "missing": 1,
        "new": 1,
        "updated": 1,
        "drifted": 2,
        "errors": 2,
        "orphaned": 1,
        "drift_accepted": 0,
        "failures": 6,
    }


def test_ordered_puts_failures_first_and_keeps_run_order_within_a_verdict():
    verdicts = ["matched", "new", "mismatched", "updated", "drifted", "matched", "error", "mismatched"]
    results = [OutputResult(f"t{i}", "out", verdict=v) for i, v in enumerate(verdicts)]
    assert [r.test_id for r in ordered(results)] == ["t2", "t7", "t6", "t4", "t1", "t3", "t0", "t5"]


# -- JSON summary and JUnit properties --------------------------------------------------------


def test_json_summary_has_stable_keys_and_relative_paths(tmp_path):
    baseline, actual = noise_image(12), blurred(noise_image(12))
    comparison = compare(fingerprint(baseline), fingerprint(actual))
    files = write_artifacts(
        tmp_path / "results",
        ODD_TEST_ID,
        "out",
        0,
        actual_png=png(actual),
        baseline_png=png(baseline),
        comparison=comparison,
    )
    case = {
        "workflow": "wf.json",
        "inputs": [{"index": 1, "name": "Prompt", "value": "a fox"}],
        "server": "http://h:9090",
    }
    failing = OutputResult(
        ODD_TEST_ID,
        "out",
        verdict="mismatched",
        distances=dict(comparison.distances),
        thresholds=Thresholds().as_dict(),
        failed=list(comparison.failed),
        explanation=comparison.explain(),
        actual=files.actual,
        baseline=files.baseline,
        diff=files.diff,
        side_by_side=files.side_by_side,
        baseline_kind="image",
        extra={"curl": "curl -X POST"},
        case=case,
        context=[ContextNote("workflow", "workflow changed since the baseline (sha256:aa -> sha256:bb)", True)],
    )
    passing = OutputResult("test_ok", "out", verdict="new", actual=files.actual)
    problems = [TestProblem("test_drift", "drifted", "index 2: was 'Prompt', now 'Seed'")]
    accepted = [AcceptedDrift("wf/other.json", "drift: 1 moved (2 unchanged)\n  index 0 'Width' moved to 1")]
    summary = summarize([passing, failing], problems, accepted_drift=accepted)
    run = RunOutcome()
    for test_id, category, reason in [
        ("test_ok", "passed", ""),
        (ODD_TEST_ID, "failed", "out[0] does not match"),
        ("test_drift", "failed", "drift"),
        ("test_sdxl", "skipped", "no SDXL model"),
        ("test_x", "xfailed", "known bug"),
        ("test_t", "error", "teardown"),
    ]:
        run.record(test_id, category, reason)
    run.exit_status = 1
    path = write_json_summary(
        tmp_path / "report" / "summary.json",
        [passing, failing],
        problems,
        summary=summary,
        run=run,
        accepted_drift=accepted,
    )

    document = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(document) == [
        "accepted_drift",
        "baselines_written",
        "cases",
        "exit_status",
        "format",
        "format_version",
        "orphans",
        "outputs",
        "problems",
        "servers_down",
        "status",
        "summary",
        "tests",
    ]
    assert (document["format_version"], document["status"], document["exit_status"]) == (2, "failed", 1)
    assert document["cases"] == {ODD_TEST_ID: case}  # what `pytest-invokeai recall` reads; test_ok has none
    assert document["summary"] == {
        **summary,
        "tests": {"passed": 1, "failed": 2, "skipped": 1, "errors": 1, "xfailed": 1, "xpassed": 0},
    }
    assert document["summary"]["drift_accepted"] == 1
    assert document["tests"] == [
        {"test_id": ODD_TEST_ID, "outcome": "failed", "reason": "out[0] does not match"},
        {"test_id": "test_drift", "outcome": "failed", "reason": "drift"},
        {"test_id": "test_sdxl", "outcome": "skipped", "reason": "no SDXL model"},
        {"test_id": "test_x", "outcome": "xfailed", "reason": "known bug"},
        {"test_id": "test_t", "outcome": "error", "reason": "teardown"},
    ]
    assert document["accepted_drift"] == [{"workflow": "wf/other.json", "drift": accepted[0].drift}]
    assert [o["test_id"] for o in document["outputs"]] == [ODD_TEST_ID, "test_ok"], "failures first"
    first, second = document["outputs"]
    assert (
        sorted(first)
        == sorted(second)
        == [
            "artifacts",
            "baseline_kind",
            "context",
            "distances",
            "explanation",
            "extra",
            "failed",
            "image_index",
            "label",
            "output",
            "test_id",
            "thresholds",
            "verdict",
        ]
    )
    assert first["artifacts"]["actual"] == "../results/" + files.actual.relative_to(tmp_path / "results").as_posix()
    for kind in ("actual", "baseline", "diff", "side_by_side"):
        assert (path.parent / first["artifacts"][kind]).resolve() == getattr(files, kind).resolve()
    assert second["artifacts"] == {
        "actual": first["artifacts"]["actual"],
        "baseline": None,
        "diff": None,
        "side_by_side": None,
    }
    assert first["distances"] == comparison.distances
    assert first["extra"] == {"curl": "curl -X POST"}
    assert (first["baseline_kind"], second["baseline_kind"]) == ("image", None)
    assert first["context"] == [
        {"subject": "workflow", "text": "workflow changed since the baseline (sha256:aa -> sha256:bb)", "changed": True}
    ]
    assert second["context"] == []
    assert document["problems"] == [
        {"test_id": "test_drift", "verdict": "drifted", "message": "index 2: was 'Prompt', now 'Seed'"}
    ]


def test_junit_properties_name_output_and_index(tmp_path):
    actual = tmp_path / "results" / "t" / "out-1.actual.png"
    result = OutputResult(
        "t",
        "canvas_output:abc",
        label="Final",
        image_index=1,
        verdict="mismatched",
        distances={"phash": 3.0, "lab": 0.774},
        thresholds={"phash": 16.0, "lab": 0.77},
        failed=["lab"],
        actual=actual,
    )
    assert junit_properties(result, relative_to=tmp_path) == [
        ("invokeai.canvas_output:abc[1].verdict", "mismatched"),
        ("invokeai.canvas_output:abc[1].label", "Final"),
        ("invokeai.canvas_output:abc[1].distance.phash", "3"),
        ("invokeai.canvas_output:abc[1].distance.lab", "0.774"),
        ("invokeai.canvas_output:abc[1].threshold.phash", "16"),
        ("invokeai.canvas_output:abc[1].threshold.lab", "0.77"),
        ("invokeai.canvas_output:abc[1].failed", "lab"),
        ("invokeai.canvas_output:abc[1].actual", "results/t/out-1.actual.png"),
    ]
    # Plain strings only: xdist sends user properties through execnet, which refuses str subclasses.
    assert {type(value) for _, value in junit_properties(result)} == {str}
    absolute = dict(junit_properties(result))["invokeai.canvas_output:abc[1].actual"]
    assert Path(absolute).is_absolute() and Path(absolute) == actual.resolve()
