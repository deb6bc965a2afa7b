"""Modbus RTU on a serial line (RS-485 through a USB adapter, or a pty in tests), beside TCP.

One line carries several unit ids, as an RS-485 bus does (``hil.maps.profiles.bus_units``:
the product devices assigned to RTU, or the plain units). Like a real slave, a unit stays
silent for frames addressed to others and for frames with a bad CRC (pymodbus' RTU framer
drops them and resynchronises on the next frame). With ``BusTiming`` a reply leaves no
sooner than the frames could cross a line at its baud rate plus the product's reply time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer

from hil.datastore.bridge import Bridge
from hil.servers.modbus_tcp import ModbusServer, RequestHandler
from hil.servers.units import BusTiming, bus_units_of

PARITIES = ("N", "E", "O")
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
DEFAULT_BAUD = 9600


@dataclass(frozen=True)
class RtuLine:
    """``DEVICE[:BAUD[:PARITY]]`` of ``satwin serve --rtu``; a missing baud is the products' own."""

    device: str
    baud: int | None = None
    parity: str = "N"

    @classmethod
    def parse(cls, text: str) -> RtuLine:
        device, *rest = text.split(":")
        if not device or len(rest) > 2:
            raise ValueError(f"'{text}': expected DEVICE[:BAUD[:PARITY]], e.g. /dev/ttyUSB0:9600:N")
        baud = None
        if rest and rest[0]:
            if not rest[0].isdigit() or int(rest[0]) not in BAUDS:
                raise ValueError(f"'{text}': baud must be one of {', '.join(map(str, BAUDS))}")
            baud = int(rest[0])
        parity = rest[1].upper() if len(rest) > 1 else "N"
        if parity not in PARITIES:
            raise ValueError(f"'{text}': parity must be N, E or O")
        return cls(device, baud, parity)


def line_baud(bridge: Bridge, requested: int | None) -> int:
    """The line's baud: as asked, else what its product devices declare (the slowest), else 9,600."""
    if requested:
        return requested
    bauds = [p.profile.baud for p in bridge.products if p.assignment.serves("rtu")]
    return min(bauds) if bauds else DEFAULT_BAUD


class _SerialServer(ModbusSerialServer):
    def __init__(self, bridge: Bridge, timing: BusTiming, **kwargs) -> None:
        self.units = bus_units_of(bridge, "rtu")
        super().__init__(self.units.devices, framer=FramerType.RTU, ignore_missing_devices=True, **kwargs)
        self.bridge, self.timing, self.allow = bridge, timing, None
        self.client_name = f"rtu {kwargs['port']}"  # the audit's client: the line, as it has no peer address
        self.unit_ids = self.units.unit_ids

    def callback_new_connection(self) -> RequestHandler:
        return RequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class RtuServer(ModbusServer):
    """Serves the RTU units of a bridge on a serial device from a background thread."""

    def __init__(self, bridge: Bridge, line: RtuLine, timing: bool = True) -> None:
        super().__init__(bridge, line.device, 0)
        self.line = line
        self.timing = BusTiming(line_baud(bridge, line.baud), line.parity, timing)

    async def _serve(self) -> None:
        if not os.path.exists(self.line.device):
            raise OSError(f"no serial device {self.line.device}")
        self._server = _SerialServer(self.bridge, self.timing, port=self.line.device, baudrate=self.timing.baud,
                                     parity=self.line.parity, stopbits=1, bytesize=8)
        await self._server.serve_forever(background=True)
        self._started.set()
