"""One command path: every setpoint, whoever sends it, is a typed ``Command``.

A built-in controller, a Modbus write (plain map or SunSpec), an OCPP charging profile or
the GUI all produce ``Command`` values. What a target accepts — its quantity, unit, range
and command latency — is one table, ``command_specs(site)``, derived from the site file
alone: protocol adapters check a write against it before they accept it (and answer with
their own exception when it is out of range), the twin clips what a built-in controller
asks beyond a rating, applies the command after the device's latency, and logs it in its
own unit. Nothing travels as a string key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from twin.config.site import Site

Quantity = Literal["p_set_kw", "ev_cap_kw", "p_limit_pct", "p_limit_kw"]
SITE_TARGET = "site"  # the site-wide EV cap is commanded on the site, not on one device
UNIT = {"p_set_kw": "kW", "ev_cap_kw": "kW", "p_limit_pct": "%", "p_limit_kw": "kW"}
# a change smaller than this is not worth an event row (in the quantity's own unit)
LOG_STEP = {"kW": 50.0, "%": 1.0}


@dataclass(frozen=True, slots=True)
class Command:
    target: str  # a device as the site file names it (the battery, a PV array, a connector), or "site"
    quantity: Quantity
    value: float  # in UNIT[quantity]
    source: str = "controller"  # who sent it: "controller", "modbus client 1", "ocpp cp_1", "gui" ...
    t_s: float | None = None  # simulated time it was issued; None: when the twin takes it

    @property
    def unit(self) -> str:
        return UNIT[self.quantity]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What one target accepts: ``low``..``high`` in the quantity's unit, effective after ``latency_s``."""

    target: str
    quantity: Quantity
    low: float
    high: float
    latency_s: float
    kind: Literal["bess", "ev_cap", "pv", "charger"]
    index: int = 0  # position in the twin's list of PV arrays or connectors

    @property
    def unit(self) -> str:
        return UNIT[self.quantity]

    @property
    def log_step(self) -> float:
        return LOG_STEP[self.unit]


class CommandError(ValueError):
    """A command names no target the site has, or a value the target does not accept."""


def connector_p_max_kw(site: Site) -> np.ndarray:
    """Rated power of every connector, in the site's connector order."""
    return np.array([group.p_max_kw for group in site.chargers for _ in range(group.count)], dtype=float)


def ev_p_max_kw(site: Site) -> float:
    """All connectors and pack chargers at full power: the top of the site EV cap."""
    total = float(connector_p_max_kw(site).sum())
    if site.swap:
        total += site.swap.pack_chargers * site.swap.pack_charger_kw
    return total


def command_specs(site: Site) -> dict[tuple[str, str], CommandSpec]:
    """Every (target, quantity) the site accepts, with its range and latency."""
    specs: list[CommandSpec] = []
    if site.bess:
        bess = site.bess
        specs.append(CommandSpec(bess.name, "p_set_kw", -bess.p_max_kw, bess.p_max_kw, bess.command_latency_s, "bess"))
    groups = site.chargers
    # the site-wide cap acts on every connector: it is in force once the slowest group has it
    specs.append(CommandSpec(SITE_TARGET, "ev_cap_kw", 0.0, ev_p_max_kw(site),
                             max((g.command_latency_s for g in groups), default=0.0), "ev_cap"))
    specs += [CommandSpec(array.name, "p_limit_pct", 0.0, 100.0, 0.0, "pv", i) for i, array in enumerate(site.pv)]
    group_of = [group for group in groups for _ in range(group.count)]
    specs += [CommandSpec(name, "p_limit_kw", 0.0, group.p_max_kw, group.command_latency_s, "charger", slot)
              for slot, (name, group) in enumerate(zip(site.connector_names, group_of))]
    return {(spec.target, spec.quantity): spec for spec in specs}


def spec_of(command: Command, specs: dict[tuple[str, str], CommandSpec]) -> CommandSpec:
    spec = specs.get((command.target, command.quantity))
    if spec is None:
        known = sorted({f"{t}.{q}" for t, q in specs})
        raise CommandError(f"no target '{command.target}.{command.quantity}' on this site "
                           f"(known: {', '.join(known[:12])}{' …' if len(known) > 12 else ''})")
    return spec


def check(command: Command, specs: dict[tuple[str, str], CommandSpec]) -> CommandSpec:
    """The spec of a command whose value its target accepts; ``CommandError`` otherwise."""
    spec = spec_of(command, specs)
    if not (math.isfinite(command.value) and spec.low <= command.value <= spec.high):
        raise CommandError(f"{command.target}.{command.quantity} = {command.value:g} {spec.unit} is outside "
                           f"{spec.low:g}..{spec.high:g} {spec.unit}")
    return spec
