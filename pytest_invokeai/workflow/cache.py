"""Each workflow file is parsed once per process (collection, planning and the tests all ask for it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the loader is imported when the first workflow is read
    from pytest_invokeai.workflow.load import Workflow


class WorkflowCache:
    """Each workflow file is parsed once per process."""

    def __init__(self, loader: Callable[[Path], Workflow] | None = None) -> None:
        """``loader`` reads one workflow file; by default :func:`~pytest_invokeai.workflow.load.load_workflow`."""
        if loader is None:
            from pytest_invokeai.workflow.load import load_workflow

            loader = load_workflow
        self._loader: Callable[[Path], Workflow] = loader
        self._loaded: dict[Path, Workflow] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Workflow:
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = self._loader(path)
            return self._loaded[path]
