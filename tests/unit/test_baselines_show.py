"""``pytest-invokeai baselines show``: a record for a person, and git's textconv for readable baseline diffs.

The colours are solid ones whose sRGB hex is known by hand; the git test runs the real ``git diff`` in a
temporary repository set up as the README says (``.gitattributes`` plus ``diff.invokeai.textconv``).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import imagehash
import pytest
from helpers import run_cli
from PIL import Image

from pytest_invokeai.baseline.describe import lab_to_hex
from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.write import write_baseline

REPO = Path(__file__).parents[2]
TEST_ID = "suite/test_paint.py::test_paint[colour=red]"


def solid(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.new("RGB", size, rgb)


def record_of(image: Image.Image, *, version: str = "6.14.2") -> BaselineRecord:
    return BaselineRecord(
        test_id=TEST_ID,
        outputs={"save_image:Q1": OutputBaseline(images=[fingerprint(image)], label="Output")},
        invokeai_version=version,
        workflow="suite/paint.json",
        workflow_content_hash="sha256:feed",
        inputs=[
            {"index": 0, "name": "Colour", "value": {"r": 200, "g": 30, "b": 30}},
            {"index": 1, "name": "Seed", "value": 7},
        ],
        models={"tiny-sd15": "blake3:0011"},
    )


def write(store_root: Path, image: Image.Image, **record: str) -> Path:
    png = io.BytesIO()
    image.save(png, format="PNG")
    return write_baseline(
        BaselineStore(store_root), record_of(image, **record), {"save_image:Q1": [png.getvalue()]}
    ).record


@pytest.mark.parametrize(
    ("rgb", "hex_colour"),
    [((200, 30, 30), "#c81e1e"), ((128, 128, 128), "#808080"), ((0, 0, 0), "#000000"), ((255, 255, 255), "#ffffff")],
)
def test_the_mean_colour_reads_back_as_the_srgb_it_was_made_from(rgb, hex_colour) -> None:
    assert lab_to_hex(fingerprint(solid(rgb)).color) == hex_colour


def test_show_prints_every_fact_a_reviewer_needs(tmp_path: Path) -> None:
    record_file = write(tmp_path, solid((200, 30, 30)))
    result = run_cli("baselines", "show", record_file)
    assert result.returncode == 0, result.stderr
    expected_phash = str(imagehash.phash(solid((200, 30, 30))))
    lines = result.stdout.splitlines()
    assert lines[:10] == [
        f"test id: {TEST_ID}",
        "InvokeAI version: 6.14.2",
        "workflow: suite/paint.json",
        "workflow content hash: sha256:feed",
        "models:",
        "  tiny-sd15: blake3:0011",
        "inputs:",
        '  0 Colour: {"b": 30, "g": 30, "r": 200}',
        "  1 Seed: 7",
        "output save_image:Q1 (Output): 1 image",
    ]
    assert lines[10] == "  image 0: 64x48 RGB"
    assert lines[11].startswith("    mean colour: Lab ") and lines[11].endswith(", sRGB #c81e1e")
    assert lines[12].startswith("    sharpness: 0 0 0 (at 1/2, 1/4, 1/8")  # a flat colour has no edge
    assert lines[13] == f"    pHash (imagehash): {expected_phash}"
    assert lines[14].startswith("    pixels sha256: ") and len(lines) == 15
    assert str(record_file) not in result.stdout  # git hands temporary files: no name in the text


def test_show_json_is_the_same_facts_for_machines(tmp_path: Path) -> None:
    record_file = write(tmp_path, solid((128, 128, 128)))
    result = run_cli("baselines", "show", "--json", record_file)
    assert result.returncode == 0, result.stderr
    (shown,) = json.loads(result.stdout)
    assert shown["file"] == str(record_file) and shown["problem"] is None and shown["text"] is None
    (image,) = shown["record"]["outputs"][0]["images"]
    assert shown["record"]["test_id"] == TEST_ID and shown["record"]["inputs"][1] == {
        "index": 1,
        "name": "Seed",
        "value": 7,
    }
    assert (image["width"], image["height"], image["mode"], image["mean_srgb"]) == (64, 48, "RGB", "#808080")
    assert image["imagehash_phash"] == str(imagehash.phash(solid((128, 128, 128))))


def test_show_prints_an_index_map_or_a_broken_file_as_it_is_and_never_fails(tmp_path: Path) -> None:
    index_map = tmp_path / "map.json"
    index_map.write_text('{\n  "format": "pytest-invokeai index map",\n  "inputs": []\n}\n')
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "pytest-invokeai-baseline", "version": 1, "test_id": ')
    for path in (index_map, broken):
        result = run_cli("baselines", "show", path)
        assert (result.returncode, result.stdout) == (0, path.read_text())
    both = run_cli("baselines", "show", index_map, write(tmp_path / "b", solid((0, 0, 0))))
    assert both.returncode == 0 and f"==> {index_map} <==" in both.stdout and "sRGB #000000" in both.stdout
    (shown,) = json.loads(run_cli("baselines", "show", "--json", broken).stdout)
    assert shown["record"] is None and shown["text"] == broken.read_text() and "not valid JSON" in shown["problem"]


def test_the_real_command_writes_a_file_that_is_not_a_record_byte_for_byte(tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_bytes(b"\xff\xfe not text \x00 at all\r\n")
    out = subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", "baselines", "show", str(odd)], capture_output=True, check=True
    )
    assert out.stdout == odd.read_bytes()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_diff_of_a_baseline_reads_as_text(tmp_path: Path) -> None:
    """The repo's own .gitattributes line, and the textconv ./dev configures, in a repository of its own."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    command = Path(sys.executable).parent / "pytest-invokeai"
    git(repo, "config", "diff.invokeai.textconv", f"{command} baselines show")
    shutil.copy(REPO / ".gitattributes", repo / ".gitattributes")
    record_file = write(repo / "baselines", solid((128, 128, 128)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "record")

    write(repo / "baselines", solid((200, 30, 30)), version="6.15.0")  # re-recorded: another picture
    diff = git(repo, "diff")

    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert "-InvokeAI version: 6.14.2" in changed and "+InvokeAI version: 6.15.0" in changed
    assert any(line.startswith("-    mean colour:") and line.endswith("sRGB #808080") for line in changed)
    assert any(line.startswith("+    mean colour:") and line.endswith("sRGB #c81e1e") for line in changed)
    assert "base64" not in diff and '"layout"' not in diff  # no encoded fingerprint in sight
    assert "Binary files" in diff and ".preview.png" in diff  # the preview: an image diff on GitHub and GitLab
    assert record_file.relative_to(repo).as_posix() in diff
