"""OCPP 1.6J: a station's outbox as 1.6 calls, and its answers to the Central System's calls."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from hil.ocpp.schedule import ocpp_time
from hil.ocpp.station import Outgoing
from hil.ocpp.station_side import StationSide

SUBPROTOCOL = "ocpp1.6"
CONFIG_KEYS = ("HeartbeatInterval", "MeterValueSampleInterval")


def meter_value(message: Outgoing, context: str) -> list[dict]:
    return [{"timestamp": ocpp_time(message.timestamp),
             "sampled_value": [{"value": f"{v:.1f}", "measurand": m, "unit": u, "context": context}
                               for m, v, u in message.sample.measurands()]}]


class Station16(StationSide, ChargePoint):
    """The station's side of a 1.6 connection; ``tx_ids`` maps our sessions to the CSMS's ids."""

    def boot_call(self):
        m = self.model
        return call.BootNotification(charge_point_model=m.model, charge_point_vendor=m.vendor,
                                     charge_point_serial_number=m.serial)

    def calls(self, message: Outgoing) -> list:
        t = ocpp_time(message.timestamp)
        kind = message.kind
        if kind == "heartbeat":
            return [call.Heartbeat()]
        if kind == "status":
            return [call.StatusNotification(connector_id=message.connector, error_code="NoError",
                                            status=message.status, timestamp=t)]
        if kind == "authorize":
            return [call.Authorize(id_tag=message.id_token)]
        if kind == "tx_start":
            return [call.StartTransaction(connector_id=message.connector, id_tag=message.id_token,
                                          meter_start=round(message.sample.energy_wh), timestamp=t)]
        tx_id = self.tx_ids.get(message.session, 0)
        if kind == "tx_stop":
            return [call.StopTransaction(meter_stop=round(message.sample.energy_wh), timestamp=t,
                                         transaction_id=tx_id, reason=message.reason, id_tag=message.id_token)]
        if message.reason == "ChargingStateChanged":
            return []  # 1.6 reports charging state in StatusNotification
        context = "Trigger" if message.reason == "Trigger" else "Sample.Periodic"
        return [call.MeterValues(connector_id=message.connector, transaction_id=tx_id,
                                 meter_value=meter_value(message, context))]

    def took(self, message: Outgoing, response) -> None:
        if message.kind == "tx_start" and response is not None:
            self.tx_ids[message.session] = response.transaction_id

    # -- calls from the Central System ------------------------------------------------------
    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict, **_):
        return call_result.SetChargingProfile(status=self.model.set_profile(cs_charging_profiles, connector_id))

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, id=None, connector_id=None, charging_profile_purpose=None,
                                  stack_level=None, **_):
        return call_result.ClearChargingProfile(
            status=self.clear_status(id, connector_id, charging_profile_purpose, stack_level))

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int, charging_rate_unit="W", **_):
        schedule = self.composite_schedule(connector_id, duration, charging_rate_unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        start, periods = schedule
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=start,
            charging_schedule={"duration": duration, "start_schedule": start,
                               "charging_rate_unit": charging_rate_unit, "charging_schedule_period": periods})

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id=None, **_):
        return call_result.TriggerMessage(status=self.trigger_status(requested_message, connector_id))

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_):
        if key not in CONFIG_KEYS:
            return call_result.ChangeConfiguration(status="NotSupported")
        try:
            seconds = float(value)
        except ValueError:
            return call_result.ChangeConfiguration(status="Rejected")
        if seconds <= 0:
            return call_result.ChangeConfiguration(status="Rejected")
        self.model.configure(key, seconds)
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **_):
        values = {"HeartbeatInterval": self.model.heartbeat_s, "MeterValueSampleInterval": self.model.sample_s}
        asked = key or list(CONFIG_KEYS)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": False, "value": f"{values[k]:g}"} for k in asked if k in values],
            unknown_key=[k for k in asked if k not in values] or None)

    # the twin's vehicles come and go with its traffic: a remote start, a reset or an availability
    # change cannot be made to happen and is answered honestly rather than faked
    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, **_):
        return call_result.RemoteStartTransaction(status="Rejected")

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_):
        number = next((n for n, csms_id in self.tx_ids.items() if csms_id == transaction_id), None)
        return call_result.RemoteStopTransaction(status=self.remote_stop_status(number))

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_):
        return call_result.ChangeAvailability(status="Rejected")

    @on(Action.reset)
    def on_reset(self, type: str, **_):
        return call_result.Reset(status="Rejected")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_):
        return call_result.UnlockConnector(status="NotSupported")
