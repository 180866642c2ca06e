"""Previews beside baseline records (pytest_invokeai.baseline.preview), written with the record by
pytest_invokeai.baseline.write, and kept by the store as part of their record.

Images are made here with numpy and Pillow; expected sizes and formats follow from the rules (longest
side, 32,000 bytes, PNG else the best JPEG), checked against Pillow's own encoders, not the code under test.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image
from test_store import make_image, make_record, png_of

from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.baseline.preview import MAX_PREVIEW_BYTES, make_preview
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline, RecordError
from pytest_invokeai.baseline.store import KEEP_PREVIEW, BaselineStore
from pytest_invokeai.baseline.write import WrittenBaseline, add_missing_previews, write_baseline

TEST_ID = "suite/test_look.py::test_look[seed=1]"


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def smooth(size: tuple[int, int]) -> Image.Image:
    """A gradient: compresses well as PNG at any preview size."""
    width, height = size
    x = np.linspace(0, 255, width, dtype=np.float64)[None, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height, dtype=np.float64)[:, None].repeat(width, axis=1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1).astype(np.uint8))


# -- the preview of one image ----------------------------------------------------------------------


def test_a_small_image_keeps_its_size_and_its_exact_pixels_as_png() -> None:
    image = make_image(1, size=(64, 48))  # noise, but 64x48 is well under the byte budget as PNG
    preview = make_preview(DecodedImage(image))
    assert preview.suffix == ".preview.png"
    shown = opened(preview.data)
    assert shown.format == "PNG" and shown.size == (64, 48)
    assert shown.convert("RGB").tobytes() == image.tobytes()  # never enlarged, never changed


def test_a_large_image_is_brought_down_to_the_preview_size_keeping_its_aspect() -> None:
    preview = make_preview(DecodedImage(smooth((1024, 512))), size=256)
    shown = opened(preview.data)
    assert shown.size == (256, 128) and shown.format == "PNG"
    assert opened(make_preview(DecodedImage(smooth((300, 1200))), size=100).data).size == (25, 100)


def test_a_preview_that_would_pass_the_byte_limit_as_png_is_the_best_jpeg_that_fits() -> None:
    noisy = make_image(3, size=(512, 512))
    preview = make_preview(DecodedImage(noisy), size=256)
    shown = opened(preview.data)
    assert preview.suffix == ".preview.jpg" and shown.format == "JPEG" and shown.size == (256, 256)
    assert len(preview.data) <= MAX_PREVIEW_BYTES
    # The best quality that fits, found here by trying every quality Pillow offers.
    scaled = noisy.resize((256, 256), Image.Resampling.LANCZOS, reducing_gap=3.0)
    fitting = []
    for quality in range(1, 96):
        out = io.BytesIO()
        scaled.save(out, format="JPEG", quality=quality, optimize=True)
        if len(out.getvalue()) <= MAX_PREVIEW_BYTES:
            fitting.append(out.getvalue())
    assert preview.data == fitting[-1]


def test_the_byte_limit_wins_over_the_size() -> None:
    preview = make_preview(DecodedImage(make_image(4, size=(256, 256))), size=256, max_bytes=1_000)
    shown = opened(preview.data)
    assert len(preview.data) <= 1_000 and shown.format == "JPEG"
    assert max(shown.size) < 256  # even quality 1 did not fit at 256 px: smaller until one did


def test_a_transparent_image_keeps_its_alpha_as_png_and_shows_over_mid_gray_as_jpeg() -> None:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 30))
    shown = opened(make_preview(DecodedImage(rgba)).data)
    assert shown.mode == "RGBA" and shown.getpixel((30, 10)) == (255, 0, 0, 0)

    noisy = np.asarray(make_image(5, size=(300, 300)).convert("RGBA")).copy()
    noisy[:, 150:, 3] = 0  # the right half transparent
    jpeg = opened(make_preview(DecodedImage(Image.fromarray(noisy)), size=256).data)
    assert jpeg.format == "JPEG" and jpeg.mode == "RGB"
    right = np.asarray(jpeg)[:, 140:].reshape(-1, 3).mean(axis=0)
    assert np.allclose(right, 128, atol=6)  # mid-gray where the image was transparent


def test_a_preview_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="0 turns previews off"):
        make_preview(DecodedImage(make_image(1)), size=0)


# -- writing a record with its previews (what a run and `accept` both call) ----------------------------


def record_of(*images: Image.Image, test_id: str = TEST_ID) -> BaselineRecord:
    return BaselineRecord(
        test_id=test_id, outputs={"save_image:Ab.C": OutputBaseline(images=[fingerprint(i) for i in images])}
    )


def test_write_baseline_writes_the_record_with_its_standard_phash_and_a_preview_per_image(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    first, second = make_image(1), smooth((600, 300))
    pngs = [png_of(first), png_of(second)]

    written = write_baseline(store, record_of(first, second), {"save_image:Ab.C": [pngs[0], DecodedImage(second)]})

    assert isinstance(written, WrittenBaseline) and written.record == store.record_path(TEST_ID)
    data = json.loads(written.record.read_text())
    # What anyone can check an image against in two lines, without this plugin:
    assert [i["imagehash_phash"] for i in data["outputs"]["save_image:Ab.C"]["images"]] == [
        str(imagehash.phash(Image.open(io.BytesIO(png)))) for png in pngs
    ]
    assert written.previews == [store.preview_path(TEST_ID, "save_image:Ab.C", i) for i in (0, 1)]
    # The node id's dot is replaced (see the store): <record stem>.<node part>.<index>.preview.png
    assert written.previews[0].name.endswith(".0.preview.png") and "Ab.C" not in written.previews[0].name
    assert opened(written.previews[1].read_bytes()).size == (256, 128)
    assert BaselineStore(tmp_path / "baselines").load(TEST_ID) is not None  # it reads back


def test_write_baseline_gives_no_phash_for_an_image_its_fingerprint_does_not_describe(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    written = write_baseline(store, record_of(make_image(1)), {"save_image:Ab.C": [png_of(make_image(2))]})
    (entry,) = json.loads(written.record.read_text())["outputs"]["save_image:Ab.C"]["images"]
    assert "imagehash_phash" not in entry


def test_write_baseline_with_preview_size_zero_writes_none_and_drops_an_old_one(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    write_baseline(store, record_of(make_image(1)), {"save_image:Ab.C": [png_of(make_image(1))]})
    assert store.preview_path(TEST_ID, "save_image:Ab.C", 0) is not None
    written = write_baseline(
        store, record_of(make_image(2)), {"save_image:Ab.C": [png_of(make_image(2))]}, preview_size=0
    )
    assert written.previews == [] and store.preview_path(TEST_ID, "save_image:Ab.C", 0) is None


def test_write_baseline_refuses_images_of_an_output_the_record_lacks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not outputs of the record"):
        write_baseline(BaselineStore(tmp_path), record_of(make_image(1)), {"other": [png_of(make_image(1))]})


def test_add_missing_previews_leaves_the_record_and_existing_previews_alone(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    images = [make_image(1), make_image(2)]
    record_file = store.save(record_of(*images))
    record_bytes = record_file.read_bytes()
    sources = {"save_image:Ab.C": [DecodedImage(images[0]), None]}

    added = add_missing_previews(store, TEST_ID, sources)

    assert added == [store.preview_path(TEST_ID, "save_image:Ab.C", 0)]
    assert store.preview_path(TEST_ID, "save_image:Ab.C", 1) is None  # no image to take it from
    assert record_file.read_bytes() == record_bytes
    assert add_missing_previews(store, TEST_ID, sources) == []  # it has one now
    assert add_missing_previews(store, "suite/test_look.py::test_other", sources) == []  # no record: nothing
    assert (
        add_missing_previews(store, TEST_ID, {"save_image:Ab.C": [None, DecodedImage(images[1])]}, preview_size=0) == []
    )


# -- the store keeps previews as part of their record ----------------------------------------------


def test_a_preview_in_the_other_format_replaces_the_old_one(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    noisy = make_image(7, size=(400, 400))
    write_baseline(store, record_of(noisy), {"save_image:Ab.C": [DecodedImage(noisy)]})
    assert store.preview_path(TEST_ID, "save_image:Ab.C", 0).name.endswith(".preview.jpg")
    write_baseline(store, record_of(smooth((64, 64))), {"save_image:Ab.C": [DecodedImage(smooth((64, 64)))]})
    previews = sorted(p.name for p in store.record_path(TEST_ID).parent.glob("*.preview.*"))
    assert len(previews) == 1 and previews[0].endswith(".preview.png")


def test_save_keeps_deletes_or_writes_each_preview_as_asked(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    images = [make_image(1), make_image(2), make_image(3)]
    write_baseline(store, record_of(*images), {"save_image:Ab.C": [DecodedImage(i) for i in images]})
    before = [store.preview_path(TEST_ID, "save_image:Ab.C", i).read_bytes() for i in range(3)]

    store.save(record_of(*images[:2]), previews={"save_image:Ab.C": [KEEP_PREVIEW, None]})

    assert store.preview_path(TEST_ID, "save_image:Ab.C", 0).read_bytes() == before[0]  # kept
    assert store.preview_path(TEST_ID, "save_image:Ab.C", 1) is None  # none wanted
    assert store.preview_path(TEST_ID, "save_image:Ab.C", 2) is None  # the record has no image 2 any more


def test_deleting_a_record_deletes_its_previews_and_only_its_own(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    image = make_image(1)
    for test_id in ("suite/test_look.py::t", "suite/test_look.py::t.x"):  # "t" is a prefix of "t.x"'s stem
        write_baseline(store, record_of(image, test_id=test_id), {"save_image:Ab.C": [DecodedImage(image)]})
    removed = store.delete("suite/test_look.py::t")
    assert sorted(p.name.rsplit(".", 4)[0] for p in removed) == ["t", "t"]  # the record and its one preview
    assert store.preview_path("suite/test_look.py::t.x", "save_image:Ab.C", 0) is not None
    assert store.stray_companions() == []


def test_a_preview_whose_record_is_gone_is_a_stray(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    write_baseline(store, make_record(TEST_ID), {"grid": [None, DecodedImage(make_image(201))]})
    preview = store.preview_path(TEST_ID, "grid", 1)
    store.record_path(TEST_ID).unlink()  # deleted by hand
    assert store.stray_companions() == [preview]


# -- the record's optional standard pHash -----------------------------------------------------------


def test_a_record_without_the_standard_phash_loads_and_writes_back_the_same_bytes() -> None:
    text = make_record(TEST_ID).to_json()
    assert "imagehash_phash" not in text
    assert BaselineRecord.from_json(text, source="old.json").to_json() == text


def test_a_record_with_the_standard_phash_keeps_it_per_image() -> None:
    record = make_record(TEST_ID)
    record.outputs["grid"].imagehash_phashes = [None, "c3d1a58e9a8c5c3e"]
    text = record.to_json()
    again = BaselineRecord.from_json(text, source="r.json")
    assert (
        again.outputs["grid"].imagehash_phash(0) is None
        and again.outputs["grid"].imagehash_phash(1) == "c3d1a58e9a8c5c3e"
    )
    assert again.outputs["save_image:AbC"].imagehash_phash(0) is None and again.to_json() == text


def test_a_bad_standard_phash_names_the_file_the_image_and_what_is_valid() -> None:
    data = json.loads(make_record(TEST_ID).to_json())
    data["outputs"]["grid"]["images"][1]["imagehash_phash"] = "not a hash"
    with pytest.raises(RecordError) as info:
        BaselineRecord.from_dict(data, source="bad.json")
    assert str(info.value) == (
        'bad.json: $.outputs["grid"].images[1].imagehash_phash: must be 16 lowercase hex digits '
        "(str(imagehash.phash(image))), found 'not a hash'"
    )
