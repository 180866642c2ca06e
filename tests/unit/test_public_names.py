"""What the README tells users to call stays where it says, whatever the package's layout."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def test_the_python_api_the_readme_shows_is_importable() -> None:
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.server.session import GenerationSession
    from pytest_invokeai.workflow.load import load_workflow

    assert (InvokeAIClient.__name__, GenerationSession.__name__, load_workflow.__name__) == (
        "InvokeAIClient",
        "GenerationSession",
        "load_workflow",
    )


def test_the_install_command_keeps_its_module_path() -> None:
    # `python -m pytest_invokeai.server.install --help` is the command the README and ./dev run.
    result = subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.server.install", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_the_pytest_plugin_and_the_command_are_registered_entry_points() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert plugins.get("invokeai") == "pytest_invokeai.plugin"
    assert scripts.get("pytest-invokeai") == "pytest_invokeai.cli:main"
