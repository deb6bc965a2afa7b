"""Reading TOML files into validated, frozen models, with errors that name file and field."""

from __future__ import annotations

import difflib
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from twin.config.errors import ScenarioError

M = TypeVar("M", bound=BaseModel)


class FrozenModel(BaseModel):
    """Base of every file schema: immutable, and unknown keys are mistakes, not silently ignored.

    A field's docstring (the string under it) is its description: the one source of the
    generated site reference (``docs/site-reference.md``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def field_path(loc: tuple[Any, ...]) -> str:
    """``("chargers", 2, "bus")`` -> ``"chargers[2].bus"`` (the TOML reader's view of the field)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(path, None, "file not found")
    if path.is_dir():
        raise ScenarioError(path, None, "is a folder, expected a .toml file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, None, f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(path, None, "not a UTF-8 text file") from None


def validate(model: type[M], data: dict[str, Any], path: Path | None, context: dict[str, Any] | None = None) -> M:
    """Validate ``data`` against ``model``; the first problem becomes a ``ScenarioError``.

    An unknown field is reported before anything else, with the closest valid name: a typo
    (``p_peak_kw``) otherwise shows up first as the real field being "missing".
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        unknown = [e for e in errors if e["type"] == "extra_forbidden"]
        first = unknown[0] if unknown else errors[0]
        message = first["msg"].removeprefix("Value error, ")
        explained = 1
        if first["type"] == "extra_forbidden":
            valid = _field_names(model, tuple(first["loc"][:-1]))
            close = difflib.get_close_matches(str(first["loc"][-1]), valid, n=1, cutoff=0.6)
            message = f"unknown field; did you mean '{close[0]}'?" if close else (
                f"unknown field (valid here: {', '.join(valid)})" if valid else "unknown field")
            if close:  # the misspelt field's "missing" error is the same mistake
                explained += sum(1 for e in errors if e["type"] == "missing"
                                 and tuple(e["loc"]) == (*first["loc"][:-1], close[0]))
        elif first["type"] == "missing":
            message = "required field is missing"
        more = len(errors) - explained
        if more > 0:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ScenarioError(path, field_path(tuple(first["loc"])), message) from None


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (as written in the file) of the table at ``loc`` inside ``model``."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        inner = _model_in(field.annotation)
        if inner is None:
            return []
        model = inner
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, in a tuple, or optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
