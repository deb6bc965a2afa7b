"""The allowed range of every number in a scenario file and the rules every number obeys,
read from the schema itself (a site file's ranges are in ``docs/site-reference.md``).

``docs/input-ranges.md`` is this module's output (``python -m twin.config.ranges``); a test
keeps the two equal, so the page cannot drift from what ``satwin validate`` enforces.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from twin.config.files import SMALLEST
from twin.config.scenario import FIRST_YEAR, LAST_YEAR, MAX_STEP_S, MAX_STEPS, MIN_STEP_S, ScenarioFile
from twin.config.units import MAX_SPAN_S

_BOUNDS = ((at.Ge, ">=", "ge"), (at.Gt, ">", "gt"), (at.Le, "<=", "le"), (at.Lt, "<", "lt"))


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _bounds(metadata: list[object]) -> list[str]:
    found = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            found += _bounds(item.metadata)
        elif isinstance(item, at.MinLen) and item.min_length > 1:
            found.append(f"{item.min_length} values")
        for kind, symbol, attr in _BOUNDS:
            if isinstance(item, kind):
                found.append(f"{symbol} {_number(getattr(item, attr))}")
    return found


def _unwrapped(annotation: object) -> tuple[object, list[object]]:
    """The type inside Optional/tuple/Annotated wrappers, with the bounds met on the way."""
    metadata: list[object] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata += extra
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is tuple:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, metadata


def numeric_fields(model: type[BaseModel], prefix: str = "", spans: bool = False) -> Iterator[tuple[str, str, list[str]]]:
    """(field as written in the file, type name, bounds) of every number ``model`` holds, nested tables included.

    With ``spans``, the ``*_s`` fields are time spans (a scenario's, written as "24h" or seconds)."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        inner, metadata = _unwrapped(info.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from numeric_fields(inner, f"{key}.", spans)
        elif inner in (int, float):
            bounds = _bounds([*info.metadata, *metadata])
            if name == "step_s":
                yield key, "span", [f">= {MIN_STEP_S:g} s", f"<= {MAX_STEP_S / 3600:g} h"]
            elif spans and name.endswith("_s"):
                yield key, "span", bounds or [f"<= {MAX_SPAN_S / 86400:.0f} d"]
            else:
                yield key, inner.__name__, bounds


def ranges_markdown() -> str:
    lines = ["# Input ranges", "",
             "Generated from the schema by `python -m twin.config.ranges`; `satwin validate` enforces it.", "",
             "Every number is finite (`nan` and `inf` are refused) and either 0 or at least "
             f"{SMALLEST:g} in magnitude. Spans (`duration`, `step`, `*_s` fields) are written as `1s`, `15min`, "
             f"`24h`, `365d` or seconds, are at most {MAX_SPAN_S / 86400:.0f} days, and a step is at least "
             f"{MIN_STEP_S:g} s with at most {MAX_STEPS:,} steps a run. Names of devices, buses and scenarios are "
             "1-64 letters, digits, `_` or `-`. Where a row says nothing, the number has no bound of its own "
             "(spans, or a cross-field rule). The range of each field of a site file is in the `allowed` column of "
             "[site-reference.md](site-reference.md).", "",
             "Cross-field rules: a transformer's `vkr_percent` is below its `vk_percent` and `pfe_kw` at most 10 % "
             "of `sn_kva`; the swap station has at most one pack charger per pack; `limits.v_min_pu` is below "
             "`v_max_pu`; the battery's `soc_min_pct` <= `soc_init_pct` <= `soc_max_pct`; a step is no longer than "
             f"the duration; `start` lies in the years {FIRST_YEAR}-{LAST_YEAR - 1}.", ""]
    lines += ["## Scenario file", "", "| field | type | range |", "|---|---|---|"]
    lines += [f"| `{key}` | {kind} | {', '.join(bounds)} |" for key, kind, bounds in numeric_fields(ScenarioFile, spans=True)]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(ranges_markdown(), end="")
