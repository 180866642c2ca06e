"""A compact perceptual fingerprint of one image, to store in a baseline instead of the image.

Each signal answers one question about a change (see ``docs/thresholds.md`` for how well each does):

* ``pixel_sha256``: are the decoded pixels identical? If so, nothing else needs comparing.
* ``phash`` / ``dhash``: has the grayscale structure changed (another seed, a shift or crop)?
* ``lab``: a 16x16 thumbnail in CIE Lab. Grayscale hashes do not see a hue shift or a colour cast,
  and 64-bit hashes barely move for a shift or crop of a few percent; this thumbnail sees both.
* ``sharpness``: mean absolute Laplacian of the luminance at quarter resolution. Hashes and
  thumbnails throw away fine detail, which is exactly what a blur removes. Quarter resolution
  because at full resolution the +-2 levels of noise a benign re-run can add dominate the measure.

Perceptual signals are computed on the image composited over mid-gray, so transparent areas
count as one stable colour whatever hidden RGB values they hold.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import asdict, dataclass, fields

import imagehash
import numpy as np
from PIL import Image

from ..errors import BaselineError

FORMAT_VERSION = 1
HASH_SIZE = 8  # 64-bit hashes: distances are Hamming distances out of 64
LAB_GRID = 16  # the Lab thumbnail is LAB_GRID x LAB_GRID cells
SHARPNESS_SCALE = 4  # sharpness is measured after averaging SHARPNESS_SCALE x SHARPNESS_SCALE blocks
BACKGROUND = (128, 128, 128, 255)


@dataclass(frozen=True)
class Fingerprint:
    width: int
    height: int
    mode: str  # the mode of the image as given ("RGB", "RGBA", ...)
    pixel_sha256: str  # of the decoded pixels converted to RGBA
    phash: str  # hex
    dhash: str  # hex
    lab: str  # base64 of LAB_GRID**2 x (L, a, b) bytes, see _lab_thumbnail
    sharpness: float
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes | dict) -> Fingerprint:
        try:
            data = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"fingerprint is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BaselineError(f"fingerprint must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data) - {"version"})
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise BaselineError(
                "fingerprint fields do not match: "
                + "; ".join(p for p in (missing and f"missing {', '.join(missing)}", unknown and f"unknown {', '.join(unknown)}") if p)
                + f" (valid fields: {', '.join(sorted(names))})"
            )
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise BaselineError(f"fingerprint version {data['version']!r} is not supported (this version reads {FORMAT_VERSION})")
        return cls(**data)

    def lab_cells(self) -> np.ndarray:
        """The Lab thumbnail as a float array of shape (LAB_GRID, LAB_GRID, 3) in Lab units."""
        raw = np.frombuffer(base64.b64decode(self.lab), dtype=np.uint8).astype(np.float64)
        lab = raw.reshape(LAB_GRID, LAB_GRID, 3)
        return np.stack([lab[..., 0] / 2.55, lab[..., 1] - 128.0, lab[..., 2] - 128.0], axis=-1)


def fingerprint(image: bytes | Image.Image) -> Fingerprint:
    """Fingerprint PNG (or any Pillow-readable) bytes or a Pillow image."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        try:
            image = Image.open(io.BytesIO(bytes(image)))
            image.load()
        except Exception as exc:  # Pillow raises several types for unreadable data
            raise BaselineError(f"cannot read image bytes ({len(image)} bytes): {exc}") from exc
    if not isinstance(image, Image.Image):
        raise TypeError(f"fingerprint() takes PNG bytes or a PIL image, got {type(image).__name__}")
    rgba = image.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba).convert("RGB")
    return Fingerprint(
        width=image.width,
        height=image.height,
        mode=image.mode,
        pixel_sha256=hashlib.sha256(rgba.tobytes()).hexdigest(),
        phash=str(imagehash.phash(flat, hash_size=HASH_SIZE)),
        dhash=str(imagehash.dhash(flat, hash_size=HASH_SIZE)),
        lab=base64.b64encode(_lab_thumbnail(flat)).decode("ascii"),
        sharpness=round(_sharpness(flat), 4),
    )


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0..255, shape (..., 3)) to CIE Lab under D65."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _lab_thumbnail(rgb_image: Image.Image) -> bytes:
    """Average colour of each grid cell, in Lab, one byte per channel (L scaled to 0..255, a/b offset by 128)."""
    # Box filter = the true average of each cell, so resampling noise does not move it.
    small = np.asarray(rgb_image.resize((LAB_GRID, LAB_GRID), Image.Resampling.BOX), dtype=np.float64)
    lab = _srgb_to_lab(small)
    packed = np.stack([lab[..., 0] * 2.55, lab[..., 1] + 128.0, lab[..., 2] + 128.0], axis=-1)
    return np.clip(np.rint(packed), 0, 255).astype(np.uint8).tobytes()


def _sharpness(rgb_image: Image.Image) -> float:
    """Mean absolute 4-neighbour Laplacian of the block-averaged luminance (0..255 scale)."""
    gray_image = rgb_image.convert("L")
    small = (max(1, gray_image.width // SHARPNESS_SCALE), max(1, gray_image.height // SHARPNESS_SCALE))
    gray = np.asarray(gray_image.resize(small, Image.Resampling.BOX), dtype=np.float64)
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    lap = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    return float(np.mean(np.abs(lap)))
