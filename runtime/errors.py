"""The one exception a user mistake raises at run time: message, location, help."""

from __future__ import annotations


class RunError(Exception):
    """A user-facing failure (bad data, missing file, unreachable hub), never a bug.

    `location` is `file:line` (or `data.rows[i]`) when the failure belongs to one place;
    `help` says how to fix it. The CLI renders these without a traceback.
    """

    def __init__(self, message: str, location: str | None = None, help: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.help = help

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.help:
            text += f"\n  help: {self.help}"
        return text

    def __reduce__(self):  # keep the fields when the error crosses a process boundary
        return (RunError, (self.message, self.location, self.help))
