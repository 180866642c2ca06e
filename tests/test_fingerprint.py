"""Fingerprints and their comparison, on images made here and changed by the calibration transforms."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pytest_invokeai.baseline.compare import Thresholds, compare
from pytest_invokeai.baseline.fingerprint import Fingerprint, fingerprint
from pytest_invokeai.errors import BaselineError

# The same transforms the thresholds were calibrated with (scripts/calibrate_thresholds.py).
_spec = importlib.util.spec_from_file_location(
    "calibrate_thresholds", Path(__file__).resolve().parents[1] / "scripts" / "calibrate_thresholds.py"
)
calibration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(calibration)


def make_image(seed: int, size: int = 128) -> Image.Image:
    """Soft colour blobs over a gradient, with fine texture: structure, colour and detail at every scale.

    The blobs are soft on purpose: hard-edged saturated blocks are a known weak spot of the Lab
    signal under JPEG (see docs/thresholds.md, "Known limits").
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    gradient = np.stack([x * 200 + 30, y * 180 + 40, (1 - x) * 160 + 50], axis=-1)
    hard = rng.integers(68, 189, size=(size // 16, size // 16, 3)).repeat(16, axis=0).repeat(16, axis=1)
    soft = Image.fromarray(hard.astype(np.uint8)).filter(ImageFilter.GaussianBlur(6))
    blocks = np.asarray(soft, dtype=np.float64) - 128
    texture = rng.normal(0, 18, size=(size, size, 1))
    return Image.fromarray(np.clip(gradient + blocks + texture, 0, 255).astype(np.uint8))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def image() -> Image.Image:
    return make_image(seed=1)


@pytest.fixture(scope="module")
def base(image: Image.Image) -> Fingerprint:
    return fingerprint(image)


@pytest.mark.parametrize("name", list(calibration.BENIGN))
def test_benign_changes_match(image, base, name):
    changed = calibration.BENIGN[name](image)
    result = compare(base, fingerprint(changed))
    assert result.match, result.explain()
    assert result.failed == ()


@pytest.mark.parametrize("name", list(calibration.REGRESSIONS))
def test_regressions_mismatch(image, base, name):
    transform, signals, _ = calibration.REGRESSIONS[name]
    result = compare(base, fingerprint(transform(image)))
    assert not result.match, result.explain()
    assert set(result.failed) & set(signals), f"expected one of {signals} to catch it:\n{result.explain()}"
    for signal in result.failed:
        assert f"{signal} distance" in result.explain()


def test_another_seed_mismatches_on_structure(base):
    result = compare(base, fingerprint(make_image(seed=2)))
    assert not result.match
    assert {"phash", "dhash"} <= set(result.failed), result.explain()
    assert "structure changed" in result.explain()


def test_identical_pixels_take_the_fast_path(image, base):
    again = fingerprint(png_bytes(image))  # bytes and a PIL image of the same pixels
    assert again == base
    result = compare(base, again)
    assert result.match and result.identical
    assert set(result.distances.values()) == {0.0}
    assert result.explain() == "pixels identical"


def test_same_pixels_in_rgba_have_the_same_pixel_hash(image, base):
    rgba = fingerprint(image.convert("RGBA"))
    assert rgba.mode == "RGBA" and base.mode == "RGB"
    assert rgba.pixel_sha256 == base.pixel_sha256
    assert compare(base, rgba).identical


def test_size_change_always_mismatches(image, base):
    smaller = fingerprint(calibration.SIZE_CHANGE(image))
    result = compare(base, smaller, Thresholds().with_overrides({name: 64 for name in Thresholds.names()}))
    assert not result.match
    assert result.size_mismatch == f"128x128 -> {smaller.width}x{smaller.height}"
    assert result.explain().startswith("size changed: 128x128 -> ")


def test_json_round_trip_is_small(base):
    text = base.to_json()
    assert len(text.encode()) < 2048
    assert Fingerprint.from_json(text) == base
    assert Fingerprint.from_json(json.loads(text)) == base


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("phash"), "missing phash"),
        (lambda d: d.update(extra=1), "unknown extra"),
        (lambda d: d.update(version=99), "fingerprint version 99 is not supported"),
    ],
)
def test_bad_fingerprint_json_is_explained(base, edit, message):
    data = json.loads(base.to_json())
    edit(data)
    with pytest.raises(BaselineError) as info:
        Fingerprint.from_json(json.dumps(data))
    assert message in str(info.value)
    if "version" not in message:
        assert "valid fields: dhash, height, lab, mode, phash, pixel_sha256, sharpness, version, width" in str(info.value)


def test_fingerprint_json_that_is_not_an_object():
    with pytest.raises(BaselineError, match="not valid JSON"):
        Fingerprint.from_json("{nope")
    with pytest.raises(BaselineError, match="must be a JSON object, got list"):
        Fingerprint.from_json("[1, 2]")


def test_unreadable_image_bytes():
    with pytest.raises(BaselineError, match=r"cannot read image bytes \(9 bytes\)"):
        fingerprint(b"not a png")
    with pytest.raises(TypeError, match="PNG bytes or a PIL image, got str"):
        fingerprint("image.png")


def test_overrides_change_the_verdict(image, base):
    cast = fingerprint(calibration.REGRESSIONS["colour cast +15R"][0](image))
    default = compare(base, cast)
    assert not default.match and "lab" in default.failed
    loose = Thresholds().with_overrides({"lab": default.distances["lab"]})
    relaxed = compare(base, cast, loose)
    assert relaxed.match, relaxed.explain()
    assert relaxed.thresholds.lab == default.distances["lab"]
    assert relaxed.thresholds.phash == Thresholds().phash  # the others keep their defaults


def test_unknown_override_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        Thresholds().with_overrides({"phash": 10, "colour": 3, "blurriness": 1})
    assert str(info.value) == "unknown threshold name(s): blurriness, colour; valid names: phash, dhash, lab, sharpness"


@pytest.mark.parametrize("value", [-1, float("nan"), "8", True])
def test_bad_override_values(value):
    with pytest.raises(ValueError, match=f"threshold 'phash' must be a finite number >= 0, got {value!r}"):
        Thresholds().with_overrides({"phash": value})


def test_explain_reports_every_signal_against_its_threshold(image, base):
    result = compare(base, fingerprint(calibration.REGRESSIONS["blur r3"][0](image)))
    text = result.explain()
    assert text.startswith("MISMATCH")
    for name in Thresholds.names():
        assert f"{name} distance " in text
    assert f"> {Thresholds().sharpness:g}: sharpness changed" in text
