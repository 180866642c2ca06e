"""One image decoded once (pytest_invokeai.baseline.image): the views it shares are Pillow's own, computed faster.

Every expected value is Pillow's plain way of computing it (``tobytes()``, ``convert``,
``alpha_composite``, ``reduce``), never the code under test.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from report_images import noise_image, png

from pytest_invokeai.baseline.image import BACKGROUND, DecodedImage, rgba_pixels
from pytest_invokeai.errors import BaselineError


def transparent(seed: int, width: int = 90, height: int = 70) -> Image.Image:
    return noise_image(seed, width, height, mode="RGBA")  # random alpha: every pixel partly transparent


def opaque(seed: int, width: int = 90, height: int = 70) -> Image.Image:
    image = noise_image(seed, width, height, mode="RGBA")
    image.putalpha(255)
    return image


def composited(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba).convert("RGB")


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (1024, 1024), (333, 1)])
def test_rgba_pixels_are_pillows_tobytes(size):
    image = transparent(1, *size)
    assert rgba_pixels(image) == image.tobytes()


def test_rgba_pixels_of_an_empty_image():
    assert rgba_pixels(Image.new("RGBA", (0, 0))) == b""


def test_rgba_pixels_fall_back_to_tobytes_without_pillows_raw_encoder(monkeypatch):
    # Pillow cannot be made to lose its internal encoder; replacing it is the only way to show the
    # fallback. The first call (the one-buffer attempt) fails; tobytes() then gets the real encoder.
    real, calls = Image._getencoder, []

    def unavailable_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OSError("encoder raw not available")
        return real(*args, **kwargs)

    image = transparent(2)
    expected = image.tobytes()
    monkeypatch.setattr(Image, "_getencoder", unavailable_once)
    assert rgba_pixels(image) == expected
    assert len(calls) == 2  # the attempt, then tobytes()


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "LA", "RGBA"])
def test_rgba_bytes_are_the_image_converted_to_rgba(mode):
    image = transparent(3).convert(mode)
    assert DecodedImage(image).rgba_bytes == image.convert("RGBA").tobytes()


def test_opaque_means_every_alpha_is_255():
    assert DecodedImage(opaque(4)).opaque
    assert DecodedImage(opaque(4).convert("RGB")).opaque
    almost = opaque(4)
    almost.putpixel((89, 69), (1, 2, 3, 254))  # the last pixel
    assert not DecodedImage(almost).opaque
    assert not DecodedImage(transparent(4)).opaque


@pytest.mark.parametrize("make", [opaque, transparent], ids=["opaque", "transparent"])
def test_flat_is_the_image_over_mid_gray(make):
    image = make(5)
    assert np.array_equal(np.asarray(DecodedImage(image).flat), np.asarray(composited(image)))


@pytest.mark.parametrize("make", [opaque, transparent], ids=["opaque", "transparent"])
@pytest.mark.parametrize("factor", [1, 2, 3, 4, 7])
def test_flat_reduced_is_pillows_reduce_of_flat(make, factor):
    image = make(6, 301, 203)  # sizes with a remainder for every factor
    expected = np.asarray(composited(image).reduce(factor))
    decoded = DecodedImage(image)
    assert np.array_equal(np.asarray(decoded.flat_reduced(factor)), expected)
    assert decoded.flat.size == image.size  # once the full-size view exists, it is reduced instead
    assert np.array_equal(np.asarray(decoded.flat_reduced(factor)), expected)


def test_decode_keeps_the_bytes_and_names_what_it_cannot_read():
    data = png(opaque(7))
    decoded = DecodedImage.decode(data)
    assert decoded.data is data and decoded.size == (90, 70)
    with pytest.raises(BaselineError, match=r"cannot read the actual image \(9 bytes\)"):
        DecodedImage.decode(b"not a png", "the actual image")


def test_of_takes_bytes_an_image_or_a_decoded_image():
    image = opaque(8)
    decoded = DecodedImage(image)
    assert DecodedImage.of(decoded) is decoded
    assert DecodedImage.of(image).image is image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert DecodedImage.of(buffer.getvalue()).rgba_bytes == image.tobytes()
    with pytest.raises(TypeError, match="expected image bytes, a PIL image or a DecodedImage, got str"):
        DecodedImage.of("image.png")
