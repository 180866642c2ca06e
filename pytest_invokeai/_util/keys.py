"""How the plugin names a file of the project: by its path relative to the rootdir, with forward slashes.

Records, index maps, reports and recall commands all name files this way, so one suite's names are the
same on every OS and from every checkout location. A file outside the rootdir has no relative name: it is
named by its absolute path (symlinks resolved, forward slashes), the one name that still finds it.
"""

from __future__ import annotations

from pathlib import Path, PurePath


def relative_key(path: PurePath, rootdir: PurePath) -> str:
    """``path`` relative to ``rootdir`` with forward slashes; ``path`` itself (as posix) when outside it.

    Pure: both paths must already be absolute and resolved (:func:`rootdir_key` does that)."""
    try:
        return path.relative_to(rootdir).as_posix()
    except ValueError:
        return path.as_posix()


def rootdir_key(path: str | Path, rootdir: str | Path) -> str:
    """The name of ``path`` in records, reports and commands: relative to ``rootdir`` with forward slashes.

    Both are resolved first (a symlinked rootdir or file still gives the relative name). Outside the
    rootdir: the resolved absolute path with forward slashes, e.g. ``/data/shared/flux.json``."""
    return relative_key(Path(path).resolve(), Path(rootdir).resolve())


def workflow_key(path: str | Path, rootdir: str | Path) -> str:
    """The workflow's name in the baseline store: :func:`rootdir_key` without a leading ``/``.

    The key names the index map's folders in the store, so a workflow outside the rootdir
    (``/elsewhere/noise.json``) is kept under ``elsewhere/noise.json`` rather than an empty first folder."""
    return rootdir_key(path, rootdir).lstrip("/")
