"""The one way files are named relative to the rootdir (records, index maps, listings, recall commands)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from pytest_invokeai._util.keys import relative_key, rootdir_key, workflow_key


def test_a_file_inside_the_rootdir_is_named_relative_to_it(tmp_path: Path) -> None:
    assert rootdir_key(tmp_path / "suite" / "wf" / "noise.json", tmp_path) == "suite/wf/noise.json"
    assert rootdir_key(str(tmp_path / "a.json"), str(tmp_path)) == "a.json"


def test_a_file_outside_the_rootdir_is_named_by_its_absolute_resolved_path(tmp_path: Path) -> None:
    root, outside = tmp_path / "project", tmp_path / "shared" / "flux.json"
    assert rootdir_key(outside, root) == outside.resolve().as_posix()
    assert rootdir_key(root / ".." / "shared" / "flux.json", root) == outside.resolve().as_posix()  # ".." resolved


def test_symlinks_are_resolved_on_both_sides(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "suite").mkdir(parents=True)
    (real / "suite" / "wf.json").write_text("{}")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    # a rootdir reached through a symlink and a file named through the real path (and the other way round)
    assert rootdir_key(real / "suite" / "wf.json", link) == "suite/wf.json"
    assert rootdir_key(link / "suite" / "wf.json", real) == "suite/wf.json"
    # a file linked into the rootdir from elsewhere is named where it really is
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    (real / "suite" / "linked.json").symlink_to(elsewhere)
    assert rootdir_key(real / "suite" / "linked.json", real) == elsewhere.resolve().as_posix()


def test_windows_paths_are_named_with_forward_slashes() -> None:
    root = PureWindowsPath(r"C:\work\project")
    assert relative_key(PureWindowsPath(r"C:\work\project\suite\wf\noise.json"), root) == "suite/wf/noise.json"
    assert relative_key(PureWindowsPath(r"D:\shared\flux.json"), root) == "D:/shared/flux.json"
    assert relative_key(PurePosixPath("/work/project/suite/a.json"), PurePosixPath("/work/project")) == "suite/a.json"


def test_the_workflow_key_outside_the_rootdir_has_no_leading_slash(tmp_path: Path) -> None:
    """The store makes folders of the key's segments: an absolute key would start with an empty one."""
    assert workflow_key(tmp_path / "suite" / "noise.json", tmp_path) == "suite/noise.json"
    assert workflow_key(Path("/elsewhere/noise.json"), tmp_path / "project") == "elsewhere/noise.json"


@pytest.mark.skipif(os.name == "nt", reason="a posix absolute path")
def test_the_root_itself_is_named_dot(tmp_path: Path) -> None:
    assert rootdir_key(tmp_path, tmp_path) == "."
