"""Faults as data: the ``[[faults]]`` schema (scenario file or GUI injection) and its checks
against the site. What each kind does at run time is ``twin.model.faults``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from twin.config.errors import ScenarioError
from twin.config.files import FrozenModel
from twin.config.site import FEEDER_LINE
from twin.config.units import parse_offset_s

if TYPE_CHECKING:
    from twin.config.site import Site


FaultKind = Literal["pv_trip", "bess_trip", "bess_derate", "charger_fault", "transformer_outage", "feeder_outage",
                    "utility_outage", "voltage_sag", "comms_loss"]


SITE_WIDE = ("utility_outage", "voltage_sag")


class Fault(FrozenModel):
    kind: FaultKind
    device: str = ""
    start_s: float
    duration_s: float
    derate_pct: Annotated[float, Field(gt=0, le=100)] = 50.0
    sag_pu: Annotated[float, Field(gt=0.3, lt=1.0)] = 0.9

    @field_validator("start_s", "duration_s", mode="before")
    @classmethod
    def _span(cls, value: object) -> float:
        return parse_offset_s(value)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.device}" if self.device else self.kind


def modbus_device_names(site: Site) -> list[str]:
    """Names of the devices a controller talks to (one Modbus unit each)."""
    names = ["site", "meter"] + [a.name for a in site.pv]
    if site.bess:
        names.append(site.bess.name)
    names += site.connector_names
    if site.swap:
        names.append(site.swap.name)
    return names


def valid_devices(site: Site, kind: str) -> list[str]:
    return {
        "pv_trip": [a.name for a in site.pv],
        "bess_trip": [site.bess.name] if site.bess else [],
        "bess_derate": [site.bess.name] if site.bess else [],
        "charger_fault": site.connector_names + [g.name for g in site.chargers],
        "transformer_outage": [t.name for t in site.transformers],
        "feeder_outage": [FEEDER_LINE] + [ln.name for ln in site.lines],
        "utility_outage": [""],
        "voltage_sag": [""],
        "comms_loss": modbus_device_names(site),
    }[kind]


def check_fault(fault: Fault, site: Site, path, field: str) -> None:
    """A fault must name a device of the right kind on this site."""
    allowed = valid_devices(site, fault.kind)
    if fault.kind in SITE_WIDE:
        if fault.device:
            raise ScenarioError(path, f"{field}.device", f"{fault.kind} is site-wide; leave device empty")
        return
    if fault.device not in allowed:
        shown = ", ".join(allowed[:12]) + (" …" if len(allowed) > 12 else "")
        raise ScenarioError(path, f"{field}.device",
                            f"'{fault.device}' is not a device for {fault.kind} on site '{site.name}' "
                            f"(choose from: {shown or 'none on this site'})")
