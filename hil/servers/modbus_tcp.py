"""The Modbus TCP server: pymodbus 3.16 asyncio, one unit id per device, in its own thread.

The server thread owns the event loop; the run loop steps the twin in the main thread
and only swaps register images in ``hil.datastore.bridge``. pymodbus 3.16 ignores custom
datablocks, so every request goes through ``SimDevice(action=...)``: reads copy the
bridge's current image, writes go to ``Bridge.write`` (the one place they are validated).
Addresses outside a device's layout are refused by pymodbus itself with exception 02.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading

from pymodbus import pymodbus_apply_logging_config
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from hil.datastore.bridge import Bridge
from hil.maps.registers import SUNSPEC_BASE

REGISTER_FUNCTIONS = {3, 4, 6, 16, 23}  # everything is a holding register; coils and inputs bits are not served
START_TIMEOUT_S = 10.0

WRITE_FUNCTIONS = {6, 16, 23}
BIT_FUNCTIONS = {1, 2, 5, 15}  # coils and discrete inputs: refused with 01, audited like any request


class _Request:
    """Per-request context the action sees: who asks, with which function, and whether it is audited."""

    def __init__(self, client: str, function: int) -> None:
        self.client = client
        self.function = function
        self.audited = False


_REQUEST: contextvars.ContextVar[_Request] = contextvars.ContextVar("modbus_request")


def _target(pdu) -> tuple[int, int, list[int]]:
    """(address, count, values written) of a request, for the audit; a read writes nothing."""
    if pdu.function_code == 23:
        return pdu.write_address, len(pdu.write_registers), list(pdu.write_registers)
    if pdu.function_code in (5, 15):
        bits = [int(bool(b)) for b in (pdu.bits or [])]
        return pdu.address, len(bits), bits
    if pdu.function_code in WRITE_FUNCTIONS:
        return pdu.address, len(pdu.registers), list(pdu.registers)
    return getattr(pdu, "address", 0), getattr(pdu, "count", 0), []


class _Handler(ServerRequestHandler):
    """One per connection: enforces the allow-list, names the client for the audit log,
    answers unknown unit ids with 0x0B instead of pymodbus' 04 and traceback, and audits
    writes pymodbus refuses before they reach the bridge (addresses outside the layout)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if peer else "?"
        allow = self.server.allow
        if allow is not None and (peer is None or peer[0] not in allow):
            logging.getLogger("satwin.hil").warning("refused connection from %s (not in --allow)", self.client)
            transport.close()
        else:
            self.server.bridge.connections += 1

    def callback_disconnected(self, exc: Exception | None) -> None:
        self.server.bridge.disconnected(getattr(self, "client", "?"))
        super().callback_disconnected(exc)

    async def handle_request(self) -> None:
        pdu = self.last_pdu
        if pdu is None:
            return
        bridge = self.server.bridge
        request = _Request(self.client, pdu.function_code)
        _REQUEST.set(request)
        if pdu.dev_id in bridge.silent_units:  # a comms_loss fault: the device is not there
            return
        refused = ExcCodes.GATEWAY_NO_RESPONSE if pdu.dev_id not in self.server.unit_ids else \
            ExcCodes.ILLEGAL_FUNCTION if pdu.function_code in BIT_FUNCTIONS else None
        if refused is not None:
            self._audit(pdu, int(refused))
            response = ExceptionResponse(pdu.function_code, refused)
            response.transaction_id, response.dev_id = pdu.transaction_id, pdu.dev_id
            self.server_send(response, self.last_addr)
            return
        await super().handle_request()
        if not request.audited:  # pymodbus refused it before our action saw it: outside the layout
            self._audit(pdu, int(ExcCodes.ILLEGAL_ADDRESS))

    def _audit(self, pdu, code: int) -> None:
        address, count, values = _target(pdu)
        self.server.bridge.log_request(self.client, pdu.function_code, pdu.dev_id, address, count, values, code)


class _TcpServer(ModbusTcpServer):
    def __init__(self, bridge: Bridge, allow: set[str] | None, **kwargs) -> None:
        super().__init__(_devices(bridge), **kwargs)
        self.bridge = bridge
        self.unit_ids = set(bridge.units)
        self.allow = allow

    def callback_new_connection(self) -> _Handler:
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


async def _access(bridge: Bridge, unit_id: int, function_code: int, start_address: int, address: int, count: int,
                  registers: list[int], values: list[int] | None) -> ExcCodes | None:
    if function_code not in REGISTER_FUNCTIONS:
        return ExcCodes.ILLEGAL_FUNCTION
    request = _REQUEST.get()
    if values is None:  # a read, or the read-back pymodbus does after FC6/FC23
        offset = address - start_address
        registers[offset:offset + count] = bridge.read(unit_id, address, count)
        if function_code in (3, 4):
            request.audited = True
            bridge.log_request(request.client, function_code, unit_id, address, count, [], 0)
        return None
    request.audited = True
    code = bridge.write(unit_id, address, list(values), request.client, function_code)
    return ExcCodes(code) if code else None


def _devices(bridge: Bridge) -> list[SimDevice]:
    devices = []
    for unit_id, unit in bridge.units.items():
        blocks = [SimData(0, count=unit.size, datatype=DataType.REGISTERS)]
        if unit.sunspec:
            blocks.append(SimData(SUNSPEC_BASE, count=unit.sunspec.size, datatype=DataType.REGISTERS))
        devices.append(SimDevice(id=unit_id, simdata=blocks, action=functools.partial(_access, bridge, unit_id)))
    return devices


class ModbusServer:
    """Serves a bridge on ``host:port`` from a background thread; ``start`` returns the bound port."""

    def __init__(self, bridge: Bridge, host: str = "127.0.0.1", port: int = 5020,
                 allow: set[str] | None = None) -> None:
        self.bridge, self.host, self.port, self.allow = bridge, host, port, allow
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: _TcpServer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> int:
        pymodbus_apply_logging_config(logging.CRITICAL)  # malformed frames are the client's problem, not log spam
        self._thread = threading.Thread(target=self._run, name="modbus-server", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S):
            raise OSError(f"Modbus server did not start on {self.host}:{self.port}")
        if self._error is not None:
            raise self._error
        return self.port

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
            self._loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
            self._started.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._server = _TcpServer(self.bridge, self.allow, address=(self.host, self.port))
        try:
            await self._server.serve_forever(background=True)
        except RuntimeError as exc:  # pymodbus' way of saying the bind failed
            raise OSError(f"cannot listen on {self.host}:{self.port} (in use or not an address of this machine)") \
                from exc
        sockets = self._server.transport.sockets if self._server.transport else []
        if not sockets:
            raise OSError(f"cannot listen on {self.host}:{self.port}")
        self.port = sockets[0].getsockname()[1]
        self._started.set()

    def stop(self) -> None:
        if self._loop is None or not self._loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)
