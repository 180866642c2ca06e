"""The baseline store: records on disk, PNG copies, profiles, index maps, orphans, update modes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import (
    BaselineStore,
    UnreadableBaseline,
    UnreadableIndexMap,
)
from pytest_invokeai.baseline.update import UpdateMode, accepts_drift, should_write
from pytest_invokeai.errors import BaselineError, InvokeAITestError
from pytest_invokeai.workflow.drift import IndexMap, MapEntry

NOISE_ID = "example_suite/test_noise.py::test_noise[seed=1]"
PORTABLE_NAME = re.compile(r"[A-Za-z0-9._=,+@\[\]-]+")
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def make_image(seed: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_record(test_id: str = NOISE_ID, *, seed: int = 1, version: str | None = "6.14.2") -> BaselineRecord:
    return BaselineRecord(
        test_id=test_id,
        outputs={
            "save_image:AbC": OutputBaseline(images=[fingerprint(make_image(seed))], label="Result"),
            "grid": OutputBaseline(images=[fingerprint(make_image(seed + 100)), fingerprint(make_image(seed + 200))]),
        },
        invokeai_version=version,
        workflow="example_suite/noise.json",
        workflow_content_hash="abc123",
        inputs=[{"index": 1, "name": "Seed", "value": seed}, {"index": 0, "name": "Width", "value": 64.5}],
        models={"sdxl-base": "blake3:0011"},
    )


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- records as JSON --------------------------------------------------------------------------


def test_record_json_is_sorted_indented_and_marked_with_format_and_version() -> None:
    text = make_record().to_json()
    assert text.endswith("}\n") and '\n  "format": "pytest-invokeai-baseline",' in text
    data = json.loads(text)
    assert data["format"] == "pytest-invokeai-baseline" and data["version"] == 1
    top_level_keys = list(json.loads(text, object_pairs_hook=lambda pairs: pairs))
    keys = [key for key, _ in top_level_keys]
    assert keys == sorted(keys)
    assert [item["index"] for item in data["inputs"]] == [0, 1]  # sorted by index, as written by hand: 1, 0


def test_record_survives_a_round_trip() -> None:
    record = make_record()
    again = BaselineRecord.from_json(record.to_json(), source="x.json")
    assert again.outputs == record.outputs
    assert again.outputs["grid"].images[1] == fingerprint(make_image(201))
    assert (again.test_id, again.workflow, again.models) == (
        NOISE_ID,
        "example_suite/noise.json",
        {"sdxl-base": "blake3:0011"},
    )
    assert again.inputs == [{"index": 0, "name": "Width", "value": 64.5}, {"index": 1, "name": "Seed", "value": 1}]


def test_saving_a_loaded_record_gives_the_same_bytes(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.save(make_record())
    first = path.read_bytes()
    store.save(store.load(NOISE_ID))
    assert path.read_bytes() == first
    os.utime(path, (0, 0))
    store.save(BaselineRecord.from_json(first, source=str(path)))
    assert path.read_bytes() == first


def good_record_data() -> dict:
    return json.loads(make_record().to_json())


def _set(path: tuple, value):  # a tiny editor of nested JSON for the cases below
    def edit(data: dict) -> dict:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return data

    return edit


def _drop(*path):
    def edit(data: dict) -> dict:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return data

    return edit


def _drop_first_fingerprint_field(data: dict) -> dict:
    image = data["outputs"]["grid"]["images"][1]
    del image[sorted(set(image) - {"version"})[0]]  # whichever fields the fingerprint has
    return data


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (_set(("format",), "something-else"), ["not a baseline record", '"format": "pytest-invokeai-baseline"']),
        (_set(("version",), 99), ["$.version", "99", "reads version 1", "newer"]),
        (
            _set(("version",), 0),
            ["$.version", "reads version 1", "re-record it with --invokeai-update-baselines=changed"],
        ),
        (_drop("outputs"), ["missing outputs", "valid keys"]),
        (_set(("thresholds",), {}), ["unknown thresholds", "valid keys"]),
        (_set(("test_id",), 7), ["$.test_id", "non-empty string"]),
        (_set(("outputs",), []), ["$.outputs", "object"]),
        (_set(("outputs", "grid", "images"), "x"), ['$.outputs["grid"].images', "list"]),
        (_drop_first_fingerprint_field, ['$.outputs["grid"].images[1]', "missing"]),
        (_set(("outputs", "grid", "images", 0, "version"), 999), ['$.outputs["grid"].images[0]', "999"]),
        (_set(("outputs", "grid", "label"), 3), ['$.outputs["grid"].label', "string"]),
        (_set(("inputs",), [{"name": "Seed"}]), ["$.inputs[0]", '"index"']),
        (_set(("models",), {"m": 1}), ["$.models", "hash strings"]),
        (_set(("workflow",), ["a"]), ["$.workflow", "string or null"]),
    ],
)
def test_hand_broken_records_are_errors_naming_the_file_and_the_place(
    tmp_path: Path, edit, fragments: list[str]
) -> None:
    store = BaselineStore(tmp_path)
    path = store.record_path(NOISE_ID)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(edit(good_record_data()), indent=2))
    with pytest.raises(BaselineError) as caught:
        store.load(NOISE_ID)
    message = str(caught.value)
    assert message.startswith(str(path) + ": ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b'{"format": "pytest-invokeai-baseline", "version": 1,\n  "test_id": ',
            "not valid JSON (line 2, column 14): Expecting value",
        ),
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b"\xff\xfe\x00garbage", "is not UTF-8 JSON text (binary data?)"),
        (b"[1, 2]", "not a baseline record"),
    ],
)
def test_unreadable_record_files_name_the_file_and_what_is_wrong_and_scans_go_on(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    store = BaselineStore(tmp_path)
    good = store.save(make_record("example_suite/test_noise.py::test_good"))
    path = store.record_path(NOISE_ID)
    path.write_bytes(content)
    with pytest.raises(UnreadableBaseline) as caught:
        store.load(NOISE_ID)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: {problem}")
    assert "re-record it with --invokeai-update-baselines=changed (or all)" in str(caught.value)
    assert f"{path.name}.broken" in str(caught.value)
    scan = store.scan_records()  # lists the broken file and goes on
    assert scan.found == {"example_suite/test_noise.py::test_good": good}
    assert list(scan.unreadable) == [path] and scan.unreadable[path].startswith(problem)
    assert store.stored_test_ids() == scan.found


def test_a_record_written_by_a_newer_version_is_not_unreadable_but_says_to_upgrade(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.save(make_record())
    path.write_text(path.read_text().replace('"version": 1', '"version": 2'))
    with pytest.raises(BaselineError, match="newer pytest-invokeai: upgrade") as caught:
        store.load(NOISE_ID)
    assert not isinstance(caught.value, UnreadableBaseline)  # an update mode must not replace it


def test_a_file_holding_another_tests_record_is_unreadable_and_never_overwritten_by_save(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.record_path(NOISE_ID)
    path.parent.mkdir(parents=True)
    other = "example_suite/test_noise.py::test_other"
    path.write_text(make_record(other).to_json())
    with pytest.raises(UnreadableBaseline) as caught:
        store.load(NOISE_ID)
    assert str(caught.value).startswith(f"{path}: holds the record of test_id '{other}', not '{NOISE_ID}'")
    assert store.scan_records().unreadable == {
        path: f"holds the record of test_id '{other}', whose record belongs in {store.record_path(other)}"
    }
    before = path.read_bytes()
    with pytest.raises(BaselineError, match="not overwriting"):
        store.save(make_record())
    assert path.read_bytes() == before


def test_two_test_ids_on_one_file_are_a_collision_not_a_broken_file(tmp_path: Path) -> None:
    # A case-insensitive file system maps TEST_NOISE and test_noise to one file; a symbolic link does the same here.
    store = BaselineStore(tmp_path)
    upper = "example_suite/test_noise.py::TEST_NOISE[seed=1]"
    path = store.save(make_record(upper))
    store.record_path(NOISE_ID).symlink_to(path)
    with pytest.raises(BaselineError, match="two test ids map to this file") as caught:
        store.load(NOISE_ID)
    assert not isinstance(caught.value, UnreadableBaseline)


def test_set_aside_keeps_the_bytes_and_never_overwrites_a_kept_file(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.record_path(NOISE_ID)
    path.parent.mkdir(parents=True)
    kept = []
    for content in (b"first", b"second", b"third"):
        path.write_bytes(content)
        kept.append(store.set_aside(path))
        assert not path.exists()
    assert [p.name for p in kept] == [f"{path.name}.broken", f"{path.name}.broken.1", f"{path.name}.broken.2"]
    assert [p.read_bytes() for p in kept] == [b"first", b"second", b"third"]
    assert store.scan_records().unreadable == {} and store.stored_test_ids() == {}  # kept files are not records


# -- where records go -------------------------------------------------------------------------


def test_layout_is_one_folder_per_test_file_and_readable_names(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    assert (
        store.record_path("suite/sub/test_x.py::test_plain")
        == tmp_path / "suite" / "sub" / "test_x.py" / "test_plain.json"
    )
    noise = store.record_path(NOISE_ID)
    assert noise.parent == tmp_path / "example_suite" / "test_noise.py"
    assert noise.name == "test_noise[seed=1].json"
    suite_case = store.record_path("example_suite/x.invokeai.toml::case-1")
    assert suite_case == tmp_path / "example_suite" / "x.invokeai.toml" / "case-1.json"
    assert store.record_path("loose-id") == tmp_path / "loose-id.json"  # no "::"


NASTY_IDS = [
    "../x",
    "../../etc/passwd::test_a",
    "/absolute/test_x.py::test_a",
    "C:/windows/test_x.py::test_a",
    "a/b:c",
    "a/b_c",
    "a/b/c",
    "a/b::c",
    "a//b.py::c",
    "CON",
    "x.py::CON",
    "x.py::con.txt",
    "NUL/test.py::t",
    "x.py::" + "long" * 200,
    "x.py::" + "long" * 200 + "!",
    "dir" * 120 + "/test_x.py::t",
    "ünï/cødé.py::tëst[ß]",
    "x.py::test[a\\b]",
    'x.py::test["quoted"<>|?*]',
    "x.py::.",
    "x.py::..",
    "x.py:: spaced ",
    "x.py::t\x00nul",
    "_profiles/x.py::t",
    "_index_maps",
]


def test_nasty_test_ids_stay_inside_the_root_with_portable_distinct_names(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    paths = [store.record_path(test_id) for test_id in NASTY_IDS]
    assert len(set(paths)) == len(NASTY_IDS)
    for test_id, path in zip(NASTY_IDS, paths, strict=True):
        relative = path.relative_to(tmp_path)  # raises if outside
        assert path.resolve().is_relative_to(tmp_path.resolve())
        for part in relative.parts:
            assert PORTABLE_NAME.fullmatch(part), (test_id, part)
            assert part not in (".", "..") and not part.startswith(".")
            assert part.split(".")[0].upper() not in WINDOWS_DEVICES, (test_id, part)
            assert len(part) <= 120
        assert relative.parts[0] not in ("_profiles", "_index_maps"), test_id


def test_nasty_test_ids_can_be_saved_loaded_listed_and_deleted(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    for seed, test_id in enumerate(NASTY_IDS):
        store.save(make_record(test_id, seed=seed), images={"save_image:AbC": [png_of(make_image(seed))]})
    assert set(store.stored_test_ids()) == set(NASTY_IDS)
    for seed, test_id in enumerate(NASTY_IDS):
        assert store.load(test_id).outputs["save_image:AbC"].images[0] == fingerprint(make_image(seed))
        assert store.image_path(test_id, "save_image:AbC", 0).read_bytes() == png_of(make_image(seed))
    for test_id in NASTY_IDS:
        assert store.delete(test_id)
    assert all_files(tmp_path) == []


# -- saving -----------------------------------------------------------------------------------


def test_save_leaves_only_the_record_and_its_pngs(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    pngs = {"save_image:AbC": [png_of(make_image(1))], "grid": [png_of(make_image(101)), png_of(make_image(201))]}
    path = store.save(make_record(), images=pngs)
    assert path == store.record_path(NOISE_ID)
    files = all_files(tmp_path)
    assert len(files) == 4 and not any(f.name.startswith(".") or f.suffix == ".tmp" for f in files)
    assert store.image_path(NOISE_ID, "grid", 1).read_bytes() == pngs["grid"][1]
    assert store.image_path(NOISE_ID, "grid", 2) is None
    assert store.image_path("other.py::t", "grid", 0) is None


def test_resaving_removes_stale_png_copies_but_not_a_neighbours(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    # "t" and "t.x" share a folder and "t.x..." starts with "t."; node "x.grid" has a dot too.
    neighbour = BaselineRecord("suite.py::t.x", {"grid": OutputBaseline([fingerprint(make_image(5))])})
    store.save(neighbour, images={"grid": [png_of(make_image(5))]})
    dotted = BaselineRecord("suite.py::t", {"x.grid": OutputBaseline([fingerprint(make_image(6))])})
    store.save(dotted, images={"x.grid": [png_of(make_image(6))]})
    store.save(make_record("suite.py::t"), images={"grid": [png_of(make_image(101)), png_of(make_image(201))]})
    store.save(make_record("suite.py::t"), images={"grid": [png_of(make_image(101))]})
    assert store.image_path("suite.py::t", "grid", 0) is not None
    assert store.image_path("suite.py::t", "grid", 1) is None
    assert store.image_path("suite.py::t", "x.grid", 0) is None
    assert store.image_path("suite.py::t.x", "grid", 0).read_bytes() == png_of(make_image(5))
    store.save(make_record("suite.py::t"))  # without images: every old copy is stale
    assert [f.name for f in all_files(tmp_path / "suite.py")] == ["t.json", "t.x.grid.0.png", "t.x.json"]


def test_images_for_a_node_the_record_lacks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        BaselineStore(tmp_path).save(make_record(), images={"nope": [b"png"]})


def test_a_failed_write_keeps_the_old_record_and_leaves_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    store = BaselineStore(tmp_path)
    path = store.save(make_record(version="old"))
    before = path.read_bytes()

    def failing_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(BaselineError, match=re.escape(str(path)) + ".*No space left"):
        store.save(make_record(version="new"))
    assert path.read_bytes() == before
    assert all_files(tmp_path) == [path]


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pytest_invokeai.baseline.fingerprint import Fingerprint
    from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
    from pytest_invokeai.baseline.store import BaselineStore

    root, test_id, writer, rounds, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
    fps = [Fingerprint.from_json(line) for line in Path(sys.argv[6]).read_text().splitlines()]
    png = Path(sys.argv[7]).read_bytes()
    store = BaselineStore(root)
    while not go.exists():
        time.sleep(0.005)
    for i in range(rounds):
        # A different size of record each round, so a torn write could not look complete.
        images = fps[: 1 + i % len(fps)]
        record = BaselineRecord(test_id, {"out": OutputBaseline(images, label=f"{writer}-{i}")}, invokeai_version=writer)
        store.save(record, images={"out": [png] * len(images)})
    """
)


def test_concurrent_writers_never_leave_a_torn_or_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "baselines"
    fps = [fingerprint(make_image(seed)) for seed in range(4)]
    (tmp_path / "fps.txt").write_text("\n".join(fp.to_json() for fp in fps))
    (tmp_path / "img.png").write_bytes(png_of(make_image(0)))
    go, rounds = tmp_path / "go", 25
    shared, writers = "suite/test_same.py::test_same", []
    for n in range(6):
        test_id = shared if n < 3 else f"suite/test_same.py::test_own_{n}"
        command = [
            sys.executable,
            "-c",
            WRITER,
            str(root),
            test_id,
            f"w{n}",
            str(rounds),
            str(go),
            str(tmp_path / "fps.txt"),
            str(tmp_path / "img.png"),
        ]
        writers.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True))
    store = BaselineStore(root)
    go.touch()
    reads = 0
    deadline = time.monotonic() + 120
    while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
        record = store.load(shared)  # must never raise: every file is complete
        if record is not None:
            reads += 1
            assert record.invokeai_version in ("w0", "w1", "w2")
            assert len(record.outputs["out"].images) in (1, 2, 3, 4)
    for writer in writers:
        _, stderr = writer.communicate(timeout=60)
        assert writer.returncode == 0, stderr
    assert reads > 0
    assert not [f for f in all_files(root) if f.name.startswith(".") or f.suffix == ".tmp"]
    own_ids = {f"suite/test_same.py::test_own_{n}": f"w{n}" for n in range(3, 6)}
    assert set(store.stored_test_ids()) == {shared, *own_ids}
    assert store.load(shared).invokeai_version in ("w0", "w1", "w2")
    last_count = 1 + (rounds - 1) % len(fps)
    for test_id, writer_name in own_ids.items():
        record = store.load(test_id)
        assert record.outputs["out"].label == f"{writer_name}-{rounds - 1}"
        assert len(record.outputs["out"].images) == last_count
        copies = [store.image_path(test_id, "out", i) is not None for i in range(len(fps) + 1)]
        assert copies == [i < last_count for i in range(len(fps) + 1)]


# -- profiles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "../x", "a/b", "CON", " cuda", ".hidden", "cuda_", "ü", "x" * 101])
def test_bad_profile_names_say_what_is_valid(tmp_path: Path, name: str) -> None:
    with pytest.raises(BaselineError, match=r"letters, digits, '.', '_' and '-'"):
        BaselineStore(tmp_path, profile=name)


def test_a_profile_reads_its_own_records_then_the_default_ones_and_writes_its_own(tmp_path: Path) -> None:
    default, cuda = BaselineStore(tmp_path), BaselineStore(tmp_path, profile="cuda-fp16")
    shared_path = default.save(make_record("suite.py::shared", version="default"))
    only_default = default.save(make_record("suite.py::only_default", version="default"))
    own_path = cuda.save(make_record("suite.py::shared", version="cuda"))
    assert own_path == tmp_path / "_profiles" / "cuda-fp16" / "suite.py" / "shared.json"
    assert (
        cuda.record_path("suite.py::only_default")
        == tmp_path / "_profiles" / "cuda-fp16" / "suite.py" / "only_default.json"
    )

    assert cuda.find("suite.py::shared") == own_path and cuda.load("suite.py::shared").invokeai_version == "cuda"
    assert cuda.find("suite.py::only_default") == only_default
    assert cuda.load("suite.py::only_default").invokeai_version == "default"
    assert (
        default.load("suite.py::shared").invokeai_version == "default"
        and default.find("suite.py::shared") == shared_path
    )
    assert cuda.find("suite.py::nowhere") is None and cuda.load("suite.py::nowhere") is None

    assert cuda.stored_test_ids() == {"suite.py::shared": own_path}
    assert default.stored_test_ids() == {"suite.py::shared": shared_path, "suite.py::only_default": only_default}
    assert default.profiles() == ["cuda-fp16"]


def test_visible_test_ids_are_what_a_lookup_finds_profile_first_broken_files_left_out(tmp_path: Path) -> None:
    default, cuda = BaselineStore(tmp_path), BaselineStore(tmp_path, profile="cuda-fp16")
    default.save(make_record("suite.py::shared", version="default"))
    only_default = default.save(make_record("suite.py::only_default", version="default"))
    own_path = cuda.save(make_record("suite.py::shared", version="cuda"))
    broken = tmp_path / "suite.py" / "broken.json"
    broken.write_text("{not json")

    assert cuda.visible_test_ids() == {"suite.py::shared": own_path, "suite.py::only_default": only_default}
    assert set(default.visible_test_ids()) == {"suite.py::shared", "suite.py::only_default"}
    assert list(default.scan_records().unreadable) == [broken]  # the scan still names it


def test_a_profiles_png_copies_come_with_the_record_it_reads(tmp_path: Path) -> None:
    default, cpu = BaselineStore(tmp_path), BaselineStore(tmp_path, profile="cpu")
    default.save(make_record("t.py::a"), images={"grid": [b"default-a"]})
    default.save(make_record("t.py::b"), images={"grid": [b"default-b"]})
    cpu.save(make_record("t.py::b"), images={"grid": [b"cpu-b"]})
    assert cpu.image_path("t.py::a", "grid", 0).read_bytes() == b"default-a"
    assert cpu.image_path("t.py::b", "grid", 0).read_bytes() == b"cpu-b"


def test_delete_removes_the_active_stores_files_and_empty_folders_only(tmp_path: Path) -> None:
    default, cpu = BaselineStore(tmp_path), BaselineStore(tmp_path, profile="cpu")
    default_path = default.save(make_record("deep/er/t.py::a"), images={"grid": [b"1", b"2"]})
    cpu_path = cpu.save(make_record("deep/er/t.py::a"), images={"grid": [b"3"]})
    cpu_png = cpu.image_path("deep/er/t.py::a", "grid", 0)
    assert sorted(cpu.delete("deep/er/t.py::a")) == sorted([cpu_path, cpu_png])
    assert not (tmp_path / "_profiles" / "cpu" / "deep").exists()
    assert cpu.delete("deep/er/t.py::a") == []
    assert cpu.find("deep/er/t.py::a") == default_path  # falls back again
    assert len(default.delete("deep/er/t.py::a")) == 3
    assert not (tmp_path / "deep").exists() and tmp_path.exists()


# -- index maps -------------------------------------------------------------------------------


def make_index_map(name: str = "noise") -> IndexMap:
    entry = MapEntry(
        index=0,
        identity="noise:1.seed",
        node_id="noise:1",
        field_name="seed",
        node_type="noise",
        display_name="Seed",
        label="",
        kind="integer",
    )
    return IndexMap(workflow_name=name, inputs=(entry,), content_hash="c0ffee")


def test_index_maps_live_per_workflow_in_the_default_store(tmp_path: Path) -> None:
    cuda = BaselineStore(tmp_path, profile="cuda")
    path = cuda.save_index_map("example_suite/noise.json", make_index_map())
    assert path == tmp_path / "_index_maps" / "example_suite" / "noise.json.json"
    assert BaselineStore(tmp_path).load_index_map("example_suite/noise.json") == make_index_map()
    assert IndexMap.load(path) == make_index_map()  # still a plain index map file for 'drift check'
    assert cuda.load_index_map("example_suite/other.json") is None
    assert cuda.stored_test_ids() == {} and BaselineStore(tmp_path).stored_test_ids() == {}
    assert not [f for f in all_files(tmp_path) if f.suffix == ".tmp"]


def test_stored_index_maps_give_back_the_workflow_keys_even_for_unsafe_paths(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    keys = ["example_suite/noise.json", "../outside/wf:1.json", "ünï code.json"]
    paths = {key: store.save_index_map(key, make_index_map(key)) for key in keys}
    assert store.stored_index_maps() == paths
    for key, path in paths.items():
        assert path.resolve().is_relative_to((tmp_path / "_index_maps").resolve())
        assert store.load_index_map(key).workflow_name == key


def test_a_corrupt_index_map_is_an_error_naming_the_file(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.index_map_path("wf.json")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "pytest-invokeai index map", "format_version": 1, "inputs": [{"index": -1}]}')
    with pytest.raises(InvokeAITestError, match=re.escape(str(path)) + r".*\$\.inputs\[0\]"):
        store.load_index_map("wf.json")


def test_unreadable_index_maps_are_named_by_the_scan_and_left_out_of_the_good_ones(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    good = store.save_index_map("good.json", make_index_map())
    empty, cut = store.index_map_path("empty.json"), store.index_map_path("cut.json")
    empty.write_bytes(b"")
    cut.write_bytes(good.read_bytes()[:40])
    with pytest.raises(UnreadableIndexMap) as caught:
        store.load_index_map("empty.json")
    assert caught.value.path == empty and str(caught.value) == f"{empty}: is empty"
    scan = store.scan_index_maps()
    assert scan.found == {"good.json": good} == store.stored_index_maps()
    assert scan.unreadable[empty] == "is empty"
    assert scan.unreadable[cut].startswith("not valid JSON (line ")


def test_workers_meeting_one_unreadable_map_replace_it_once(tmp_path: Path) -> None:
    import threading

    store = BaselineStore(tmp_path)
    path = store.index_map_path("wf.json")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00broken")
    start = threading.Barrier(6)
    kept: list[Path | None] = []

    def worker() -> None:
        start.wait()
        kept.append(BaselineStore(tmp_path).replace_unreadable_index_map("wf.json", make_index_map()))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kept.count(None) == 5 and path.with_name(path.name + ".broken") in kept
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".broken"]
    assert (path.parent / (path.name + ".broken")).read_bytes() == b"\x00broken"
    assert store.load_index_map("wf.json") == make_index_map()


# -- update modes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "exists", "matched", "expected"),
    [
        ("none", False, None, False),
        ("none", True, False, False),
        ("none", True, True, False),
        ("missing", False, None, True),
        ("missing", True, False, False),
        ("missing", True, True, False),
        ("changed", False, None, True),
        ("changed", True, False, True),
        ("changed", True, True, False),
        ("changed", True, None, False),
        ("all", False, None, True),
        ("all", True, False, True),
        ("all", True, True, True),
    ],
)
def test_when_each_update_mode_writes(mode: str, exists: bool, matched: bool | None, expected: bool) -> None:
    assert should_write(UpdateMode.parse(mode), exists=exists, matched=matched) is expected


@pytest.mark.parametrize(
    ("mode", "flag", "expected"),
    [
        ("none", False, False),
        ("missing", False, False),
        ("changed", False, False),
        ("all", False, True),
        ("none", True, True),
        ("missing", True, True),
        ("changed", True, True),
        ("all", True, True),
    ],
)
def test_only_mode_all_or_the_flag_accepts_drift(mode: str, flag: bool, expected: bool) -> None:
    assert accepts_drift(UpdateMode.parse(mode), accept_drift_flag=flag) is expected


def test_update_modes_parse_loosely_and_reject_unknown_text() -> None:
    assert UpdateMode.parse(" Changed ") is UpdateMode.CHANGED and UpdateMode.parse("ALL") is UpdateMode.ALL
    assert UpdateMode("missing") is UpdateMode.MISSING and UpdateMode.MISSING == "missing"
    with pytest.raises(ValueError, match=r"'everything'.*valid modes: none, missing, changed, all"):
        UpdateMode.parse("everything")


def test_preview_path_finds_the_png_or_jpeg_preview_beside_the_record(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    record_file = store.save(make_record())
    stem = record_file.name[: -len(".json")]
    assert store.preview_path(NOISE_ID, "grid", 0) is None
    jpeg = record_file.with_name(f"{stem}.grid.0.preview.jpg")
    jpeg.write_bytes(b"\xff\xd8 a preview")
    png = record_file.with_name(f"{stem}.grid.1.preview.png")
    png.write_bytes(b"\x89PNG a preview")
    assert store.preview_path(NOISE_ID, "grid", 0) == jpeg
    assert store.preview_path(NOISE_ID, "grid", 1) == png
    assert store.preview_path(NOISE_ID, "grid", 2) is None
    assert store.preview_path("elsewhere.py::test_x", "grid", 1) is None
