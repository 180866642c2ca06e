"""Compare two fingerprints: per-signal distances, thresholds, a verdict and an explanation.

Identical pixels match at once. A different size never matches. Otherwise every signal's distance
must be at most its threshold; the defaults come from ``scripts/calibrate_thresholds.py`` (see
``docs/thresholds.md`` for the measurements behind them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

import imagehash
import numpy as np

from .fingerprint import Fingerprint

# What a distance above each threshold means, for explain().
MEANINGS = {
    "phash": "structure changed",
    "dhash": "structure changed",
    "lab": "colours or layout changed",
    "sharpness": "sharpness changed (blur or added detail)",
}
UNITS = {
    "phash": "bits of 64",
    "dhash": "bits of 64",
    "lab": "mean Lab delta E of 16x16 cells",
    "sharpness": "|log2| of the sharpness ratio",
}
SHARPNESS_FLOOR = 2.0  # added to both sharpness values so flat images do not divide by ~0


@dataclass(frozen=True)
class Thresholds:
    """The largest distance per signal that still counts as a match (defaults from calibration)."""

    phash: float = 16
    dhash: float = 11
    lab: float = 0.77
    sharpness: float = 0.29

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def with_overrides(self, overrides: Mapping[str, float]) -> Thresholds:
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise ValueError(
                f"unknown threshold name(s): {', '.join(unknown)}; valid names: {', '.join(self.names())}"
            )
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


def _format(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.3f}"


def distances(baseline: Fingerprint, actual: Fingerprint) -> dict[str, float]:
    """Every signal's distance between two fingerprints of images of the same size."""
    lab_delta = np.linalg.norm(baseline.lab_cells() - actual.lab_cells(), axis=-1)
    return {
        "phash": float(imagehash.hex_to_hash(baseline.phash) - imagehash.hex_to_hash(actual.phash)),
        "dhash": float(imagehash.hex_to_hash(baseline.dhash) - imagehash.hex_to_hash(actual.dhash)),
        "lab": round(float(lab_delta.mean()), 3),
        "sharpness": round(abs(math.log2((actual.sharpness + SHARPNESS_FLOOR) / (baseline.sharpness + SHARPNESS_FLOOR))), 4),
    }


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
        return Comparison(match=True, distances={name: 0.0 for name in limits.names()}, thresholds=limits, identical=True)
    measured = distances(baseline, actual)
    failed = tuple(name for name, value in measured.items() if value > getattr(limits, name))
    return Comparison(match=not failed, distances=measured, thresholds=limits, failed=failed)
