"""Thresholds and comparisons: overrides, verdicts, explanations and their JSON form."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pytest_invokeai.baseline.compare import (
    MEANINGS,
    UNITS,
    Comparison,
    Thresholds,
    compare,
)
from pytest_invokeai.baseline.fingerprint import fingerprint


def colour_field(shift: int = 0) -> Image.Image:
    """A smooth two-colour gradient, optionally with every red value raised by ``shift``."""
    y, x = np.mgrid[0:128, 0:128] / 128
    pixels = np.stack([60 + 120 * x + shift, 80 + 100 * y, 200 - 120 * x], axis=-1)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def cast() -> Comparison:
    """A colour cast of +12 red: a regression the default thresholds catch."""
    return compare(fingerprint(colour_field()), fingerprint(colour_field(shift=12)))


def test_names_are_the_signals_in_order():
    assert Thresholds.names() == ("phash", "color", "layout", "sharpness")
    assert set(MEANINGS) == set(UNITS) == set(Thresholds.names())
    assert list(Thresholds().as_dict()) == list(Thresholds.names())


def test_overrides_change_the_verdict_and_keep_the_other_defaults(cast):
    assert not cast.match and "color" in cast.failed, cast.explain()
    loose = Thresholds().with_overrides({name: cast.distances[name] for name in cast.failed})
    relaxed = compare(fingerprint(colour_field()), fingerprint(colour_field(shift=12)), loose)
    assert relaxed.match, relaxed.explain()
    assert relaxed.thresholds.color == cast.distances["color"]
    assert relaxed.thresholds.phash == Thresholds().phash


def test_overrides_layer_like_global_then_test_then_output():
    per_test = Thresholds().with_overrides({"color": 5})
    per_output = per_test.with_overrides({"layout": 2.5})
    assert (per_output.color, per_output.layout, per_output.phash) == (5.0, 2.5, Thresholds().phash)


def test_unknown_override_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown threshold name") as info:
        Thresholds().with_overrides({"phash": 0.2, "lab": 3, "blurriness": 1})
    assert str(info.value) == "unknown threshold name(s): blurriness, lab; valid names: phash, color, layout, sharpness"


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "8", True, None])
def test_bad_override_values(value):
    with pytest.raises(ValueError, match=f"threshold 'phash' must be a finite number >= 0, got {value!r}"):
        Thresholds().with_overrides({"phash": value})


def test_explain_reports_every_signal_against_its_threshold(cast):
    text = cast.explain()
    assert text.startswith("MISMATCH")
    for name in Thresholds.names():
        assert f"{name} distance " in text
        assert f"({UNITS[name]})" in text
    assert f"> {Thresholds().color:g}: {MEANINGS['color']}" in text


def test_comparison_to_json(cast):
    data = cast.to_json()
    assert list(data) == ["match", "identical", "size_mismatch", "distances", "thresholds", "failed", "explanation"]
    assert data["match"] is False and data["identical"] is False and data["size_mismatch"] is None
    assert data["distances"] == cast.distances and data["thresholds"] == Thresholds().as_dict()
    assert data["failed"] == list(cast.failed) and data["explanation"] == cast.explain()
    assert json.loads(json.dumps(data)) == data


def test_comparison_to_json_of_a_size_change():
    result = compare(fingerprint(colour_field()), fingerprint(colour_field().resize((128, 120))))
    data = result.to_json()
    assert (data["match"], data["size_mismatch"], data["distances"], data["failed"]) == (
        False,
        "128x128 -> 128x120",
        {},
        [],
    )
    assert data["explanation"] == "size changed: 128x128 -> 128x120"
