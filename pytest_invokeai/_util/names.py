"""File names made from ids (node ids, test ids) that are safe on every OS and do not collide.

Node ids such as ``canvas_output:JbPTiAJ26r`` and test ids such as ``test_a[prompt=a/b]`` hold
characters that Windows refuses or that would make a path. Unsafe characters become ``_``; when
anything was replaced (or the name was cut short), a short hash of the original id is appended, so
two ids that differ only in replaced characters still get different names.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+@\[\]-]+")  # also keeps a parametrized id readable: test_a[seed=1]
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_STEM = 100  # well under every file system's 255, leaving room for suffixes and extensions


def safe_stem(identifier: str) -> str:
    """A readable, portable file name stem for ``identifier`` (no extension)."""
    cleaned = _UNSAFE.sub("_", identifier).strip("._ ") or "_"
    if cleaned.split(".")[0].upper() in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    if cleaned == identifier and len(cleaned) <= MAX_STEM:
        return cleaned
    digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:MAX_STEM]}-{digest}"
