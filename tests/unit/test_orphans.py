"""Orphaned baselines (pytest_invokeai.baseline.orphans), as plain Python.

The scan takes plain data (the store, the rootdir, a :class:`RunScope`, the used workflows);
``narrowed_by`` and ``run_scope`` (pytest_invokeai.plugin.narrowing) read a few attributes of pytest's
config: a stand-in with pytest's own defaults is enough, and one test checks the attribute names on a
real parsed config.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.baseline.orphans import (
    RunScope,
    prune,
    scan_run,
)
from pytest_invokeai.baseline.record import BaselineRecord, OutputBaseline
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.write import write_baseline
from pytest_invokeai.plugin.narrowing import narrowed_by, run_scope
from pytest_invokeai.workflow.drift import IndexMap
from pytest_invokeai.workflow.load import load_workflow

WORKFLOW = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"


def config(*args: str, invoked_in: Path = Path("."), **option) -> SimpleNamespace:
    """A stand-in for pytest.Config: pytest's defaults for the options read, ``args`` as given."""
    defaults = {
        "keyword": "",
        "markexpr": "",
        "lf": False,
        "last_failed_no_failures": "all",
        "stepwise": False,
        "stepwise_skip": False,
        "ignore": None,
        "ignore_glob": None,
    }
    return SimpleNamespace(
        option=SimpleNamespace(**{**defaults, **option}),
        args=list(args) or [str(invoked_in)],
        invocation_params=SimpleNamespace(dir=invoked_in),
    )


# -- narrowed_by ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "args", "deselected", "errors", "expected"),
    [
        ({}, ["tests"], 0, 0, ""),
        ({"keyword": "Radius"}, ["tests"], 0, 0, "-k"),
        ({"markexpr": "slow"}, ["tests"], 0, 0, "-m"),
        ({"lf": True}, ["tests"], 0, 0, "--lf"),
        ({"last_failed_no_failures": "none"}, ["tests"], 0, 0, ""),  # inert without --lf
        ({"stepwise": True}, ["tests"], 0, 0, "--sw"),
        ({"stepwise_skip": True}, ["tests"], 0, 0, "--sw"),
        ({}, ["tests/test_a.py::test_used"], 0, 0, "node ids"),
        ({}, ["tests"], 3, 0, "3 deselected"),
        ({"keyword": "x"}, ["tests"], 3, 0, "-k"),  # the deselection is -k's
        ({"keyword": "x", "markexpr": "y"}, ["t.py::a"], 0, 0, "-k, -m, node ids"),
        ({}, ["tests"], 0, 2, "2 collection error(s)"),
        # pytest-split deselects the other groups' tests: the shard is the reason, not the deselection
        ({"splits": 3, "group": 2}, ["tests"], 7, 0, "a shard: pytest-split group 2 of 3"),
        ({"splits": 1, "group": 1}, ["tests"], 0, 0, ""),  # one group is the whole suite
    ],
)
def test_narrowed_by_names_what_narrowed_the_run(option, args, deselected, errors, expected):
    assert narrowed_by(config(*args, **option), deselected, errors) == expected


# -- scan_run: orphans ----------------------------------------------------------------------------

RECORDS = [
    "tests/test_a.py::test_used",
    "tests/test_a.py::test_used::run2",  # a second run inside a collected test
    "tests/test_a.py::test_used2",  # not a run of test_used: its own (uncollected) test
    "tests/test_a.py::test_gone",
    "tests/sub/test_b.py::test_gone",
    "other/test_c.py::test_x",
]
COLLECTED = ["tests/test_a.py::test_used", "tests/sub/test_b.py::test_kept"]
RECORD_FILES = {
    "tests/test_a.py::test_used2": "baselines/tests/test_a.py/test_used2.json",
    "tests/test_a.py::test_gone": "baselines/tests/test_a.py/test_gone.json",
    "tests/sub/test_b.py::test_gone": "baselines/tests/sub/test_b.py/test_gone.json",
    "other/test_c.py::test_x": "baselines/other/test_c.py/test_x.json",
}
MAP_FILES = {
    "noise.json": "baselines/_index_maps/noise.json.json",  # used by a collected test
    "unused.json": "baselines/_index_maps/unused.json.json",  # the file exists, no test uses it
    "gone.json": "baselines/_index_maps/gone.json.json",  # the workflow file was deleted
}


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> SimpleNamespace:
    """A rootdir with records of RECORDS (each with one PNG copy) and the three index maps."""
    store = BaselineStore(tmp_path / "baselines")
    image = png((200, 30, 30))
    for test_id in RECORDS:
        record = BaselineRecord(test_id=test_id, outputs={"save": OutputBaseline(images=[fingerprint(image)])})
        store.save(record, images={"save": [image]})
    index_map = IndexMap.from_workflow(load_workflow(WORKFLOW))
    for key in MAP_FILES:
        store.save_index_map(key, index_map)
    for name in ("noise.json", "unused.json"):
        (tmp_path / name).write_bytes(WORKFLOW.read_bytes())
    for test_file in ("tests/test_a.py", "tests/sub/test_b.py", "other/test_c.py"):
        (tmp_path / test_file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / test_file).write_text("")
    return SimpleNamespace(store=store, rootdir=tmp_path, used_workflows={tmp_path / "noise.json"})


def orphans(project, *args: str, invoked_in: str = "", **option) -> list[str]:
    scope = run_scope(config(*args, invoked_in=project.rootdir / invoked_in, **option))
    return scan_run(project.store, project.rootdir, scope, project.used_workflows, COLLECTED).orphans


def scan_of(project, *args: str, unlisted: tuple[str, ...] = ()):
    scope = run_scope(config(*args, invoked_in=project.rootdir))
    return scan_run(project.store, project.rootdir, scope, project.used_workflows, COLLECTED, unlisted)


def test_a_whole_project_run_reports_every_unused_record_and_map(project):
    assert orphans(project) == sorted([*RECORD_FILES.values(), MAP_FILES["unused.json"], MAP_FILES["gone.json"]])


def test_a_run_over_a_folder_judges_only_the_records_under_it(project):
    under_tests = [
        RECORD_FILES[t]
        for t in ("tests/test_a.py::test_used2", "tests/test_a.py::test_gone", "tests/sub/test_b.py::test_gone")
    ]
    # Index maps: only the one whose workflow file is gone (tests elsewhere may use the others).
    assert orphans(project, "tests") == sorted([*under_tests, MAP_FILES["gone.json"]])
    assert orphans(project, "tests/sub") == sorted(
        [RECORD_FILES["tests/sub/test_b.py::test_gone"], MAP_FILES["gone.json"]]
    )
    assert orphans(project, "sub", invoked_in="tests") == orphans(
        project, "tests/sub"
    )  # relative to the invocation dir
    assert orphans(project, "tests/sub/test_b.py", "other") == sorted(
        [
            RECORD_FILES["tests/sub/test_b.py::test_gone"],
            RECORD_FILES["other/test_c.py::test_x"],
            MAP_FILES["gone.json"],
        ]
    )


def test_ignored_paths_are_outside_the_runs_scope(project):
    expected = sorted(
        [
            RECORD_FILES[t]
            for t in ("tests/test_a.py::test_used2", "tests/test_a.py::test_gone", "other/test_c.py::test_x")
        ]
        + [MAP_FILES["gone.json"]]  # something was ignored: not a whole-project run for index maps
    )
    assert orphans(project, ignore=["tests/sub"]) == expected
    assert orphans(project, ignore_glob=["tests/s*"]) == expected
    assert orphans(project, "sub", invoked_in="tests", ignore=["sub/test_b.py"]) == [MAP_FILES["gone.json"]]


def test_a_map_of_a_used_workflow_is_never_an_orphan(project):
    project.used_workflows = {project.rootdir / "noise.json", project.rootdir / "unused.json"}
    assert MAP_FILES["unused.json"] not in orphans(project)
    project.used_workflows = set()
    assert MAP_FILES["noise.json"] in orphans(project)


# -- prune ---------------------------------------------------------------------------------------


def test_prune_dry_run_deletes_nothing(project):
    found = orphans(project, "tests/sub")
    before = sorted(p for p in project.rootdir.rglob("*") if p.is_file())
    listed = prune(project.store, found, rootdir=project.rootdir, dry_run=True)
    assert sorted(p for p in project.rootdir.rglob("*") if p.is_file()) == before
    # It names what a real prune deletes: each record with the files that belong to it.
    assert sorted(listed) == sorted(prune(project.store, found, rootdir=project.rootdir, dry_run=False))


def test_previews_are_part_of_their_record_and_a_preview_without_one_is_an_orphan(project):
    base = project.rootdir / "baselines"
    image = DecodedImage.decode(png((200, 30, 30)))
    for test_id in ("tests/sub/test_b.py::test_gone", "tests/test_a.py::test_used"):
        record = BaselineRecord(test_id=test_id, outputs={"save": OutputBaseline(images=[fingerprint(image)])})
        write_baseline(project.store, record, {"save": [image]})
    stray = base / "tests" / "test_a.py" / "test_deleted.save.0.preview.jpg"  # its record was deleted by hand
    stray.write_bytes(b"\xff\xd8 a preview")

    found = orphans(project, "tests")
    assert "baselines/tests/test_a.py/test_deleted.save.0.preview.jpg" in found
    assert not [name for name in found if name.endswith(".preview.png")]  # those are part of a record
    assert "baselines/tests/test_a.py/test_used.save.0.preview.png" not in found
    assert not [name for name in orphans(project, "other") if "preview" in name]  # out of that run's scope

    removed = prune(project.store, found, rootdir=project.rootdir, dry_run=False)
    assert base / "tests" / "sub" / "test_b.py" / "test_gone.save.0.preview.png" in removed  # with its record
    assert stray in removed and not stray.exists()
    assert (base / "tests" / "test_a.py" / "test_used.save.0.preview.png").is_file()


def test_prune_deletes_records_with_their_png_copies_and_maps(project):
    base = project.rootdir / "baselines"
    found = orphans(project, "tests/sub")
    assert found == ["baselines/_index_maps/gone.json.json", "baselines/tests/sub/test_b.py/test_gone.json"]

    removed = prune(project.store, found, rootdir=project.rootdir, dry_run=False)

    assert sorted(removed) == sorted(
        [
            base / "_index_maps" / "gone.json.json",
            base / "tests" / "sub" / "test_b.py" / "test_gone.json",
            base / "tests" / "sub" / "test_b.py" / "test_gone.save.0.png",
        ]
    )
    assert not (base / "tests" / "sub").exists()  # emptied folders go too
    assert (base / "tests" / "test_a.py" / "test_gone.save.0.png").is_file()  # out of scope: untouched
    assert set(project.store.stored_test_ids()) == set(RECORDS) - {"tests/sub/test_b.py::test_gone"}
    assert set(project.store.stored_index_maps()) == {"noise.json", "unused.json"}


# -- unreadable files ----------------------------------------------------------------------------


def test_unreadable_files_are_listed_never_orphaned_so_never_pruned(project):
    base = project.rootdir / "baselines"
    (base / "tests" / "test_a.py" / "test_gone.json").write_bytes(b"")  # an uncollected test's record, broken
    (base / "_index_maps" / "unused.json.json").write_text("{")
    scan = scan_of(project)
    assert scan.unreadable == {
        "baselines/_index_maps/unused.json.json": "not valid JSON (line 1, column 2): Expecting property name enclosed in double quotes",
        "baselines/tests/test_a.py/test_gone.json": "is empty",
    }
    assert not set(scan.unreadable) & set(scan.orphans)
    assert RECORD_FILES["tests/test_a.py::test_used2"] in scan.orphans  # the scan went on
    removed = prune(project.store, scan.orphans, rootdir=project.rootdir, dry_run=False)
    assert all((project.rootdir / name).is_file() for name in scan.unreadable)
    assert not {project.rootdir / name for name in scan.unreadable} & set(removed)
    # Out of the run's scope: a record under other folders; a map of a workflow this run does not use.
    assert scan_of(project, "other").unreadable == {}


def test_a_test_whose_cases_could_not_be_listed_keeps_every_baseline_under_its_id(project):
    scan = scan_of(project, unlisted=("tests/test_a.py::",))  # e.g. a suite file that failed to load
    assert scan.orphans == sorted(
        [
            RECORD_FILES["tests/sub/test_b.py::test_gone"],
            RECORD_FILES["other/test_c.py::test_x"],
            MAP_FILES["gone.json"],
        ]
    )  # the unused map may be its workflow's: only the map of a deleted workflow is an orphan


# -- profiles -----------------------------------------------------------------------------------


def test_a_profile_run_judges_only_the_profiles_own_records(tmp_path: Path) -> None:
    """(Moved from the store's own orphan finder, which only tests used: the scan here is the one the run uses.)"""
    default, cpu = BaselineStore(tmp_path / "baselines"), BaselineStore(tmp_path / "baselines", profile="cpu")
    image = png((10, 10, 10))

    def save(store: BaselineStore, test_id: str) -> Path:
        return store.save(
            BaselineRecord(test_id=test_id, outputs={"save": OutputBaseline(images=[fingerprint(image)])})
        )

    save(default, "t.py::default_gone")  # the default store's: not this profile run's to judge
    cpu_gone = save(cpu, "t.py::cpu_gone")
    save(cpu, "t.py::kept")
    scan = scan_run(cpu, tmp_path, RunScope(paths=(tmp_path.resolve(),)), set(), ["t.py::kept"])
    assert scan.orphans == [cpu_gone.relative_to(tmp_path).as_posix()]
    assert scan.orphans[0].startswith("baselines/") and "cpu" in scan.orphans[0]


def test_the_scan_takes_plain_data_no_pytest_config(project):
    """The engine side of the scan needs no pytest object: a scope of plain paths is all it reads."""
    tests = (project.rootdir / "tests").resolve()
    scope = RunScope(paths=(tests,), ignored=(tests / "sub",))
    assert scan_run(project.store, project.rootdir, scope, project.used_workflows, COLLECTED).orphans == [
        MAP_FILES["gone.json"],  # its workflow file is gone: an orphan whatever the scope
        "baselines/tests/test_a.py/test_gone.json",
        "baselines/tests/test_a.py/test_used2.json",
    ]


def test_a_scope_covers_its_paths_less_what_was_ignored(tmp_path):
    scope = RunScope(
        paths=(tmp_path / "tests",),
        ignored=(tmp_path / "tests" / "slow",),
        ignore_globs=(str(tmp_path / "*" / "gen_*"),),
    )
    assert scope.covers(tmp_path / "tests" / "test_a.py")
    assert not scope.covers(tmp_path / "other" / "test_a.py")  # outside the run's paths
    assert not scope.covers(tmp_path / "tests" / "slow" / "test_b.py")  # --ignore
    assert not scope.covers(tmp_path / "tests" / "gen_cases" / "test_c.py")  # --ignore-glob, on a parent folder
    assert scope.ignores_any and not RunScope(paths=(tmp_path,)).ignores_any
