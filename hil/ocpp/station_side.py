"""What the 1.6 and 2.0.1 station classes share (``hil.ocpp.v16``, ``hil.ocpp.v201``).

The decisions behind the station's answers to a CSMS's calls, and their status words, are the
same in both versions; the message classes, field names and ``@on`` actions are not, so each
version's handlers stay in its module and ask this class for the decision.
"""

from __future__ import annotations

from hil.ocpp.schedule import ocpp_time
from hil.ocpp.station import Outgoing, StationModel


class StationSide:
    """Mixed in before the version's ``ChargePoint``: the station's model, its audit, its decisions."""

    def __init__(self, model: StationModel, connection, response_timeout: float, tx_ids: dict[int, int],
                 audit) -> None:
        super().__init__(model.station_id, connection, response_timeout=response_timeout)
        # tx_ids, our session -> the CSMS's transaction id, is used by 1.6 only: there the CSMS
        # numbers the transactions, in 2.0.1 the station does (``StationModel.transaction_id_of``)
        self.model, self.tx_ids, self.audit = model, tx_ids, audit

    def took(self, message: Outgoing, response) -> None:
        """What the CSMS's answer to ``message`` tells the station; nothing unless the version says so."""

    def clear_status(self, profile_id: int | None, connector: int | None, purpose: str | None,
                     stack_level: int | None) -> str:
        cleared = self.model.clear_profiles(profile_id, connector, purpose, stack_level)
        return "Accepted" if cleared else "Unknown"

    def trigger_status(self, requested_message: str, connector: int | None) -> str:
        return "Accepted" if self.model.trigger(requested_message, connector) else "NotImplemented"

    def remote_stop_status(self, session_number: int | None) -> str:
        """``session_number``: our session the CSMS's transaction id names (None: it names none)."""
        stopped = session_number is not None and self.model.remote_stop(session_number)
        return "Accepted" if stopped else "Rejected"

    def composite_schedule(self, connector: int, duration_s: int, unit: str) -> tuple[str, list[dict]] | None:
        """The composite schedule's start (OCPP time) and periods; None for a connector (EVSE) the
        station does not have, which is answered Rejected. 0 is the whole station."""
        if not 0 <= connector <= len(self.model.connectors):
            return None
        start, steps = self.model.composite(connector, duration_s, unit)
        return ocpp_time(start), [{"start_period": int(s), "limit": v} for s, v in steps]
