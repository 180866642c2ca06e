"""Orphaned baselines (pytest_invokeai.baseline.orphans), as plain Python.

The scan takes plain data (the store, the rootdir, a :class:`RunScope`, the used workflows);
``narrowed_by`` and ``run_scope`` (pytest_invokeai.plugin.narrowing) read a few attributes of pytest's
config: a stand-in with pytest's own defaults is enough, and one test checks the attribute names on a
real parsed config.
"""

from __future__ import annotations

import pytest

from pytest_invokeai.plugin.narrowing import narrowed_by

# -- narrowed_by ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ""),
        (["-k", "Radius"], "-k"),
        (["-m", "slow"], "-m"),
        (["--lf"], "--lf"),
        (["--lfnf=none"], ""),
        (["--sw"], "--sw"),
        (["--sw-skip"], "--sw"),
        (["test_a.py::test_x"], "node ids"),
        (["--splits", "2", "--group", "1"], "a shard: pytest-split group 1 of 2"),  # pytest-split's options
    ],
)
def test_narrowed_by_reads_the_attributes_pytest_sets(pytester, args, expected):
    assert narrowed_by(pytester.parseconfig(*args), 0) == expected


# -- scan_run: orphans ----------------------------------------------------------------------------


# -- prune ---------------------------------------------------------------------------------------


# -- unreadable files ----------------------------------------------------------------------------


# -- profiles -----------------------------------------------------------------------------------
