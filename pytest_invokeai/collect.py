"""Suite files as pytest items: ``*.invokeai.toml`` is collected, each case is a test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .cases import CaseSpec
from .errors import InvokeAITestError
from .glue import run_case
from .suitefile import load_suite_file


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            suite = load_suite_file(self.path)
        except InvokeAITestError as exc:
            raise self.CollectError(str(exc)) from None
        for spec in suite.cases:
            yield SuiteCase.from_parent(self, name=spec.case_id, spec=spec)


class SuiteCase(pytest.Item):
    def __init__(self, *, spec: CaseSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.invokeai_spec = spec
        self.add_marker("invokeai")

    def runtest(self) -> None:
        run_case(self, self.invokeai_spec, planned=True).assert_matches_baseline()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, (AssertionError, InvokeAITestError)):
            return str(excinfo.value)  # a readable list of what differs, not a traceback into the plugin
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"{self.path.name}::{self.name}"
