"""Custom node packs: found in the folders a user names, hashed, and copied into a managed server's nodes folder.

A node pack is what InvokeAI loads from its custom-nodes folder: a folder with an ``__init__.py``
(InvokeAI 6.x, ``invocations/load_custom_nodes.py``, imports every such top-level folder whose name does
not start with ``_`` or ``.``). A folder given by the user is either one pack, or a folder of packs like
InvokeAI's own ``nodes/``.

The content hash of a pack covers the names and bytes of its files (not caches such as
``__pycache__``), so that a baseline can say which version of a pack made its images.

InvokeAI does not stop when a pack fails to import: it logs ``Failed to load node pack NAME`` with
the traceback and starts without it. :func:`pack_load_errors` finds those entries in the server's
log so that the run can fail with InvokeAI's own text instead of running half a suite.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_invokeai.errors import InvokeAITestError

#: What is not part of a pack's content: caches Python or editors write beside the sources.
IGNORED_NAMES = ("__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache")
IGNORED_SUFFIXES = (".pyc", ".pyo")
HASH_PREFIX = "sha256:"
#: The note a compared image carries (in the report's data) when a node pack changed since its baseline.
PACKS_CHANGED = "node packs changed since the baseline"

# InvokeAI's log line for a pack that failed (its logger's prefix comes before it), and the start of
# any later log entry, which ends the traceback: ``[2026-12-02 10:00:00,000]::[InvokeAI]::INFO --> ...``.
_FAILED = re.compile(r"Failed to load node pack (?P<name>\S+)")
_LOG_ENTRY = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,.]+\]::")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # InvokeAI colours its log lines, in a file too


class NodePackError(InvokeAITestError):
    """A node pack folder cannot be used, or a pack failed to load in InvokeAI."""


@dataclass(frozen=True)
class NodePack:
    name: str  # the folder's name: InvokeAI imports the pack as a module of this name
    path: Path
    hash: str  # HASH_PREFIX + hex digest of its content


def is_pack(folder: Path) -> bool:
    return folder.is_dir() and (folder / "__init__.py").is_file() and not folder.name.startswith(("_", "."))


def find_packs(folders: Iterable[Path]) -> list[NodePack]:
    """The packs in ``folders`` (each one pack, or a folder of packs), in order; the same pack once.

    Raises :class:`NodePackError` naming the folder when it is neither, and when two different
    folders hold packs of the same name (InvokeAI would load only one of them).
    """
    found: dict[str, NodePack] = {}
    for folder in folders:
        for path in _packs_in(Path(folder).expanduser().resolve()):
            pack = NodePack(path.name, path, pack_hash(path))
            other = found.get(pack.name)
            if other is not None and other.path != pack.path:
                raise NodePackError(
                    f"two node packs are named {pack.name!r}: {other.path} and {pack.path}; InvokeAI loads a pack "
                    "by its folder's name, so rename one of them"
                )
            found[pack.name] = pack
    return list(found.values())


def _packs_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise NodePackError(f"node pack folder {folder} does not exist (expected a folder with an __init__.py)")
    if (folder / "__init__.py").is_file():
        if folder.name.startswith(("_", ".")):
            raise NodePackError(
                f"node pack folder {folder}: InvokeAI skips packs whose name starts with '_' or '.'; rename it"
            )
        return [folder]
    packs = sorted(child for child in folder.iterdir() if is_pack(child))
    if not packs:
        raise NodePackError(
            f"{folder} is not a node pack (it has no __init__.py) and holds none (no sub-folder with an "
            "__init__.py): expected one pack, or a folder of packs like InvokeAI's nodes/"
        )
    return packs


def _content_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.name.endswith(IGNORED_SUFFIXES)
        and not any(part in IGNORED_NAMES for part in path.relative_to(folder).parts)
    )


def pack_hash(folder: Path) -> str:
    """A content hash of the pack: every file's path (relative, with /) and bytes, in a fixed order."""
    digest = hashlib.sha256()
    for path in _content_files(folder):
        relative = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        # Lengths first, so that no two different packs can feed the same bytes to the hash.
        digest.update(len(relative).to_bytes(8, "big") + relative + len(data).to_bytes(8, "big"))
        digest.update(data)
    return HASH_PREFIX + digest.hexdigest()


def pack_hashes(packs: Sequence[NodePack]) -> dict[str, str]:
    return {pack.name: pack.hash for pack in packs}


def install_packs(packs: Sequence[NodePack], nodes_dir: Path) -> None:
    """Make ``nodes_dir`` hold exactly these packs (copies: the server's imports never write into the sources).

    The folder is ours (a managed server's), so what was in it before is replaced.
    """
    if nodes_dir.exists():
        shutil.rmtree(nodes_dir)
    nodes_dir.mkdir(parents=True)
    ignore = shutil.ignore_patterns(*IGNORED_NAMES, *(f"*{suffix}" for suffix in IGNORED_SUFFIXES))
    for pack in packs:
        shutil.copytree(pack.path, nodes_dir / pack.name, ignore=ignore)


def pack_load_errors(log_text: str) -> list[str]:
    """InvokeAI's own report of each pack that failed to load (the log line and its traceback), in log order."""
    errors: list[str] = []
    lines = _COLOUR.sub("", log_text).splitlines()
    for n, line in enumerate(lines):
        if not _FAILED.search(line):
            continue
        end = n + 1
        while end < len(lines) and not _LOG_ENTRY.match(lines[end]):
            end += 1
        errors.append("\n".join(lines[n:end]).rstrip())
    return errors


def failed_pack_names(log_text: str) -> list[str]:
    return [match.group("name") for match in _FAILED.finditer(_COLOUR.sub("", log_text))]


def describe_pack_changes(recorded: dict[str, str], now: dict[str, str]) -> str:
    """What changed in the node packs between a baseline and this run, in one short line ("" when nothing did).

    A record without pack hashes (written before packs were recorded, or by a run without any) is compared
    only when this run has none either: its silence is not a change.
    """
    if not recorded:
        return ""
    parts = []
    for name in sorted(set(recorded) | set(now)):
        before, after = recorded.get(name), now.get(name)
        if before == after:
            continue
        if before is None:
            parts.append(f"{name} added")
        elif after is None:
            parts.append(f"{name} not loaded")
        else:
            parts.append(f"{name} changed ({_short(before)} -> {_short(after)})")
    return ", ".join(parts)


def _short(content_hash: str) -> str:
    return content_hash.removeprefix(HASH_PREFIX)[:12]
