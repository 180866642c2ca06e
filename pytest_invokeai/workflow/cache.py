"""Each workflow file is parsed once per process (collection, planning and the tests all ask for it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from pytest_invokeai.workflow.load import Workflow, load_workflow


class WorkflowCache:
    """Each workflow file is parsed once per process."""

    def __init__(self, loader: Callable[[Path], Workflow] = load_workflow) -> None:
        self._loader = loader
        self._loaded: dict[Path, Workflow] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Workflow:
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = self._loader(path)
            return self._loaded[path]
