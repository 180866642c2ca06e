"""A compact perceptual fingerprint of one image, to store in a baseline instead of the image.

Each signal answers one question about a change (``docs/thresholds.md`` has the measurements):

* ``pixel_sha256``: are the decoded pixels identical? If so, nothing else needs comparing.
* ``phash``: has the luminance structure changed (another seed, a shift, a crop)? The coefficients
  pHash is built from (the 8x8 lowest frequencies of the DCT of a 32x32 luminance thumbnail, less
  the mean), kept as numbers instead of 64 bits: on flat or periodic images most coefficients sit
  near the median pHash compares them with, and +-1 level of noise flips those bits.
* ``color``: the mean colour in CIE Lab. A cast or a brightness change moves it; the noise of a
  codec or a resampler moves single pixels but hardly their mean.
* ``layout``: a 16x16 thumbnail in Lab, each cell a tent-weighted average that overlaps its
  neighbours. Grayscale structure does not see a hue shift, and the mean does not see colours
  moving around; this does. Tent cells rather than box cells because codecs smear colour a pixel
  or two across hard edges: with box cells that lie on such an edge, the smear moves colour from
  one cell into the next; with overlapping tents it mostly stays inside both.
* ``edges``: per layout cell, how much hard edge it holds. What smear is left (JPEG's chroma
  subsampling clips saturated colours next to an edge) grows with the edges in a cell, so
  ``compare`` tolerates more layout change in edgy cells than in smooth ones.
* ``sharpness``: the mean of the largest 2 % of the absolute Laplacian of the luminance, at 1/2,
  1/4 and 1/8 of the working resolution. Hashes and thumbnails throw away fine detail, which is
  exactly what a blur removes. The largest values, so that a few sharp edges on a flat image count
  as much as many; not at full resolution, where the +-2 levels of noise a benign re-run can add,
  and a resampler's slight softening of hard edges, are as large as a real blur.

Everything except ``pixel_sha256`` is measured on the image composited over mid-gray (transparent
areas count as one stable colour whatever hidden RGB values they hold) and reduced by an integer
box factor to about ``WORK_SIDE`` pixels, so a signal means the same at 64 and at 2048 pixels and
a 1024x1024 image takes milliseconds. The pixels come from a :class:`~.image.DecodedImage`, which the
judge decodes once per image and also hands to the artifacts; of an opaque RGBA image (what InvokeAI
saves) only the reduced working image is converted, so fingerprinting costs a fraction of decoding it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from PIL import Image

from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.errors import BaselineError

FORMAT_VERSION = 2
WORK_SIDE = 256  # the longest side is box-reduced by an integer factor to at least this
LAYOUT_GRID = 16  # the layout thumbnail is LAYOUT_GRID x LAYOUT_GRID cells
PHASH_THUMB = 32  # pHash's luminance thumbnail side
PHASH_BAND = 8  # and the side of its low-frequency DCT band
SHARPNESS_SCALES = (2, 4, 8)  # box factors (of the working image) sharpness is measured at
SHARPNESS_TOP = 50  # sharpness is the mean of the largest 1/SHARPNESS_TOP of the |Laplacian| values
RERECORD_HINT = "re-record the baselines with update mode `all` (pytest --invokeai-update-baselines=all)"


@dataclass(frozen=True)
class Fingerprint:
    width: int
    height: int
    mode: str  # the mode of the image as given ("RGB", "RGBA", ...)
    pixel_sha256: str  # of the decoded pixels converted to RGBA
    phash: str  # base64 of PHASH_BAND**2 - 1 little-endian int16 DCT coefficients, see _phash_coefficients
    color: list[float]  # mean colour, CIE Lab (L, a, b)
    layout: str  # base64 of LAYOUT_GRID**2 x (L, a, b) bytes, see _layout_thumbnail
    edges: str  # base64 of LAYOUT_GRID**2 bytes: how much hard edge each layout cell holds, see _edge_thumbnail
    sharpness: list[float]  # one value per scale of SHARPNESS_SCALES, see _sharpness
    version: int = FORMAT_VERSION

    def __hash__(self) -> int:  # the lists make the generated hash fail; equal pixels are equal fingerprints
        return hash((self.pixel_sha256, self.width, self.height, self.mode))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes | dict[str, Any]) -> Fingerprint:
        try:
            data = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"fingerprint is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BaselineError(f"fingerprint must be a JSON object, got {type(data).__name__}")
        version = data.get("version", FORMAT_VERSION)  # a missing version is reported with the other fields
        if version != FORMAT_VERSION:
            raise BaselineError(
                f"fingerprint format version {version!r} is not supported (this version of pytest-invokeai "
                f"reads version {FORMAT_VERSION}, which measures different signals): {RERECORD_HINT}"
            )
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data))
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise BaselineError(
                "fingerprint fields do not match: "
                + "; ".join(
                    p
                    for p in (missing and f"missing {', '.join(missing)}", unknown and f"unknown {', '.join(unknown)}")
                    if p
                )
                + f" (valid fields: {', '.join(sorted(names))})"
            )
        for name in ("color", "sharpness"):
            value = data[name]
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            ):
                raise BaselineError(f"fingerprint field {name!r} must be a list of numbers, got {value!r}")
        if len(data["color"]) != 3 or len(data["sharpness"]) != len(SHARPNESS_SCALES):
            raise BaselineError(
                f"fingerprint fields 'color' and 'sharpness' must hold 3 and {len(SHARPNESS_SCALES)} numbers, "
                f"got {len(data['color'])} and {len(data['sharpness'])}"
            )
        data["color"] = [float(v) for v in data["color"]]
        data["sharpness"] = [float(v) for v in data["sharpness"]]
        fingerprint = cls(**data)
        # Decode once here, so that broken base64 fails while reading the baseline, not in compare().
        fingerprint.layout_cells(), fingerprint.edge_cells(), fingerprint.phash_coefficients()
        return fingerprint

    def layout_cells(self) -> np.ndarray:
        """The layout thumbnail as a float array of shape (LAYOUT_GRID, LAYOUT_GRID, 3) in Lab units."""
        raw = _decode(self.layout, "layout", np.uint8, LAYOUT_GRID * LAYOUT_GRID * 3).astype(np.float64)
        lab = raw.reshape(LAYOUT_GRID, LAYOUT_GRID, 3)
        return np.stack([lab[..., 0] / 2.55, lab[..., 1] - 128.0, lab[..., 2] - 128.0], axis=-1)

    def edge_cells(self) -> np.ndarray:
        """The edge value of each layout cell, shape (LAYOUT_GRID, LAYOUT_GRID), in levels."""
        return (
            _decode(self.edges, "edges", np.uint8, LAYOUT_GRID * LAYOUT_GRID)
            .astype(np.float64)
            .reshape(LAYOUT_GRID, LAYOUT_GRID)
        )

    def phash_coefficients(self) -> np.ndarray:
        """pHash's DCT band without its DC term, as floats (PHASH_BAND**2 - 1 values)."""
        return _decode(self.phash, "phash", np.dtype("<i2"), PHASH_BAND * PHASH_BAND - 1).astype(np.float64)


def _decode(text: str, name: str, dtype: np.dtype | type, count: int) -> np.ndarray:
    """``count`` values of ``dtype`` from a base64 field; anything else is a BaselineError naming the field."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise BaselineError(f"fingerprint field {name!r} is not valid base64: {exc}") from None
    size = np.dtype(dtype).itemsize
    if len(raw) != count * size:
        raise BaselineError(f"fingerprint field {name!r} holds {len(raw)} bytes, expected {count * size}")
    return np.frombuffer(raw, dtype=dtype)


def fingerprint(image: bytes | Image.Image | DecodedImage) -> Fingerprint:
    """Fingerprint PNG (or any Pillow-readable) bytes, a Pillow image, or an image decoded once and shared."""
    if not isinstance(image, (bytes, bytearray, memoryview, Image.Image, DecodedImage)):
        raise TypeError(f"fingerprint() takes a DecodedImage, PNG bytes or a PIL image, got {type(image).__name__}")
    decoded = DecodedImage.of(image, "image bytes")
    work = _working_image(decoded)
    gray = work.convert("L")  # the luminance pHash and sharpness both measure
    planes = [np.asarray(band) for band in work.split()]  # R, G, B, each contiguous: fast whole-array numpy
    return Fingerprint(
        width=decoded.image.width,
        height=decoded.image.height,
        mode=decoded.image.mode,
        pixel_sha256=hashlib.sha256(decoded.rgba_bytes).hexdigest(),
        phash=base64.b64encode(_phash_coefficients(gray)).decode("ascii"),
        color=[round(float(v), 2) for v in _srgb_to_lab(_mean_colour(planes))],
        layout=base64.b64encode(_layout_thumbnail(work)).decode("ascii"),
        edges=base64.b64encode(_edge_thumbnail(planes)).decode("ascii"),
        sharpness=[round(v, 3) for v in _sharpness(gray)],
    )


def _working_image(decoded: DecodedImage) -> Image.Image:
    """The image over mid-gray, box-reduced by the integer factor that brings its longest side to WORK_SIDE or more."""
    return decoded.flat_reduced(max(1, max(decoded.size) // WORK_SIDE))


def _mean_colour(planes: list[np.ndarray]) -> np.ndarray:
    """The mean R, G, B (floats) of an image given as three uint8 planes.

    An exact integer sum divided by the count: the very float ``mean()`` of the pixels as float64
    gives (every partial sum of whole numbers below 2**53 is exact), without a float copy of them.
    """
    return np.array([int(plane.sum(dtype=np.int64)) for plane in planes], dtype=np.float64) / planes[0].size


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


def _edge_thumbnail(planes: list[np.ndarray]) -> bytes:
    """Per layout cell, the tent-weighted mean of each pixel's largest step to a neighbour (any channel, in levels)."""
    height, width = planes[0].shape
    dx = np.zeros((height, max(width - 1, 0)), dtype=np.uint8)
    dy = np.zeros((max(height - 1, 0), width), dtype=np.uint8)
    for plane in planes:
        # |a - b| of uint8 values as max - min stays in uint8: whole levels, as exact as signed arithmetic.
        np.maximum(dx, np.maximum(plane[:, 1:], plane[:, :-1]) - np.minimum(plane[:, 1:], plane[:, :-1]), out=dx)
        np.maximum(dy, np.maximum(plane[1:], plane[:-1]) - np.minimum(plane[1:], plane[:-1]), out=dy)
    step = np.zeros((height, width), dtype=np.uint8)
    np.maximum(step[:, :-1], dx, out=step[:, :-1])
    np.maximum(step[:, 1:], dx, out=step[:, 1:])
    np.maximum(step[:-1], dy, out=step[:-1])
    np.maximum(step[1:], dy, out=step[1:])
    steps = Image.fromarray(step.astype(np.float32), mode="F")
    small = np.asarray(steps.resize((LAYOUT_GRID, LAYOUT_GRID), Image.Resampling.BILINEAR))
    layout: bytes = np.clip(np.rint(small), 0, 255).astype(np.uint8).tobytes()
    return layout


def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix: ``m @ x`` transforms a column vector of length n."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m: np.ndarray = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix(PHASH_THUMB)


def _phash_coefficients(gray: Image.Image) -> bytes:
    """pHash's low-frequency DCT band of the luminance (an "L" image), without its DC term, as int16."""
    thumb = np.asarray(gray.resize((PHASH_THUMB, PHASH_THUMB), Image.Resampling.BILINEAR), dtype=np.float64)
    band = (_DCT @ thumb @ _DCT.T)[:PHASH_BAND, :PHASH_BAND].ravel()[1:]
    coefficients: bytes = np.clip(np.rint(band), -32768, 32767).astype("<i2").tobytes()
    return coefficients


def _sharpness(gray: Image.Image) -> list[float]:
    """Per scale, the mean of the largest 1/SHARPNESS_TOP of the absolute 4-neighbour Laplacian of the box-reduced luminance."""
    luminance = gray.convert("F")  # float, so that reducing does not round to whole levels
    values = []
    for scale in SHARPNESS_SCALES:
        small = np.asarray(luminance.reduce(scale) if scale > 1 else luminance, dtype=np.float32)
        if small.shape[0] < 3 or small.shape[1] < 3:
            values.append(0.0)
            continue
        lap = np.abs(
            4 * small[1:-1, 1:-1] - small[:-2, 1:-1] - small[2:, 1:-1] - small[1:-1, :-2] - small[1:-1, 2:]
        ).ravel()
        count = max(1, lap.size // SHARPNESS_TOP)
        values.append(float(np.partition(lap, lap.size - count)[-count:].mean()))
    return values
