"""OCPP-J routing that a hostile or broken peer cannot crash, wedge or use to fill the log.

The ocpp library's ``ChargePoint.route_message`` logs a traceback for every frame it cannot
parse and answers nothing; a frame of the right type with elements of the wrong type (an
action that is a list) raises inside the routing and ends the connection's reader; a
CallResult nobody asked for waits in its response queue until the next call. This mixin,
before the library's class, checks each frame first:

* not JSON, not an array, the wrong number or types of elements, an unknown message type
  id: a CallError (the library's code for it: FormatViolation, ProtocolError,
  PropertyConstraintViolation) when the frame has a message id to answer, else nothing;
* a CallResult or CallError while no call of ours is waiting: dropped;
* everything else goes to the library, which answers unknown actions (NotImplemented,
  NotSupported) and payloads outside the schema with CallErrors itself.

Each refusal is one log line per interval, however many arrive; the library's own log
(tracebacks of handler errors) is bounded the same way (``bound_library_log``).
Oversize frames never get here: websockets closes the socket (``MAX_MESSAGE_BYTES``).
"""

from __future__ import annotations

import json
import logging

from ocpp.exceptions import OCPPError, ProtocolError
from ocpp.messages import Call, CallError, MessageType, unpack

from hil.logs import OnePerInterval, RateLimitedLog

LOG = logging.getLogger("satwin.ocpp")
REFUSALS = RateLimitedLog(LOG)
# the types of a frame's elements after its message type id (OCPP-J 4.1.3)
SHAPES = {MessageType.Call: (str, str, dict), MessageType.CallResult: (str, dict),
          MessageType.CallError: (str, str, str, dict)}


def bound_library_log() -> None:
    """The ocpp library logs every frame at INFO and a traceback per bad call: warnings and above
    only, and at most one record per interval (the first shown whole)."""
    library = logging.getLogger("ocpp")
    library.setLevel(logging.WARNING)
    if not any(isinstance(f, OnePerInterval) for f in library.filters):
        library.addFilter(OnePerInterval())


def parse(raw: str | bytes):
    """The library's ``unpack`` with the element types checked too; raises ``OCPPError``."""
    message = unpack(raw)
    types = SHAPES[message.message_type_id]
    elements = json.loads(raw)[1:]
    if len(elements) != len(types) or not all(isinstance(e, t) for e, t in zip(elements, types)):
        raise ProtocolError(details={"cause": f"a message of type {message.message_type_id} has "
                                              f"{len(types)} elements after its type id: "
                                              f"{', '.join(t.__name__ for t in types)}"})
    return message


def message_id(raw: str | bytes) -> str | None:
    """The message id of a frame, if it has a readable one (a CallError must name it)."""
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return frame[1] if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str) else None


class StrictRouting:
    """Mixin before an ocpp ``ChargePoint`` class (see the module doc); ``received`` is a hook
    for each well-formed call (the stations audit them)."""

    async def route_message(self, raw_msg):
        try:
            message = parse(raw_msg)
        except OCPPError as error:
            await self._refuse(raw_msg, error)
            return
        if message.message_type_id != MessageType.Call and not self._call_lock.locked():
            REFUSALS.warning("OCPP %s: dropped an answer to no call of ours (message id %s)", self.id,
                             message.unique_id)
            return
        if isinstance(message, Call):
            self.received(message)
        await super().route_message(raw_msg)

    def received(self, message: Call) -> None:
        pass

    async def _refuse(self, raw_msg, error: OCPPError) -> None:
        """A CallError for a frame with a message id, unless the frame is itself an answer."""
        unique_id = None if _is_answer(raw_msg) else message_id(raw_msg)
        cause = (error.details or {}).get("cause", error.description)
        REFUSALS.warning("OCPP %s: %s from the peer (%s)%s", self.id, error.code, cause,
                         "" if unique_id is None else f"; answered CallError {unique_id}")
        if unique_id is not None:
            await self._send(CallError(unique_id, error.code, error.description, error.details).to_json())



def _is_answer(raw: str | bytes) -> bool:
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(frame, list) and bool(frame) and frame[0] in (MessageType.CallResult, MessageType.CallError)
