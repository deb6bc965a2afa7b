"""Modbus/TCP framing that a hostile or merely clumsy client cannot wedge.

pymodbus 3.16's server side decodes one frame per ``data_received`` and keeps a single
``last_pdu`` slot: two requests in one TCP segment get one answer, and a header it cannot
parse (protocol id != 0, length 0 or 1, random bytes) stays at the head of the receive
buffer for good, so every later request of that connection goes unanswered. This mixin
replaces that part of ``ServerRequestHandler``:

* every complete MBAP frame in the buffer is taken, and the requests are answered one
  after another in arrival order by one task per connection (pipelining works);
* a header that is not Modbus/TCP (protocol id != 0, length outside 2..254) closes the
  connection: a byte stream cannot be resynchronised, and a closed socket is an error the
  client sees at once, unlike silence;
* a function code outside the documented set is answered with exception 01 before
  pymodbus decodes it, and a request body pymodbus cannot decode with exception 03;
* a connection cap and an idle timeout (no complete request for that long, which also
  ends slowloris senders) bound what clients can hold; a connection beyond the cap is
  closed at once and logged once per interval, never once per attempt.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import struct
import threading

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse

from hil.logs import RateLimitedLog
from hil.servers.limits import ConnectionLimits

LOG = logging.getLogger("satwin.hil")
MBAP = struct.Struct(">HHHB")  # transaction id, protocol id, length (unit id + PDU), unit id
MAX_LENGTH = 254  # unit id + the longest PDU (253 bytes), Modbus/TCP specification 4.1
MAX_PENDING = 64  # requests of one connection waiting for their answer


class Backlog:
    """Requests taken from the sockets and not yet answered, across connections; the run loop
    waits on it while it is behind the wall clock (``WallClock(yield_to=...)``).

    Why: the twin's step and the server share one interpreter. A twin that cannot keep its speed
    runs steps back to back and holds the GIL nearly all the time, and each answer needs the GIL
    several times (read, decode, datastore, send): a round trip then waited ~5 ms per handover
    (p99 20-30 ms). Between steps, waiting here hands the GIL to the server until it has
    answered what it took, so the server comes first and the twin runs slower instead.
    """

    def __init__(self) -> None:
        self._unanswered = 0
        self._changed = threading.Condition(threading.Lock())

    def add(self, n: int = 1) -> None:
        with self._changed:
            self._unanswered += n

    def done(self, n: int = 1) -> None:
        with self._changed:
            self._unanswered -= n
            if self._unanswered <= 0:
                self._changed.notify_all()

    @property
    def unanswered(self) -> int:
        return self._unanswered

    def wait_answered(self, timeout_s: float) -> bool:
        """Until every request taken is answered, at most ``timeout_s``; True if none is left."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unanswered <= 0, timeout_s)


class MbapFraming:
    """Mixin before ``ServerRequestHandler``: framing, in-order answers, limits (see the module doc).

    The server it belongs to provides ``functions`` (the function codes served), ``limits``
    (``ConnectionLimits``), ``open_connections`` (a set), ``refusals`` (``RateLimitedLog``) and
    ``backlog`` (``Backlog``: told of every request queued and answered);
    the handler it is mixed into provides ``refused(request, function_code, unit_id, code)``,
    told of each function code outside ``functions`` (``request``: the decoded PDU, or None).
    """

    def callback_connected(self) -> None:
        super().callback_connected()
        self._requests: asyncio.Queue = asyncio.Queue()
        self._last_request_s = self.loop.time()
        server = self.server
        if len(server.open_connections) >= server.limits.max_connections:
            server.refusals.warning("refused a connection: %d clients are connected, the limit "
                                    "(--max-connections)", len(server.open_connections))
            self._closing = True
            self.transport.close()
            return
        self._closing = False
        self._queued = 0  # requests of this connection in the server's backlog
        server.open_connections.add(self)
        self._worker = self.loop.create_task(self._answer_in_order())
        self._idle = self.loop.call_later(server.limits.idle_timeout_s, self._check_idle)

    def callback_disconnected(self, exc: Exception | None) -> None:
        self.server.open_connections.discard(self)
        if getattr(self, "_worker", None) is not None:
            self._worker.cancel()
            self._idle.cancel()
            self.server.backlog.done(self._queued)  # never answered now: the run loop must not wait for them
            self._queued = 0
        super().callback_disconnected(exc)

    def datagram_received(self, data: bytes, addr: tuple | None) -> None:
        if self._closing:
            return
        buffer = self.recv_buffer + data
        while len(buffer) >= MBAP.size:
            tid, protocol, length, unit_id = MBAP.unpack_from(buffer)
            if protocol != 0 or not 2 <= length <= MAX_LENGTH:
                self._drop(f"not a Modbus/TCP header (protocol id {protocol}, length {length})")
                return
            end = 6 + length
            if len(buffer) < end:
                break
            self._on_frame(tid, unit_id, buffer[MBAP.size:end], addr)
            buffer = buffer[end:]
            if self._closing:
                return
        self.recv_buffer = buffer

    def _on_frame(self, tid: int, unit_id: int, pdu_bytes: bytes, addr: tuple | None) -> None:
        self._last_request_s = self.loop.time()
        if self._requests.qsize() >= MAX_PENDING:
            self._drop(f"more than {MAX_PENDING} requests waiting for their answers")
            return
        function_code = pdu_bytes[0]
        try:
            request = self.framer.decoder.decode(pdu_bytes)
        except Exception:  # noqa: BLE001 - pymodbus raises several kinds on a malformed body
            request = None
        if function_code not in self.server.functions:
            self.refused(request, function_code, unit_id, int(ExcCodes.ILLEGAL_FUNCTION))
            refusal = ExceptionResponse(function_code, ExcCodes.ILLEGAL_FUNCTION, device_id=unit_id, transaction=tid)
            self._queue(None, refusal, addr)
            return
        if request is None:
            refusal = ExceptionResponse(function_code, ExcCodes.ILLEGAL_VALUE, device_id=unit_id, transaction=tid)
            self._queue(None, refusal, addr)
            return
        request.dev_id, request.transaction_id = unit_id, tid
        self._queue(request, None, addr)

    def _queue(self, request, refusal, addr: tuple | None) -> None:
        self._queued += 1
        self.server.backlog.add()
        self._requests.put_nowait((request, refusal, addr))

    async def _answer_in_order(self) -> None:
        while True:
            # one request per turn of the loop: a queue that is not empty returns without yielding, so a
            # pipelining client (a write flood) would otherwise be answered in full before anyone else
            await asyncio.sleep(0)
            item, refusal, addr = await self._requests.get()
            try:
                await self._answer(item, refusal, addr)
            finally:
                if self._queued > 0:  # else a disconnect already gave back this connection's requests
                    self._queued -= 1
                    self.server.backlog.done()

    async def _answer(self, item, refusal, addr: tuple | None) -> None:
        if item is None:
            self.server_send(refusal, addr)
            return
        self.last_pdu, self.last_addr = item, addr
        try:
            await self.handle_request()
        except Exception:  # noqa: BLE001 - one bad request must not end the connection's answers
            LOG.exception("request from %s failed", getattr(self, "client", "?"))
            failure = ExceptionResponse(item.function_code, ExcCodes.DEVICE_FAILURE,
                                        device_id=item.dev_id, transaction=item.transaction_id)
            self.server_send(failure, addr)

    def _check_idle(self) -> None:
        idle_s = self.loop.time() - self._last_request_s
        timeout_s = self.server.limits.idle_timeout_s
        if idle_s >= timeout_s:
            self._drop(f"no request for {timeout_s:g} s (--idle-timeout)")
        else:
            self._idle = self.loop.call_later(timeout_s - idle_s, self._check_idle)

    def _drop(self, reason: str) -> None:
        LOG.info("closed connection from %s: %s", getattr(self, "client", "?"), reason)
        self._closing = True
        self.recv_buffer = b""
        if self.transport is not None:
            self.transport.close()


def quiet_descriptor_exhaustion(loop: asyncio.AbstractEventLoop) -> None:
    """Out of file descriptors, asyncio's accept loop reports every retry with a traceback; make
    that one log line per interval that says what is wrong (other loop errors are reported as usual)."""
    exhausted = RateLimitedLog(LOG)

    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            exhausted.warning("cannot accept Modbus connections: %s (the process is out of file descriptors; "
                              "lower --max-connections or raise 'ulimit -n')", exc.strerror)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


def ensure_descriptors(limits: ConnectionLimits, reserve: int = 64) -> None:
    """Raise the soft descriptor limit so the connection cap, not the OS, refuses clients
    (``reserve`` for the recording, the audit and the libraries)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + reserve
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
