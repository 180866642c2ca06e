"""Real PNG images for the report tests: seeded colour noise, and changed copies of it."""

from __future__ import annotations

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


def blurred(image: Image.Image, radius: float = 2.0) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))
