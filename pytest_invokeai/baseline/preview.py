"""The small picture kept beside a baseline record for people: pull-request image diffs and the report.

A preview is PNG or JPEG only, the formats GitHub's and GitLab's pull-request file views show as image
diffs. Its longest side is at most the preview size (``--invokeai-preview-size``, 256 px by default; an
image already smaller keeps its size, and is never enlarged), and its file at most
:data:`MAX_PREVIEW_BYTES`: lossless PNG when that fits, else the best-quality JPEG that fits (a binary
search on the quality); when even the lowest quality does not fit, the picture is made smaller until one
does. The byte limit wins over the size.

The fingerprint judges; the preview is only for looking at. It is made from the image the judge has
already decoded (:class:`~pytest_invokeai.baseline.image.DecodedImage`), never decoded again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from pytest_invokeai.baseline.image import BACKGROUND, DecodedImage
from pytest_invokeai.baseline.store import PREVIEW_SUFFIXES

DEFAULT_PREVIEW_SIZE = 256  # px, the longest side
MAX_PREVIEW_BYTES = 32_000
PNG_SUFFIX, JPEG_SUFFIX = PREVIEW_SUFFIXES
_JPEG_QUALITIES = (1, 95)  # Pillow's useful range: above 95 JPEG grows without looking better
_SHRINK = 0.75  # each step down in size when even the lowest JPEG quality does not fit


@dataclass(frozen=True)
class Preview:
    """An encoded preview: its bytes and the file suffix that says its format."""

    data: bytes
    suffix: str  # PNG_SUFFIX or JPEG_SUFFIX


def make_preview(image: DecodedImage, size: int = DEFAULT_PREVIEW_SIZE, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    """The preview of ``image``: longest side at most ``size`` px, at most ``max_bytes`` bytes (PNG, else JPEG)."""
    if size < 1:
        raise ValueError(f"a preview size must be at least 1 px (0 turns previews off), got {size}")
    scaled = _scaled(image, size)
    png = _png(scaled)
    if len(png) <= max_bytes:
        return Preview(png, PNG_SUFFIX)
    # JPEG has no alpha: transparent areas show over the mid-gray the fingerprint composites them over.
    opaque = scaled if scaled.mode == "RGB" else _flat(scaled)
    while True:
        jpeg = _best_jpeg(opaque, max_bytes)
        if jpeg is not None:
            return Preview(jpeg, JPEG_SUFFIX)
        if max(opaque.size) <= 1:  # not reachable with a sane budget: a 1x1 JPEG is a few hundred bytes
            raise ValueError(f"no JPEG of the image fits in {max_bytes} bytes")
        opaque = _resized(opaque, max(1, int(max(opaque.size) * _SHRINK)))


def _scaled(image: DecodedImage, size: int) -> Image.Image:
    """The image in RGB (opaque) or RGBA, its longest side brought down to ``size`` when larger."""
    source = image.flat if image.opaque else _rgba(image)
    return _resized(source, size) if max(source.size) > size else source


def _rgba(image: DecodedImage) -> Image.Image:
    return Image.frombuffer("RGBA", image.size, image.rgba_bytes, "raw", "RGBA", 0, 1)


def _flat(rgba: Image.Image) -> Image.Image:
    return Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba.convert("RGBA")).convert("RGB")


def _resized(image: Image.Image, longest: int) -> Image.Image:
    width, height = image.size
    scale = longest / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap: a box reduction first, then Lanczos on the rest: as sharp, and fast on a 2048 px image.
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _best_jpeg(image: Image.Image, max_bytes: int) -> bytes | None:
    """The JPEG of the highest quality that fits in ``max_bytes`` (a binary search), or None when none fits."""
    low, high = _JPEG_QUALITIES
    best = None
    while low <= high:
        quality = (low + high) // 2
        data = _jpeg(image, quality)
        if len(data) <= max_bytes:
            best, low = data, quality + 1
        else:
            high = quality - 1
    return best
