"""The site-file reference, generated from the schema (``docs/site-reference.md``).

Every field's meaning is its docstring in ``twin/config/site.py``; its unit comes from the
suffix of its name (``_kw``, ``_pct`` ...), its default and allowed range from the schema
itself. So the reference cannot say one thing while the validator does another.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from twin.config.site import Site

UNIT_SUFFIXES = (  # longest first: "_kw_per_s" before "_kw"
    ("_kg_co2_per_kwh", "kg CO2/kWh"), ("_cny_per_kwh", "CNY/kWh"), ("_ohm_per_km", "Ω/km"),
    ("_nf_per_km", "nF/km"), ("_pct_per_c", "%/°C"), ("_kw_per_s", "kW/s"), ("_kwh_m2_day", "kWh/m²/day"),
    ("_kwp", "kWp"), ("_kwh", "kWh"), ("_kva", "kVA"), ("_kw", "kW"), ("_kv", "kV"), ("_ka", "kA"),
    ("_percent", "%"), ("_pct", "%"), ("_pu", "pu"), ("_deg", "°"), ("_km", "km"), ("_min", "min"), ("_s", "s"), ("_m", "m"),
    ("_c", "°C"),
)
BOUND_TEXT = ((at.Gt, "gt", "> {}"), (at.Ge, "ge", "≥ {}"), (at.Lt, "lt", "< {}"), (at.Le, "le", "≤ {}"))



def unit_of(name: str) -> str:
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def _bounds(metadata: list[Any]) -> list[str]:
    parts = []
    for item in metadata:
        for kind, attr, text in BOUND_TEXT:
            if isinstance(item, kind):
                parts.append(text.format(getattr(item, attr)))
    return parts


def _type_text(annotation: Any) -> tuple[str, list[str]]:
    """(type as a TOML user reads it, range parts) of a field annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        text, parts = _type_text(args[0])
        return text, parts + _bounds([m for a in args[1:] for m in getattr(a, "metadata", [a])])
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args), []
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        return _type_text(kept[0]) if len(kept) == 1 else (" or ".join(_type_text(a)[0] for a in kept), [])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            inner, parts = _type_text(args[0])
            return f"list of {inner}", [f"each {p}" for p in parts]
        inner = [_type_text(a) for a in args]
        return f"[{', '.join(t for t, _ in inner)}]", sorted({p for _, ps in inner for p in ps})
    if origin is dict:
        return "table", []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"table [{annotation.__name__}]", []
    return {float: "number", int: "integer", str: "text", bool: "true/false"}.get(annotation, str(annotation)), []


def _length(metadata: list[Any]) -> list[str]:
    lengths = {type(m).__name__: getattr(m, "min_length", None) or getattr(m, "max_length", None)
               for m in metadata if isinstance(m, (at.MinLen, at.MaxLen))}
    if lengths.get("MinLen") is not None and lengths.get("MinLen") == lengths.get("MaxLen"):
        return [f"exactly {lengths['MinLen']} values"]
    return [f"{'at least' if k == 'MinLen' else 'at most'} {v} values" for k, v in lengths.items()]


def _default_text(field) -> str:
    if field.default is PydanticUndefined:
        return "**required**"
    value = field.default
    if isinstance(value, BaseModel):
        return "(table defaults)"
    if value is None or value == ():
        return "none"
    if isinstance(value, str):
        return f'"{value}"' if len(value) < 40 else "(see source)"
    return f"`{value}`"


def model_rows(model: type[BaseModel]) -> list[tuple[str, str, str, str, str, str]]:
    """(field, type, unit, default, range, meaning) of each field of ``model``."""
    rows = []
    for name, field in model.model_fields.items():
        text, parts = _type_text(field.annotation)
        parts = _bounds(field.metadata) + parts + _length(field.metadata)
        meaning = " ".join((field.description or "").split())  # one table row, however the docstring wraps
        rows.append((name, text, unit_of(name), _default_text(field), ", ".join(parts), meaning))
    return rows


def _tables(model: type[BaseModel], key: str, array: bool, seen: list) -> None:
    seen.append((key, array, model))
    for name, field in model.model_fields.items():
        annotation, is_array = field.annotation, False
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if typing.get_origin(annotation) is tuple and typing.get_args(annotation)[-1] is Ellipsis:
            annotation, is_array = typing.get_args(annotation)[0], True
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _tables(annotation, f"{key}.{name}" if key else name, is_array, seen)


def undocumented_fields() -> list[str]:
    """Fields of the site schema without a docstring (a test keeps this empty)."""
    seen: list = []
    _tables(Site, "", False, seen)
    return [f"{key or 'site'}.{name}" for key, _, model in seen for name, field in model.model_fields.items()
            if not field.description]


def site_tables_md() -> str:
    """One Markdown table per TOML table of a site file, in the order a site file has them."""
    seen: list = []
    _tables(Site, "", False, seen)
    lines = []
    for key, array, model in seen:
        title = "Top level" if not key else (f"[[{key}]]" if array else f"[{key}]")
        lines += [f"## {title}", ""]
        doc = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
        if doc and not doc.startswith(model.__name__ + "("):
            lines += [doc, ""]
        lines += ["| field | type | unit | default | allowed | meaning |", "|---|---|---|---|---|---|"]
        for row in model_rows(model):
            cells = [f"`{row[0]}`", *row[1:]]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
