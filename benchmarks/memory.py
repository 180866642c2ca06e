"""Peak memory of a process, and of plain pytest running trivial tests for comparison.

The peak RSS is ``ru_maxrss`` from ``wait4`` (kilobytes on Linux). It is taken by a tiny launcher
process, not by the benchmark itself: Linux carries the high-water mark of the memory a process had
before ``exec`` into its child's ``ru_maxrss``, so a child spawned straight from the benchmark (which
has numpy, httpx and the plugin loaded) would report at least the benchmark's own size. The
launcher, started with ``-S -I``, is a few MB, less than any pytest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PLAIN_TESTS = """\
import pytest

SEEDS = list(range({k}))


@pytest.mark.parametrize("seed", SEEDS, ids=[f"Seed={{s}}" for s in SEEDS])
def test_case(seed):
    assert seed >= 0
"""


LAUNCHER = """\
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(command: list[str], cwd: Path, log_path: Path, env: dict[str, str]) -> tuple[int, int]:
    """Run ``command`` (its first item an absolute path) with its output in ``log_path``: exit code, peak RSS in KiB."""
    rss_file = log_path.with_suffix(".rss")
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [sys.executable, "-S", "-I", "-c", LAUNCHER, str(rss_file), *command],
            cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    if not rss_file.exists():
        raise RuntimeError(f"the launcher of {command[0]} failed (exit {done.returncode}): see {log_path}")
    return done.returncode, int(rss_file.read_text())


def plain_pytest_rss(directory: Path, k: int, env: dict[str, str]) -> int:
    """Peak RSS (KiB) of plain pytest (no plugin) running ``k`` trivial parametrized tests."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text("[pytest]\n")
    (directory / "test_plain.py").write_text(PLAIN_TESTS.format(k=k))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:invokeai"]
    exit_code, peak = run_measured(command, directory, directory / "pytest.log", env)
    if exit_code != 0:
        raise RuntimeError(f"plain pytest with {k} tests failed (exit {exit_code}): see {directory / 'pytest.log'}")
    return peak
