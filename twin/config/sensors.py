"""Sensor models as data: the ``[[sensors]]`` schema and its checks against the site.

What a model does at run time is ``twin.model.sensors``. A point is a site point
(``grid_p_kw`` ...) or a point of one device, ``DEVICE.POINT`` with the device named as in
the site file (``pv_canopy.p_kw``, ``mcs_1.p_kw``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator

from twin.config.errors import ScenarioError
from twin.config.files import FrozenModel
from twin.config.quantities import MAX_KW
from twin.config.site import Site
from twin.config.units import parse_offset_s

SitePoint = Literal["grid_p_kw", "grid_q_kvar", "poc_v_pu", "pv_p_kw", "pv_available_kw", "bess_p_kw",
                    "bess_soc_pct", "ev_p_kw", "ev_cap_kw"]


MAX_DELAY_S = 3600.0  # the delay line holds every step of this span


SITE_POINTS: tuple[str, ...] = get_args(SitePoint)


# device kind -> its points a sensor may act on (named as in its Modbus plain map) -> the snapshot field of the truth
DEVICE_POINTS = {
    "pv": {"p_kw": "pv_p_kw", "p_available_kw": "pv_available_kw"},
    "charger": {"p_kw": "charger_p_kw", "ev_soc_pct": "charger_ev_soc_pct"},
    "swap": {"p_kw": "swap_p_kw"},
}


class SensorModel(FrozenModel):
    """How one measured point differs from the truth (all effects optional)."""

    point: str  # a site point, or DEVICE.POINT (checked against the site by ``check_sensors``)
    delay_s: Annotated[float, Field(le=MAX_DELAY_S)] = 0.0
    jitter_s: Annotated[float, Field(le=MAX_DELAY_S)] = 0.0
    bias: Annotated[float, Field(ge=-MAX_KW, le=MAX_KW)] = 0.0
    noise_std: Annotated[float, Field(ge=0, le=MAX_KW)] = 0.0
    quantum: Annotated[float, Field(ge=0, le=MAX_KW)] = 0.0
    stuck_start_s: float | None = None
    stuck_duration_s: float = 0.0
    dropout_start_s: float | None = None
    dropout_duration_s: float = 0.0

    @field_validator("delay_s", "jitter_s", "stuck_start_s", "stuck_duration_s", "dropout_start_s",
                     "dropout_duration_s", mode="before")
    @classmethod
    def _span(cls, value: object) -> float | None:
        return None if value is None else parse_offset_s(value)  # type: ignore[arg-type]

    @field_validator("point")
    @classmethod
    def _known_point(cls, value: str) -> str:
        if value not in SITE_POINTS and not all(value.rpartition(".")):
            raise ValueError(f"unknown point '{value}': name a site point ({', '.join(SITE_POINTS)}) or a device "
                             f"point DEVICE.POINT (see docs/scenarios.md)")
        return value


def sensed_device_points(models: tuple[SensorModel, ...]) -> list[str]:
    """The device points (``DEVICE.POINT``) that have a sensor model, in the scenario's order."""
    return [m.point for m in models if m.point not in SITE_POINTS]


def device_sensor_points(site: Site) -> dict[str, tuple[str, int | None]]:
    """Device points a sensor model may act on: ``"DEVICE.POINT"`` -> (snapshot field, index in it,
    or None for a single device's scalar)."""
    devices = {"pv": [(array.name, i) for i, array in enumerate(site.pv)],
               "charger": [(name, slot) for slot, name in enumerate(site.connector_names)],
               "swap": [(site.swap.name, None)] if site.swap else []}
    return {f"{device}.{point}": (field, index) for kind, named in devices.items() for device, index in named
            for point, field in DEVICE_POINTS[kind].items()}


def check_sensors(models: tuple[SensorModel, ...], site: Site, path: Path | None) -> None:
    """Each point is on this site and has at most one sensor model."""
    targets = device_sensor_points(site)
    seen: set[str] = set()
    for i, model in enumerate(models):
        field, point = f"sensors[{i}].point", model.point
        if point in seen:
            raise ScenarioError(path, field, f"'{point}' already has a sensor model (one per point)")
        seen.add(point)
        if point in SITE_POINTS or point in targets:
            continue
        device, bess_name = point.rpartition(".")[0], site.bess.name if site.bess else None
        if device in ("meter", "site", bess_name):
            site_points = ("ev_p_kw", "ev_cap_kw") if device == "site" else device_points(device, [], bess_name)
            raise ScenarioError(path, field, f"'{device}' is measured by site points: name "
                                f"{' or '.join(site_points)} instead")
        choices = [target for target in targets if target.rpartition(".")[0] == device] or list(targets)
        shown = ", ".join(choices[:12]) + (" …" if len(choices) > 12 else "")
        raise ScenarioError(path, field, f"'{point}' is not a device point on site '{site.name}' "
                            f"(choose from: {shown or 'none on this site'})")


def device_points(device: str, pv_names: list[str], bess_name: str | None) -> tuple[str, ...]:
    """Measured points that come from a device; a device that stops talking leaves them stale."""
    if device == "meter":
        return ("grid_p_kw", "grid_q_kvar", "poc_v_pu")
    if device == bess_name:
        return ("bess_p_kw", "bess_soc_pct")
    if device in pv_names:
        return ("pv_p_kw", "pv_available_kw")
    if device == "site":
        return ("ev_cap_kw",)
    return ("ev_p_kw",)  # a connector or the swap station
