"""Input images on the server: check that they are images, upload each distinct one once per run.

An image input used by 50 cases is uploaded once: :class:`UploadCache` keys uploads by the sha256 of
the bytes (not by file name: two paths with the same bytes share one upload, one path whose bytes
changed gets a new one). Uploads are intermediate by default, so they stay out of the user's gallery
view; :meth:`UploadCache.delete_uploaded` removes them when the run is over.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from pytest_invokeai.errors import InputValueError, ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient

DELETE_CHUNK = 1000  # InvokeAI's limit on names per /api/v1/images/delete call
IMAGE_HINT = "a PNG, JPEG, WebP or other image file that Pillow reads"


@dataclass(frozen=True)
class ImageContent:
    """Image bytes checked with Pillow, with a label for messages (the path, or the caller's name for them)."""

    data: bytes
    label: str
    filename: str  # what the server is told the upload is called
    content_type: str
    sha256: str


def read_image(content: bytes | str | Path, *, label: str | None = None) -> ImageContent:
    """Read and check an input image. Raises :class:`InputValueError` naming the file when it is not an image."""
    if isinstance(content, (str, Path)):
        path = Path(content)
        label = label or str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputValueError(f"image file not found; give the path of {IMAGE_HINT}", source=label) from None
        except OSError as exc:
            raise InputValueError(f"cannot read the image file: {exc.strerror or exc}", source=label) from None
        stem = path.name
    elif isinstance(content, (bytes, bytearray, memoryview)):
        data = bytes(content)
        label = label or "<image bytes>"
        stem = ""
    else:
        raise TypeError(f"an input image is bytes or a file path, got {type(content).__name__}")
    digest = hashlib.sha256(data).hexdigest()
    image_format = _check_image(data, label)
    mime = Image.MIME.get(image_format, "image/png")
    return ImageContent(
        data=data,
        label=label,
        filename=stem or f"{digest[:16]}.{image_format.lower()}",
        content_type=mime,
        sha256=digest,
    )


def _check_image(data: bytes, label: str) -> str:
    if not data:
        raise InputValueError(f"the image is empty (0 bytes); give {IMAGE_HINT}", source=label)
    image_format = "image"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or "PNG"
            image.verify()  # reads the whole file: catches a truncated or corrupt image, not only a bad header
    except UnidentifiedImageError:
        raise InputValueError(
            f"not an image ({len(data)} bytes that Pillow does not recognise); give {IMAGE_HINT}", source=label
        ) from None
    except Exception as exc:  # Pillow raises many types for damaged files
        raise InputValueError(
            f"damaged {image_format} file ({exc}); give a complete {image_format} file", source=label
        ) from None
    return image_format


def upload_image(
    client: InvokeAIClient,
    content: bytes | str | Path,
    *,
    label: str | None = None,
    board_id: str | None = None,
    intermediate: bool = True,
) -> str:
    """Upload an input image (every call uploads again; see :class:`UploadCache`). Returns its image name."""
    return _upload(client, read_image(content, label=label), board_id=board_id, intermediate=intermediate)


def _upload(client: InvokeAIClient, image: ImageContent, *, board_id: str | None, intermediate: bool) -> str:
    answer = client.send(
        api.upload_image(
            image.data, image.filename, board_id=board_id, intermediate=intermediate, content_type=image.content_type
        )
    )
    name = answer.get("image_name") if isinstance(answer, dict) else None
    if not isinstance(name, str) or not name:
        raise ServerError(
            f"InvokeAI at {client.base_url} stored the uploaded image {image.label} but sent no image_name back"
        )
    return name


class UploadCache:
    """One run's uploads, by content: :meth:`upload` sends each distinct image once. Thread-safe."""

    def __init__(self, client: InvokeAIClient, *, board_id: str | None = None, intermediate: bool = True) -> None:
        self.client = client
        self.board_id = board_id
        self.intermediate = intermediate
        self._names: dict[str, str] = {}  # sha256 of the bytes -> image name on the server
        self._lock = threading.Lock()  # held while uploading: two threads with one image upload it once

    def upload(self, content: bytes | str | Path, *, label: str | None = None) -> str:
        image = read_image(content, label=label)
        with self._lock:
            name = self._names.get(image.sha256)
            if name is None:
                name = self._names[image.sha256] = _upload(
                    self.client, image, board_id=self.board_id, intermediate=self.intermediate
                )
        return name

    @property
    def image_names(self) -> list[str]:
        with self._lock:
            return list(self._names.values())

    def delete_uploaded(self) -> list[str]:
        """Delete this run's uploads from the server; returns the names the server deleted."""
        with self._lock:
            names = list(self._names.values())
            self._names.clear()
        return delete_image_names(self.client, names)


def delete_image_names(client: InvokeAIClient, names: list[str]) -> list[str]:
    """Delete images by name, in chunks the server accepts. Raises naming the images it could not delete."""
    deleted: list[str] = []
    failed: list[str] = []
    for start in range(0, len(names), DELETE_CHUNK):
        answer: Any = client.send(api.delete_images(names[start : start + DELETE_CHUNK]))
        deleted.extend(answer.get("deleted_images", []) if isinstance(answer, dict) else [])
        failed.extend(answer.get("failed_images", []) if isinstance(answer, dict) else [])
    if failed:
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        raise ServerError(f"InvokeAI at {client.base_url} could not delete {len(failed)} image(s): {shown}")
    return deleted
