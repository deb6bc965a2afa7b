"""The reference sites and scenarios, shipped inside the package as data.

``satwin run holiday-peak-freight`` (a name, not a path) finds a built-in scenario from any
folder once satwin is installed; a scenario's ``site = "sites/…"`` is relative to its own
file, so the built-in ones find their sites here too.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
REFERENCE = FOLDER / "holiday-peak-freight.toml"  # the demo's and the benches' scenario
NOT_SCENARIOS = {"published"}  # data files beside the scenarios (published figures)


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, as ``satwin run NAME`` takes them."""
    return sorted(p.stem for p in FOLDER.glob("*.toml") if p.stem not in NOT_SCENARIOS)


def builtin(name: str) -> Path | None:
    """The file of the built-in scenario ``name`` (``.toml`` optional), or None."""
    stem = name[:-5] if name.endswith(".toml") else name
    return FOLDER / f"{stem}.toml" if stem in builtin_names() else None
