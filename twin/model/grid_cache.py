"""The power-flow solver of a site as built, kept on disk between processes (``twin.model.grid``).

Building a site's solver needs pandapower: its network, one ``runpp`` and its internal
admittance matrices. pandapower costs ~35 MB and ~1 s of import in every process, and a run
whose topology never changes needs nothing of it after those matrices. So the solver of a
site as built is kept here, as the numba kernels are kept next to their module: a later
process (another ``satwin run``, a suite's worker) of the same site loads it and never
imports pandapower. A fault that changes the topology builds the network then.

An entry is named by what it was computed from: the site, the solver's code (this module's
and ``grid``'s source) and the versions of pandapower and numpy; anything else stale is
impossible by construction. An entry that cannot be read is built again, a cache that
cannot be written is skipped: the cache can make a run faster, never make it fail.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import pickle
from functools import cache
from pathlib import Path
from typing import Any

CACHE_DIR = Path(__file__).resolve().parent / "__pycache__" / "grids"
MAX_ENTRIES = 64  # a sweep over sizes builds a site per point: keep the newest, drop the rest


@cache
def _code_version() -> str:
    here = Path(__file__).resolve().parent
    sources = b"".join((here / name).read_bytes() for name in ("grid.py", "grid_cache.py"))
    versions = ",".join(importlib.metadata.version(name) for name in ("pandapower", "numpy"))
    return hashlib.sha256(sources + versions.encode()).hexdigest()


def entry_path(site_json: str, compiled: bool, cache_dir: Path | None = None) -> Path:
    key = hashlib.sha256(f"{_code_version()}|{compiled}|{site_json}".encode()).hexdigest()[:32]
    return (cache_dir or CACHE_DIR) / f"{key}.pickle"


def load(site_json: str, compiled: bool, cache_dir: Path | None = None) -> Any | None:
    """What ``store`` kept for this site, or None (never kept, or unreadable)."""
    path = entry_path(site_json, compiled, cache_dir)
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - missing, torn or from another Python: build it again
        return None


def store(site_json: str, compiled: bool, value: Any, cache_dir: Path | None = None) -> None:
    """Keep ``value`` for this site (atomically: parallel runs of one site may store it at once)."""
    path = entry_path(site_json, compiled, cache_dir)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)
        _drop_oldest(path.parent)
    except OSError:  # a read-only install or a full disk: run without the cache
        temporary.unlink(missing_ok=True)


def _drop_oldest(folder: Path) -> None:
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)
