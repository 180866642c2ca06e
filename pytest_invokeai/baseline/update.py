"""When a test run may write baselines, and when it may accept a workflow's input drift.

=========  ======================  ==========================================
mode       writes a baseline when  accepts drift (a new index map)
=========  ======================  ==========================================
none       never                   only with the explicit accept-drift flag
missing    there is none yet       only with the explicit accept-drift flag
changed    none yet, or mismatch   only with the explicit accept-drift flag
all        always                  yes
=========  ======================  ==========================================

Drift is never accepted by ``missing`` or ``changed``: a moved input means the test now sets another
field, and recording "what it produces now" would silently bless that.
"""

from __future__ import annotations

from enum import Enum


class UpdateMode(str, Enum):  # noqa: UP042 - a StrEnum would change str(mode) and f"{mode}"
    NONE = "none"
    MISSING = "missing"
    CHANGED = "changed"
    ALL = "all"

    @classmethod
    def parse(cls, text: str) -> UpdateMode:
        try:
            return cls(text.strip().lower())
        except (ValueError, AttributeError):
            valid = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown baseline update mode {text!r}; valid modes: {valid}") from None

    def __str__(self) -> str:
        return self.value


def should_write(mode: UpdateMode, *, exists: bool, matched: bool | None) -> bool:
    """Whether to (re)write a test's baseline. ``matched`` is None when nothing was compared."""
    if mode is UpdateMode.NONE:
        return False
    if mode is UpdateMode.MISSING:
        return not exists
    if mode is UpdateMode.CHANGED:
        return not exists or matched is False
    return True


def accepts_drift(mode: UpdateMode, *, accept_drift_flag: bool) -> bool:
    return mode is UpdateMode.ALL or accept_drift_flag
