"""The fixtures tests use: ``invokeai_client``, ``invokeai_workflow``, ``invokeai_run`` (and ``invokeai_case``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from pytest_invokeai.cases.spec import (
    CaseSpec,
    normalize_inputs,
    override_inputs,
    spec_from_marker,
)
from pytest_invokeai.errors import InvokeAITestError
from pytest_invokeai.plugin.bridge import (
    CASE_PARAM,
    declared_case,
    fail,
    marker_kwargs,
    next_run_name,
    run_case,
    run_state,
)
from pytest_invokeai.workflow.form import form_inputs

if TYPE_CHECKING:  # imported when a case runs (see run/state.py: collection stays light)
    from pytest_invokeai.run.case_run import CaseRun
    from pytest_invokeai.server.client import InvokeAIClient
    from pytest_invokeai.workflow.load import Workflow


@pytest.fixture(scope="session")
def invokeai_client(pytestconfig: pytest.Config) -> InvokeAIClient:
    """A client for the run's InvokeAI server (the managed one without --invokeai-url; with several, the first one up)."""
    state = run_state(pytestconfig)
    try:
        return state.first_client()
    except Exception as exc:
        raise fail(f"no InvokeAI server for this test: {exc}") from None


@pytest.fixture
def invokeai_case(request: pytest.FixtureRequest) -> CaseSpec:
    """The case the test's ``@pytest.mark.invokeai`` declares (one matrix row when it has a matrix)."""
    if hasattr(request, "param"):
        return cast(CaseSpec, request.param)  # the plugin's parametrization of invokeai_case gives CaseSpecs
    spec = declared_case(request.node)
    if spec is None:
        kwargs = marker_kwargs(request.node)
        if kwargs is None:
            raise pytest.UsageError(
                f"{request.node.nodeid}: uses an InvokeAI fixture but has no @pytest.mark.invokeai(workflow=...)"
            )
        spec = spec_from_marker(kwargs, base_dir=Path(str(request.node.path)).parent, where=request.node.nodeid)
    return spec


@pytest.fixture
def invokeai_workflow(request: pytest.FixtureRequest, invokeai_case: CaseSpec) -> Workflow:
    """The loaded workflow of the test's marker, matrix row or suite file."""
    return run_state(request.config).workflows.get(invokeai_case.workflow)


@pytest.fixture
def invokeai_run(request: pytest.FixtureRequest, invokeai_case: CaseSpec) -> Callable[..., CaseRun]:
    """Run the test's case and return its images; ``.assert_matches_baseline()`` checks them.

    ``invokeai_run()`` takes the case declared by the marker (enqueued ahead, at the start of the run).
    ``invokeai_run({index: value})`` runs other values on demand (they are added to the marker's inputs);
    ``outputs=``, ``tolerance=``, ``timeout=`` override the marker's; ``name=`` names the baseline of a
    second run in one test.
    """

    def run(
        inputs: Mapping[Any, Any] | None = None,
        *,
        outputs: list[str] | None = None,
        tolerance: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        name: str | None = None,
    ) -> CaseRun:
        spec = invokeai_case
        try:
            merged = merged_inputs(spec, inputs, request)
        except InvokeAITestError as exc:  # an unknown input, one input given twice: this test's own error
            raise fail(str(exc)) from None
        changed = merged != dict(spec.inputs) or timeout is not None
        spec = replace(
            spec,
            inputs=merged,
            outputs=tuple(outputs) if outputs is not None else spec.outputs,
            tolerance={**spec.tolerance, **(tolerance or {})},
            timeout=timeout if timeout is not None else spec.timeout,
        )
        run_name = name if name is not None else next_run_name(request.node)
        planned = not changed and run_name is None
        return run_case(request.node, spec, planned=planned, name=run_name)

    return run


def merged_inputs(spec: CaseSpec, inputs: Mapping[Any, Any] | None, request: pytest.FixtureRequest) -> dict[Any, Any]:
    """The case's inputs with ``inputs`` on top, by form input: ``{2: 5}`` replaces the marker's ``"Seed": 1``."""
    extra = normalize_inputs(inputs, where=f"{request.node.nodeid}: invokeai_run")
    if not extra:
        return dict(spec.inputs)
    workflow = run_state(request.config).workflows.get(spec.workflow)
    where = f"{request.node.nodeid}: invokeai_run ({workflow.source})"
    return override_inputs(form_inputs(workflow), spec.inputs, extra, source=where)


__all__ = ["CASE_PARAM", "invokeai_case", "invokeai_client", "invokeai_run", "invokeai_workflow"]
