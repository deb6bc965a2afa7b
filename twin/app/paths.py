"""Output paths checked before the work starts: a results folder or a report file that cannot
be written is a one-line mistake at once, not a traceback after an hour's suite."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from twin.config.errors import ScenarioError


def writable_folder(path: Path, option: str) -> Path:
    """Create ``path`` (and its parents) and prove a file can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".satwin-probe-"):
            pass
    except OSError as exc:
        raise ScenarioError(None, option, f"cannot write to '{path}': {exc.strerror or exc}") from None
    return path


def writable_file(path: Path, option: str) -> Path:
    """Prove ``path`` can be written (its folder is created) without leaving a file behind."""
    if path.is_dir():
        raise ScenarioError(None, option, f"'{path}' is a folder; give a file name")
    writable_folder(path.parent if str(path.parent) else Path("."), option)
    if path.exists() and not os.access(path, os.W_OK):
        raise ScenarioError(None, option, f"cannot write to '{path}': Permission denied")
    return path
