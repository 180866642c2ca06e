"""Real PNG images for the report tests: seeded colour noise, and changed copies of it."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageFilter


def noise_image(seed: int = 0, width: int = 96, height: int = 96, mode: str = "RGB") -> Image.Image:
    channels = len(mode)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels, mode)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def blurred(image: Image.Image, radius: float = 2.0) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def count_decodes(monkeypatch) -> dict[str, int]:
    """Count Pillow's ``Image.open`` of in-memory images, by the SHA-256 of the bytes opened.

    A probe, not a double: every call goes on to the real ``Image.open``. The counts fill in as the
    code under test runs.
    """
    real_open = Image.open
    counts: dict[str, int] = {}

    def counting_open(source, *args, **kwargs):
        if isinstance(source, io.BytesIO):
            key = hashlib.sha256(source.getvalue()).hexdigest()
            counts[key] = counts.get(key, 0) + 1
        return real_open(source, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    return counts


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
