"""Output paths checked before the work starts: a results folder or a report file that cannot
be written is a one-line mistake at once, not a traceback after an hour's suite."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from twin.config.errors import ScenarioError


def writable_folder(path: Path, option: str) -> Path:
    """Prove ``path`` can be created or written in, without creating it (a run that stops at a
    later check leaves nothing behind): a probe file goes into its nearest existing folder."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ScenarioError(None, option, f"cannot write to '{path}': '{existing}' is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".satwin-probe-"):
            pass
    except OSError as exc:
        raise ScenarioError(None, option, f"cannot write to '{path}': {exc.strerror or exc}") from None
    return path


def writable_file(path: Path, option: str) -> Path:
    """Prove ``path`` can be written without leaving a file behind (its folder is created)."""
    if path.is_dir():
        raise ScenarioError(None, option, f"'{path}' is a folder; give a file name")
    writable_folder(path.parent, option)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not os.access(path, os.W_OK):
        raise ScenarioError(None, option, f"cannot write to '{path}': Permission denied")
    return path
