"""The power-flow solver of a site as built, kept on disk between processes (``twin.model.grid``).

Building a site's solver needs pandapower: its network, one ``runpp`` and its internal
admittance matrices. pandapower costs ~35 MB and ~1 s of import in every process, and a run
whose topology never changes needs nothing of it after those matrices. So the solver of a
site as built is kept (``disk_cache``): a later process of the same site loads it and never
imports pandapower. A fault that changes the topology builds the network then. An entry is
named by the site, the solver's code (this module's and ``grid``'s source) and the versions
of pandapower and numpy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from twin.model import disk_cache

CACHE_DIR = disk_cache.ROOT / "grids"


@cache
def _code_version() -> str:
    return disk_cache.code_version(("grid.py", "grid_cache.py"), ("pandapower", "numpy"))


def entry_path(site_json: str, compiled: bool, cache_dir: Path | None = None) -> Path:
    return disk_cache.entry_path(cache_dir or CACHE_DIR, _code_version(), f"{compiled}|{site_json}")


def load(site_json: str, compiled: bool, cache_dir: Path | None = None) -> Any | None:
    """What ``store`` kept for this site, or None (never kept, or unreadable)."""
    return disk_cache.load(entry_path(site_json, compiled, cache_dir))


def store(site_json: str, compiled: bool, value: Any, cache_dir: Path | None = None) -> None:
    """Keep ``value`` for this site."""
    disk_cache.store(entry_path(site_json, compiled, cache_dir), value)
