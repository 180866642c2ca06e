"""The fingerprint as version 2 computed it before its speed-up (commit 0485b38), kept verbatim as a reference.

Baseline records store these values; the faster implementation in pytest_invokeai/baseline/fingerprint.py
must give the very same ones for every image, bit for bit. This copy is frozen (it is not the code
under test): change it only together with FORMAT_VERSION, never to make a test pass.
"""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
from PIL import Image

from pytest_invokeai.baseline.fingerprint import Fingerprint

WORK_SIDE = 256
LAYOUT_GRID = 16
PHASH_THUMB = 32
PHASH_BAND = 8
SHARPNESS_SCALES = (2, 4, 8)
SHARPNESS_TOP = 50
BACKGROUND = (128, 128, 128, 255)


def reference_fingerprint(image: bytes | Image.Image) -> Fingerprint:
    """Fingerprint PNG (or any Pillow-readable) bytes or a Pillow image."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        try:
            image = Image.open(io.BytesIO(bytes(image)))
            image.load()
        except Exception as exc:  # Pillow raises several types for unreadable data
            raise ValueError(f"cannot read image bytes ({len(image)} bytes): {exc}") from exc
    if not isinstance(image, Image.Image):
        raise TypeError(f"fingerprint() takes PNG bytes or a PIL image, got {type(image).__name__}")
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:  # opaque: compositing would change nothing
        flat = rgba.convert("RGB")
    else:
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba).convert("RGB")
    work = _working_image(flat)
    return Fingerprint(
        width=image.width,
        height=image.height,
        mode=image.mode,
        pixel_sha256=hashlib.sha256(rgba.tobytes()).hexdigest(),
        phash=base64.b64encode(_phash_coefficients(work)).decode("ascii"),
        color=[
            round(float(v), 2) for v in _srgb_to_lab(np.asarray(work, dtype=np.float64).reshape(-1, 3).mean(axis=0))
        ],
        layout=base64.b64encode(_layout_thumbnail(work)).decode("ascii"),
        edges=base64.b64encode(_edge_thumbnail(work)).decode("ascii"),
        sharpness=[round(v, 3) for v in _sharpness(work)],
    )


def _working_image(rgb_image: Image.Image) -> Image.Image:
    factor = max(1, max(rgb_image.size) // WORK_SIDE)
    return rgb_image.reduce(factor) if factor > 1 else rgb_image


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0..255, shape (..., 3)) to CIE Lab under D65."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _layout_thumbnail(rgb_image: Image.Image) -> bytes:
    """Tent-weighted colour of each grid cell, in Lab, one byte per channel (L scaled to 0..255, a/b offset by 128)."""
    # Pillow's bilinear filter, when shrinking, is a tent as wide as two cells: overlapping windows.
    small = np.asarray(rgb_image.resize((LAYOUT_GRID, LAYOUT_GRID), Image.Resampling.BILINEAR), dtype=np.float64)
    lab = _srgb_to_lab(small)
    packed = np.stack([lab[..., 0] * 2.55, lab[..., 1] + 128.0, lab[..., 2] + 128.0], axis=-1)
    return np.clip(np.rint(packed), 0, 255).astype(np.uint8).tobytes()


def _edge_thumbnail(rgb_image: Image.Image) -> bytes:
    """Per layout cell, the tent-weighted mean of each pixel's largest step to a neighbour (any channel, in levels)."""
    pixels = np.asarray(rgb_image, dtype=np.int16)
    step = np.zeros(pixels.shape[:2], dtype=np.float32)
    dx = np.abs(np.diff(pixels, axis=1)).max(axis=-1)
    dy = np.abs(np.diff(pixels, axis=0)).max(axis=-1)
    step[:, :-1] = np.maximum(step[:, :-1], dx)
    step[:, 1:] = np.maximum(step[:, 1:], dx)
    step[:-1] = np.maximum(step[:-1], dy)
    step[1:] = np.maximum(step[1:], dy)
    small = np.asarray(Image.fromarray(step, mode="F").resize((LAYOUT_GRID, LAYOUT_GRID), Image.Resampling.BILINEAR))
    return np.clip(np.rint(small), 0, 255).astype(np.uint8).tobytes()


def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix: ``m @ x`` transforms a column vector of length n."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix(PHASH_THUMB)


def _phash_coefficients(rgb_image: Image.Image) -> bytes:
    """pHash's low-frequency DCT band of the luminance, without its DC term, as int16."""
    thumb = np.asarray(
        rgb_image.convert("L").resize((PHASH_THUMB, PHASH_THUMB), Image.Resampling.BILINEAR), dtype=np.float64
    )
    band = (_DCT @ thumb @ _DCT.T)[:PHASH_BAND, :PHASH_BAND].ravel()[1:]
    return np.clip(np.rint(band), -32768, 32767).astype("<i2").tobytes()


def _sharpness(rgb_image: Image.Image) -> list[float]:
    """Per scale, the mean of the largest 1/SHARPNESS_TOP of the absolute 4-neighbour Laplacian of the box-reduced luminance."""
    gray = rgb_image.convert("L").convert("F")  # float, so that reducing does not round to whole levels
    values = []
    for scale in SHARPNESS_SCALES:
        small = np.asarray(gray.reduce(scale) if scale > 1 else gray, dtype=np.float32)
        if small.shape[0] < 3 or small.shape[1] < 3:
            values.append(0.0)
            continue
        lap = np.abs(
            4 * small[1:-1, 1:-1] - small[:-2, 1:-1] - small[2:, 1:-1] - small[1:-1, :-2] - small[1:-1, 2:]
        ).ravel()
        count = max(1, lap.size // SHARPNESS_TOP)
        values.append(float(np.partition(lap, lap.size - count)[-count:].mean()))
    return values
