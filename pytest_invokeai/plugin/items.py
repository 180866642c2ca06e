"""Suite files as pytest items: ``*.invokeai.toml`` is collected, each case is a test.

A suite file that cannot be used (invalid TOML, an unknown key, a broken workflow) becomes one test
named after the file that fails with what is wrong, rather than a collection error: pytest stops the
whole run at a collection error, and one broken file must not keep the rest of the suite from running.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# The types in Item.repr_failure's signature, which pytest does not export.
from _pytest._code.code import TerminalRepr, TracebackStyle

from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.cases.suite_file import SuiteFileError, load_suite_file
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.plugin.bridge import run_case, run_state


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            suite = load_suite_file(self.path, load=run_state(self.config).workflows.get)
        except InvokeAITestError as exc:
            yield UnusableSuiteFile.from_parent(self, name=self.path.name, error=str(exc))
            return
        for spec in suite.cases:
            yield SuiteCase.from_parent(self, name=spec.case_id, spec=spec)


class SuiteCase(pytest.Item):
    def __init__(self, *, spec: CaseSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.invokeai_spec = spec
        self.add_marker("invokeai")

    def runtest(self) -> None:
        run_case(self, self.invokeai_spec, planned=True).assert_matches_baseline()

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, (AssertionError, InvokeAITestError)):
            return str(excinfo.value)  # a readable list of what differs, not a traceback into the plugin
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"{self.path.name}::{self.name}"


class UnusableSuiteFile(pytest.Item):
    """Stands for the cases of a suite file that cannot be loaded, and fails with the reason."""

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error
        # Its cases are unknown: every baseline stored under the file stays in use (not orphaned, not pruned).
        self.invokeai_unlisted = f"{self.parent.nodeid}::" if self.parent is not None else ""
        self.add_marker("invokeai")

    def runtest(self) -> None:
        raise SuiteFileError(f"{self.error}\n(none of this suite file's cases ran)")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, SuiteFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, self.path.name
