"""Run loaded workflows with form values on one server: the layer tests and the CLI use.

A :class:`GenerationSession` owns what a run needs on its server: a :class:`~.runs.Runner` (its own
queue ``destination``), the installed models (read once), uploads (once per distinct image), and
optionally a board. Values are given per form input (index, display name or identity, as in
:func:`pytest_invokeai.workflow.form.collect_values`); an ``image`` input also takes a file path or
PNG bytes, uploaded for you. Every model field of the workflow, on the form or not, is resolved to
the server's own model (an exported key comes from another machine), or the run fails naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_invokeai.server.ai_models import (
    InstalledModels,
    missing_models,
    resolve_models_in_values,
    workflow_model_values,
)
from pytest_invokeai.server.boards import ensure_board
from pytest_invokeai.server.cleanup import CleanupResult, cleanup_run
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.outputs import NodeImages
from pytest_invokeai.server.runs import Case, CaseHandle, CaseResult, FieldKey, Runner
from pytest_invokeai.server.uploads import UploadCache
from pytest_invokeai.workflow.form import (
    FormInput,
    collect_values,
    form_inputs,
    resolve_input,
)
from pytest_invokeai.workflow.graph import build_enqueue_body
from pytest_invokeai.workflow.load import Workflow
from pytest_invokeai.workflow.schema import InvocationSchema

FormValues = Mapping[int | str, Any]


@dataclass(frozen=True)
class OutputImage:
    node_id: str
    node_type: str
    node_label: str
    is_intermediate: bool
    image_name: str
    png: bytes


@dataclass
class GenerationResult:
    """The finished case: its queue items and every image it produced, by workflow node id."""

    case: CaseResult
    images: dict[str, list[OutputImage]]
    server: str = ""  # the URL of the server that made it

    @property
    def key(self) -> str:
        return self.case.key


class PendingGeneration:
    """A case in flight; :meth:`result` waits for it and downloads its images."""

    def __init__(self, session: GenerationSession, workflow: Workflow, handle: CaseHandle) -> None:
        self._session, self._workflow, self._handle = session, workflow, handle

    @property
    def item_ids(self) -> list[int]:
        return list(self._handle.item_ids)

    def result(self, timeout: float | None = None) -> GenerationResult:
        case = self._handle.result(timeout).raise_for_error()
        images = self._session._download(self._workflow, case.images)
        return GenerationResult(case=case, images=images, server=self._session.client.base_url)


def check_values(workflow: Workflow, inputs: list[FormInput], values: FormValues) -> None:
    """Raise the :class:`~pytest_invokeai.errors.InputValueError` of the first value the form refuses.

    No server is involved, so a bad value is found before models are looked at or images uploaded;
    an image file or PNG bytes given for an image input stand for the upload they would become.
    """
    stand_ins = {
        key: {"image_name": "upload"} if _is_image_file(inputs, key, value, workflow) else value
        for key, value in values.items()
    }
    collect_values(workflow, stand_ins, inputs=inputs)


def _is_image_file(inputs: list[FormInput], key: int | str, value: Any, workflow: Workflow) -> bool:
    """A file path or PNG bytes for an image input: uploaded, then sent by name."""
    return isinstance(value, (bytes, Path)) and resolve_input(inputs, key, source=workflow.source).kind == "image"


class GenerationSession:
    def __init__(
        self,
        client: InvokeAIClient,
        *,
        board: str | None = None,
        generation_timeout: float | None = 600.0,
        use_events: bool = True,
        use_cache: bool = True,
    ) -> None:
        self.client = client
        # False: every node runs, none is served from the node cache. A multi-user InvokeAI (a client that
        # signs in) shares one node cache between its users but refuses a user another's images, so a cached
        # node of someone else's run fails ours ("Queue user is not authorized to access this image",
        # InvokeAI 6.14.2): there every node runs.
        self.use_cache = use_cache and not client.auth.signs_in
        self.runner = Runner(client, generation_timeout=generation_timeout, use_events=use_events)
        self.board_id = ensure_board(client, board) if board else None
        self.uploads = UploadCache(client)
        self._models: InstalledModels | None = None
        self.live_schema: InvocationSchema | None = None  # the server's node schema, when the run read it

    @property
    def installed_models(self) -> InstalledModels:
        if self._models is None:
            self._models = InstalledModels.fetch(self.client)
        return self._models

    def refresh_models(self) -> None:
        """Read the installed models again (after installing one)."""
        self._models = None

    def check_models(self, workflow: Workflow) -> None:
        """Raise the first :class:`~.models.ModelNotInstalledError` of the workflow, if any."""
        missing = missing_models(self.installed_models, workflow)
        if missing:
            raise missing[0]

    def submit(
        self,
        workflow: Workflow,
        cases: Mapping[str, FormValues],
        *,
        generation_timeout: float | None = None,
    ) -> dict[str, PendingGeneration]:
        """Enqueue several cases of one workflow at once (as few batches as the values allow).

        ``generation_timeout`` (seconds a queue item may run) overrides the session's for these cases.
        Values are checked first: a bad value is the answer whatever the models (and before any upload).
        """
        inputs = form_inputs(workflow)
        for values in cases.values():
            check_values(workflow, inputs, values)
        self.check_models(workflow)
        planned = [Case(key, self.field_values(workflow, inputs, values)) for key, values in cases.items()]
        handles = self.runner.submit(
            lambda fixed: self._body(workflow, fixed), planned, generation_timeout=generation_timeout
        )
        return {key: PendingGeneration(self, workflow, handle) for key, handle in handles.items()}

    def run(
        self, workflow: Workflow, values: FormValues | None = None, *, timeout: float | None = None
    ) -> GenerationResult:
        """Run one case and wait for it."""
        return self.submit(workflow, {"case": values or {}})["case"].result(timeout)

    def field_values(self, workflow: Workflow, inputs: list[FormInput], values: FormValues) -> dict[FieldKey, Any]:
        """Checked ``{(node_id, field): value}`` of one case; image files and bytes are uploaded."""
        prepared: dict[int | str, Any] = {}
        for key, value in values.items():
            if _is_image_file(inputs, key, value, workflow):
                value = {
                    "image_name": self.uploads.upload(value, label=str(value) if isinstance(value, Path) else None)
                }
            prepared[key] = value
        return dict(collect_values(workflow, prepared, inputs=inputs))

    def _body(self, workflow: Workflow, values: Mapping[FieldKey, Any]) -> dict[str, Any]:
        # Model fields that the case does not set are resolved too: the export's keys are another machine's.
        all_models = {**workflow_model_values(workflow), **values}
        resolved = resolve_models_in_values(self.installed_models, workflow, all_models)
        body = build_enqueue_body(workflow, resolved, board=self.board_id, destination=self.runner.destination)
        if not self.use_cache:
            for node in body["batch"]["graph"]["nodes"].values():
                node["use_cache"] = False
        return body

    def _download(self, workflow: Workflow, found: dict[str, NodeImages]) -> dict[str, list[OutputImage]]:
        images: dict[str, list[OutputImage]] = {}
        for node_id, node_images in found.items():
            node = workflow.node(node_id)
            label = node.data.label if node is not None else ""
            images[node_id] = [
                OutputImage(
                    node_id=node_id,
                    node_type=node_images.node_type,
                    node_label=label,
                    is_intermediate=node_images.is_intermediate,
                    image_name=ref.image_name,
                    png=self.client.image_bytes(ref.image_name),
                )
                for ref in node_images.images
            ]
        return images

    def close(self, *, cleanup: bool = False) -> CleanupResult | None:
        """Stop listening; with ``cleanup``, delete this session's images, queue items and uploads."""
        try:
            if cleanup:
                result = cleanup_run(self.client, self.runner.destination)
                self.uploads.delete_uploaded()
                return result
            return None
        finally:
            self.runner.close()

    def __enter__(self) -> GenerationSession:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.runner.cancel()
        self.runner.close()
