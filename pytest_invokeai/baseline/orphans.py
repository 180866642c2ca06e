"""Orphaned baselines: records and index maps that no collected test uses.

Only a run that collected everything it covers can say so: a run narrowed by ``-k``, ``-m``, node
ids, ``--lf``, ``--sw``, deselection or collection errors reports none (it would call every other
test's baseline an orphan). A run over some folders or files judges only the baselines of tests
under them, less what ``--ignore``/``--ignore-glob`` kept out. xdist is no obstacle: every worker
collects the whole suite. Orphans are only reported; ``pytest-invokeai baselines prune``
(``pytest --collect-only --invokeai-prune=delete``) removes them.

The same scan finds the files that cannot be used (empty, cut short, binary, another test's record):
they are listed as unreadable, never as orphans, so pruning never deletes one (its test may still be
there). A test whose cases could not be listed (a suite file or a matrix that failed to load) keeps
every baseline under its id: ``unlisted`` holds those test id prefixes.

The scan takes plain data; the pytest adapter (plugin/narrowing.py) works out from pytest's options
whether a run was narrowed and its :class:`RunScope`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_invokeai._util.keys import rootdir_key, workflow_key
from pytest_invokeai.baseline.store import (
    INDEX_MAPS_DIR,
    RECORD_SUFFIX,
    BaselineStore,
)


@dataclass(frozen=True)
class RunScope:
    """Where a run looked for tests, as plain paths: the run's arguments, less what it ignored.

    ``paths``: the folders and files the run covers (resolved). ``ignored``: paths kept out of
    collection (``--ignore``, resolved); ``ignore_globs``: patterns of absolute paths (``--ignore-glob``).
    """

    paths: tuple[Path, ...]
    ignored: tuple[Path, ...] = ()
    ignore_globs: tuple[str, ...] = ()

    def covers(self, path: Path) -> bool:
        """Whether a test file at ``path`` was in the run's reach: under its paths and not ignored."""
        return _inside(path, self.paths) and not self.ignores(path)

    def ignores(self, path: Path) -> bool:
        """Whether ``--ignore``/``--ignore-glob`` kept ``path`` from collection."""
        candidates = [path, *path.parents]
        return _inside(path, self.ignored) or any(
            fnmatch.fnmatch(str(c), g) for c in candidates for g in self.ignore_globs
        )

    @property
    def ignores_any(self) -> bool:
        return bool(self.ignored or self.ignore_globs)


def _inside(path: Path, scope: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in scope)


@dataclass
class RunScan:
    orphans: list[str] = field(default_factory=list)  # files (relative to the rootdir) no collected test uses
    unreadable: dict[str, str] = field(default_factory=dict)  # file (relative to the rootdir) -> what is wrong


def scan_run(
    store: BaselineStore,
    rootdir: Path,
    scope: RunScope,
    used_workflows: Iterable[Path],
    collected_ids: Iterable[str],
    unlisted: Iterable[str] = (),
) -> RunScan:
    """The orphans and the unreadable files among the baselines and index maps in the run's scope.

    ``collected_ids``: the test ids the run collected; ``unlisted``: test id prefixes of tests whose
    cases could not be listed (their baselines stay in use).
    """
    collected = set(collected_ids)
    prefixes = tuple(unlisted)
    orphans: list[Path] = []
    unreadable: dict[Path, str] = {}
    records = store.scan_records()
    for test_id, path in records.found.items():
        test_file = (rootdir / test_id.split("::")[0]).resolve()
        if not scope.covers(test_file):
            continue
        # Second runs in one test are stored as "<test id>::runN" (and named ones as "<test id>::<name>").
        if test_id in collected or test_id.startswith(prefixes) or any(test_id.startswith(c + "::") for c in collected):
            continue
        orphans.append(path)
    for path, problem in records.unreadable.items():
        if _in_scope_by_place(store, rootdir, scope, path):
            unreadable[path] = problem
    # A preview or PNG copy whose record is gone belongs to no test: an orphan (a record's own go with it).
    orphans += [path for path in store.stray_companions() if _in_scope_by_place(store, rootdir, scope, path)]
    used_maps = {workflow_key(w, rootdir) for w in used_workflows}
    # A workflow may serve tests anywhere in the project: only a run over the whole rootdir, ignoring
    # nothing (or a deleted workflow file) can call its index map unused; and only when every test's
    # workflow is known (a suite file that failed to load may be the one that uses it).
    whole_project = _inside(rootdir.resolve(), scope.paths) and not scope.ignores_any
    maps_judged = whole_project and not prefixes
    maps = store.scan_index_maps()
    for key, path in maps.found.items():
        if key in used_maps:
            continue
        if maps_judged or not (rootdir / key).exists():
            orphans.append(path)
    for path, problem in maps.unreadable.items():
        key = path.relative_to(store.root / INDEX_MAPS_DIR).as_posix().removesuffix(RECORD_SUFFIX)  # exact where safe
        if whole_project or key in used_maps:
            unreadable[path] = problem
    return RunScan(
        orphans=sorted(rootdir_key(p, rootdir) for p in orphans),
        unreadable={rootdir_key(p, rootdir): why for p, why in sorted(unreadable.items())},
    )


def _in_scope_by_place(store: BaselineStore, rootdir: Path, scope: RunScope, path: Path) -> bool:
    """Whether a store file whose test id is unknown lies in the run's scope: its folder names the test file
    (exactly, where no name needed escaping)."""
    test_file = rootdir.joinpath(*path.parent.relative_to(store.active_root).parts)
    return _inside(test_file.resolve(), scope.paths) and not scope.ignores(test_file)


UNREADABLE_RECORD_ADVICE = (
    "re-record it with --invokeai-update-baselines=changed (or all), which keeps the broken file as *.broken"
)
UNREADABLE_MAP_ADVICE = (
    "write a new index map with --invokeai-update-baselines=all or --invokeai-accept-drift once the tests' input indices "
    "are checked (the broken file is kept as *.broken)"
)


def unreadable_messages(unreadable: Mapping[str, str], replaced: Mapping[str, str]) -> list[tuple[str, str]]:
    """(file, what is wrong and what to do) for each unreadable file the run found and did not replace."""
    return [
        (
            name,
            f"{name}: {why}; {UNREADABLE_MAP_ADVICE if f'/{INDEX_MAPS_DIR}/' in f'/{name}' else UNREADABLE_RECORD_ADVICE}",
        )
        for name, why in sorted(unreadable.items())
        if name not in replaced
    ]


@dataclass(frozen=True)
class Pruned:
    """What ``--invokeai-prune`` removed (or, with ``dry_run``, would remove)."""

    dry_run: bool
    files: list[Path]


def prune(store: BaselineStore, orphans: Iterable[str], *, rootdir: Path, dry_run: bool) -> list[Path]:
    """Delete the orphaned files (a record with its PNG copies and previews); with ``dry_run`` only say what would go."""
    records = {path.resolve(): test_id for test_id, path in store.stored_test_ids().items()}
    removed: list[Path] = []
    for name in orphans:
        path = (rootdir / name).resolve()
        if dry_run:
            removed.append(path)
            removed += store.companions(path) if path in records else []
        elif path in records:
            removed += store.delete(records[path])
        elif path.exists():
            path.unlink()
            removed.append(path)
    return removed
