"""docs/architecture.md names only modules, classes and functions that exist."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMED = re.compile(r"`((?:twin|hil|gui|scenarios)(?:\.\w+)+)`")
FOLDER = re.compile(r"`((?:twin|hil|gui|scenarios)/[\w/]*)`")


def _exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:  # a prefix is a module, not a package: the rest are attributes
            continue
        target = importlib.import_module(module)
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_every_name_in_the_architecture_page_exists():
    text = (ROOT / "docs" / "architecture.md").read_text()
    names = set(NAMED.findall(text))
    assert len(names) > 30
    missing = sorted(n for n in names if not _exists(n))
    assert not missing, missing
    folders = set(FOLDER.findall(text))
    assert all((ROOT / f).exists() for f in folders), sorted(f for f in folders if not (ROOT / f).exists())
