"""The two kinds of failure a user can meet, kept apart as mosaik does.

A ``ScenarioError`` is the user's mistake (a wrong site or scenario file): it names the
file and the field so it can be fixed without reading code. A ``SimulationError`` is a
failure inside a run that the inputs did not predict (a diverged power flow). The CLI
prints either as one line and never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ScenarioError(ValueError):
    """A site or scenario file is wrong: names the file, the field and what is wrong."""

    def __init__(self, file: str | Path | None, field: str | None, message: str) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.message = message
        where = self.file or "command line"  # every error without a file is about an option
        if field:
            where = f"{where}: {field}"
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # rebuilt from its three parts when it crosses a process boundary
        return type(self), (self.file, self.field, self.message)


class SimulationError(RuntimeError):
    """A failure inside a running simulation (not the user's input)."""
