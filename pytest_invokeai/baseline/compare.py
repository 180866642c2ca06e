"""Compare two fingerprints: per-signal distances, thresholds, a verdict and an explanation.

Identical pixels match at once. A different size never matches. Otherwise every signal's distance
must be at most its threshold; the defaults come from ``scripts/calibrate_thresholds.py`` (see
``docs/thresholds.md`` for the measurements behind them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from pytest_invokeai.baseline.fingerprint import SHARPNESS_SCALES, Fingerprint

# What a distance above each threshold means, for explain().
MEANINGS = {
    "phash": "structure changed (another image, a shift or a crop)",
    "color": "overall colour changed (a cast, a hue or brightness shift)",
    "layout": "colours or their places changed",
    "sharpness": "fine detail changed (blur, or noise or sharpening added)",
}
UNITS = {
    "phash": "relative distance of pHash's DCT coefficients: 0 same, about 1.4 unrelated",
    "color": "CIE76 delta E of the mean colour",
    "layout": "mean CIE76 delta E of 16x16 tent cells, less in cells with hard edges",
    "sharpness": f"stops (|log2| of the ratio) of fine detail, worst of {len(SHARPNESS_SCALES)} scales",
}
# pHash distances are relative to the larger norm of the two DCT bands, but never to less than this:
# about the norm of one low-frequency ripple of 4.4 levels across the thumbnail. On an image with no
# structure of its own, a little noise is then a small change rather than a 100 % one.
PHASH_FLOOR = 100.0
# Added to both sharpness values of a scale, divided by the scale: about three times what +-2 levels
# of pixel noise give the largest Laplacian values of a flat image at that scale, so that noise in one
# run and not in the other does not read as a change of detail.
SHARPNESS_FLOOR = 32.0
# A layout cell's colour change is divided by 1 + (its edge value / EDGE_TOLERANCE): a cell whose
# edge value is 20 levels (say a 200-level step along a tenth of its pixels) may change twice as
# much as a smooth cell before it counts the same; JPEG's chroma subsampling changes such cells so.
EDGE_TOLERANCE = 20.0


@dataclass(frozen=True)
class Thresholds:
    """The largest distance per signal that still counts as a match (defaults from calibration)."""

    phash: float = 0.075
    color: float = 2.0
    layout: float = 0.85
    sharpness: float = 0.5

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def with_overrides(self, overrides: Mapping[str, float]) -> Thresholds:
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown threshold name(s): {', '.join(unknown)}; valid names: {', '.join(self.names())}")
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"threshold {name!r} must be a finite number >= 0, got {value!r}")
        return replace(self, **{name: float(value) for name, value in overrides.items()})

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.names()}


@dataclass(frozen=True)
class Comparison:
    match: bool
    distances: dict[str, float]  # signal name -> distance (empty when the sizes differ)
    thresholds: Thresholds
    identical: bool = False  # the decoded pixels are equal
    size_mismatch: str | None = None  # "512x512 -> 512x448" when the sizes differ
    failed: tuple[str, ...] = field(default=())  # signals whose distance is above the threshold

    def explain(self) -> str:
        if self.identical:
            return "pixels identical"
        if self.size_mismatch:
            return f"size changed: {self.size_mismatch}"
        limits = self.thresholds.as_dict()
        lines = []
        for name, distance in self.distances.items():
            verdict = f"> {limits[name]:g}: {MEANINGS[name]}" if name in self.failed else f"<= {limits[name]:g}"
            lines.append(f"{name} distance {_format(distance)} {verdict} ({UNITS[name]})")
        head = "match" if self.match else "MISMATCH"
        return head + "\n" + "\n".join("  " + line for line in lines)

    def to_json(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return {
            "match": self.match,
            "identical": self.identical,
            "size_mismatch": self.size_mismatch,
            "distances": dict(self.distances),
            "thresholds": self.thresholds.as_dict(),
            "failed": list(self.failed),
            "explanation": self.explain(),
        }


def _format(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.3f}"


def distances(baseline: Fingerprint, actual: Fingerprint) -> dict[str, float]:
    """Every signal's distance between two fingerprints of images of the same size."""
    return {
        "phash": round(_phash_distance(baseline.phash_coefficients(), actual.phash_coefficients()), 3),
        "color": round(float(np.linalg.norm(np.subtract(baseline.color, actual.color))), 3),
        "layout": round(_layout_distance(baseline, actual), 3),
        "sharpness": round(_detail_change(baseline.sharpness, actual.sharpness), 3),
    }


def _layout_distance(baseline: Fingerprint, actual: Fingerprint) -> float:
    """Mean over cells of the colour change, each divided by 1 + edges / EDGE_TOLERANCE (edges of either image)."""
    delta = np.linalg.norm(baseline.layout_cells() - actual.layout_cells(), axis=-1)
    edges = np.maximum(baseline.edge_cells(), actual.edge_cells())
    return float((delta / (1 + edges / EDGE_TOLERANCE)).mean())


def _phash_distance(before: np.ndarray, after: np.ndarray) -> float:
    scale = max(float(np.linalg.norm(before)), float(np.linalg.norm(after)), PHASH_FLOOR)
    return float(np.linalg.norm(before - after)) / scale


def _detail_change(before: list[float], after: list[float]) -> float:
    """The largest change, in stops (|log2| of the ratio), of the detail at one scale."""
    return max(
        abs(math.log2((b + SHARPNESS_FLOOR / scale) / (a + SHARPNESS_FLOOR / scale)))
        for scale, b, a in zip(SHARPNESS_SCALES, before, after, strict=False)
    )


def compare(baseline: Fingerprint, actual: Fingerprint, thresholds: Thresholds | None = None) -> Comparison:
    limits = thresholds or Thresholds()
    if (baseline.width, baseline.height) != (actual.width, actual.height):
        return Comparison(
            match=False,
            distances={},
            thresholds=limits,
            size_mismatch=f"{baseline.width}x{baseline.height} -> {actual.width}x{actual.height}",
        )
    if baseline.pixel_sha256 == actual.pixel_sha256:
        return Comparison(match=True, distances=dict.fromkeys(limits.names(), 0.0), thresholds=limits, identical=True)
    measured = distances(baseline, actual)
    failed = tuple(name for name, value in measured.items() if value > getattr(limits, name))
    return Comparison(match=not failed, distances=measured, thresholds=limits, failed=failed)
