"""One image decoded once, shared by everything that looks at its pixels.

Decoding a PNG is most of what checking an output costs (a noisy 1024x1024 PNG takes tens of
milliseconds), so an output image is decoded once, when the case is judged, and the fingerprint, the
artifacts (heat map, side-by-side) and any other view of it take their pixels from this object.
What they derive (the RGBA pixels, whether the image is opaque, the image composited over mid-gray)
is computed on first use and kept.

Every view of the pixels is the one the fingerprint has always measured: ``rgba_bytes`` is
Pillow's ``convert("RGBA")`` of the image as decoded, and ``flat`` is that composited over
``BACKGROUND``, which for an opaque image leaves its RGB values exactly as they are.
"""

from __future__ import annotations

import io
from functools import cached_property

import numpy as np
from PIL import Image

from pytest_invokeai.errors import BaselineError

BACKGROUND = (128, 128, 128, 255)  # what transparent areas are composited over: one stable colour
OPAQUE = 0xFF000000  # an RGBA pixel read as a little-endian uint32 is at least this when its alpha is 255


class DecodedImage:
    """An image's pixels (and, when it was decoded here, the encoded bytes it came from)."""

    def __init__(self, image: Image.Image, data: bytes | None = None) -> None:
        if not isinstance(image, Image.Image):
            raise TypeError(f"DecodedImage takes a PIL image, got {type(image).__name__}")
        self.image = image
        self.data = data  # the encoded bytes as given, written unchanged where a copy is kept

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, what: str = "the image") -> DecodedImage:
        """Decode PNG (or any Pillow-readable) bytes; unreadable bytes are a BaselineError naming ``what``."""
        raw = bytes(data)
        try:
            image = Image.open(io.BytesIO(raw))
            image.load()
        except Exception as exc:  # Pillow raises several types for unreadable data
            raise BaselineError(f"cannot read {what} ({len(raw)} bytes): {exc}") from exc
        return cls(image, raw)

    @classmethod
    def of(
        cls, image: DecodedImage | Image.Image | bytes | bytearray | memoryview, what: str = "the image"
    ) -> DecodedImage:
        """``image`` as a DecodedImage: as it is, wrapped, or decoded from bytes."""
        if isinstance(image, DecodedImage):
            return image
        if isinstance(image, Image.Image):
            return cls(image)
        if isinstance(image, (bytes, bytearray, memoryview)):
            return cls.decode(image, what)
        raise TypeError(f"{what}: expected image bytes, a PIL image or a DecodedImage, got {type(image).__name__}")

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    @cached_property
    def rgba_bytes(self) -> bytes:
        """The pixels converted to RGBA, row by row, four bytes a pixel (what ``pixel_sha256`` hashes)."""
        rgba = self.image if self.image.mode == "RGBA" else self.image.convert("RGBA")
        return rgba_pixels(rgba)

    @cached_property
    def opaque(self) -> bool:
        """Whether every pixel's alpha is 255 (compositing over a background would change nothing)."""
        if not self.rgba_bytes:
            return True
        # One pass over whole pixels: the alpha byte is the most significant of a little-endian uint32.
        return int(np.frombuffer(self.rgba_bytes, dtype="<u4").min()) >= OPAQUE

    @cached_property
    def flat(self) -> Image.Image:
        """RGB as the fingerprints see it: composited over BACKGROUND (an opaque image as it is)."""
        if self.opaque:
            return self._rgbx().convert("RGB")
        return self._composited()

    def flat_reduced(self, factor: int) -> Image.Image:
        """``flat`` box-reduced by ``factor`` (Pillow's ``reduce``), without converting the full-size image.

        For an opaque image the RGBA pixels are read in place as RGBX, which ``reduce`` treats as
        four independent channels (RGBA would be premultiplied first), and only the small result is
        converted: the same values as ``flat.reduce(factor)``, at a fraction of the cost.
        """
        if factor <= 1:
            return self.flat
        if self.opaque and "flat" not in self.__dict__:
            return self._rgbx().reduce(factor).convert("RGB")
        return self.flat.reduce(factor)

    def _rgbx(self) -> Image.Image:
        """The RGBA pixels as an RGBX image that shares their buffer (no copy)."""
        return Image.frombuffer("RGBX", self.size, self.rgba_bytes, "raw", "RGBX", 0, 1)

    def _composited(self) -> Image.Image:
        rgba = Image.frombuffer("RGBA", self.size, self.rgba_bytes, "raw", "RGBA", 0, 1)
        return Image.alpha_composite(Image.new("RGBA", self.size, BACKGROUND), rgba).convert("RGB")


def rgba_pixels(rgba: Image.Image) -> bytes:
    """``rgba.tobytes()`` of an RGBA image, made in one buffer.

    Pillow's ``tobytes()`` encodes in 64 KiB chunks and joins them: for a 1024x1024 image that is a
    second 4 MiB copy and some two thousand page faults for the memory the chunks take and give back
    (4 to 5 ms, where this takes well under 1 ms). Its raw encoder, asked for the whole image at once,
    gives the same bytes in one buffer. That encoder is internal to Pillow (stable since long before
    Pillow 10): should it ever answer otherwise, ``tobytes()`` it is.
    """
    size = rgba.width * rgba.height * 4
    if rgba.mode != "RGBA" or size == 0:
        return rgba.tobytes()
    rgba.load()
    try:
        encoder = Image._getencoder("RGBA", "raw", "RGBA")
        encoder.setimage(rgba.im, (0, 0, *rgba.size))
        try:
            _, status, data = encoder.encode(size)
        finally:
            encoder.cleanup()
    except (AttributeError, TypeError, ValueError, OSError):
        return rgba.tobytes()
    return data if status == 1 and isinstance(data, bytes) and len(data) == size else rgba.tobytes()
