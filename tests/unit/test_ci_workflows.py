"""The CI workflow files are valid GitHub Actions workflows, and the README shows them as they are.

Each file is checked against GitHub's own workflow schema with ``check-jsonschema --builtin-schema
vendor.github-workflows`` (the schema ships inside the package: no network), so a workflow that GitHub
would refuse fails here first; the README's CI section must hold each file's exact text.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
README_WORKFLOWS = (".github/workflows/test.yml", "docs/ci/gpu.yml", "docs/ci/shards.yml")
ALL_WORKFLOWS = [*WORKFLOWS, *(REPO / name for name in README_WORKFLOWS[1:])]


def check_workflows(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_repository_has_its_test_and_release_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {"test.yml", "release.yml"}


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_workflow_file_is_valid_for_github(path: Path) -> None:
    result = check_workflows(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_refuses_a_workflow_github_would_refuse(tmp_path: Path) -> None:
    """The validation is not a formality: a job without runs-on, or a misspelt key, fails it."""
    broken = (REPO / ".github" / "workflows" / "test.yml").read_text().replace("runs-on:", "runs_on:", 1)
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    result = check_workflows(path)
    assert result.returncode == 1
    assert "runs_on" in result.stdout or "runs-on" in result.stdout, result.stdout


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("name", README_WORKFLOWS)
def test_readme_shows_the_workflow_file_as_it_is(name: str) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## In CI (GitHub Actions)") :]
    assert (REPO / name).read_text() in yaml_blocks(section), f"README's CI section does not show {name} as it is"


def test_the_release_workflow_publishes_only_a_tag_with_trusted_publishing() -> None:
    release = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert 'tags: ["v*"]' in release
    assert "id-token: write" in release
    assert "pypa/gh-action-pypi-publish" in release
    assert "password" not in release  # trusted publishing: no token in the repository's secrets
    assert "twine check --strict" in release
