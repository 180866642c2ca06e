"""Error types, one per failure family.

Every message is written for the person who has to act on it: it names the file, the JSON
path or the form index involved, and says what would be valid.
"""

from __future__ import annotations


class InvokeAITestError(Exception):
    """Base class of every error pytest-invokeai raises on purpose."""


class WorkflowError(InvokeAITestError):
    """A workflow file (or a value meant for it) cannot be used.

    ``source`` is where the workflow came from (a file path, or a description such as
    ``"<dict>"``) and ``json_path`` points into the document (``$.form.elements.root``).
    """

    def __init__(self, message: str, *, source: str | None = None, json_path: str | None = None):
        self.message = message
        self.source = source
        self.json_path = json_path
        super().__init__(self._format())

    def _format(self) -> str:
        where = ": ".join(part for part in (self.source, self.json_path) if part)
        return f"{where}: {self.message}" if where else self.message


class InputValueError(WorkflowError):
    """A value given for a form input is not valid for that input (or the input does not exist)."""


class ServerError(InvokeAITestError):
    """The InvokeAI server could not be reached, refused a request or failed a generation."""


class BaselineError(InvokeAITestError):
    """A baseline file is missing, unreadable or does not match the images."""
