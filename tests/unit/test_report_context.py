"""What differs between a baseline and this run besides pixels (pytest_invokeai.report.context): pure, by hand."""

from __future__ import annotations

import json

from pytest_invokeai.report.context import ContextNote, RunContext, compare_context
from pytest_invokeai.report.results import OutputResult
from pytest_invokeai.run.state import RunResults

HASH_A, HASH_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
INPUTS = [{"index": 0, "name": "Width", "value": 64}, {"index": 2, "name": "Prompt", "value": "a cat"}]


def texts(notes: list[ContextNote]) -> list[tuple[str, bool]]:
    return [(note.text, note.changed) for note in notes]


def test_the_same_context_says_so_with_nothing_marked_changed():
    same = RunContext("6.14.2", HASH_A, {"tiny": "blake3:1"}, INPUTS)
    assert texts(compare_context(same, same)) == [
        ("recorded on 6.14.2, ran on 6.14.2", False),
        ("workflow unchanged since the baseline", False),
        ("models unchanged (1)", False),
    ]


def test_an_off_form_edit_shows_as_a_changed_workflow_with_both_short_hashes():
    notes = compare_context(RunContext("6.14.2", HASH_A), RunContext("6.14.2", HASH_B))
    joined = "; ".join(note.text for note in notes)
    assert joined == (
        "recorded on 6.14.2, ran on 6.14.2; workflow changed since the baseline (sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb)"
    )
    assert [note.changed for note in notes] == [False, True]


def test_version_models_and_inputs_that_differ_are_each_named():
    recorded = RunContext("6.13.0", HASH_A, {"tiny": "blake3:1", "vae": "blake3:9", "old": "x"}, INPUTS)
    ran = RunContext(
        "6.14.2",
        HASH_A,
        {"tiny": "blake3:2", "vae": "blake3:9", "new": "y"},
        [{"index": 0, "name": "Width", "value": 64}, {"index": 2, "name": "Prompt", "value": "a dog"},
         {"index": 3, "name": "Seed", "value": 5}],
    )  # fmt: skip
    assert texts(compare_context(recorded, ran)) == [
        ("recorded on 6.13.0, ran on 6.14.2", True),
        ("workflow unchanged since the baseline", False),
        ("model 'new' used now, not in the baseline", True),
        ("model 'old' in the baseline, not used now", True),
        ("model 'tiny' changed since the baseline (blake3:1 -> blake3:2)", True),
        ("input #2 'Prompt' was 'a cat' in the baseline, 'a dog' now", True),
        ("input #3 'Seed' = 5 now, not set in the baseline", True),
    ]


def test_a_record_without_context_is_not_called_changed():
    notes = compare_context(RunContext(), RunContext("6.14.2", HASH_A))
    assert texts(notes) == [
        ("recorded on an unknown InvokeAI version, ran on 6.14.2", False),
        ("workflow not compared (the baseline keeps no workflow hash)", False),
    ]


def test_no_record_yet():
    assert texts(compare_context(None, RunContext("6.14.2"))) == [("no baseline record yet; ran on 6.14.2", False)]


def test_a_note_reads_back_from_its_json():
    note = ContextNote("workflow", "workflow changed since the baseline", True)
    assert ContextNote.of(note.to_json()) == note


def test_the_context_and_the_baseline_kind_travel_from_an_xdist_worker_to_the_controller(tmp_path):
    """Workers hand their results over as JSON (RunResults.export); the controller's report needs both back."""
    notes = [ContextNote("workflow", "workflow changed since the baseline (sha256:aa -> sha256:bb)", True)]
    sent = OutputResult(
        "t.py::t", "save", verdict="matched", baseline=tmp_path / "b.png", baseline_kind="preview", context=notes
    )
    controller = RunResults()
    controller.merge(json.loads(json.dumps(RunResults(outputs=[sent]).export())))
    (received,) = controller.outputs
    assert (received.context, received.baseline_kind, received.baseline) == (notes, "preview", tmp_path / "b.png")
