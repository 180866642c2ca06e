"""Write a file so that a reader only ever sees the old content or the complete new content.

Baselines are written by several pytest-xdist workers at once and read by others; a half-written
file would be a corrupt baseline. The data goes to a uniquely named temporary file in the target's
own directory (the same file system, so the final rename is atomic), is flushed to disk, and then
replaces the target with ``os.replace``.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# On Windows os.replace fails while another process has the target open (a worker reading the
# baseline); such a reader is done within milliseconds, so the rename is retried for a while.
_REPLACE_ATTEMPTS = 50
_REPLACE_PAUSE = 0.02


def temp_path_for(path: Path) -> Path:
    """A name beside ``path`` that no other writer uses; hidden, and never ending in the target's suffix."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}{TEMP_SUFFIX}")


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating the parent directories. Raises ``OSError``."""
    path = Path(path)
    for attempt in range(2):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(path)
        try:
            # "x" instead of mkstemp: the file gets the usual permissions (umask), not mkstemp's 0600.
            with tmp.open("xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except FileNotFoundError:
            # The directory was removed between mkdir and open (a concurrent delete of its last file).
            tmp.unlink(missing_ok=True)
            if attempt:
                raise
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        break
    try:
        _replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _replace(source: Path, target: Path) -> None:
    for attempt in range(_REPLACE_ATTEMPTS):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == _REPLACE_ATTEMPTS - 1:
                raise
            time.sleep(_REPLACE_PAUSE)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a directory, and needs no such step."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
