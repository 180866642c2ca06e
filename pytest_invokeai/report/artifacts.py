"""The files a person looks at when an output is checked: the actual image, the baseline image (when
one is kept), a difference heat map, a labelled side-by-side and the comparison as JSON.

Images are compared as the fingerprints see them: composited over mid-gray, so a transparent
area counts as one colour whatever hidden RGB values it holds. Each image is decoded once: the judge
hands over the DecodedImage its fingerprint was taken from, and the heat map and the side-by-side
share one decoding of the baseline image.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai._util.names import safe_stem
from pytest_invokeai.baseline.compare import Comparison
from pytest_invokeai.baseline.image import DecodedImage

#: Colour of heat-map pixels that lie inside one image but outside the other (the sizes differ).
#: Blue is not on the black-red-yellow-white heat scale, so it cannot be read as an amount of change.
NO_COUNTERPART = (0, 90, 255)
PANEL_GAP = 8
LABEL_HEIGHT = 24
CANVAS = (34, 34, 34)
LABEL_TEXT = (235, 235, 235)

# Artifact kinds and their file name suffixes, one folder per test, one stem per output image.
SUFFIXES = {
    "actual": ".actual.png",
    "baseline": ".baseline.png",
    "diff": ".diff.png",
    "side_by_side": ".side-by-side.png",
    "comparison_json": ".comparison.json",
}
#: A baseline's preview copied into the results (when the record keeps no full PNG copy), in its own format.
PREVIEW_SUFFIXES = (".baseline-preview.png", ".baseline-preview.jpg")


@dataclass(frozen=True)
class Artifacts:
    actual: Path | None = None
    baseline: Path | None = None
    diff: Path | None = None
    side_by_side: Path | None = None
    comparison_json: Path | None = None


ImageInput = bytes | DecodedImage  # PNG bytes, or an image decoded once and shared


def _decoded(image: ImageInput, what: str) -> DecodedImage:
    return DecodedImage.of(image, f"the {what} image")


def flatten(image: Image.Image) -> Image.Image:
    """RGB as the fingerprints see it: composited over mid-gray."""
    return DecodedImage(image).flat


def _heat(difference: np.ndarray) -> np.ndarray:
    """Map differences 0..255 to black -> red -> yellow -> white.

    A square root spreads the small end of the scale: the few levels of noise a re-run adds become
    a visible dark red instead of vanishing into black, while 0 stays exactly black.
    """
    t = np.sqrt(difference.astype(np.float64) / 255.0) * 3.0
    channels = [np.clip(t - offset, 0.0, 1.0) for offset in (0.0, 1.0, 2.0)]
    return np.rint(np.stack(channels, axis=-1) * 255.0).astype(np.uint8)


def diff_heatmap(baseline_png: ImageInput, actual_png: ImageInput) -> Image.Image:
    """Per-pixel difference as a heat map: black where equal, hotter (red, yellow, white) the more different.

    The difference of a pixel is the largest of its R, G, B differences. When the sizes differ the
    heat map covers both images, aligned at the top-left corner: the overlap is compared, and pixels
    that exist in only one image are NO_COUNTERPART blue (resizing one image to the other would
    invent differences everywhere; aligning shows a crop or an added border for what it is).
    """
    baseline = np.asarray(_decoded(baseline_png, "baseline").flat, dtype=np.int16)
    actual = np.asarray(_decoded(actual_png, "actual").flat, dtype=np.int16)
    height = max(baseline.shape[0], actual.shape[0])
    width = max(baseline.shape[1], actual.shape[1])
    overlap_h = min(baseline.shape[0], actual.shape[0])
    overlap_w = min(baseline.shape[1], actual.shape[1])
    heat = np.zeros((height, width, 3), dtype=np.uint8)
    covered = np.zeros((height, width), dtype=bool)
    covered[: baseline.shape[0], : baseline.shape[1]] = True
    covered[: actual.shape[0], : actual.shape[1]] = True
    heat[covered] = NO_COUNTERPART
    difference = np.abs(baseline[:overlap_h, :overlap_w] - actual[:overlap_h, :overlap_w]).max(axis=-1)
    heat[:overlap_h, :overlap_w] = _heat(difference)
    # Outside both images (an L-shaped corner when one is wider and the other taller) stays canvas-dark.
    heat[~covered] = CANVAS
    return Image.fromarray(heat, "RGB")


def _font(size: int = 14) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType: the small bitmap font
        return ImageFont.load_default()


def side_by_side(baseline_png: ImageInput | None, actual_png: ImageInput, diff: Image.Image | None) -> Image.Image:
    """Labelled panels, left to right: baseline | actual | diff, top-aligned, each at its own size.

    Panels that are not given (no baseline image, no diff) are left out rather than drawn empty.
    """
    panels: list[tuple[str, Image.Image]] = []
    if baseline_png is not None:
        baseline = _decoded(baseline_png, "baseline").flat
        panels.append((f"baseline {baseline.width}x{baseline.height}", baseline))
    actual = _decoded(actual_png, "actual").flat
    panels.append((f"actual {actual.width}x{actual.height}", actual))
    if diff is not None:
        panels.append(("diff", diff.convert("RGB")))
    font = _font()
    # A panel is as wide as its image or its label, whichever is wider, so no label is cut off.
    slots = [max(image.width, math.ceil(font.getlength(label))) for label, image in panels]
    width = sum(slots) + PANEL_GAP * (len(panels) + 1)
    height = LABEL_HEIGHT + max(image.height for _, image in panels) + PANEL_GAP
    canvas = Image.new("RGB", (width, height), CANVAS)
    draw = ImageDraw.Draw(canvas)
    x = PANEL_GAP
    for (label, image), slot in zip(panels, slots, strict=True):  # a slot per panel
        draw.text((x, LABEL_HEIGHT // 2), label, fill=LABEL_TEXT, font=font, anchor="lm")
        canvas.paste(image, (x, LABEL_HEIGHT))
        x += slot + PANEL_GAP
    return canvas


def comparison_record(comparison: Comparison) -> dict[str, Any]:
    """A comparison as JSON-ready data: each signal's distance against its threshold."""
    thresholds = comparison.thresholds.as_dict()
    return {
        "match": comparison.match,
        "identical": comparison.identical,
        "size_mismatch": comparison.size_mismatch,
        "signals": {
            name: {"distance": distance, "threshold": thresholds[name], "over": name in comparison.failed}
            for name, distance in comparison.distances.items()
        },
        "failed": list(comparison.failed),
        "explanation": comparison.explain(),
    }


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _encoded(image: DecodedImage) -> bytes:
    """The bytes the image was decoded from, unchanged; PNG of its pixels if it was never encoded."""
    return image.data if image.data is not None else _png_bytes(image.image)


def artifact_stem(output: str, image_index: int) -> str:
    return f"{safe_stem(output)}-{image_index}"


def _diff_pair(baseline: DecodedImage, actual: DecodedImage, *, preview: bool) -> tuple[DecodedImage, DecodedImage]:
    """The images the heat map compares. A preview smaller than the output is set against the actual scaled
    down to the preview's size: approximate (scaling and JPEG leave traces), but it shows where things moved."""
    if not preview or baseline.image.size == actual.image.size:
        return baseline, actual
    scaled = actual.flat.resize(baseline.image.size, Image.Resampling.LANCZOS)
    return baseline, DecodedImage(scaled)


def _baseline_suffix(baseline: DecodedImage, *, preview: bool) -> str:
    if not preview:
        return SUFFIXES["baseline"]
    return PREVIEW_SUFFIXES[1] if baseline.image.format == "JPEG" else PREVIEW_SUFFIXES[0]


def write_artifacts(
    results_dir: Path,
    test_id: str,
    output: str,
    image_index: int,
    *,
    actual_png: ImageInput,
    baseline_png: ImageInput | None,
    comparison: dict[str, Any] | Comparison | None,
    baseline_is_preview: bool = False,
    with_diff: bool = True,
) -> Artifacts:
    """Write the artifacts of one output image into ``results_dir/<test>/<output>-<index>.*``.

    The actual image is always written (its bytes unchanged). With a baseline image, also the baseline
    (a full PNG copy as ``.baseline.png``; a preview, ``baseline_is_preview``, as ``.baseline-preview.png``
    or ``.jpg``) so the results folder shows it on its own, and unless ``with_diff`` is off (an output
    that matched needs none) the diff heat map and the side-by-side; with a comparison, its JSON. Files
    of this output left from an earlier run that this run does not write are removed, so the folder never
    mixes runs. Every file is written atomically.
    """
    folder = Path(results_dir) / safe_stem(test_id)
    stem = artifact_stem(output, image_index)
    contents: dict[Path, bytes] = {}
    written: dict[str, Path | None] = dict.fromkeys(SUFFIXES)

    def put(kind: str, data: bytes, suffix: str | None = None) -> None:
        path = folder / (stem + (suffix or SUFFIXES[kind]))
        contents[path], written[kind] = data, path

    # Decoding fails here, naming the image, rather than in a report later.
    actual = _decoded(actual_png, "actual")
    put("actual", _encoded(actual))
    if baseline_png is not None:
        baseline = _decoded(baseline_png, "baseline")
        put("baseline", _encoded(baseline), _baseline_suffix(baseline, preview=baseline_is_preview))
        if with_diff:
            before, after = _diff_pair(baseline, actual, preview=baseline_is_preview)
            heat = diff_heatmap(before, after)
            put("diff", _png_bytes(heat))
            put("side_by_side", _png_bytes(side_by_side(before, after, heat)))
    if comparison is not None:
        record = comparison_record(comparison) if isinstance(comparison, Comparison) else dict(comparison)
        document: dict[str, Any] = {"test_id": test_id, "output": output, "image_index": image_index}
        document.update({key: value for key, value in record.items() if key not in document})
        put("comparison_json", (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    for suffix in (*SUFFIXES.values(), *PREVIEW_SUFFIXES):
        path = folder / (stem + suffix)
        if path in contents:
            write_atomic(path, contents[path])
        else:
            path.unlink(missing_ok=True)
    return Artifacts(**written)
