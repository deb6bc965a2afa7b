"""A scratch copy of the shipped scenario tree, for tests that break one file of it at a time."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from twin.config.errors import ScenarioError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# a ScenarioError about the whole file (not one field of it) says so with one of these
WHOLE_FILE = ("the file is empty", "not a UTF-8 text file", "not valid TOML", "neither a scenario", "cannot read")


def copy_tree(to: Path) -> Path:
    """``scenarios/`` copied under ``to`` (sites, published figures and all); returns the copy."""
    return Path(shutil.copytree(SCENARIOS, to / "scenarios", ignore=shutil.ignore_patterns("__pycache__")))


def shipped_files(tree: Path) -> list[Path]:
    return sorted(tree.glob("*.toml")) + sorted((tree / "sites").glob("*.toml"))


def set_value(text: str, key: str, value: str, nth: int = 0) -> str:
    """``text`` with the ``nth`` line ``key = ...`` given ``value`` (a TOML literal); the line must exist."""
    lines = text.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if re.match(rf"\s*{re.escape(key)}\s*=", line)]
    assert len(found) > nth, f"no line {nth} with key {key}"
    lines[found[nth]] = f"{key} = {value}\n"
    return "".join(lines)


def assert_clear_error(exc: ScenarioError, files: list[Path]) -> None:
    """One line, naming one of ``files`` and a field (or saying the whole file is wrong)."""
    text = str(exc)
    assert "\n" not in text, text
    assert exc.file is not None and Path(exc.file).resolve() in {f.resolve() for f in files}, text
    assert exc.field or any(phrase in exc.message for phrase in WHOLE_FILE), text
