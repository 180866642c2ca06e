"""A baseline record described for a person: what ``pytest-invokeai baselines show`` prints.

The text is also what ``git diff`` shows of a record (the ``diff.invokeai.textconv`` setting), so it is
stable and line-oriented: one fact a line, no file names (git hands the command temporary files), no
base64. A reviewer sees that an image's mean colour moved from ``#7f7f80`` to ``#a05a5a`` and that its pHash
changed, instead of a diff of encoded thumbnails.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from pytest_invokeai.baseline.fingerprint import SHARPNESS_SCALES, Fingerprint
from pytest_invokeai.baseline.record import BaselineRecord

# The sRGB -> XYZ matrix and D65 white the fingerprint's Lab is computed with (fingerprint._srgb_to_lab).
_RGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def lab_to_hex(lab: list[float]) -> str:
    """A CIE Lab colour (D65) as the nearest sRGB hex colour, ``#rrggbb`` (out-of-gamut values clipped)."""
    lightness, a, b = lab
    fy = (lightness + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    delta = 6 / 29
    xyz = np.where(f > delta, f**3, 3 * delta**2 * (f - 4 / 29)) * _WHITE
    linear = np.clip(np.linalg.solve(_RGB_TO_XYZ, xyz), 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    red, green, blue = (round(float(v) * 255) for v in np.clip(srgb, 0.0, 1.0))
    return f"#{red:02x}{green:02x}{blue:02x}"


def describe_record(record: BaselineRecord) -> dict[str, Any]:
    """The record's facts for a person or a tool: context, and per output image what it looks like."""
    return {
        "test_id": record.test_id,
        "invokeai_version": record.invokeai_version,
        "workflow": record.workflow,
        "workflow_content_hash": record.workflow_content_hash,
        "models": dict(record.models),
        "inputs": [dict(item) for item in record.inputs],
        "outputs": [
            {
                "node_id": node_id,
                "label": output.label,
                "images": [
                    describe_image(image, output.imagehash_phash(index)) for index, image in enumerate(output.images)
                ],
            }
            for node_id, output in sorted(record.outputs.items())
        ],
    }


def describe_image(image: Fingerprint, imagehash_phash: str | None) -> dict[str, Any]:
    return {
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "mean_lab": list(image.color),
        "mean_srgb": lab_to_hex(image.color),
        "sharpness": list(image.sharpness),
        "imagehash_phash": imagehash_phash,
        "pixel_sha256": image.pixel_sha256,
    }


def format_description(described: dict[str, Any]) -> str:
    """The text ``baselines show`` prints (and ``git diff`` compares) for one record."""
    lines = [
        f"test id: {described['test_id']}",
        f"InvokeAI version: {described['invokeai_version'] or 'not recorded'}",
        f"workflow: {described['workflow'] or 'not recorded'}",
        f"workflow content hash: {described['workflow_content_hash'] or 'not recorded'}",
    ]
    models = described["models"]
    lines.append("models:" + ("" if models else " none"))
    lines += [f"  {name}: {digest}" for name, digest in sorted(models.items())]
    lines.append("inputs:" + ("" if described["inputs"] else " none recorded"))
    for item in described["inputs"]:
        value = json.dumps(item.get("value"), ensure_ascii=False, sort_keys=True)
        lines.append(f"  {item.get('index')} {item.get('name', '')}: {value}")
    scales = ", ".join(f"1/{scale}" for scale in SHARPNESS_SCALES)
    for output in described["outputs"]:
        label = f" ({output['label']})" if output["label"] else ""
        count = len(output["images"])
        lines.append(f"output {output['node_id']}{label}: {count} image{'' if count == 1 else 's'}")
        for index, image in enumerate(output["images"]):
            lab = " ".join(f"{value:.2f}" for value in image["mean_lab"])
            sharpness = " ".join(f"{value:g}" for value in image["sharpness"])
            lines += [
                f"  image {index}: {image['width']}x{image['height']} {image['mode']}",
                f"    mean colour: Lab {lab}, sRGB {image['mean_srgb']}",
                f"    sharpness: {sharpness} (at {scales} of the working image)",
                f"    pHash (imagehash): {image['imagehash_phash'] or 'not recorded'}",
                f"    pixels sha256: {image['pixel_sha256']}",
            ]
    return "\n".join(lines)
