"""The audit log on disk: whole lines only, and bounded.

A full disk must not leave a torn last line (a reader would fail on it), so a line that
cannot be written whole is cut off again and the error raised; the bridge then refuses the
write it was for. At 1,000 writes/s the log grew 14.8 MB in 90 s, so it rotates: past
``max_bytes`` the file moves to ``.1`` (``.1`` to ``.2`` ...), and ``keep`` old files are kept.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TextIO

MAX_BYTES = 64 * 1024 * 1024
KEEP = 3  # with the live file: at most 4 x MAX_BYTES on disk


class AuditFile:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path, self.max_bytes, self.keep = Path(path), max_bytes, keep
        self._file: TextIO | None = None  # opened at the first line, so a failed start leaves no file

    def write_line(self, line: str) -> None:
        """Append ``line`` (no newline) whole, or raise ``OSError`` with the file as it was."""
        if self._file is None:
            self._file = self.path.open("a", buffering=1)
        whole = self._file.tell()
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError:
            self.close(quiet=True)
            with contextlib.suppress(OSError):
                os.truncate(self.path, whole)
            raise
        if whole > self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self.close()
        for i in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if i == self.keep:
                older.unlink(missing_ok=True)
            else:
                newer = self.path.with_name(f"{self.path.name}.{i + 1}")
                if older.exists():
                    older.replace(newer)
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def close(self, quiet: bool = False) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError) if quiet else contextlib.nullcontext():
                self._file.close()
            self._file = None
