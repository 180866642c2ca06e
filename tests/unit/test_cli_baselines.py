"""``pytest-invokeai hash``, ``compare`` and ``baselines list``, run in this process on real PNG files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import CliResult, run_cli
from PIL import Image, ImageFilter
from test_store import make_image, make_index_map, make_record

from pytest_invokeai.baseline.compare import Thresholds
from pytest_invokeai.baseline.fingerprint import Fingerprint, fingerprint
from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.write import write_baseline

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


def cli(*args: str | Path, cwd: Path | None = None) -> CliResult:
    """The command run in this process (tests/unit/test_cli.py starts the real one)."""
    return run_cli(*args, cwd=cwd)


def assert_clean_error(result: CliResult, *fragments: str) -> None:
    assert result.returncode == EXIT_USAGE, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """An image, the same pixels in another file, a heavy blur of it, an unrelated image, other sizes."""
    base = make_image(1, size=(96, 64)).filter(ImageFilter.GaussianBlur(1))
    paths = {name: tmp_path / f"{name}.png" for name in ("base", "copy", "blurred", "other", "small")}
    base.save(paths["base"])
    base.convert("RGBA").save(paths["copy"])  # another encoding, the same pixels
    base.filter(ImageFilter.GaussianBlur(4)).save(paths["blurred"])
    make_image(2, size=(96, 64)).save(paths["other"])
    base.resize((48, 32)).save(paths["small"])
    paths["webp"] = tmp_path / "base.webp"
    base.save(paths["webp"], lossless=True)
    return paths


# -- hash -------------------------------------------------------------------------------------


def test_hash_prints_the_fingerprint_a_baseline_stores(images: dict[str, Path]) -> None:
    result = cli("hash", images["base"], images["other"], "--json")
    assert result.returncode == EXIT_OK, result.stderr
    listed = json.loads(result.stdout)
    assert [item["path"] for item in listed] == [str(images["base"]), str(images["other"])]
    for item in listed:
        with Image.open(item["path"]) as image:
            assert Fingerprint.from_json(item["fingerprint"]) == fingerprint(image)


def test_hash_as_text_is_one_block_per_image(images: dict[str, Path]) -> None:
    result = cli("hash", images["base"], images["small"])
    assert result.returncode == EXIT_OK, result.stderr
    blocks = result.stdout.strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [str(images["base"]), str(images["small"])]
    for block, path in zip(blocks, (images["base"], images["small"]), strict=True):
        with Image.open(path) as image:
            stored = fingerprint(image)
        lines = block.splitlines()[1:]
        assert len(lines) == len(dataclasses.fields(Fingerprint))
        for line, field in zip(lines, dataclasses.fields(Fingerprint), strict=True):
            name, value = line.split(maxsplit=1)
            assert name == field.name
            assert value == str(getattr(stored, name)) or value.endswith("--json prints all)")


@pytest.mark.parametrize("content", [b"not an image", None])
def test_hash_of_a_bad_file_names_it(tmp_path: Path, images: dict[str, Path], content: bytes | None) -> None:
    bad = tmp_path / "bad.png"
    if content is not None:
        bad.write_bytes(content)
    result = cli("hash", images["base"], bad)
    assert_clean_error(result, str(bad))
    assert "not an image" in result.stderr if content else "No such file" in result.stderr


# -- compare two images -----------------------------------------------------------------------


def test_the_same_pixels_match(images: dict[str, Path]) -> None:
    result = cli("compare", images["base"], images["copy"], "--json")
    assert result.returncode == EXIT_OK, result.stderr
    report = json.loads(result.stdout)
    assert report["match"] is True and report["identical"] is True and report["failed"] == []
    assert set(report["distances"]) == set(Thresholds.names())
    assert all(distance == 0 for distance in report["distances"].values())
    assert report["thresholds"] == Thresholds().as_dict()


def test_a_lossless_webp_baseline_is_read(images: dict[str, Path]) -> None:
    result = cli("compare", images["webp"], images["base"], "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["identical"] is True


def test_a_different_image_is_a_mismatch_with_distances_and_explanation(images: dict[str, Path]) -> None:
    result = cli("compare", images["base"], images["other"], "--json")
    assert result.returncode == EXIT_MISMATCH, result.stderr
    report = json.loads(result.stdout)
    assert report["match"] is False and report["failed"]
    assert set(report["failed"]) <= set(report["distances"]) == set(Thresholds.names())
    for name in report["failed"]:
        assert report["distances"][name] > report["thresholds"][name]
    assert report["explanation"].startswith("MISMATCH")

    text = cli("compare", images["base"], images["other"])
    assert text.returncode == EXIT_MISMATCH
    assert f"baseline:   {images['base']}" in text.stdout and text.stdout.rstrip().endswith("verdict:    MISMATCH")
    for name in Thresholds.names():
        assert name in text.stdout


def test_a_size_change_is_a_mismatch(images: dict[str, Path]) -> None:
    result = cli("compare", images["base"], images["small"], "--json")
    assert result.returncode == EXIT_MISMATCH
    assert json.loads(result.stdout)["size_mismatch"] == "96x64 -> 48x32"


def test_threshold_overrides_change_the_verdict(images: dict[str, Path]) -> None:
    assert cli("compare", images["base"], images["blurred"]).returncode == EXIT_MISMATCH
    loose = [arg for name in Thresholds.names() for arg in ("--threshold", f"{name}=1000")]
    result = cli("compare", images["base"], images["blurred"], *loose, "--json")
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert json.loads(result.stdout)["thresholds"] == dict.fromkeys(Thresholds.names(), 1000)


def test_an_unknown_threshold_name_lists_the_valid_ones(images: dict[str, Path]) -> None:
    result = cli("compare", images["base"], images["copy"], "--threshold", "sharpnes=1")
    assert_clean_error(result, "sharpnes", *Thresholds.names())
    assert result.stdout == ""


@pytest.mark.parametrize("bad", ["nameonly", "=3", f"{Thresholds.names()[0]}=lots"])
def test_a_malformed_threshold_is_a_usage_error(images: dict[str, Path], bad: str) -> None:
    assert_clean_error(cli("compare", images["base"], images["copy"], "--threshold", bad), "--threshold")


def test_compare_with_an_unreadable_actual_image_names_it(tmp_path: Path, images: dict[str, Path]) -> None:
    missing = tmp_path / "missing.png"
    assert_clean_error(cli("compare", images["base"], missing), str(missing))


# -- compare with a baseline record -----------------------------------------------------------


@pytest.fixture
def record_file(tmp_path: Path, images: dict[str, Path]) -> Path:
    """A record with one single-image output and one output of two images (the second is images["base"])."""
    with Image.open(images["base"]) as base, Image.open(images["other"]) as other:
        record = BaselineRecord(
            test_id="suite/test_x.py::test_x",
            outputs={
                "save_image:AbC": OutputBaseline([fingerprint(other)], label="Result"),
                "grid": OutputBaseline([fingerprint(other), fingerprint(base)], label="Grid"),
            },
        )
    return BaselineStore(tmp_path / "baselines").save(record)


def test_a_record_with_several_outputs_needs_output_and_lists_them(record_file: Path, images: dict[str, Path]) -> None:
    result = cli("compare", record_file, images["base"])
    assert_clean_error(result, str(record_file), "--output", "save_image:AbC", "'Result'", "grid", "2 image(s)")
    result = cli("compare", record_file, images["base"], "--output", "nope")
    assert_clean_error(result, "no output 'nope'", "save_image:AbC", "grid")


def test_an_output_with_several_images_needs_image(record_file: Path, images: dict[str, Path]) -> None:
    assert_clean_error(
        cli("compare", record_file, images["base"], "--output", "grid"), "2 images", "--image N (0 to 1)"
    )
    assert_clean_error(cli("compare", record_file, images["base"], "--output", "grid", "--image", "2"), "no image 2")


def test_the_chosen_record_image_is_compared(record_file: Path, images: dict[str, Path]) -> None:
    result = cli("compare", record_file, images["base"], "--output", "grid", "--image", "1", "--json")
    assert result.returncode == EXIT_OK, result.stderr
    report = json.loads(result.stdout)
    assert report["identical"] is True
    assert report["baseline"] == {"path": str(record_file), "output": "grid", "image": 1}
    wrong = cli("compare", record_file, images["base"], "--output", "grid", "--image", "0")
    assert wrong.returncode == EXIT_MISMATCH
    assert "output grid, image 0" in wrong.stdout


def test_an_output_can_be_named_by_its_label(record_file: Path, images: dict[str, Path]) -> None:
    result = cli("compare", record_file, images["other"], "--output", "Result", "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["baseline"]["output"] == "save_image:AbC"


def test_a_single_image_record_needs_no_choice(tmp_path: Path, images: dict[str, Path]) -> None:
    with Image.open(images["base"]) as base:
        record = BaselineRecord("t.py::t", {"out": OutputBaseline([fingerprint(base)])})
    path = BaselineStore(tmp_path / "b").save(record)
    result = cli("compare", path, images["copy"])
    assert result.returncode == EXIT_OK, result.stderr
    assert "pixels identical" in result.stdout


def test_a_broken_record_names_the_file(tmp_path: Path, images: dict[str, Path]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "pytest-invokeai-baseline", "version": 1, "test_id": "t", "outputs": {"o": {}}}')
    assert_clean_error(cli("compare", broken, images["base"]), str(broken), '$.outputs["o"]')


def test_image_options_on_an_image_baseline_are_refused(images: dict[str, Path]) -> None:
    assert_clean_error(cli("compare", images["base"], images["copy"], "--image", "0"), "baseline record")


# -- baselines list ---------------------------------------------------------------------------


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    root = tmp_path / "project" / "baselines"
    store = BaselineStore(root)
    store.save(make_record("suite/test_a.py::test_one"))
    store.save(make_record("suite/deep/test_b.py::test_two[x=1]"))
    store.save_index_map("suite/noise.json", make_index_map())
    BaselineStore(root, profile="cuda").save(make_record("suite/test_a.py::test_cuda"))
    return root


def test_list_shows_every_record_and_index_map(store_dir: Path) -> None:
    result = cli("baselines", "list", "--dir", store_dir, "--json")
    assert result.returncode == EXIT_OK, result.stderr
    listing = json.loads(result.stdout)
    records = {item["test_id"]: item for item in listing["records"]}
    assert list(records) == ["suite/deep/test_b.py::test_two[x=1]", "suite/test_a.py::test_one"]
    one = records["suite/test_a.py::test_one"]
    assert Path(one["file"]) == store_dir / "suite" / "test_a.py" / "test_one.json"
    assert one["bytes"] == (store_dir / "suite" / "test_a.py" / "test_one.json").stat().st_size
    assert one["images"] == 3
    assert one["outputs"] == {"grid": {"label": "", "images": 2}, "save_image:AbC": {"label": "Result", "images": 1}}
    assert [(m["workflow"], Path(m["file"])) for m in listing["index_maps"]] == [
        ("suite/noise.json", store_dir / "_index_maps" / "suite" / "noise.json.json")
    ]
    assert listing["profiles"] == ["cuda"] and listing["profile"] is None and listing["errors"] == []


def test_list_as_text(store_dir: Path) -> None:
    result = cli("baselines", "list", "--dir", store_dir)
    assert result.returncode == EXIT_OK, result.stderr
    out = result.stdout
    assert "records in" in out and "suite/test_a.py::test_one" in out and "3 images" in out
    assert str(store_dir / "suite" / "test_a.py" / "test_one.json") in out and "bytes)" in out
    assert "index maps: 1" in out and "suite/noise.json" in out and "profiles: cuda" in out
    assert "test_cuda" not in out


def test_list_a_profile_shows_its_own_records(store_dir: Path) -> None:
    result = cli("baselines", "list", "--dir", store_dir, "--profile", "cuda", "--json")
    assert result.returncode == EXIT_OK, result.stderr
    listing = json.loads(result.stdout)
    assert [item["test_id"] for item in listing["records"]] == ["suite/test_a.py::test_cuda"]
    assert listing["profile"] == "cuda"


def test_list_defaults_to_the_baselines_folder_here(store_dir: Path) -> None:
    result = cli("baselines", "list", "--json", cwd=store_dir.parent)
    assert result.returncode == EXIT_OK, result.stderr
    assert len(json.loads(result.stdout)["records"]) == 2


def test_list_reports_a_broken_file_and_still_lists_the_others(store_dir: Path) -> None:
    broken = store_dir / "suite" / "test_a.py" / "test_broken.json"
    broken.write_text("{ not json")
    result = cli("baselines", "list", "--dir", store_dir, "--json")
    assert_clean_error(result, str(broken), "not valid JSON")
    assert len(json.loads(result.stdout)["records"]) == 2


def test_list_names_unreadable_records_and_index_maps_and_what_is_wrong(store_dir: Path) -> None:
    empty_map = store_dir / "_index_maps" / "suite" / "empty.json.json"
    empty_map.write_bytes(b"")
    misplaced = store_dir / "suite" / "test_a.py" / "test_three.json"
    misplaced.write_bytes((store_dir / "suite" / "test_a.py" / "test_one.json").read_bytes())
    result = cli("baselines", "list", "--dir", store_dir, "--json")
    assert result.returncode == EXIT_USAGE and "Traceback" not in result.stderr
    listing = json.loads(result.stdout)
    assert listing["unreadable"] == [
        {"file": str(empty_map), "problem": "is empty"},
        {
            "file": str(misplaced),
            "problem": "holds the record of test_id 'suite/test_a.py::test_one', whose record belongs in "
            f"{store_dir / 'suite' / 'test_a.py' / 'test_one.json'}",
        },
    ]
    assert [m["workflow"] for m in listing["index_maps"]] == ["suite/noise.json"]  # the good ones still listed
    assert len(listing["records"]) == 2
    assert f"{empty_map}: is empty" in result.stderr
    text = cli("baselines", "list", "--dir", store_dir).stdout
    assert "unreadable: 2" in text and f"  {empty_map}\n      is empty" in text


def test_list_errors(tmp_path: Path, store_dir: Path) -> None:
    assert_clean_error(cli("baselines", "list", "--dir", tmp_path / "nowhere"), str(tmp_path / "nowhere"), "--dir")
    assert_clean_error(cli("baselines", "list", "--dir", store_dir, "--profile", "../up"), "'../up'", "letters, digits")
    no_action = cli("baselines")
    assert no_action.returncode == EXIT_USAGE and "list" in no_action.stderr


def test_list_shows_each_records_previews_and_previews_whose_record_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "baselines"
    store = BaselineStore(root)
    record = make_record("suite/test_a.py::test_one")
    grid = [DecodedImage(make_image(101)), DecodedImage(make_image(201))]  # what make_record fingerprints
    written = write_baseline(store, record, {"grid": grid})
    stray = root / "suite" / "test_a.py" / "test_gone.grid.0.preview.png"
    stray.write_bytes(written.previews[0].read_bytes())

    listing = json.loads(cli("baselines", "list", "--dir", root, "--json").stdout)
    (item,) = listing["records"]
    assert [(Path(p["file"]), p["bytes"]) for p in item["previews"]] == [
        (path, path.stat().st_size) for path in written.previews
    ]
    assert listing["strays"] == [str(stray)]
    text = cli("baselines", "list", "--dir", root).stdout
    assert f"2 previews ({sum(p.stat().st_size for p in written.previews)} bytes)" in text
    assert "previews and PNG copies whose record is gone: 1" in text and str(stray) in text
