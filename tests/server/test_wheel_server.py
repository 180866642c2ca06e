"""The package as a user gets it: ``python -m build`` makes an sdist and a wheel, ``twine check`` passes on both,
and the wheel, installed into a fresh virtual environment with no clone beside it, runs ``pytest`` on a copy of
``example_suite/`` with the managed server (the install command, the schema snapshot and the launcher come
with the wheel). The InvokeAI install under ~/.cache/pytest-invokeai (or $PYTEST_INVOKEAI_HOME) is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import require

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    # The user's environment, less this project's settings and whatever venv or path points at the clone.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_INVOKEAI_", "PYTEST_ADDOPTS"))}
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    if "PYTEST_INVOKEAI_HOME" in os.environ:  # where the shared InvokeAI install is: kept
        env["PYTEST_INVOKEAI_HOME"] = os.environ["PYTEST_INVOKEAI_HOME"]
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}:\n{(result.stdout + result.stderr)[-4000:]}"
    return result


def copy_sources(target: Path) -> None:
    """The files git tracks (or would): what a fresh clone holds, without the build's leftovers."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_the_wheel_runs_the_example_suite_from_a_fresh_environment(tmp_path: Path) -> None:
    from pytest_invokeai.local.install import installed_python

    require(installed_python() is not None, "the managed server needs the project's InvokeAI install")
    source, dist = tmp_path / "source", tmp_path / "dist"
    copy_sources(source)
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, source, cwd=tmp_path)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    run(sys.executable, "-m", "twine", "check", "--strict", *wheels, *sdists, cwd=tmp_path)
    names = zipfile.ZipFile(wheels[0]).namelist()
    for packaged in (
        "pytest_invokeai/server/install.py",
        "pytest_invokeai/workflow/data/invocation-schema.json",
        "pytest_invokeai/local/invokeai_side/launcher.py",
        "pytest_invokeai/local/invokeai_side/tiny_sd15.py",
        "pytest_invokeai/report/assets/report.js",
        "pytest_invokeai/report/assets/report.css",
        "pytest_invokeai/review/review.js",
    ):
        assert packaged in names, f"{packaged} is not in the wheel"

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)  # fresh: none of this environment's packages
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheels[0], cwd=tmp_path)

    project = tmp_path / "project"  # a user's project: the example suite, its baselines, no clone
    shutil.copytree(ROOT / "example_suite", project / "example_suite", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "baselines", project / "baselines")
    (project / "pytest.ini").write_text("[pytest]\n")
    where = run(python, "-c", "import pytest_invokeai; print(pytest_invokeai.__file__)", cwd=project).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    installed = run(python, "-m", "pytest_invokeai.server.install", cwd=project)
    assert "is installed in" in installed.stdout + installed.stderr  # the shared install is found, not redone
    result = run(python, "-m", "pytest", "example_suite", "-p", "no:cacheprovider", cwd=project)
    last_line = result.stdout.strip().splitlines()[-1]
    assert "20 passed, 1 skipped" in last_line, result.stdout[-3000:]
    assert (project / "invokeai-results" / "report.html").is_file()
