"""The Modbus TCP server: pymodbus 3.16 asyncio, one unit id per device, in its own thread
(with ``rtu_timing``: RTU framing over TCP, the units and timing of an RTU line).

The server thread owns the event loop; the run loop steps the twin in the main thread
and only swaps register images in ``hil.datastore.bridge``. pymodbus 3.16 ignores custom
datablocks, so every request goes through ``SimDevice(action=...)``: reads copy the
bridge's current image, writes go to ``Bridge.write`` (the one place they are validated);
``hil.servers.units`` builds those devices for each transport.
Addresses outside a device's layout are refused by pymodbus itself with exception 02.
With ``tls`` (``hil.servers.tls``) the same server is pymodbus' TLS server (Modbus/TCP
Security): client certificates required, each connection's role taken from its certificate.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from pymodbus import pymodbus_apply_logging_config
from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusTcpServer, ModbusTlsServer
from pymodbus.server.requesthandler import ServerRequestHandler

from hil.datastore.bridge import Bridge
from hil.logs import RateLimitedLog
from hil.servers.framing import LOG, Backlog, MbapFraming, ensure_descriptors, quiet_descriptor_exhaustion
from hil.servers.limits import ConnectionLimits
from hil.servers.tls import TlsOptions
from hil.servers.units import REGISTER_FUNCTIONS, REQUEST, WRITE_FUNCTIONS, BusTiming, Request, bus_units_of

START_TIMEOUT_S = 10.0


BIT_FUNCTIONS = {1, 2, 5, 15}  # coils and discrete inputs: refused with 01, audited like any request


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


class RequestHandler(ServerRequestHandler):
    """One per connection: enforces the allow-list, names the client for the audit log,
    answers unknown unit ids with 0x0B instead of pymodbus' 04 and traceback, and audits
    writes pymodbus refuses before they reach the bridge (addresses outside the layout).
    Over TLS the client is also named by its certificate, whose role decides ``may_write``."""

    _last_rx_s = 0.0
    may_write = True

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if getattr(self, "_closing", False):  # over the connection cap (``MbapFraming``)
            return
        peer = transport.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if peer else getattr(self.server, "client_name", "?")
        if self.server.tls is not None:  # the handshake verified the certificate: it names the client
            identity = self.server.tls.identity(transport.get_extra_info("peercert"))
            self.client, self.may_write = identity.label(self.client), identity.may_write
        allow = self.server.allow
        if allow is not None and (peer is None or peer[0] not in allow):
            logging.getLogger("satwin.hil").warning("refused connection from %s (not in --allow)", self.client)
            transport.close()
        else:
            self.server.bridge.connections += 1

    def callback_disconnected(self, exc: Exception | None) -> None:
        self.server.bridge.disconnected(getattr(self, "client", "?"))
        super().callback_disconnected(exc)

    def data_received(self, data: bytes) -> None:
        """On an RTU line a frame ends with silence: a partial frame the line then left quiet is
        noise, dropped before the next frame's bytes (else it would spoil that frame too)."""
        timing = self.server.timing
        now_s = time.monotonic()
        if timing is not None and self.recv_buffer and now_s - self._last_rx_s > timing.frame_gap_s:
            self.recv_buffer = b""
        self._last_rx_s = now_s
        super().data_received(data)

    async def handle_request(self) -> None:
        pdu = self.last_pdu
        if pdu is None:
            return
        bridge = self.server.bridge
        request = Request(self.client, pdu.function_code,
                          lambda address, count, code: bridge.log_request(self.client, pdu.function_code, pdu.dev_id,
                                                                          address, count, [], code),
                          self.may_write)
        REQUEST.set(request)
        if self.server.units.silent(bridge, pdu.dev_id):  # a comms_loss fault: the device is not there
            return
        known = pdu.dev_id in self.server.unit_ids
        if not known and self.server.timing is not None:  # an RTU line: other addresses belong to other slaves
            return
        refused = ExcCodes.ILLEGAL_FUNCTION if pdu.function_code in BIT_FUNCTIONS else None
        refused = ExcCodes.GATEWAY_NO_RESPONSE if not known else refused
        if refused is not None:
            self._audit(pdu, int(refused))
            response = ExceptionResponse(pdu.function_code, refused)
            response.transaction_id, response.dev_id = pdu.transaction_id, pdu.dev_id
            self.server_send(response, self.last_addr)
            return
        if self.server.timing is not None:
            await asyncio.sleep(self.server.timing.delay_s(self.server.units, pdu))
        await super().handle_request()
        if not request.audited:  # pymodbus refused it before our action saw it: outside the layout
            self._audit(pdu, int(ExcCodes.ILLEGAL_ADDRESS))

    def _audit(self, pdu, code: int) -> None:
        address, count, values = _target(pdu)
        self.server.bridge.log_request(self.client, pdu.function_code, pdu.dev_id, address, count, values, code)

    def refused(self, request, function_code: int, unit_id: int, code: int) -> None:
        address, count, values = _target(request) if request is not None else (0, 0, [])
        self.server.bridge.log_request(self.client, function_code, unit_id, address, count, values, code)


class MbapRequestHandler(MbapFraming, RequestHandler):
    """Modbus TCP: the framing of ``hil.servers.framing`` (pipelining, no wedged connections, limits)."""


class _TcpServer(ModbusTcpServer):
    """Modbus TCP, or RTU framing over TCP (``timing`` set: the units and timing of an RTU line)."""

    tls: TlsOptions | None = None

    def __init__(self, bridge: Bridge, allow: set[str] | None, timing: BusTiming | None = None,
                 limits: ConnectionLimits = ConnectionLimits(), backlog: Backlog | None = None, **kwargs) -> None:
        self.units = bus_units_of(bridge, "tcp" if timing is None else "rtu")
        super().__init__(self.units.devices, **kwargs)
        self.bridge, self.timing = bridge, timing
        self.unit_ids = self.units.unit_ids
        self.allow = allow
        self.functions = REGISTER_FUNCTIONS  # the MBAP framing answers every other function code with exception 01
        self.limits = limits
        self.open_connections: set[RequestHandler] = set()
        self.refusals = RateLimitedLog(LOG)
        self.backlog = backlog if backlog is not None else Backlog()

    def callback_new_connection(self) -> RequestHandler:
        handler = RequestHandler if self.timing is not None else MbapRequestHandler
        return handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class _TlsServer(_TcpServer, ModbusTlsServer):
    """Modbus/TCP Security: pymodbus' TLS server (MBAP inside TLS) with our handlers and limits."""

    def __init__(self, bridge: Bridge, allow: set[str] | None, tls: TlsOptions,
                 limits: ConnectionLimits = ConnectionLimits(), **kwargs) -> None:
        self.tls = tls
        super().__init__(bridge, allow, None, limits, sslctx=tls.server_context(), framer=FramerType.TLS, **kwargs)


class ModbusServer:
    """Serves a bridge on ``host:port`` from a background thread; ``start`` returns the bound port."""

    def __init__(self, bridge: Bridge, host: str = "127.0.0.1", port: int = 5020,
                 allow: set[str] | None = None, rtu_timing: BusTiming | None = None,
                 limits: ConnectionLimits = ConnectionLimits(), tls: TlsOptions | None = None) -> None:
        """``rtu_timing``: serve the units of an RTU line with RTU framing over TCP (a gateway's
        "RTU over TCP"), answering with that line's timing. ``limits``: what clients may hold.
        ``tls``: Modbus/TCP Security instead of plain TCP (not with ``rtu_timing``)."""
        if tls is not None and rtu_timing is not None:
            raise ValueError("TLS is for Modbus/TCP, not RTU framing over TCP")
        self.bridge, self.host, self.port, self.allow = bridge, host, port, allow
        self.rtu_timing, self.limits, self.tls = rtu_timing, limits, tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: _TcpServer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.backlog = Backlog()  # requests taken and not yet answered (``yield_to``)

    def yield_to(self, timeout_s: float) -> None:
        """Let the server answer what it has taken, at most ``timeout_s`` (``WallClock``'s
        ``yield_to``: called between steps while the twin is behind)."""
        self.backlog.wait_answered(timeout_s)

    def start(self) -> int:
        pymodbus_apply_logging_config(logging.CRITICAL)  # malformed frames are the client's problem, not log spam
        ensure_descriptors(self.limits)
        self._thread = threading.Thread(target=self._run, name="modbus-server", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S):
            raise OSError(f"Modbus server did not start on {self.host}:{self.port}")
        if self._error is not None:
            raise self._error
        return self.port

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        quiet_descriptor_exhaustion(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
            self._loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
            self._started.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        address = (self.host, self.port)
        if self.tls is not None:
            self._server = _TlsServer(self.bridge, self.allow, self.tls, self.limits, address=address,
                                      backlog=self.backlog)
        else:
            framer = FramerType.SOCKET if self.rtu_timing is None else FramerType.RTU
            self._server = _TcpServer(self.bridge, self.allow, self.rtu_timing, self.limits, self.backlog,
                                      address=address, framer=framer)
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
