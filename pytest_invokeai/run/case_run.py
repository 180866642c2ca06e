"""A finished case as a test sees it: its images, and the one-line baseline check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.run.judge import Judgement, JudgeSettings, judge, select_outputs
from pytest_invokeai.server.session import GenerationResult, OutputImage
from pytest_invokeai.workflow.load import Workflow


class BaselineMismatch(AssertionError):
    """Raised by :meth:`CaseRun.assert_matches_baseline`; the message lists each failed output."""


@dataclass
class CaseRun:
    test_id: str  # also the baseline's name
    spec: CaseSpec
    workflow: Workflow
    workflow_key: str
    result: GenerationResult
    judge_settings: Callable[[], JudgeSettings]
    on_judged: Callable[[Judgement], None]
    models: Mapping[str, str] | None = None

    @property
    def images(self) -> dict[str, list[OutputImage]]:
        """Every image of the run, by output node id (intermediate ones too)."""
        return self.result.images

    @property
    def outputs(self) -> dict[str, list[OutputImage]]:
        """The images the baseline covers: the gallery's, or the case's ``outputs``."""
        return select_outputs(self.result.images, self.spec.outputs, where=self.test_id)

    def png(self, output: str | None = None, index: int = 0) -> bytes:
        """The PNG bytes of one output image (``output`` by node id or label; optional when there is one)."""
        outputs = self.outputs if output is None else select_outputs(self.result.images, [output], where=self.test_id)
        if len(outputs) != 1:
            raise ValueError(f"{self.test_id}: name the output, one of {', '.join(sorted(outputs))}")
        return next(iter(outputs.values()))[index].png

    def assert_matches_baseline(self, tolerance: Mapping[str, Any] | None = None) -> Judgement:
        """Compare every covered output with the stored baseline (writing it when the update mode says so).

        ``tolerance`` adds to the case's: ``{"phash": 0.15}`` for every output, ``{"Output": {...}}`` for one.
        """
        __tracebackhide__ = True  # pytest shows the test's line and the message, not our internals
        spec = self.spec if not tolerance else replace(self.spec, tolerance={**self.spec.tolerance, **tolerance})
        try:
            judgement = judge(
                self.judge_settings(),
                test_id=self.test_id,
                spec=spec,
                workflow=self.workflow,
                workflow_key=self.workflow_key,
                result=self.result,
                models=self.models,
            )
        except InvokeAITestError as exc:  # a broken baseline file, an unknown output: the message is enough
            raise BaselineMismatch(str(exc)) from None
        self.on_judged(judgement)
        if not judgement.passed:
            raise BaselineMismatch("\n".join(judgement.failures))
        return judgement
