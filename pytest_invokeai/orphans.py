"""Orphaned baselines: records and index maps that no collected test uses.

Only a run that collected everything it covers can say so: a run narrowed by ``-k``, ``-m``, node
ids, ``--lf``, ``--sw``, deselection or collection errors reports none (it would call every other
test's baseline an orphan). A run over some folders or files judges only the baselines of tests
under them, less what ``--ignore``/``--ignore-glob`` kept out. xdist is no obstacle: every worker
collects the whole suite. Orphans are only reported; ``pytest-invokeai baselines prune``
(``pytest --collect-only --invokeai-prune=delete``) removes them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .baseline.store import BaselineStore
from .gate import workflow_key


def narrowed_by(config: Any, deselected: int, collection_errors: int = 0) -> str:
    """Why the collected tests are not all the tests under the run's paths ("" when they are).

    ``collection_errors``: test files that failed to collect hold tests too (their baselines are in use).
    """
    option = config.option
    reasons = [f"{collection_errors} collection error(s)"] if collection_errors else []
    if getattr(option, "keyword", ""):
        reasons.append("-k")
    if getattr(option, "markexpr", ""):
        reasons.append("-m")
    # (--lfnf=none alone narrows nothing: without --lf or --ff it is inert, with --ff it deselects.)
    if getattr(option, "lf", False):
        reasons.append("--lf")
    if getattr(option, "stepwise", False) or getattr(option, "stepwise_skip", False):
        reasons.append("--sw")
    if any("::" in str(arg) for arg in config.args):
        reasons.append("node ids")
    if deselected and not reasons:
        reasons.append(f"{deselected} deselected")
    return ", ".join(reasons)


def _scope(config: Any) -> list[Path]:
    base = Path(config.invocation_params.dir)
    return [(base / str(arg).split("::")[0]).resolve() for arg in config.args]


def _inside(path: Path, scope: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in scope)


def _ignored(path: Path, config: Any) -> bool:
    """Whether ``--ignore``/``--ignore-glob`` (relative to the invocation directory) kept ``path`` from collection."""
    base = Path(config.invocation_params.dir).resolve()
    ignored = [(base / str(p)).resolve() for p in getattr(config.option, "ignore", None) or []]
    globs = [str(base / str(g)) for g in getattr(config.option, "ignore_glob", None) or []]
    candidates = [path, *path.parents]
    return _inside(path, ignored) or any(fnmatch.fnmatch(str(c), g) for c in candidates for g in globs)


def _ignores_any(config: Any) -> bool:
    return bool(getattr(config.option, "ignore", None) or getattr(config.option, "ignore_glob", None))


def find_run_orphans(state: Any, config: Any, collected_ids: Iterable[str]) -> list[str]:
    """Files (relative to the rootdir) of baselines and index maps in the run's scope that nothing uses."""
    store: BaselineStore = state.store
    rootdir: Path = state.rootdir
    scope = _scope(config)
    collected = set(collected_ids)
    orphans: list[Path] = []
    for test_id, path in store.stored_test_ids().items():
        test_file = (rootdir / test_id.split("::")[0]).resolve()
        if not _inside(test_file, scope) or _ignored(test_file, config):
            continue
        # Second runs in one test are stored as "<test id>::runN" (and named ones as "<test id>::<name>").
        if test_id in collected or any(test_id.startswith(c + "::") for c in collected):
            continue
        orphans.append(path)
    used_maps = {workflow_key(w, rootdir) for w in state.used_workflows}
    # A workflow may serve tests anywhere in the project: only a run over the whole rootdir, ignoring
    # nothing (or a deleted workflow file) can call its index map unused.
    whole_project = _inside(rootdir.resolve(), scope) and not _ignores_any(config)
    for key, path in store.stored_index_maps().items():
        if key in used_maps:
            continue
        if whole_project or not (rootdir / key).exists():
            orphans.append(path)
    return sorted(_relative(p, rootdir) for p in orphans)


def prune(store: BaselineStore, orphans: Iterable[str], *, rootdir: Path, dry_run: bool) -> list[Path]:
    """Delete the orphaned files (a record with its PNG copies); with ``dry_run`` only say what would go."""
    records = {path.resolve(): test_id for test_id, path in store.stored_test_ids().items()}
    removed: list[Path] = []
    for name in orphans:
        path = (rootdir / name).resolve()
        if dry_run:
            removed.append(path)
        elif path in records:
            removed += store.delete(records[path])
        elif path.exists():
            path.unlink()
            removed.append(path)
    return removed


def _relative(path: Path, rootdir: Path) -> str:
    try:
        return path.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
