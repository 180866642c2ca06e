"""Writing a baseline the one way: the record with the standard pHash of its images, and their previews.

A test run (:mod:`pytest_invokeai.run.judge`) and ``pytest-invokeai accept`` both write through
:func:`write_baseline`, so accepting a case writes exactly what a run would have written.
:func:`add_missing_previews` gives a record that matched a preview it lacks, without rewriting it.

``imagehash`` is imported here, where a record is written, and not where a suite is collected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.baseline.preview import DEFAULT_PREVIEW_SIZE, Preview, make_preview
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import KEEP_PREVIEW, BaselineStore, KeepPreview

ImageInput = DecodedImage | bytes


@dataclass
class WrittenBaseline:
    """What :func:`write_baseline` wrote: the record file and the previews it (re)wrote."""

    record: Path
    previews: list[Path] = field(default_factory=list)


def standard_phash(image: DecodedImage) -> str:
    """``str(imagehash.phash(image))`` of the full image: what any tool can check an image against."""
    import imagehash

    return str(imagehash.phash(image.image))


def write_baseline(
    store: BaselineStore,
    record: BaselineRecord,
    images: Mapping[str, Sequence[ImageInput | None]],
    *,
    preview_size: int = DEFAULT_PREVIEW_SIZE,
    png_copies: Mapping[str, Sequence[bytes]] | None = None,
) -> WrittenBaseline:
    """Write ``record`` to the store's active root with a preview of each image given, as a test run does.

    ``images``: output node id -> per image of the record's output, by index, the image it was made from
    (PNG bytes or a :class:`DecodedImage`), or None where there is none at hand (that image keeps the
    preview stored for it, if any). Pass every image to write a record whole (what ``accept`` does).
    For each image given, the record gets its standard pHash (``imagehash_phash``) where the entry has
    none and the image's pixels are those its fingerprint describes, and a preview of ``preview_size``
    px (0: no previews; the image's old preview, showing another picture, is deleted).
    ``png_copies``: full PNG copies to keep beside the record (``--invokeai-save-images``), passed on to
    :meth:`BaselineStore.save`. Images given for an output the record does not have raise ValueError.
    """
    unknown = sorted(set(images) - set(record.outputs))
    if unknown:
        raise ValueError(f"images given for node(s) {', '.join(unknown)} that are not outputs of the record")
    decoded = {
        node_id: [
            None if image is None else DecodedImage.of(image, f"image {i} of {node_id}") for i, image in enumerate(each)
        ]
        for node_id, each in images.items()
    }
    record = with_standard_phashes(record, decoded)
    previews: dict[str, list[Preview | KeepPreview | None]] = {}
    written: list[tuple[str, int, str]] = []
    for node_id, each in decoded.items():
        previews[node_id] = []
        for index, image in enumerate(each):
            if image is None:
                previews[node_id].append(KEEP_PREVIEW)
            elif preview_size <= 0:
                previews[node_id].append(None)
            else:
                preview = make_preview(image, preview_size)
                previews[node_id].append(preview)
                written.append((node_id, index, preview.suffix))
    path = store.save(record, images=png_copies, previews=previews)
    return WrittenBaseline(
        record=path,
        previews=[store.preview_file(path, node_id, index, suffix) for node_id, index, suffix in written],
    )


def with_standard_phashes(
    record: BaselineRecord, images: Mapping[str, Sequence[DecodedImage | None]]
) -> BaselineRecord:
    """``record`` with the standard pHash of each given image whose entry has none and whose pixels it fingerprints."""
    outputs = {}
    for node_id, output in record.outputs.items():
        phashes = [output.imagehash_phash(index) for index in range(len(output.images))]
        given = images.get(node_id, ())
        for index, image in enumerate(given[: len(phashes)]):
            if phashes[index] is None and image is not None and _same_pixels(image, output, index):
                phashes[index] = standard_phash(image)
        outputs[node_id] = replace(output, imagehash_phashes=phashes if any(phashes) else [])
    return replace(record, outputs=outputs)


def _same_pixels(image: DecodedImage, output: OutputBaseline, index: int) -> bool:
    return hashlib.sha256(image.rgba_bytes).hexdigest() == output.images[index].pixel_sha256


def add_missing_previews(
    store: BaselineStore,
    test_id: str,
    images: Mapping[str, Sequence[DecodedImage | None]],
    *,
    preview_size: int = DEFAULT_PREVIEW_SIZE,
) -> list[Path]:
    """Give the active store's record of ``test_id`` the previews it lacks, from images that matched it.

    The record itself is not rewritten (its fingerprints stand). ``images``: node id -> per image index,
    the run's image that matched the record's (None: not one to take a preview from). Nothing is made
    where a preview exists, or with ``preview_size`` 0, or when the record is not in the active store (a
    profile's run never writes the default store). Returns the previews written."""
    record_file = store.record_path(test_id)
    if preview_size <= 0 or not record_file.is_file():
        return []
    previews: dict[str, list[Preview | None]] = {}
    for node_id, each in images.items():
        previews[node_id] = [
            None
            if image is None or store.has_preview(record_file, node_id, index)
            else make_preview(image, preview_size)
            for index, image in enumerate(each)
        ]
    if not any(preview is not None for each in previews.values() for preview in each):
        return []
    return store.add_previews(test_id, previews)
