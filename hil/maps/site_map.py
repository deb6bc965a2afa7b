"""The whole register map of a site: every device's plain map, then its SunSpec block.

A pure function of the ``Site`` (the scenario only names the site): exporting the map or
writing its docs builds no twin. The plain map (``hil.maps.registers``) and the SunSpec
blocks (``hil.maps.sunspec``) are composed here so that neither imports the other.
"""

from __future__ import annotations

from hil.maps.registers import Point, RegisterMap, plain_points, site_devices
from hil.maps.sunspec import SUNSPEC_KINDS, sunspec_points
from twin.config.scenario import Scenario
from twin.config.site import Site
from twin.model.commands import command_specs


def build_register_map(site: Site) -> RegisterMap:
    """Plain points of every device of ``site``, each followed by its SunSpec points."""
    devices, specs = site_devices(site), command_specs(site)
    points: list[Point] = []
    for device in devices:
        points += plain_points(device, site, specs)
        if device.kind in SUNSPEC_KINDS:
            points += sunspec_points(device, site)
    return RegisterMap(tuple(devices), tuple(points))


def register_map_of(scenario: Scenario) -> RegisterMap:
    """The map of a scenario's site."""
    return build_register_map(scenario.site)
