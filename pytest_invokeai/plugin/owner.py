"""The run's owner (the xdist controller, or the only process): cancels what the run queued on Ctrl-C."""

from __future__ import annotations

import pytest

from pytest_invokeai.local.shared_server import cancel_registered_queues, mark_stopped
from pytest_invokeai.run.state import RunState


class RunOwner:
    """The run's owner (the xdist controller, or the only process) cancels what the run queued on Ctrl-C.

    SIGINT may reach the controller alone (a CI runner, a wrapper script): its workers are then torn
    down without cancelling their queue items, so the owner stops the run and cancels them itself, at
    once, and once more at the very end for what a worker was sending meanwhile.
    """

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config, self.state = config, state

    def pytest_keyboard_interrupt(self) -> None:
        mark_stopped(self.state.run_dir)
        self.cancel_left()

    def cancel_left(self) -> None:
        failures = cancel_registered_queues(self.state.run_dir, self.state.settings.token, self.state.auth_for_cancel())
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        for line in failures:
            reporter.write_line(f"pytest-invokeai: {line}")
