"""Write validation: registers in, ``Command``s out, or the Modbus exception code that refuses them.

The one conversion from registers to a ``Command`` and the one range check: device bounds come
from ``twin.model.commands.check`` (``command_specs(site)``) for the plain map and product
profiles; SunSpec control points carry ranges derived from the same specs
(``hil.maps.sunspec.writable_ranges``). A write is checked as a whole; nothing of a refused
write takes effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hil.datastore.image import UnitImage
from hil.maps.profiles import ProductDevice, decode_point
from hil.maps.registers import BRIDGE_COMMANDS, SUNSPEC_BASE, Point, decode
from twin.model.commands import Command, CommandError, CommandSpec, check

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE = 1, 2, 3


@dataclass
class ValidWrite:
    commands: list[Command] = field(default_factory=list)
    own: list[tuple[Point, int]] = field(default_factory=list)  # datastore points written (heartbeat, step_ack)
    mirror: list[tuple[str, float]] = field(default_factory=list)  # plain setpoints the SunSpec controls follow
    sunspec: dict[tuple[int, str], float] = field(default_factory=dict)  # SunSpec control points written
    points: dict[str, float] = field(default_factory=dict)  # what it sets, by point name (for the audit)


def validate(unit: UnitImage, address: int, values: list[int], specs: dict[tuple[str, str], CommandSpec],
             source: str, t_s: float, step: int) -> ValidWrite | int:
    """What a write of ``values`` at ``address`` commands, or the exception code refusing it
    (``step``: the last step published, which ``step_ack`` may not pass)."""
    if address >= SUNSPEC_BASE:
        return _validate_sunspec(unit, address, values)
    return _validate_plain(unit, address, values, specs, source, t_s, step)


def _validate_plain(unit: UnitImage, address: int, values: list[int], specs, source: str, t_s: float,
                    step: int) -> ValidWrite | int:
    write = ValidWrite()
    offset = 0
    while offset < len(values):
        point = unit.by_address.get(address + offset)
        if point is None or offset + point.count > len(values) or point.access != "RW":
            return ILLEGAL_VALUE  # a write must cover whole, writable points
        value = decode(point.type, values[offset:offset + point.count])
        offset += point.count
        write.points[f"{point.device}.{point.point}"] = value
        if point.command in BRIDGE_COMMANDS:
            if not (math.isfinite(value) and point.min <= value <= point.max):
                return ILLEGAL_VALUE
            if point.command == "step_ack" and value > step:
                return ILLEGAL_VALUE  # a step that has not been published cannot be finished with
            write.own.append((point, int(value)))
            continue
        command = Command(point.target, point.command, value, source, t_s)
        if not _accepted(command, specs):
            return ILLEGAL_VALUE
        write.commands.append(command)
        write.mirror.append((point.command, value))
    return write


def _validate_sunspec(unit: UnitImage, address: int, values: list[int]) -> ValidWrite | int:
    block = unit.sunspec
    write = ValidWrite()
    for offset, raw in enumerate(values):
        target = block.writable.get(address + offset) if block else None
        if target is None:
            return ILLEGAL_VALUE  # inside the SunSpec block but not a control point we accept
        model_id, name, (low, high) = target
        value = block.engineering(model_id, name, raw)
        if not low <= value <= high:  # the register's own range (mode bits, on/off, 0..100 %)
            return ILLEGAL_VALUE
        write.sunspec[(model_id, name)] = value
        write.points[f"{block.device.name}.{model_id}.{name}"] = value
    return write  # the block turns it into commands when it takes it (its timers decide when)


def validate_product(product: ProductDevice, address: int, values: list[int], specs: dict[tuple[str, str], CommandSpec],
                     source: str, t_s: float) -> ValidWrite | int:
    """A write to a product profile's writable points (e.g. a SUN2000's power derating)."""
    write = ValidWrite()
    offset = 0
    while offset < len(values):
        point = product.writable.get(address + offset)
        if point is None or offset + point.count > len(values):
            return ILLEGAL_ADDRESS if point is None else ILLEGAL_VALUE
        value = decode_point(point, values[offset:offset + point.count], product.profile.word_order)
        command = Command(point.target, point.command, value, source, t_s)
        if not _accepted(command, specs):
            return ILLEGAL_VALUE
        write.commands.append(command)
        write.points[f"{command.target}.{command.quantity}"] = value
        offset += point.count
    return write


def _accepted(command: Command, specs) -> bool:
    try:
        check(command, specs)
    except CommandError:
        return False
    return True
