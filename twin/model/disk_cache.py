"""Values a run computes from its inputs, kept on disk between processes.

The numba kernels are kept next to their module; the solver of a site as built
(``grid_cache``), a run's PV and load profiles (``site_profiles``) and the site's one-line
diagram (``twin.results.report``) are kept here, in ``__pycache__``, so that a later process (another ``satwin run``, a suite's or a sweep's
worker) of the same inputs loads them instead of importing the libraries that computed
them. An entry is named by what it was computed from: the caller's key, the source of
the modules that compute it and the versions of the libraries they use; anything stale is
impossible by construction. An entry that cannot be read is computed again, a cache that
cannot be written is skipped: a cache can make a run faster, never make it fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import pickle
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
ROOT = HERE / "__pycache__"
MAX_ENTRIES = 64  # a sweep over sizes builds a site per point: keep the newest, drop the rest


def code_version(sources: tuple[str | Path, ...], packages: tuple[str, ...]) -> str:
    """A digest of the modules (paths under ``twin/model``, or absolute) and library versions a value depends on."""
    code = b"".join((HERE / name).read_bytes() for name in sources)
    versions = ",".join(importlib.metadata.version(name) for name in packages)
    return hashlib.sha256(code + versions.encode()).hexdigest()


def entry_path(folder: Path, version: str, key: str) -> Path:
    return folder / f"{hashlib.sha256(f'{version}|{key}'.encode()).hexdigest()[:32]}.pickle"


def load(path: Path) -> Any | None:
    """What ``store`` kept at ``path``, or None (never kept, or unreadable)."""
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - missing, torn or from another Python: compute it again
        return None


def kept(path: Path, kind: type[T], compute: Callable[[], T]) -> T:
    """The ``kind`` kept at ``path`` by an earlier process, or ``compute()``, kept there for the next."""
    value = load(path)
    if isinstance(value, kind):
        return value
    value = compute()
    store(path, value)
    return value


def store(path: Path, value: Any) -> None:
    """Keep ``value`` at ``path`` (atomically: parallel runs may store one entry at once)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)
        _drop_oldest(path.parent)
    except OSError:  # a read-only install, a full disk, a file in the way: run without the cache
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _drop_oldest(folder: Path) -> None:
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)
