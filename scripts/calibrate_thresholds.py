"""Measure the fingerprint signals on benign and regression pairs of real images; write docs/thresholds.md.

Images:

* model-free generations on a running InvokeAI server: smooth noise fields (blank_image -> img_noise
  -> img_blur, with varied colours, grain sizes, amounts and blur radii), hard-edged colour blocks
  (img_noise without a blur) and flat saturated rectangles (blank_image pasted on blank_image);
* hard-edged, saturated images drawn here: flat colour blocks, rectangles, checkerboards, text;
* scikit-image's sample photos when scikit-image is installed (it is not a dependency of the
  package: ``pip install scikit-image``).

For every image, each benign transform (what a harmless difference between two runs looks like) and
each regression (what a test must catch) is applied and both images are fingerprinted and compared.
A threshold is chosen per signal between the largest benign distance and the smallest distance of
the regressions that signal is meant to catch, and the table with the margins is written.

    .venv/bin/python scripts/calibrate_thresholds.py --server http://127.0.0.1:9123 --size 256
"""

from __future__ import annotations

import argparse
import datetime
import io
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_invokeai.baseline.compare import Thresholds, compare, distances  # noqa: E402 - after sys.path has the repo
from pytest_invokeai.baseline.fingerprint import fingerprint  # noqa: E402 - after sys.path has the repo

Transform = Callable[[Image.Image], Image.Image]
Pair = tuple[str, Image.Image, Image.Image]  # (name, image, another image of the same kind and size)
SIGNALS = Thresholds.names()


# -- transforms ------------------------------------------------------------------------------


def png_reencode(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=9)
    return Image.open(io.BytesIO(buffer.getvalue())).convert(image.mode)


def jpeg_round_trip(quality: int) -> Transform:
    """Pillow's JPEG at ``quality`` with its default 4:2:0 chroma subsampling."""

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


def blur(radius_at_256: float) -> Transform:
    """A Gaussian blur of ``radius_at_256`` pixels on a 256 px image, scaled with the image's longest side."""
    return lambda image: image.filter(ImageFilter.GaussianBlur(radius_at_256 * max(image.size) / 256))


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
    return lambda image: image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
    )


BENIGN: dict[str, Transform] = {
    "png re-encode": png_reencode,
    "noise +-1": pixel_noise(1),
    "noise +-2": pixel_noise(2),
    "resample 99%": resample(0.99),
    "resample 98%": resample(0.98),
    "resample 102%": resample(1.02),
    "jpeg q95": jpeg_round_trip(95),
}
STRUCTURE = ("phash", "layout")
# name -> (transform, the signals meant to catch it, whether it applies to grayscale images)
REGRESSIONS: dict[str, tuple[Transform, tuple[str, ...], bool]] = {
    "colour cast +8R -8B": (colour_cast(8, -8), ("color", "layout"), True),
    "colour cast +15R": (colour_cast(15, 0), ("color", "layout"), True),
    "hue shift 15deg": (hue_shift(15), ("layout", "color"), False),
    "hue shift 30deg": (hue_shift(30), ("layout", "color"), False),
    "blur r1 (at 256 px)": (blur(1), ("sharpness",), True),
    "blur r1.5 (at 256 px)": (blur(1.5), ("sharpness",), True),
    "blur r3 (at 256 px)": (blur(3), ("sharpness",), True),
    "shift 3%": (shift(0.03), STRUCTURE, True),
    "shift 5%": (shift(0.05), STRUCTURE, True),
    "crop 3%": (crop(0.03), STRUCTURE, True),
    "crop 5%": (crop(0.05), STRUCTURE, True),
}
OTHER_SEED = "another seed"  # the same graph with another seed; for photos, another photo
OTHER_SEED_SIGNALS = STRUCTURE
# A regression that changes the pixels less than this (mean absolute difference, in levels) is left
# out: below the benign noise floor (+-2 levels moves pixels by 1.2 on average) it is not visible,
# e.g. a blur of radius 1.5 on an image that is already smooth at that scale.
VISIBLE_CHANGE = 2.0
SIZE_CHANGE: Transform = resize(0.97)


def mean_pixel_change(a: Image.Image, b: Image.Image) -> float:
    return float(
        np.abs(np.asarray(a.convert("RGB"), dtype=np.int16) - np.asarray(b.convert("RGB"), dtype=np.int16)).mean()
    )


def is_grayscale(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int(np.abs(pixels - pixels.mean(axis=-1, keepdims=True)).max()) <= 2


# -- images drawn here: hard edges, saturated colours ------------------------------------------

SATURATED = [
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255),
    (255, 128, 0), (128, 0, 255), (0, 0, 0), (255, 255, 255), (0, 160, 80), (200, 0, 60),
]  # fmt: skip
TEXT_WORDS = "the quick brown fox jumps over a lazy dog pack my box with five dozen liquor jugs".split()  # noqa: SIM905 - a pangram reads better as a sentence


def flat_blocks(seed: int, size: int, block: int) -> Image.Image:
    """Square blocks of ``block`` pixels, each one flat colour from SATURATED."""
    rng = np.random.default_rng(seed)
    cells = -(-size // block)
    colours = np.array(SATURATED, dtype=np.uint8)[rng.integers(0, len(SATURATED), size=(cells, cells))]
    return Image.fromarray(colours.repeat(block, axis=0).repeat(block, axis=1)[:size, :size])


def rectangles(seed: int, size: int, count: int = 5) -> Image.Image:
    """A few flat saturated rectangles, overlapping, on a flat saturated background."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), SATURATED[rng.integers(len(SATURATED))])
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        x, y = rng.integers(0, size * 3 // 4, size=2)
        w, h = rng.integers(size // 8, size // 2, size=2)
        draw.rectangle((int(x), int(y), int(x + w), int(y + h)), fill=SATURATED[rng.integers(len(SATURATED))])
    return image


def checkerboard(size: int, square: int, first: tuple[int, int, int], second: tuple[int, int, int]) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size]
    odd = ((x // square + y // square) % 2).astype(bool)
    return Image.fromarray(np.where(odd[..., None], np.array(first), np.array(second)).astype(np.uint8))


def text_image(seed: int, size: int, ink: tuple[int, int, int], paper: tuple[int, int, int]) -> Image.Image:
    """Lines of random words, antialiased, about 12 lines per image."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), paper)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, size // 12))
    for y in range(size // 32, size - size // 12, size // 10):
        draw.text((size // 64, y), " ".join(rng.choice(TEXT_WORDS, 6)), fill=ink, font=font)
    return image


def synthetic_pairs(size: int) -> list[Pair]:
    """(name, image, another image of the same kind) for the hard-edged images drawn here."""
    pairs: list[Pair] = []
    for block, seeds in ((16, (1, 2)), (8, (4,)), (32, (5,))):
        pairs += [
            (f"blocks {block}px #{s}", flat_blocks(s, size, block), flat_blocks(s + 10, size, block)) for s in seeds
        ]
    pairs += [(f"rectangles #{s}", rectangles(s, size), rectangles(s + 10, size)) for s in (1, 2, 3)]
    red, cyan, blue, yellow, black, magenta, green, white = (
        (255, 0, 0), (0, 255, 255), (0, 0, 255), (255, 255, 0), (0, 0, 0), (255, 0, 255), (0, 255, 0), (255, 255, 255)
    )  # fmt: skip
    square = max(2, size // 16)
    pairs.append(
        (
            f"checkerboard {square}px red/cyan",
            checkerboard(size, square, red, cyan),
            checkerboard(size, square, blue, yellow),
        )
    )
    pairs.append(
        (
            f"checkerboard {2 * square}px black/yellow",
            checkerboard(size, 2 * square, black, yellow),
            checkerboard(size, 2 * square, magenta, green),
        )
    )
    inks = (
        (black, white, "black on white"),
        ((20, 30, 120), (250, 240, 200), "navy on cream"),
        (white, (0, 100, 40), "white on green"),
    )
    for seed, (ink, paper, label) in enumerate(inks, 1):
        pairs.append((f"text {label}", text_image(seed, size, ink, paper), text_image(seed + 10, size, ink, paper)))
    return pairs


def limit_images(size: int) -> list[tuple[str, Image.Image]]:
    """Images outside what the fingerprint is calibrated for, measured for docs/thresholds.md's known limits."""
    return [
        (
            f"checkerboard {max(1, size // 64)}px black/green",
            checkerboard(size, max(1, size // 64), (0, 0, 0), (0, 255, 0)),
        ),
        (
            f"checkerboard {max(1, size // 32)}px red/cyan",
            checkerboard(size, max(1, size // 32), (255, 0, 0), (0, 255, 255)),
        ),
        ("text white on yellow", text_image(4, size, (255, 255, 255), (255, 255, 0))),
        ("text red on white", text_image(5, size, (255, 0, 0), (255, 255, 255))),
        ("text white on blue", text_image(6, size, (255, 255, 255), (0, 0, 255))),
    ]


# -- images made by the server -----------------------------------------------------------------

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
SERVER_BLOCK_GRAINS = (8, 16, 32)  # img_noise with no blur: hard-edged blocks of saturated colour noise
# (background, [(x, y, width, height, colour), ...]) as fractions of the size: flat rectangles pasted on a flat image
SERVER_RECTANGLES = [
    ((240, 240, 240), [(0.08, 0.12, 0.39, 0.23, (255, 0, 0)), (0.55, 0.16, 0.35, 0.59, (0, 0, 255)),
                       (0.16, 0.55, 0.31, 0.35, (0, 200, 0)), (0.39, 0.39, 0.23, 0.23, (255, 220, 0))]),
    ((20, 20, 20), [(0.04, 0.04, 0.47, 0.31, (255, 0, 255)), (0.59, 0.08, 0.31, 0.78, (0, 255, 255)),
                    (0.12, 0.47, 0.39, 0.43, (255, 128, 0))]),
]  # fmt: skip


def _rgba(colour: tuple[int, int, int]) -> dict[str, int]:
    return {"r": colour[0], "g": colour[1], "b": colour[2], "a": 255}


def _edge(source: str, destination: str, field: str) -> dict:
    return {"source": {"node_id": source, "field": "image"}, "destination": {"node_id": destination, "field": field}}


def noise_field_graph(
    colour: tuple[int, int, int], amount: float, grain: int, radius: float, size: int
) -> tuple[dict, str]:
    """blank_image -> img_noise (-> img_blur when radius > 0); returns the graph and its output node."""
    nodes = {
        "blank": {
            "id": "blank",
            "type": "blank_image",
            "width": size,
            "height": size,
            "color": _rgba(colour),
            "is_intermediate": True,
        },
        "noise": {
            "id": "noise",
            "type": "img_noise",
            "seed": 0,
            "amount": amount,
            "size": grain,
            "is_intermediate": radius > 0,
        },
    }
    edges = [_edge("blank", "noise", "image")]
    if radius > 0:
        nodes["blur"] = {"id": "blur", "type": "img_blur", "radius": radius, "is_intermediate": False}
        edges.append(_edge("noise", "blur", "image"))
    return {"id": "calibration", "nodes": nodes, "edges": edges}, ("blur" if radius > 0 else "noise")


def rectangles_graph(background: tuple[int, int, int], rects: list, size: int) -> tuple[dict, str]:
    """A blank image with blank images of other colours pasted on it, one img_paste per rectangle."""
    nodes = {
        "base": {
            "id": "base",
            "type": "blank_image",
            "width": size,
            "height": size,
            "color": _rgba(background),
            "is_intermediate": True,
        }
    }
    edges, below = [], "base"
    for index, (x, y, w, h, colour) in enumerate(rects):
        rect, paste = f"rect{index}", f"paste{index}"
        nodes[rect] = {
            "id": rect,
            "type": "blank_image",
            "width": round(w * size),
            "height": round(h * size),
            "color": _rgba(colour),
            "is_intermediate": True,
        }
        nodes[paste] = {
            "id": paste,
            "type": "img_paste",
            "x": round(x * size),
            "y": round(y * size),
            "is_intermediate": True,
        }
        edges += [_edge(below, paste, "base_image"), _edge(rect, paste, "image")]
        below = paste
    nodes[below]["is_intermediate"] = False
    return {"id": "calibration", "nodes": nodes, "edges": edges}, below


SERVER_KINDS = ("noise", "blocks", "rectangles")


def server_pairs(url: str, size: int, kinds: tuple[str, ...] = SERVER_KINDS) -> list[Pair]:
    """(name, image, another image of the same kind) for every server variant of these kinds."""
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.runs import Case, Runner

    sys.path.insert(0, str(REPO / "tests"))
    from helpers import builder  # the enqueue body the project's own tests use

    with InvokeAIClient(url) as client, Runner(client) as runner:

        def generate(graph_and_output: tuple[dict, str], seeds: tuple[int, ...] = (0,)) -> list[Image.Image]:
            graph, output = graph_and_output
            cases = [
                Case(key=str(seed), values={("noise", "seed"): seed} if "noise" in graph["nodes"] else {})
                for seed in seeds
            ]
            handles = runner.submit(builder(graph), cases)
            images = []
            for case in cases:
                result = handles[case.key].result(timeout=300).raise_for_error()
                ref = result.images[output].images[0]
                images.append(Image.open(io.BytesIO(client.image_bytes(ref.image_name))).convert("RGB"))
            return images

        pairs: list[Pair] = []
        for index, (colour, amount, grain, radius) in enumerate(SERVER_VARIANTS if "noise" in kinds else []):
            image, other = generate(noise_field_graph(colour, amount, grain, radius, size), (index + 1, index + 1001))
            pairs.append((f"server noise rgb{colour} amount {amount} grain {grain} blur {radius}", image, other))
        for grain in SERVER_BLOCK_GRAINS if "blocks" in kinds else []:
            image, other = generate(noise_field_graph((128, 128, 128), 0.9, grain, 0, size), (grain, grain + 1000))
            pairs.append((f"server blocks grain {grain} (img_noise, no blur)", image, other))
        drawn = (
            [generate(rectangles_graph(bg, rects, size))[0] for bg, rects in SERVER_RECTANGLES]
            if "rectangles" in kinds
            else []
        )
        for index, image in enumerate(drawn):
            pairs.append((f"server rectangles #{index + 1} (img_paste)", image, drawn[(index + 1) % len(drawn)]))
    return pairs


# -- photos ------------------------------------------------------------------------------------

PHOTOS = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "retina",
    "camera",
    "coins",
    "brick",
    "grass",
]


def photo_pairs() -> list[Pair]:
    """(name, photo, the next photo resized to the same size) for scikit-image's sample photos."""
    try:
        from skimage import data
    except ImportError:
        print("scikit-image is not installed: calibrating without photos", file=sys.stderr)
        return []
    photos = [(name, Image.fromarray(getattr(data, name)()).convert("RGB")) for name in PHOTOS]
    pairs = []
    for index, (name, photo) in enumerate(photos):
        other = photos[(index + 1) % len(photos)][1].resize(photo.size, Image.Resampling.BICUBIC)
        pairs.append((f"photo {name} {photo.width}x{photo.height}", photo, other))
    return pairs


# -- measuring ---------------------------------------------------------------------------------

Row = dict[str, float]


def measure(pairs: list[Pair]) -> tuple[dict[str, list[tuple[str, Row]]], dict[str, list[tuple[str, Row]]], list[str]]:
    """Distances per transform: {transform: [(image name, {signal: distance}), ...]} for benign and visible regressions."""
    benign: dict[str, list[tuple[str, Row]]] = {name: [] for name in BENIGN}
    regressions: dict[str, list[tuple[str, Row]]] = {name: [] for name in [*REGRESSIONS, OTHER_SEED]}
    notes = []
    for name, image, other in pairs:
        base = fingerprint(image)
        for transform_name, transform in BENIGN.items():
            changed = fingerprint(transform(image))
            # Both ways: a later run may be the cleaner one (the baseline had the noise), and not every
            # signal is symmetric in what it tolerates.
            forward, backward = distances(base, changed), distances(changed, base)
            benign[transform_name].append((name, {s: max(forward[s], backward[s]) for s in SIGNALS}))
        grayscale = is_grayscale(image)
        for transform_name, (transform, _, on_grayscale) in REGRESSIONS.items():
            if grayscale and not on_grayscale:
                continue  # a hue shift leaves a gray image unchanged: not a regression
            changed = transform(image)
            if mean_pixel_change(image, changed) < VISIBLE_CHANGE:
                notes.append(
                    f"{transform_name} on {name}: left out, changes pixels by < {VISIBLE_CHANGE:g} levels on average"
                )
                continue
            regressions[transform_name].append((name, distances(base, fingerprint(changed))))
        regressions[OTHER_SEED].append((name, distances(base, fingerprint(other))))
        if compare(base, fingerprint(SIZE_CHANGE(image))).match:
            notes.append(f"SIZE CHANGE NOT CAUGHT on {name}")
    return benign, regressions, notes


def responsible(transform_name: str) -> tuple[str, ...]:
    return OTHER_SEED_SIGNALS if transform_name == OTHER_SEED else REGRESSIONS[transform_name][1]


def choose(benign: dict, regressions: dict) -> dict[str, dict[str, float | None]]:
    """Per signal: largest benign distance, smallest distance of the regressions only it catches, a threshold.

    A verdict mismatches when any signal is over its threshold, so a signal need not catch what
    another one already does (a shift of a smooth image moves ``layout`` little but ``phash`` a lot).
    First every threshold is put at 1.25 x its largest benign distance; then, per signal, the
    regressions it is meant to catch that no other signal catches at those thresholds are its own,
    and its threshold goes halfway between its largest benign distance and the smallest of them.
    Last, a regression pair that then escapes every signal lowers the threshold of the signal that
    comes closest to catching it to a round value just under its distance, if that stays above
    RESCUE_FLOOR x that signal's largest benign distance.
    """
    max_benign = {s: max(d[s] for rows in benign.values() for _, d in rows) for s in SIGNALS}
    first = {s: max_benign[s] * 1.25 for s in SIGNALS}
    chosen = {}
    for signal in SIGNALS:
        own = [
            d[signal]
            for name, rows in regressions.items()
            if signal in responsible(name)
            for _, d in rows
            if all(d[other] <= first[other] for other in SIGNALS if other != signal)
        ]
        min_regression = min(own) if own else None
        if min_regression is not None and min_regression > max_benign[signal]:
            threshold = (max_benign[signal] + min_regression) / 2
        else:  # nothing of its own, or no clean separation: stay above the benign side
            threshold = first[signal]
        chosen[signal] = {
            "max_benign": max_benign[signal],
            "min_regression": min_regression,
            "threshold": round(threshold, 3),
            "rescued": None,
        }
    for name, rows in regressions.items():
        for image, d in rows:
            limits = {s: chosen[s]["threshold"] for s in SIGNALS}
            if any(d[s] > limits[s] for s in SIGNALS):
                continue
            closest = max(SIGNALS, key=lambda s: d[s] / limits[s] if limits[s] else 0.0)
            lowered = _round_down(d[closest])
            if lowered > RESCUE_FLOOR * max_benign[closest]:
                chosen[closest]["threshold"] = lowered
                chosen[closest]["rescued"] = f"{name} on {image}"
    return chosen


RESCUE_FLOOR = 1.2


def _round_down(value: float) -> float:
    """The largest multiple of 5 in the second significant digit that is below ``value`` (0.078 -> 0.075)."""
    step = 5 * 10 ** (math.floor(math.log10(value)) - 1) if value > 0 else 0.0
    return round(math.ceil(value / step - 1) * step, 6) if step else 0.0


def missed(regressions: dict, thresholds: Thresholds) -> list[str]:
    """The regression pairs no signal catches under these thresholds."""
    limits = thresholds.as_dict()
    return [
        f"{name} on {image}: " + ", ".join(f"{s} {_cell(d[s])}" for s in SIGNALS)
        for name, rows in regressions.items()
        for image, d in rows
        if all(d[s] <= limits[s] for s in SIGNALS)
    ]


def verdicts(pairs_measured: dict, thresholds: Thresholds) -> dict[str, tuple[int, int]]:
    """(pairs that match, pairs) per transform under these thresholds (no exact fast path here)."""
    limits = thresholds.as_dict()
    return {
        name: (sum(all(d[s] <= limits[s] for s in SIGNALS) for _, d in rows), len(rows))
        for name, rows in pairs_measured.items()
    }


def limit_findings(size: int, thresholds: Thresholds) -> list[str]:
    """The largest benign distance per signal on each limit image, and whether the thresholds pass it."""
    findings = []
    for name, image in limit_images(size):
        base = fingerprint(image)
        rows = {}
        for t, transform in BENIGN.items():
            changed = fingerprint(transform(image))
            forward, backward = distances(base, changed), distances(changed, base)
            rows[t] = {s: max(forward[s], backward[s]) for s in SIGNALS}
        worst = {s: max(rows.items(), key=lambda item: item[1][s]) for s in SIGNALS}
        over = [f"{s} {_cell(d[s])} ({t})" for s, (t, d) in worst.items() if d[s] > getattr(thresholds, s)]
        findings.append(
            f"{name}: " + ("benign transforms pass" if not over else "false mismatch on " + "; ".join(over))
        )
    return findings


def speed(size: int = 1024, repeats: int = 7) -> float:
    """Median milliseconds to fingerprint a size x size PNG (bytes) and compare it with another fingerprint."""
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, size=(size // 8, size // 8, 3), dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    buffer = io.BytesIO()
    base.save(buffer, format="PNG")
    png = buffer.getvalue()
    other = fingerprint(pixel_noise(2)(base))
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        compare(other, fingerprint(png))
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


# -- the document ------------------------------------------------------------------------------


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if float(value).is_integer() else f"{value:.3f}"


def render(
    pairs: list[Pair], benign: dict, regressions: dict, chosen: dict, notes: list[str], command: str, size: int
) -> str:
    used = Thresholds().with_overrides({s: chosen[s]["threshold"] for s in SIGNALS})
    defaults = Thresholds()
    lines = [
        "# Fingerprint thresholds",
        "",
        f"Generated {datetime.datetime.now().astimezone().isoformat(timespec='minutes')} on {platform.node()} "
        f"({platform.platform()}, {os.cpu_count()} CPUs {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, Pillow {PIL.__version__}, numpy {np.__version__})",
        "by `scripts/calibrate_thresholds.py`. Regenerate with (the server must be running; scikit-image adds the photos):",
        "",
        "```",
        command,
        "```",
        "",
        f"{len(pairs)} images: " + ", ".join(name for name, _, _ in pairs) + ".",
        "",
        "Signals (fingerprint format 2) and units:",
        "",
        "- `phash`: pHash's DCT coefficients (8x8 lowest frequencies of a 32x32 luminance thumbnail, without",
        "  the mean) compared as numbers: |difference| / max(|baseline|, |actual|, 100); 0 same, about 1.4 unrelated.",
        "- `color`: CIE76 delta E between the mean colours.",
        "- `layout`: mean CIE76 delta E over a 16x16 thumbnail whose cells are overlapping tents (Pillow's bilinear",
        "  shrink); each cell's delta E is divided by 1 + (its edge value / 20), the edge value being the mean of",
        "  each pixel's largest step to a neighbour (levels, any channel, larger of the two images).",
        "- `sharpness`: the largest change, in stops (|log2| of the ratio), of the mean of the top 2 % of the",
        "  absolute Laplacian of the luminance at 1/2, 1/4 and 1/8 of the working resolution (32/scale added to both).",
        "",
        "Images are box-reduced by an integer factor to a longest side of at least 256 px before any signal but the",
        "pixel hash. Identical pixels always match (sha256 of the decoded RGBA); a size change always mismatches.",
        "Blur radii are given for a 256 px image and scaled with the image's longest side. Benign transforms are",
        "compared both ways (baseline -> changed and changed -> baseline) and the larger distance is kept.",
        "",
        f"Speed: fingerprinting a 1024x1024 PNG and comparing it takes {speed():.0f} ms (median of 7) on this machine.",
        "",
        "## Chosen thresholds",
        "",
        "| signal | max benign distance | min distance of the regressions only it catches | chosen threshold | margin below / above | default in code |",
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
    not_caught = {
        label: missed(regressions, t) for label, t in (("chosen thresholds", used), ("code's defaults", defaults))
    }
    lines += [
        "",
        "The regressions only a signal catches are those it is meant to catch (below) that no other signal",
        "catches at 1.25 x its largest benign distance; the threshold goes halfway between the two. See `choose()`.",
    ]
    lines += [""] + [
        f"`{signal}` is lowered from the halfway point to {_cell(chosen[signal]['threshold'])} so that it catches "
        f"{chosen[signal]['rescued']}, which otherwise escapes every signal ({_cell(chosen[signal]['threshold'])} is still "
        f"more than {RESCUE_FLOOR:g} x its largest benign distance)."
        for signal in SIGNALS
        if chosen[signal]["rescued"]
    ]
    lines += [
        "",
        "Which signals are meant to catch which regression: "
        + "; ".join(f"{name}: {' or '.join(responsible(name))}" for name in [*REGRESSIONS, OTHER_SEED])
        + ".",
        "",
    ]
    for label, rows in not_caught.items():
        lines.append(f"Regression pairs no signal catches with the {label}: " + ("none." if not rows else ""))
        lines += [f"- {row}" for row in rows]
    lines += [
        "",
        "## Distances per transform",
        "",
        "Benign rows show the largest distance over all images, regression rows the smallest;",
        "then the pairs judged a match with the chosen thresholds and with the code's defaults, and which signals",
        "flagged how many pairs (a regression counts as caught when any signal is above its threshold).",
        "",
        "| transform | kind | "
        + " | ".join(SIGNALS)
        + " | match (chosen) | match (defaults) | signals above the chosen threshold (pairs) |",
        "|---|---|" + "---|" * len(SIGNALS) + "---|---|---|",
    ]
    chosen_verdicts = verdicts({**benign, **regressions}, used)
    default_verdicts = verdicts({**benign, **regressions}, defaults)
    for kind, table, pick in (("benign", benign, max), ("regression", regressions, min)):
        for name, rows in table.items():
            cells = " | ".join(_cell(pick(d[s] for _, d in rows)) for s in SIGNALS)
            a, n = chosen_verdicts[name]
            b, _ = default_verdicts[name]
            above = ", ".join(
                f"{s} ({count})" for s in SIGNALS if (count := sum(d[s] > used.as_dict()[s] for _, d in rows))
            )
            lines.append(f"| {name} | {kind} | {cells} | {a}/{n} | {b}/{n} | {above or '-'} |")
    size_missed = [n for n in notes if n.startswith("SIZE")]
    lines += [
        "",
        "Size change (resize to 97%): "
        + ("; ".join(size_missed) if size_missed else f"caught on all {len(pairs)} images."),
        "",
    ]
    lines += [
        "## Largest benign distance per image",
        "",
        "Which image sets each signal's benign maximum, and how close every image comes to the defaults.",
        "",
        "| image | " + " | ".join(SIGNALS) + " |",
        "|---|" + "---|" * len(SIGNALS),
    ]
    for name, _, _ in pairs:
        worst = [max(d[s] for rows in benign.values() for image, d in rows if image == name) for s in SIGNALS]
        lines.append(f"| {name} | " + " | ".join(_cell(v) for v in worst) + " |")
    lines += [
        "",
        "## Known limits",
        "",
        "Measured on images outside the set above, with the defaults (worst benign transform per signal):",
        "",
    ]
    lines += [f"- {finding}" for finding in limit_findings(size, defaults)]
    lines += [
        "",
        "- Patterns finer than a layout cell (1/16 of the side) are below what the fingerprint resolves: a shift",
        "  of such a pattern by a whole period is invisible to every signal, and resampling one makes moiré,",
        "  a real change.",
        "- JPEG's 4:2:0 chroma subsampling changes the colour of saturated strokes one or two pixels wide when",
        "  the stroke or its background is a colour at the edge of JPEG's range (pure red, blue, yellow, white):",
        "  red text on white loses about a third of its red, as large a change as an 8-level colour cast (see the",
        "  measurements above). The text in the set is black on white, navy on cream and white on green.",
        "- A colour change of pixel-sized noise is at the edge of what the fingerprint sees: averaged over a layout",
        "  cell such noise has almost no colour left to shift. A hue shift of raw colour noise is caught only by",
        "  `phash` (see above), and looks the same side by side.",
        "- A blur that changes pixels by less than the benign noise floor is not caught (see the left-out list).",
        "- `sharpness` is measured on luminance: blurring an edge between two colours of equal luminance is not",
        "  seen by it (`layout` sees it only when the blur is wide).",
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
    parser.add_argument("--size", type=int, default=256, help="side of the generated and drawn images")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "thresholds.md")
    args = parser.parse_args(argv)
    pairs = server_pairs(args.server, args.size) + synthetic_pairs(args.size) + photo_pairs()
    benign, regressions, notes = measure(pairs)
    chosen = choose(benign, regressions)
    command = f".venv/bin/python scripts/calibrate_thresholds.py --server {args.server} --size {args.size}"
    text = render(pairs, benign, regressions, chosen, notes, command, args.size)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
