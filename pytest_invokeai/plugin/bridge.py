"""Between pytest items and the run: which case an item declares, and running it for the item.

Used by the fixtures, the suite-file items and the hooks; the only module besides ``plugin.py``,
``fixtures.py`` and ``collect.py`` that knows about pytest objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_invokeai._util.keys import workflow_key
from pytest_invokeai.cases.spec import CaseSpec, merge_marker_kwargs, spec_from_marker
from pytest_invokeai.errors import InvokeAITestError

if TYPE_CHECKING:  # imported when a case runs (see run/state.py: collection stays light)
    from pytest_invokeai.run.case_run import CaseRun
    from pytest_invokeai.run.judge import Judgement
    from pytest_invokeai.run.state import RunState

MARKER = "invokeai"
CASE_PARAM = "invokeai_case"
STATE_KEY = pytest.StashKey["RunState"]()
RUNS_KEY = pytest.StashKey[int]()


def run_state(config: pytest.Config) -> RunState:
    return config.stash[STATE_KEY]


def marker_kwargs(node: pytest.Item | Any) -> dict[str, Any] | None:
    markers = list(node.iter_markers(MARKER))
    if not markers:
        return None
    return merge_marker_kwargs([(m.args, m.kwargs) for m in markers], where=node.nodeid)


def declared_case(item: pytest.Item) -> CaseSpec | None:
    """The case an item declares at collection (enqueued ahead), or None."""
    spec: CaseSpec | None = getattr(item, "invokeai_spec", None)  # suite-file items
    if spec is not None:
        return spec
    if "invokeai_run" not in getattr(item, "fixturenames", ()):
        return None
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get(CASE_PARAM) if callspec is not None else None
    if isinstance(param, CaseSpec):  # the plugin's parametrization puts one there (asked for every case: no cast call)
        return param
    kwargs = marker_kwargs(item)
    if kwargs is None or "matrix" in kwargs:
        return None
    return spec_from_marker(kwargs, base_dir=Path(str(item.path)).parent, where=item.nodeid)


def marked_workflow(item: pytest.Item) -> Path | None:
    """The workflow an item's marker names (resolved), even when it declares no case ahead."""
    kwargs = marker_kwargs(item)
    if not kwargs or "workflow" not in kwargs:
        return None
    return spec_from_marker(kwargs, base_dir=Path(str(item.path)).parent, where=item.nodeid).workflow


def run_case(item: pytest.Item, spec: CaseSpec, *, planned: bool, name: str | None = None) -> CaseRun:
    """Run (or collect the pre-enqueued result of) a case for ``item``; blocked cases end the test."""
    from pytest_invokeai.report.results import TestProblem, Verdict
    from pytest_invokeai.run.case_run import CaseRun
    from pytest_invokeai.run.gate import Blocked

    state = run_state(item.config)
    test_id = item.nodeid if name is None else f"{item.nodeid}::{name}"
    try:
        scheduler = state.start_scheduler()
    except Exception as exc:  # no server: a clear failure (never a silent skip)
        from pytest_invokeai.server.pool import NoServerReachable

        # Unreachable servers are named once, with why, in the summary and the report: one line here.
        raise fail(
            str(exc) if isinstance(exc, NoServerReachable) else f"no InvokeAI server for this test: {exc}"
        ) from None
    key = workflow_key(spec.workflow, state.rootdir)
    try:
        workflow = state.workflows.get(spec.workflow)  # a broken workflow file fails this test, naming it
        if planned and scheduler.planned(item.nodeid):
            result = scheduler.result(item.nodeid)
        else:
            result = scheduler.run_now(test_id, spec)
    except InvokeAITestError as exc:  # a bad value, a failed generation: the message says it all
        raise fail(str(exc)) from None
    except Blocked as blocked:
        if blocked.verdict is Verdict.SKIPPED:
            state.results.skipped.append(item.nodeid)
            # -rs shows the test, not us
            raise pytest.skip.Exception(blocked.message, _use_item_location=True) from None
        state.results.problems.append(
            TestProblem(test_id=item.nodeid, verdict=blocked.verdict, message=blocked.message)
        )
        if blocked.verdict is not Verdict.MISSING:
            state.results.drifted_workflows.add(key)
        if blocked.verdict is Verdict.DRIFTED:  # `pytest-invokeai accept --accept-drift` takes the form from here
            keep_drifted_case(state, item.nodeid, key, spec.workflow)
        raise fail(blocked.message) from None
    return CaseRun(
        test_id=test_id,
        spec=spec,
        workflow=workflow,
        workflow_key=key,
        result=result,
        judge_settings=state.judge_settings,
        on_judged=lambda judgement: record_judgement(item, judgement),
        models=_model_hashes(state, workflow, result.server),
    )


def keep_drifted_case(state: RunState, test_id: str, key: str, workflow_path: Path) -> None:
    """Keep the drifted workflow's form as this run saw it, for accepting the drift without running again."""
    from pytest_invokeai.run.candidate import drifted_candidate, write_candidate

    workflow = state.workflows.get(workflow_path)
    candidate = drifted_candidate(
        test_id, key, workflow, store=state.store, rootdir=state.rootdir, save_images=state.settings.save_images
    )
    write_candidate(state.settings.results_dir, candidate)


def fail(message: str) -> BaseException:
    """The failure that ends a test with ``message`` alone, to be raised ``from None``.

    Raised inside an ``except`` block without ``from None``, pytest would print the caught error first
    and then "During handling of the above exception, another exception occurred": the text twice.
    """
    return pytest.fail.Exception(message, pytrace=False)


def record_judgement(item: pytest.Item, judgement: Judgement) -> None:
    from pytest_invokeai.report.junit import junit_properties

    state = run_state(item.config)
    state.results.outputs.extend(judgement.outputs)
    if judgement.replaced is not None:
        state.note_replaced(*judgement.replaced)
    state.results.note_written(judgement.test_id, judgement.written, judgement.previews, state.rootdir)
    for output in judgement.outputs:
        item.user_properties.extend(junit_properties(output))


def _model_hashes(state: RunState, workflow: Any, server: str) -> Mapping[str, str]:
    """Model name -> hash of the models the workflow uses (on the server that ran it), recorded with baselines."""
    from pytest_invokeai.server.ai_models import (
        resolve_models_in_values,
        workflow_model_values,
    )

    values = workflow_model_values(workflow)
    if not values:
        return {}
    resolved = resolve_models_in_values(state.start_scheduler().session_for(server).installed_models, workflow, values)
    return {str(v.get("name")): str(v.get("hash", "")) for v in resolved.values() if isinstance(v, Mapping)}


def next_run_name(item: pytest.Item) -> str | None:
    """Ad-hoc runs after the first in one test get their own baseline: ``test_x::run2``."""
    count = item.stash.get(RUNS_KEY, 0) + 1
    item.stash[RUNS_KEY] = count
    return None if count == 1 else f"run{count}"
