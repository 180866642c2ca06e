"""How pytest's options narrowed a run (``-k``, ``-m``, ``--lf``, ``--sw``, node ids, a pytest-split shard,
deselection) and
which paths it covers (its arguments, less ``--ignore``/``--ignore-glob``), as plain data for the orphan
scan (baseline/orphans.py), which never sees pytest's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_invokeai.baseline.orphans import RunScope


def narrowed_by(config: pytest.Config, deselected: int, collection_errors: int = 0) -> str:
    """Why the collected tests are not all the tests under the run's paths ("" when they are).

    ``collection_errors``: test files that failed to collect hold tests too (their baselines are in use).
    """
    option = config.option
    reasons = [f"{collection_errors} collection error(s)"] if collection_errors else []
    # pytest-split's --splits N --group I: one CI job's part of the suite (its other parts run elsewhere).
    splits, group = getattr(option, "splits", None), getattr(option, "group", None)
    if splits and splits > 1 and group:
        reasons.append(f"a shard: pytest-split group {group} of {splits}")
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


def run_scope(config: pytest.Config) -> RunScope:
    """The paths the run covers and the ones it ignored, resolved against the invocation directory."""
    base = Path(config.invocation_params.dir)
    ignore_base = base.resolve()
    return RunScope(
        paths=tuple((base / str(arg).split("::")[0]).resolve() for arg in config.args),
        ignored=tuple((ignore_base / str(p)).resolve() for p in getattr(config.option, "ignore", None) or []),
        ignore_globs=tuple(str(ignore_base / str(g)) for g in getattr(config.option, "ignore_glob", None) or []),
    )
