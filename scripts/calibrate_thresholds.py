"""Measure the fingerprint signals on benign and regression pairs of real images; write docs/thresholds.md.

Images: model-free generations on a running InvokeAI server (blank_image -> img_noise -> img_blur, with
varied colours, grain sizes, amounts and blur radii) plus scikit-image's sample photos when
scikit-image is installed (it is not a dependency of the package: ``pip install scikit-image``).

For every image, each benign transform (what a harmless difference between two runs looks like) and
each regression (what a test must catch) is applied and both images are fingerprinted and compared.
A threshold is chosen per signal between the largest benign distance and the smallest distance of
the regressions that signal is meant to catch, and the table with the margins is written.

    /work/main/.venv/bin/python scripts/calibrate_thresholds.py --server http://127.0.0.1:9123
"""

from __future__ import annotations

import argparse
import datetime
import io
import math
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_invokeai.baseline.compare import Thresholds, compare, distances
from pytest_invokeai.baseline.fingerprint import fingerprint

Transform = Callable[[Image.Image], Image.Image]
SIGNALS = Thresholds.names()


# -- transforms ------------------------------------------------------------------------------


def png_reencode(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=9)
    return Image.open(io.BytesIO(buffer.getvalue())).convert(image.mode)


def jpeg_round_trip(quality: int) -> Transform:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert(image.mode)

    return apply


def pixel_noise(levels: int, seed: int = 0) -> Transform:
    """Add independent integer noise in [-levels, levels] to every channel of every pixel."""

    def apply(image: Image.Image) -> Image.Image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
        noise = np.random.default_rng(seed).integers(-levels, levels + 1, size=pixels.shape)
        return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))

    return apply


def resample(scale: float) -> Transform:
    """Resize by ``scale`` and back to the original size (a slightly different resampling pipeline)."""

    def apply(image: Image.Image) -> Image.Image:
        size = (round(image.width * scale), round(image.height * scale))
        return image.resize(size, Image.Resampling.BICUBIC).resize(image.size, Image.Resampling.BICUBIC)

    return apply


def colour_cast(red: int, blue: int) -> Transform:
    def apply(image: Image.Image) -> Image.Image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16) + np.array([red, 0, blue])
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))

    return apply


def hue_shift(degrees: float) -> Transform:
    def apply(image: Image.Image) -> Image.Image:
        hsv = np.asarray(image.convert("RGB").convert("HSV"), dtype=np.int16)
        hsv[..., 0] = (hsv[..., 0] + round(degrees / 360 * 256)) % 256
        return Image.fromarray(hsv.astype(np.uint8), mode="HSV").convert("RGB")

    return apply


def blur(radius: float) -> Transform:
    return lambda image: image.filter(ImageFilter.GaussianBlur(radius))


def shift(fraction: float) -> Transform:
    """Move the content right and down by ``fraction`` of the size, repeating the edge pixels."""

    def apply(image: Image.Image) -> Image.Image:
        pixels = np.asarray(image.convert("RGB"))
        dy, dx = round(pixels.shape[0] * fraction), round(pixels.shape[1] * fraction)
        padded = np.pad(pixels, ((dy, 0), (dx, 0), (0, 0)), mode="edge")
        return Image.fromarray(padded[: pixels.shape[0], : pixels.shape[1]])

    return apply


def crop(fraction: float) -> Transform:
    """Cut ``fraction`` off every side and scale back up to the original size."""

    def apply(image: Image.Image) -> Image.Image:
        dx, dy = round(image.width * fraction), round(image.height * fraction)
        return image.crop((dx, dy, image.width - dx, image.height - dy)).resize(image.size, Image.Resampling.BICUBIC)

    return apply


def resize(scale: float) -> Transform:
    return lambda image: image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)


BENIGN: dict[str, Transform] = {
    "png re-encode": png_reencode,
    "noise +-1": pixel_noise(1),
    "noise +-2": pixel_noise(2),
    "resample 99%": resample(0.99),
    "resample 98%": resample(0.98),
    "resample 102%": resample(1.02),
    "jpeg q95": jpeg_round_trip(95),
}
# name -> (transform, the signals meant to catch it, whether it applies to grayscale images)
REGRESSIONS: dict[str, tuple[Transform, tuple[str, ...], bool]] = {
    "colour cast +8R -8B": (colour_cast(8, -8), ("lab",), True),
    "colour cast +15R": (colour_cast(15, 0), ("lab",), True),
    "hue shift 15deg": (hue_shift(15), ("lab",), False),
    "hue shift 30deg": (hue_shift(30), ("lab",), False),
    "blur r1.5": (blur(1.5), ("sharpness",), True),
    "blur r3": (blur(3), ("sharpness",), True),
    "shift 3%": (shift(0.03), ("lab",), True),
    "shift 5%": (shift(0.05), ("lab",), True),
    "crop 3%": (crop(0.03), ("lab",), True),
    "crop 5%": (crop(0.05), ("lab",), True),
}
OTHER_SEED = "another seed"  # the same graph with another seed; for photos, another photo
OTHER_SEED_SIGNALS = ("phash", "dhash", "lab")
# A regression that changes the pixels less than this (mean absolute difference, in levels) is left
# out: below the benign noise floor (+-2 levels moves pixels by 1.2 on average) it is not visible,
# e.g. a blur of radius 1.5 on an image that is already smooth at that scale.
VISIBLE_CHANGE = 2.0
SIZE_CHANGE: Transform = resize(0.97)


def mean_pixel_change(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a.convert("RGB"), dtype=np.int16) - np.asarray(b.convert("RGB"), dtype=np.int16)).mean())


def is_grayscale(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int(np.abs(pixels - pixels.mean(axis=-1, keepdims=True)).max()) <= 2


# -- images ------------------------------------------------------------------------------------

# (blank colour, noise amount, noise grain size, blur radius): from raw noise to smooth colour fields
SERVER_VARIANTS = [
    ((90, 120, 160), 0.6, 16, 6.0),
    ((200, 80, 60), 0.4, 8, 3.0),
    ((30, 30, 30), 0.8, 1, 1.0),
    ((128, 128, 128), 0.3, 4, 2.0),
    ((20, 160, 90), 0.5, 32, 8.0),
    ((240, 220, 180), 0.2, 2, 1.5),
    ((60, 40, 120), 0.7, 64, 12.0),
    ((180, 180, 40), 0.5, 12, 4.0),
    ((10, 90, 200), 0.9, 24, 5.0),
    ((150, 60, 150), 0.35, 6, 2.5),
]


def noise_field_graph(colour: tuple[int, int, int], amount: float, grain: int, radius: float, size: int) -> dict:
    r, g, b = colour
    nodes = {
        "blank": {"id": "blank", "type": "blank_image", "width": size, "height": size, "color": {"r": r, "g": g, "b": b, "a": 255}, "is_intermediate": True},
        "noise": {"id": "noise", "type": "img_noise", "seed": 0, "amount": amount, "size": grain, "is_intermediate": True},
        "blur": {"id": "blur", "type": "img_blur", "radius": radius, "is_intermediate": False},
    }
    edges = [
        {"source": {"node_id": "blank", "field": "image"}, "destination": {"node_id": "noise", "field": "image"}},
        {"source": {"node_id": "noise", "field": "image"}, "destination": {"node_id": "blur", "field": "image"}},
    ]
    return {"id": "calibration", "nodes": nodes, "edges": edges}


def server_pairs(url: str, size: int) -> list[tuple[str, Image.Image, Image.Image]]:
    """(name, image, the same graph with another seed) for every server variant."""
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.runs import Case, Runner

    sys.path.insert(0, str(REPO / "tests"))
    from helpers import builder  # the enqueue body the project's own tests use

    pairs = []
    with InvokeAIClient(url) as client, Runner(client) as runner:
        for index, (colour, amount, grain, radius) in enumerate(SERVER_VARIANTS):
            graph = noise_field_graph(colour, amount, grain, radius, size)
            cases = [Case(key=str(seed), values={("noise", "seed"): seed}) for seed in (index + 1, index + 1001)]
            handles = runner.submit(builder(graph), cases)
            images = []
            for case in cases:
                result = handles[case.key].result(timeout=300).raise_for_error()
                ref = result.images["blur"].images[0]
                images.append(Image.open(io.BytesIO(client.image_bytes(ref.image_name))).convert("RGB"))
            name = f"server noise rgb{colour} amount {amount} grain {grain} blur {radius}"
            pairs.append((name, images[0], images[1]))
    return pairs


PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "camera", "coins", "brick", "grass"]


def photo_pairs() -> list[tuple[str, Image.Image, Image.Image]]:
    """(name, photo, the next photo resized to the same size) for scikit-image's sample photos."""
    try:
        from skimage import data
    except ImportError:
        print("scikit-image is not installed: calibrating on server images only", file=sys.stderr)
        return []
    photos = [(name, Image.fromarray(getattr(data, name)()).convert("RGB")) for name in PHOTOS]
    pairs = []
    for index, (name, photo) in enumerate(photos):
        other = photos[(index + 1) % len(photos)][1].resize(photo.size, Image.Resampling.BICUBIC)
        pairs.append((f"photo {name}", photo, other))
    return pairs


# -- measuring ---------------------------------------------------------------------------------


def measure(pairs: list[tuple[str, Image.Image, Image.Image]]) -> tuple[dict, dict, list[str]]:
    """Distances per transform: {transform: [{signal: distance}, ...]} for benign and visible regressions."""
    benign: dict[str, list[dict[str, float]]] = {name: [] for name in BENIGN}
    regressions: dict[str, list[dict[str, float]]] = {name: [] for name in [*REGRESSIONS, OTHER_SEED]}
    notes = []
    for name, image, other in pairs:
        base = fingerprint(image)
        for transform_name, transform in BENIGN.items():
            benign[transform_name].append(distances(base, fingerprint(transform(image))))
        grayscale = is_grayscale(image)
        for transform_name, (transform, _, on_grayscale) in REGRESSIONS.items():
            if grayscale and not on_grayscale:
                continue  # a hue shift leaves a gray image unchanged: not a regression
            changed = transform(image)
            if mean_pixel_change(image, changed) < VISIBLE_CHANGE:
                notes.append(f"{transform_name} on {name}: left out, changes pixels by < {VISIBLE_CHANGE:g} levels on average")
                continue
            regressions[transform_name].append(distances(base, fingerprint(changed)))
        regressions[OTHER_SEED].append(distances(base, fingerprint(other)))
        if compare(base, fingerprint(SIZE_CHANGE(image))).match:
            notes.append(f"SIZE CHANGE NOT CAUGHT on {name}")
    return benign, regressions, notes


def responsible(transform_name: str) -> tuple[str, ...]:
    return OTHER_SEED_SIGNALS if transform_name == OTHER_SEED else REGRESSIONS[transform_name][1]


def choose(benign: dict, regressions: dict) -> dict[str, dict[str, float | None]]:
    """Per signal: largest benign distance, smallest distance of the regressions it must catch, a threshold."""
    chosen = {}
    for signal in SIGNALS:
        max_benign = max(d[signal] for rows in benign.values() for d in rows)
        caught = [d[signal] for name, rows in regressions.items() if signal in responsible(name) for d in rows]
        min_regression = min(caught) if caught else None
        if min_regression is not None and min_regression > max_benign:
            threshold = (max_benign + min_regression) / 2
        else:  # no clean separation: stay just above the benign side, the other signals must help
            threshold = max_benign * 1.25
        threshold = math.floor(threshold) if signal in ("phash", "dhash") else round(threshold, 2)
        chosen[signal] = {"max_benign": max_benign, "min_regression": min_regression, "threshold": threshold}
    return chosen


def verdicts(pairs_measured: dict, thresholds: Thresholds) -> dict[str, tuple[int, int]]:
    """(pairs that match, pairs) per transform under these thresholds (no exact fast path here)."""
    limits = thresholds.as_dict()
    return {
        name: (sum(all(d[s] <= limits[s] for s in SIGNALS) for d in rows), len(rows))
        for name, rows in pairs_measured.items()
    }


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if float(value).is_integer() else f"{value:.3f}"


def render(pairs: list, benign: dict, regressions: dict, chosen: dict, notes: list[str], command: str) -> str:
    used = Thresholds().with_overrides({s: chosen[s]["threshold"] for s in SIGNALS})
    defaults = Thresholds()
    lines = [
        "# Fingerprint thresholds",
        "",
        f"Generated {datetime.date.today().isoformat()} on {platform.node()} ({platform.platform()}, Python {platform.python_version()})",
        "by `scripts/calibrate_thresholds.py`. Regenerate with (the server must be running):",
        "",
        "```",
        command,
        "```",
        "",
        f"{len(pairs)} images: " + ", ".join(name for name, _, _ in pairs) + ".",
        "",
        "Units: `phash`/`dhash` Hamming distance out of 64 bits; `lab` mean CIE76 delta E over the 16x16 Lab",
        "thumbnail cells; `sharpness` |log2| of the ratio of the mean absolute Laplacian at quarter resolution (+2).",
        "Identical pixels always match (exact sha256); a size change always mismatches.",
        "",
        "## Chosen thresholds",
        "",
        "| signal | max benign distance | min distance of the regressions it must catch | chosen threshold | margin below / above | default in code |",
        "|---|---|---|---|---|---|",
    ]
    for signal in SIGNALS:
        c = chosen[signal]
        margin_low = c["threshold"] - c["max_benign"]
        margin_high = None if c["min_regression"] is None else c["min_regression"] - c["threshold"]
        lines.append(
            f"| {signal} | {_cell(c['max_benign'])} | {_cell(c['min_regression'])} | {_cell(c['threshold'])} "
            f"| {_cell(margin_low)} / {_cell(margin_high)} | {_cell(getattr(defaults, signal))} |"
        )
    lines += [
        "",
        "Which signals must catch which regression: " + "; ".join(
            f"{name}: {', '.join(responsible(name))}" for name in [*REGRESSIONS, OTHER_SEED]
        ) + ".",
        "",
        "## Distances per transform",
        "",
        "Benign rows show the largest distance over all images, regression rows the smallest;",
        "then the pairs judged a match with the chosen thresholds and with the code's defaults, and which signals",
        "flagged how many pairs (a regression counts as caught when any signal is above its threshold).",
        "",
        "| transform | kind | " + " | ".join(SIGNALS) + " | match (chosen) | match (defaults) | signals above the chosen threshold (pairs) |",
        "|---|---|" + "---|" * len(SIGNALS) + "---|---|---|",
    ]
    chosen_verdicts = verdicts({**benign, **regressions}, used)
    default_verdicts = verdicts({**benign, **regressions}, defaults)
    for kind, table, pick in (("benign", benign, max), ("regression", regressions, min)):
        for name, rows in table.items():
            cells = " | ".join(_cell(pick(d[s] for d in rows)) for s in SIGNALS)
            a, n = chosen_verdicts[name]
            b, _ = default_verdicts[name]
            above = ", ".join(
                f"{s} ({count})" for s in SIGNALS if (count := sum(d[s] > used.as_dict()[s] for d in rows))
            )
            lines.append(f"| {name} | {kind} | {cells} | {a}/{n} | {b}/{n} | {above or '-'} |")
    missed = [n for n in notes if n.startswith("SIZE")]
    lines += ["", "Size change (resize to 97%): " + ("; ".join(missed) if missed else f"caught on all {len(pairs)} images."), ""]
    lines += [
        "## Known limits",
        "",
        "- Hard-edged, saturated colour blocks (16 px blocks of random colour on a 128-512 px image, not in the",
        "  set above) move the `lab` signal by 0.75-2.1 under JPEG q95 and 0.3-0.9 under a 2% resample: a",
        "  false mismatch with the default 0.77. A fix to try: split `lab` into a global colour signal (norm of",
        "  the mean Lab difference, which codec noise averages out but a cast or hue shift does not) and a",
        "  layout signal, and add such images to this calibration.",
        "- A blur that changes pixels by less than the benign noise floor is not caught (see the left-out list).",
        "- `sharpness` does not separate cleanly on its own (noise +-2 on a smooth image moves it as much as",
        "  a blur of radius 3 on another smooth one); every visible blur above was still caught by it or by `lab`.",
        "",
    ]
    left_out = [n for n in notes if not n.startswith("SIZE")]
    if left_out:
        lines += [f"Regression pairs left out as not visible (mean pixel change < {VISIBLE_CHANGE:g} levels):", ""]
        lines += [f"- {n}" for n in left_out] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:9123", help="InvokeAI server URL")
    parser.add_argument("--size", type=int, default=256, help="side of the generated images")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "thresholds.md")
    args = parser.parse_args(argv)
    pairs = server_pairs(args.server, args.size) + photo_pairs()
    benign, regressions, notes = measure(pairs)
    chosen = choose(benign, regressions)
    command = f"/work/main/.venv/bin/python scripts/calibrate_thresholds.py --server {args.server} --size {args.size}"
    text = render(pairs, benign, regressions, chosen, notes, command)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
