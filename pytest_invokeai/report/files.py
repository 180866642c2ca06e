"""Links between report files: reports are opened from disk and moved together with their artifacts."""

from __future__ import annotations

import os
from pathlib import Path


def link_from(folder: Path, target: Path) -> str:
    """How a file in ``folder`` refers to ``target``: a relative POSIX path when there is one.

    On Windows, a target on another drive has no relative path; its absolute path is used.
    """
    try:
        return Path(os.path.relpath(Path(target).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:
        return Path(target).resolve().as_posix()
