"""Which SunSpec points the twin fills, and from what (engineering units; the block applies the SF).

Enumerations and event bits are looked up by their symbol names in pysunspec2's model
definitions (``symbol``), never typed in as numbers. Scale factors are chosen per device
from its rating so a value never saturates its register: powers fit twice the rating,
energy counters ten years at the rating.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import sunspec2.device as ssdev

from hil.maps.electrical import AcReadings, EnergyCounters, device_faults, grid_lost
from hil.maps.registers import Device
from twin import __version__
from twin.config.site import Site
from twin.model.controllers.base import Measurements

if TYPE_CHECKING:  # live values read a running twin; the static ones and the layout need only the site
    from twin.model.core import Snapshot, Twin

INT16_MAX, UINT16_MAX, ACC32_MAX = 32767, 65534, 2**32 - 2
PCT_SF = -1  # percentages in 0.1 % steps
HZ_SF = -2
HOURS_10_YEARS = 10 * 8760.0
SOH_PCT = 100.0  # the twin's battery does not age within a run
V_HEADROOM = 1.5  # voltages up to 1.5 pu fit their register


@functools.cache
def symbol(model_id: int, point: str, name: str) -> int:
    """The value of an enumeration symbol (or the bit of an event) as the model definition names it."""
    pdef = ssdev.Model(model_id=model_id).points[point].pdef
    return next(s["value"] for s in pdef["symbols"] if s["name"] == name)


def bits(model_id: int, point: str, names: list[str]) -> int:
    return sum(1 << symbol(model_id, point, name) for name in names)


def scale_for(largest: float, raw_max: int = INT16_MAX, finest: int = 0) -> int:
    """Smallest scale factor, not below ``finest``, that fits ``largest`` into ``raw_max``."""
    return max(finest, math.ceil(math.log10(max(largest, 1e-9) / raw_max)))


def power_sf(rating_kw: float) -> int:
    """Smallest scale factor that fits twice the rating in W into an int16."""
    return scale_for(2000.0 * rating_kw)


def _ac_scale_factors(model_id: int, rating_kw: float, v_ph_v: float, reactive: str) -> dict:
    w_sf = power_sf(rating_kw)
    i_max_a = 2000.0 * rating_kw / (3.0 * v_ph_v)
    return {(model_id, "W_SF"): w_sf, (model_id, "VA_SF"): w_sf, (model_id, reactive): w_sf,
            (model_id, "A_SF"): scale_for(i_max_a, finest=-2),
            (model_id, "V_SF"): scale_for(V_HEADROOM * v_ph_v * math.sqrt(3.0), finest=-1),  # line voltages too
            (model_id, "Hz_SF"): HZ_SF, (model_id, "PF_SF"): PCT_SF}


def energy_sf(rating_kw: float) -> int:
    return scale_for(rating_kw * 1e3 * HOURS_10_YEARS, ACC32_MAX)


def static_values(device: Device, site: Site, v_ph_v: float) -> dict[tuple[int, str], float | str]:
    """Points that do not change during a run: identity, ratings and every scale factor."""
    w_sf = power_sf(device.rating_kw)
    values: dict[tuple[int, str], float | str] = {
        (1, "Mn"): "satwin", (1, "Md"): f"twin-{device.kind}", (1, "SN"): device.name,
        (1, "Vr"): __version__, (1, "DA"): device.unit_id,
    }
    if device.kind in ("pv", "bess"):
        values.update(_ac_scale_factors(103, device.rating_kw, v_ph_v, "VAr_SF"))
        values[(103, "WH_SF")] = energy_sf(device.rating_kw)
    if device.kind == "pv":
        values.update({(120, "DERTyp"): symbol(120, "DERTyp", "PV"), (120, "WRtg_SF"): w_sf,
                       (120, "WRtg"): device.rating_kw * 1e3, (123, "WMaxLimPct_SF"): PCT_SF})
    elif device.kind == "bess":
        bess = site.bess
        values.update({(124, "WChaMax_SF"): w_sf, (124, "WChaMax"): bess.p_max_kw * 1e3,
                       (124, "MinRsvPct_SF"): PCT_SF, (124, "MinRsvPct"): bess.soc_min_pct,
                       (124, "ChaState_SF"): PCT_SF, (124, "InOutWRte_SF"): PCT_SF,
                       (802, "WHRtg_SF"): scale_for(bess.e_kwh * 1e3, UINT16_MAX),
                       (802, "WHRtg"): bess.e_kwh * 1e3, (802, "WChaDisChaMax_SF"): w_sf,
                       (802, "SoC_SF"): PCT_SF, (802, "SoCMax"): bess.soc_max_pct, (802, "SoCMin"): bess.soc_min_pct,
                       (802, "SoH_SF"): 0, (802, "SoH"): SOH_PCT,
                       (802, "Typ"): symbol(802, "Typ", "LITHIUM_ION"),
                       (802, "LocRemCtl"): symbol(802, "LocRemCtl", "REMOTE"), (802, "W_SF"): w_sf})
    elif device.kind == "meter":
        values.update(_ac_scale_factors(203, device.rating_kw, v_ph_v, "VAR_SF"))
        values[(203, "TotWh_SF")] = energy_sf(device.rating_kw)
    return values


class LiveDevice(Protocol):
    """What a live value reads: the device, its step (AC side, operating state), its energy
    counters and the twin that runs it (bound by the datastore, ``hil.datastore.image``)."""

    device: Device
    twin: Twin
    energy: EnergyCounters
    ac: AcReadings
    state: str
    v_ph_nominal: float
    idle_w: float


LiveValue = Callable[[LiveDevice, Measurements, "Snapshot"], float]
PHASE_SUFFIXES = ("A", "B", "C")

# model 103 St and Evt1 from the operating state (``hil.maps.electrical.operating_state``)
ST_OF_STATE = {"fault": "FAULT", "sleeping": "SLEEPING", "throttled": "THROTTLED", "running": "MPPT",
               "standby": "STANDBY"}
CHAST_OF_STATE = {"discharging": "DISCHARGING", "charging": "CHARGING", "holding": "HOLDING", "empty": "EMPTY",
                  "full": "FULL"}


def _inverter_events(b: LiveDevice, s: Snapshot) -> int:
    names = []
    if b.state == "fault":
        names.append("AC_DISCONNECT")
    if grid_lost(b.twin, s):
        names.append("GRID_DISCONNECT")
    v_pu = b.ac.v_ph_v / b.v_ph_nominal
    if v_pu < b.twin.site.limits.v_min_pu:
        names.append("AC_UNDER_VOLT")
    elif v_pu > b.twin.site.limits.v_max_pu:
        names.append("AC_OVER_VOLT")
    return bits(103, "Evt1", names)


def _meter_events(b: LiveDevice, s: Snapshot) -> int:
    names = ["M_EVENT_Power_Failure"] if grid_lost(b.twin, s) else []
    if b.ac.v_ph_v / b.v_ph_nominal < b.twin.site.limits.v_min_pu:
        names.append("M_EVENT_Under_Voltage")
    return bits(203, "Evt", names)


def charge_state(b: LiveDevice, m: Measurements) -> str:
    bess = b.twin.site.bess
    if m.bess_p_kw * 1e3 > b.idle_w:
        return "discharging"
    if m.bess_p_kw * 1e3 < -b.idle_w:
        return "charging"
    if m.bess_soc_pct <= bess.soc_min_pct:
        return "empty"
    return "full" if m.bess_soc_pct >= bess.soc_max_pct else "holding"


def _battery_events(b: LiveDevice, m: Measurements) -> int:
    bess, names = b.twin.site.bess, []
    if m.bess_soc_pct <= bess.soc_min_pct:
        names.append("UNDER_SOC_MIN_WARNING")
    if m.bess_soc_pct >= bess.soc_max_pct:
        names.append("OVER_SOC_MAX_WARNING")
    if "comms_loss" in device_faults(b.twin, b.device):
        names.append("COMMUNICATION_ERROR")
    return bits(802, "Evt1", names)


def _battery_state(b: LiveDevice) -> int:
    return symbol(802, "State", "FAULT" if b.state == "fault" else "CONNECTED")


def _ac_points(model_id: int, reactive: str, voltage: str, line_voltage: str) -> dict[tuple[int, str], LiveValue]:
    """W, VA, var, PF, Hz, A, V and their per-phase points (balanced phases: a third each)."""
    points: dict[tuple[int, str], LiveValue] = {
        (model_id, "W"): lambda b, m, s: b.ac.p_w,
        (model_id, "VA"): lambda b, m, s: b.ac.s_va,
        (model_id, reactive): lambda b, m, s: b.ac.q_var,
        (model_id, "PF"): lambda b, m, s: b.ac.pf * 100.0,  # SunSpec PF is in percent
        (model_id, "Hz"): lambda b, m, s: b.ac.hz,
        (model_id, "A"): lambda b, m, s: b.ac.i_a * 3.0,  # model 103/203 A: total of the phases
    }
    if voltage:
        points[(model_id, voltage)] = lambda b, m, s: b.ac.v_ph_v
    if line_voltage:
        points[(model_id, line_voltage)] = lambda b, m, s: b.ac.v_ll_v
    for phase in PHASE_SUFFIXES:
        points[(model_id, f"Aph{phase}")] = lambda b, m, s: b.ac.i_a
        points[(model_id, f"PhVph{phase}")] = lambda b, m, s: b.ac.v_ph_v
    if model_id == 203:
        for phase in PHASE_SUFFIXES:
            points[(203, f"Wph{phase}")] = lambda b, m, s: b.ac.p_w / 3.0
            points[(203, f"VAph{phase}")] = lambda b, m, s: b.ac.s_va / 3.0
            points[(203, f"VARph{phase}")] = lambda b, m, s: b.ac.q_var / 3.0
            points[(203, f"PFph{phase}")] = lambda b, m, s: b.ac.pf * 100.0
        for pair in ("AB", "BC", "CA"):
            points[(203, f"PhVph{pair}")] = lambda b, m, s: b.ac.v_ll_v
    else:
        for pair in ("AB", "BC", "CA"):
            points[(103, f"PPVph{pair}")] = lambda b, m, s: b.ac.v_ll_v
    return points


_INVERTER = {
    **_ac_points(103, "VAr", "", ""),
    (103, "WH"): lambda b, m, s: b.energy.delivered_wh(b.device),
    (103, "St"): lambda b, m, s: symbol(103, "St", ST_OF_STATE[b.state]),
    (103, "Evt1"): lambda b, m, s: _inverter_events(b, s),
}

LIVE: dict[str, dict[tuple[int, str], LiveValue]] = {
    "pv": _INVERTER,
    "bess": {
        **_INVERTER,
        (124, "ChaState"): lambda b, m, s: m.bess_soc_pct,
        (124, "ChaSt"): lambda b, m, s: symbol(124, "ChaSt", CHAST_OF_STATE[charge_state(b, m)]),
        (802, "SoC"): lambda b, m, s: m.bess_soc_pct,
        (802, "ChaSt"): lambda b, m, s: symbol(802, "ChaSt", CHAST_OF_STATE[charge_state(b, m)]),
        (802, "W"): lambda b, m, s: b.ac.p_w,
        (802, "State"): lambda b, m, s: _battery_state(b),
        (802, "Evt1"): lambda b, m, s: _battery_events(b, m),
        # what the battery can do now: its rating, or less under a bess_derate or bess_trip fault
        (802, "WChaRteMax"): lambda b, m, s: b.twin.battery.p_derate_kw * 1e3,
        (802, "WDisChaRteMax"): lambda b, m, s: b.twin.battery.p_derate_kw * 1e3,
    },
    "meter": {
        **_ac_points(203, "VAR", "PhV", "PPV"),
        (203, "TotWhImp"): lambda b, m, s: b.energy.import_wh,
        (203, "TotWhExp"): lambda b, m, s: b.energy.export_wh,
        (203, "Evt"): lambda b, m, s: _meter_events(b, s),
    },
}
