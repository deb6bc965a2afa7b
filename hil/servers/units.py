"""The units one Modbus transport serves, as pymodbus devices, and the timing of a real bus.

TCP and RTU servers both build their pymodbus ``SimDevice`` list here, from the bridge: the
plain units (plain map + SunSpec, one shared register space) and the product devices of
the site's ``modbus_devices`` (their own holding and input tables when the product has
both, as an SDM630 does). ``hil.maps.profiles.bus_units`` decides which units a transport
carries. Every request goes through the bridge: reads copy its current image, writes go
to its validation.
"""

from __future__ import annotations

import contextvars
import functools
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from hil.datastore.bridge import Bridge
from hil.maps.profiles import ProductDevice, bus_units
from hil.maps.registers import SUNSPEC_BASE

REGISTER_FUNCTIONS = {3, 4, 6, 16, 23}  # coils and discrete inputs are not served
WRITE_FUNCTIONS = {6, 16, 23}
READ_TABLE = {3: "holding", 4: "input", 23: "holding"}
RTU_OVERHEAD_BYTES = 5  # address, function, byte count, CRC (2) of a read response
RTU_READ_REQUEST_BYTES = 8
BITS_PER_CHAR = {"N": 10, "E": 11, "O": 11}  # start + 8 data + parity + stop (2 stop bits without parity: 11)
INTERFRAME_CHARS = 3.5  # the silent interval that ends an RTU frame
# a USB-RS485 adapter hands a frame over in chunks up to its latency timer (16 ms) apart, so a
# pause shorter than this never ends a frame, whatever 3.5 characters take at the line's baud
FRAME_GAP_MIN_S = 0.05


class Request:
    """Per-request context the action sees: who asks, with which function, and whether it is audited
    (``audit_read(address, count, code)`` records a read)."""

    def __init__(self, client: str, function: int = 16, audit_read=None) -> None:
        self.client = client
        self.function = function
        self.audit_read = audit_read
        self.audited = False


REQUEST: contextvars.ContextVar[Request] = contextvars.ContextVar("modbus_request")


async def _access(read, write, function_code: int, start_address: int, address: int, count: int,
                  registers: list[int], values: list[int] | None) -> ExcCodes | None:
    """pymodbus' action for one unit: ``read(function_code, address, count)`` fills a read (or the
    read-back pymodbus does after FC6/FC23), ``write(address, values, client)`` validates a write."""
    if function_code not in REGISTER_FUNCTIONS:
        return ExcCodes.ILLEGAL_FUNCTION
    request = REQUEST.get()
    if values is None:
        offset = address - start_address
        registers[offset:offset + count] = read(function_code, address, count)
        if function_code in READ_TABLE and function_code != 23 and request.audit_read is not None:
            request.audited = True
            request.audit_read(address, count, 0)
        return None
    request.audited = True
    code = write(address, list(values), request.client, function_code)
    return ExcCodes(code) if code else None


def _plain_action(bridge: Bridge, unit_id: int):
    return functools.partial(_access, lambda fc, address, count: bridge.read(unit_id, address, count),
                             functools.partial(bridge.write, unit_id))


def _product_action(bridge: Bridge, product: ProductDevice):
    tables = product.profile.tables()

    def read(function_code: int, address: int, count: int) -> list[int]:
        table = READ_TABLE.get(function_code, "holding")
        return product.read(table if table in tables else next(iter(tables)), address, count)  # one table: both

    return functools.partial(_access, read, functools.partial(bridge.write_product, product))


def _blocks(spans: list[tuple[int, int]]) -> list[SimData]:
    return [SimData(start, count=count, datatype=DataType.REGISTERS) for start, count in spans]


def _product_device(bridge: Bridge, product: ProductDevice) -> SimDevice:
    action = _product_action(bridge, product)
    unit_id = product.assignment.unit_id
    tables = product.profile.tables()
    if len(tables) == 1:
        return SimDevice(id=unit_id, simdata=_blocks(product.blocks(next(iter(tables)))), action=action)
    # separate tables (function 03 and 04 see different registers); pymodbus wants bit blocks too,
    # which the action refuses (REGISTER_FUNCTIONS)
    bits = [SimData(0, count=1, datatype=DataType.BITS)]
    return SimDevice(id=unit_id, simdata=(bits, list(bits), _blocks(product.blocks("holding")),
                                          _blocks(product.blocks("input"))), action=action)


@dataclass
class BusUnits:
    """What one transport serves: pymodbus devices, and per unit the twin device (for comms_loss)
    and the product's reply time (for bus timing)."""

    devices: list[SimDevice]
    twin_names: dict[int, str]
    response_s: dict[int, float]

    @property
    def unit_ids(self) -> set[int]:
        return set(self.twin_names)

    def silent(self, bridge: Bridge, unit_id: int) -> bool:
        """A comms_loss fault on the unit's device: it does not answer on any transport."""
        return self.twin_names.get(unit_id) in bridge.silent_devices


def bus_units_of(bridge: Bridge, transport: str) -> BusUnits:
    plain, products = bus_units(bridge.map.devices, [p.assignment for p in bridge.products], transport)
    devices, twin_names, response_s = [], {}, {}
    for device in plain:
        unit = bridge.units[device.unit_id]
        blocks = [SimData(0, count=unit.size, datatype=DataType.REGISTERS)]
        if unit.sunspec:
            blocks.append(SimData(SUNSPEC_BASE, count=unit.sunspec.size, datatype=DataType.REGISTERS))
        devices.append(SimDevice(id=device.unit_id, simdata=blocks,
                                 action=_plain_action(bridge, device.unit_id)))
        twin_names[device.unit_id], response_s[device.unit_id] = device.twin_name, 0.0
    for product in bridge.products:
        if product.assignment in products:
            devices.append(_product_device(bridge, product))
            unit_id = product.assignment.unit_id
            twin_names[unit_id] = product.assignment.device.twin_name
            response_s[unit_id] = product.profile.response_ms / 1e3
    return BusUnits(devices, twin_names, response_s)


def frame_time_s(request_bytes: int, response_bytes: int, baud: int, parity: str = "N") -> float:
    """How long a request and its reply occupy an RTU line at ``baud`` (with the frame gaps)."""
    chars = request_bytes + response_bytes + 2 * INTERFRAME_CHARS
    return chars * BITS_PER_CHAR.get(parity, 11) / baud


def reply_bytes(function_code: int, count: int) -> int:
    """Size of the RTU reply to a request (a read returns 2 bytes a register; a write echoes 8)."""
    return RTU_OVERHEAD_BYTES + 2 * count if function_code in READ_TABLE else RTU_READ_REQUEST_BYTES


@dataclass(frozen=True)
class BusTiming:
    """An RTU line's timing: nothing answers before the frames could cross the line at ``baud``
    and the product's reply time has passed; ``enabled=False`` answers at once."""

    baud: int
    parity: str = "N"
    enabled: bool = True

    @property
    def frame_gap_s(self) -> float:
        """Silence after which received bytes are a finished (or abandoned) frame."""
        return max(FRAME_GAP_MIN_S, INTERFRAME_CHARS * BITS_PER_CHAR.get(self.parity, 11) / self.baud)

    def delay_s(self, units: BusUnits, pdu) -> float:
        if not self.enabled:
            return 0.0
        count = getattr(pdu, "count", 0) or len(getattr(pdu, "registers", []) or [])
        request = RTU_READ_REQUEST_BYTES if pdu.function_code in (3, 4, 6) else RTU_READ_REQUEST_BYTES + 1 + 2 * count
        wire_s = frame_time_s(request, reply_bytes(pdu.function_code, count), self.baud, self.parity)
        return wire_s + units.response_s.get(pdu.dev_id, 0.0)
