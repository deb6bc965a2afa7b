"""Dotted overrides of scenario and site fields: ``bess.e_kwh=1500``, ``traffic.multiplier.car=3``.

One implementation serves ``satwin run --set`` and every point of a sweep. An override is
applied to the files' TOML data *before* validation, so the value goes through exactly the
checks a hand-edited file would; a mistake is reported against where the override was
written (the command line or the sweep file) and the field it names, before anything runs.

Paths: the first name decides the file — a scenario field (``traffic``, ``faults``, ``seed``,
``duration`` ...) or a site field (``bess``, ``utility``, ``chargers`` ...); ``scenario.`` or
``site.`` in front says it explicitly. A list element is picked by index or by its ``name``:
``faults[0].start_s``, ``chargers[car_dc].count``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twin.config.errors import ScenarioError

_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\]]+\])*)$")
_INDEX = re.compile(r"\[([^\]]+)\]")

Overrides = Mapping[str, Any]


class Origin:
    """Where overrides were written, for error messages: ``--set`` or a sweep file's table."""

    def __init__(self, file: str | Path | None = None, prefix: str = "--set ",
                 prefixes: Mapping[str, str] | None = None) -> None:
        self.file, self.prefix = file, prefix
        self.prefixes = dict(prefixes or {})  # a path's own table, where overrides come from several

    def error(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(self.file, f"{self.prefixes.get(path, self.prefix)}{path}", message)


COMMAND_LINE = Origin()


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"bess.e_kwh=1500"`` -> ``("bess.e_kwh", 1500)``; the value is read as TOML, else kept as text."""
    path, sep, raw = text.partition("=")
    path, raw = path.strip(), raw.strip()
    if not sep or not path or not raw:
        raise ScenarioError(None, "--set", f"'{text}' is not PATH=VALUE, e.g. bess.e_kwh=1500")
    try:
        return path, tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return path, raw  # a bare word such as ``none`` or ``24h``


def _segments(path: str, origin: Origin) -> list[str | int]:
    """``"chargers[car_dc].count"`` -> ``["chargers", "[car_dc]", "count"]`` (indices kept bracketed)."""
    segments: list[str | int] = []
    for part in path.split("."):
        match = _PART.match(part)
        if not match:
            raise origin.error(path, f"'{part}' is not a field name (write e.g. bess.e_kwh or faults[0].start_s)")
        segments.append(match.group(1))
        segments += [f"[{index}]" for index in _INDEX.findall(match.group(2))]
    return segments


def split(overrides: Overrides, scenario_fields: set[str], site_fields: set[str],
          origin: Origin) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scenario overrides, site overrides), each keyed by its path inside that file."""
    parts: dict[str, dict[str, Any]] = {"scenario": {}, "site": {}}
    known = {"scenario": scenario_fields, "site": site_fields}
    for path, value in overrides.items():
        head, _, rest = path.partition(".")
        target, inner = (head, rest) if head in known and rest else (None, path)
        first = str(_segments(inner, origin)[0])
        if target is None:
            target = next((name for name, fields in known.items() if first in fields), None)
        if target is None or first not in known[target]:
            raise origin.error(path, f"unknown field '{first}' (scenario fields: {', '.join(sorted(scenario_fields))}; "
                                     f"site fields: {', '.join(sorted(site_fields))})")
        parts[target][inner] = value
    return parts["scenario"], parts["site"]


def apply(data: dict[str, Any], overrides: Overrides, origin: Origin) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of a file's TOML ``data`` with each override set, and {resolved path: path as written}.

    The resolved path names list entries by index (``chargers[1].count``), as validation
    errors do; a path that leads nowhere is an error.
    """
    data = _deep_copy(data)
    resolved: dict[str, str] = {}
    for path, value in overrides.items():
        segments = _segments(path, origin)
        node: Any = data
        trail: list[str | int] = []
        for i, segment in enumerate(segments):
            last = i == len(segments) - 1
            if isinstance(segment, str) and segment.startswith("["):
                if not isinstance(node, list):
                    raise origin.error(path, f"'{_join(trail)}' is not a list")
                key: Any = _list_index(node, segment[1:-1], path, _join(trail), origin)
                trail.append(f"[{key}]")
            else:
                if not isinstance(node, dict):
                    raise origin.error(path, f"'{_join(trail)}' has no fields")
                key = segment
                if not last and key not in node:
                    node[key] = [] if str(segments[i + 1]).startswith("[") else {}
                trail.append(key)
            if last:
                node[key] = value
            else:
                node = node[key]
        resolved[_join(trail)] = path
    return data, resolved


def _list_index(items: list, index: str, shown: str, where: str, origin: Origin) -> int:
    if index.lstrip("-").isdigit():
        i = int(index)
        if not -len(items) <= i < len(items):
            raise origin.error(shown, f"'{where}' has {len(items)} entries; [{index}] is out of range")
        return i
    names = [item.get("name") for item in items if isinstance(item, dict)]
    if index not in names:
        raise origin.error(shown, f"no entry named '{index}' in '{where}' (names: {', '.join(map(str, names)) or 'none'})")
    return names.index(index)


def _join(segments: list[str | int]) -> str:
    return "".join(s if str(s).startswith("[") or k == 0 else f".{s}" for k, s in enumerate(segments))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def attributed(error: ScenarioError, resolved: dict[str, str], overrides: Overrides,
               origin: Origin) -> ScenarioError:
    """``error`` (from validating a file) blamed on the override it concerns, if one does.

    A field error inside an overridden path, or a whole-table check (``bess``: the SoC window)
    above it, belongs to the override; any other error is the file's own.
    """
    field = (error.field or "").replace("[", ".[")
    for full, path in resolved.items():
        normal = full.replace("[", ".[")
        if field and (normal == field or normal.startswith(field + ".") or field.startswith(normal + ".")):
            return origin.error(path, f"{overrides[path]!r}: {error.message} (in {error.file}: {error.field})")
    return error
