"""OCPP 2.0.1: a station's outbox as 2.0.1 calls, and its answers to the CSMS's calls.

Each of the station's connectors is one EVSE (``evse_id`` = connector number) with one
connector (``connector_id`` 1). 1.6 status words map to connector status plus the
transaction's charging state; a transaction is ``TransactionEvent`` Started/Updated/Ended.
"""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from hil.ocpp.schedule import ocpp_time
from hil.ocpp.station import Outgoing
from hil.ocpp.station_side import StationSide

SUBPROTOCOL = "ocpp2.0.1"
CONNECTOR_STATUS = {"Available": "Available", "Preparing": "Occupied", "Charging": "Occupied",
                    "SuspendedEV": "Occupied", "SuspendedEVSE": "Occupied", "Finishing": "Occupied",
                    "Faulted": "Faulted", "Unavailable": "Unavailable"}
EVENT_TYPE = {"tx_start": "Started", "tx_update": "Updated", "tx_stop": "Ended"}
TRIGGER = {"CablePluggedIn": "CablePluggedIn", "Periodic": "MeterValuePeriodic",
           "ChargingStateChanged": "ChargingStateChanged", "Trigger": "Trigger", "EVDisconnected": "EVDeparted",
           "Remote": "RemoteStop"}
CONTEXT = {"tx_start": "Transaction.Begin", "tx_stop": "Transaction.End"}


def meter_value(message: Outgoing) -> list[dict]:
    context = CONTEXT.get(message.kind, "Trigger" if message.reason == "Trigger" else "Sample.Periodic")
    return [{"timestamp": ocpp_time(message.timestamp),
             "sampled_value": [{"value": round(v, 1), "measurand": m, "context": context,
                                "unit_of_measure": {"unit": u}} for m, v, u in message.sample.measurands()]}]


def id_token(token: str) -> dict:
    return {"id_token": token, "type": "Local"}


class Station201(StationSide, ChargePoint):
    """The station's side of a 2.0.1 connection."""

    def __init__(self, *args, **kwargs) -> None:  # StationSide's arguments
        super().__init__(*args, **kwargs)
        self.sent_status: dict[int, str] = {}  # per EVSE, since this connection opened

    def boot_call(self):
        m = self.model
        return call.BootNotification(charging_station={"model": m.model, "vendor_name": m.vendor,
                                                       "serial_number": m.serial}, reason="PowerUp")

    def calls(self, message: Outgoing) -> list:
        t = ocpp_time(message.timestamp)
        kind = message.kind
        if kind == "heartbeat":
            return [call.Heartbeat()]
        if kind == "status":
            status = CONNECTOR_STATUS[message.status]
            if self.sent_status.get(message.connector) == status:
                return []  # 2.0.1 reports charging state in TransactionEvent, not here
            self.sent_status[message.connector] = status
            return [call.StatusNotification(timestamp=t, connector_status=status, evse_id=message.connector,
                                            connector_id=1)]
        if kind == "authorize":
            return [call.Authorize(id_token=id_token(message.id_token))]
        info = {"transaction_id": self.model.transaction_id_of(message.session)}
        if kind == "tx_start":
            info["charging_state"] = "EVConnected"
        elif kind == "tx_stop":
            info["stopped_reason"] = message.reason
        elif message.reason == "ChargingStateChanged":
            info["charging_state"] = message.status
        return [call.TransactionEvent(
            event_type=EVENT_TYPE[kind], timestamp=t, trigger_reason=TRIGGER[message.reason],
            seq_no=message.seq_no, transaction_info=info, meter_value=meter_value(message),
            offline=message.offline or None, evse={"id": message.connector, "connector_id": 1},
            id_token=id_token(message.id_token) if kind == "tx_start" else None)]

    # -- calls from the CSMS -----------------------------------------------------------------
    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict, **_):
        return call_result.SetChargingProfile(status=self.model.set_profile(charging_profile, evse_id))

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, charging_profile_id=None, charging_profile_criteria=None, **_):
        criteria = charging_profile_criteria or {}
        return call_result.ClearChargingProfile(status=self.clear_status(
            charging_profile_id, criteria.get("evse_id"), criteria.get("charging_profile_purpose"),
            criteria.get("stack_level")))

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit="W", **_):
        schedule = self.composite_schedule(evse_id, duration, charging_rate_unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        start, periods = schedule
        return call_result.GetCompositeSchedule(status="Accepted", schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": start,
            "charging_rate_unit": charging_rate_unit, "charging_schedule_period": periods})

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse=None, **_):
        return call_result.TriggerMessage(status=self.trigger_status(requested_message, (evse or {}).get("id")))

    # the twin's vehicles come and go with its traffic: a remote start, a reset or an availability
    # change cannot be made to happen and is answered honestly rather than faked
    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, id_token: dict, remote_start_id: int, **_):
        return call_result.RequestStartTransaction(status="Rejected")

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_):
        number = self.model.session_number(transaction_id)
        return call_result.RequestStopTransaction(status=self.remote_stop_status(number))

    @on(Action.change_availability)
    def on_change_availability(self, operational_status: str, evse=None, **_):
        return call_result.ChangeAvailability(status="Rejected")

    @on(Action.reset)
    def on_reset(self, type: str, evse_id=None, **_):
        return call_result.Reset(status="Rejected")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_):
        return call_result.UnlockConnector(status="UnlockFailed")
