"""SunSpec blocks (base 40000, "SunS") for PV inverters, the battery and the site meter.

The register layout comes from pysunspec2's official model definitions
(``sunspec2/models/json/model_N.json``) through ``sunspec2.device.Model``: offsets, sizes,
types, units and access are never typed in here. This module only says which points the
twin fills, from what, and what a write to a control point commands, so that a write via
SunSpec (WMaxLimPct, battery rates) acts on the same device as the plain map.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import sunspec2.device as ssdev

from hil.maps.registers import SUNSPEC_BASE, Device, Point, point_reader
from twin import __version__
from twin.model.controllers.base import Measurements
from twin.model.core import Snapshot, Twin

SUNS_MARKER = [0x5375, 0x6E53]  # "SunS"
END_MARKER = [0xFFFF, 0x0000]
SUNSPEC_KINDS = {"pv": (1, 103, 120, 123), "bess": (1, 103, 124, 802), "meter": (1, 203)}
INT16_MAX = 32767

# SunSpec enumerations used below (model 103 St, 124 ChaSt, 120 DERTyp, 124 StorCtl_Mod bits)
ST_SLEEPING, ST_MPPT, ST_STANDBY = 2, 4, 8
CHAST_DISCHARGING, CHAST_CHARGING, CHAST_HOLDING = 3, 4, 6
DERTYP_PV = 4
BATTERY_LITHIUM_ION, BATTERY_CONNECTED, BATTERY_REMOTE = 4, 3, 0  # model 802 Typ, State, LocRemCtl
STORCTL_CHARGE, STORCTL_DISCHARGE = 1, 2
PCT_SF = -1  # percentages in 0.1 % steps
IDLE_KW = 0.5  # below this a battery is holding, not (dis)charging

TYPES = {"int16": "int16", "sunssf": "int16", "uint16": "uint16", "enum16": "uint16", "bitfield16": "uint16",
         "count": "uint16", "acc16": "uint16", "pad": "uint16", "int32": "int32", "uint32": "uint32",
         "acc32": "uint32", "enum32": "uint32", "bitfield32": "uint32", "float32": "float32", "string": "string"}
# raw ranges a step may have to saturate to (SunSpec reserves the extremes as "not implemented")
RAW_RANGE = {"int16": (-32767, 32767), "uint16": (0, 65534), "int32": (-(2**31) + 1, 2**31 - 1),
             "uint32": (0, 2**32 - 2)}


def power_sf(rating_kw: float) -> int:
    """Smallest scale factor that fits twice the rating in W into an int16."""
    return scale_for(2000.0 * rating_kw)


def scale_for(largest: float, raw_max: int = INT16_MAX) -> int:
    """Smallest non-negative scale factor that fits ``largest`` into ``raw_max``."""
    return max(0, math.ceil(math.log10(max(largest, 1.0) / raw_max)))


def _static_values(device: Device, twin: Twin) -> dict[tuple[int, str], float | str]:
    w_sf = power_sf(device.rating_kw)
    values: dict[tuple[int, str], float | str] = {
        (1, "Mn"): "satwin", (1, "Md"): f"twin-{device.kind}", (1, "SN"): device.name,
        (1, "Vr"): __version__, (1, "DA"): device.unit_id,
    }
    if device.kind in ("pv", "bess"):
        values[(103, "W_SF")] = w_sf
    if device.kind == "pv":
        values.update({(120, "DERTyp"): DERTYP_PV, (120, "WRtg_SF"): w_sf, (120, "WRtg"): device.rating_kw * 1e3,
                       (123, "WMaxLimPct_SF"): PCT_SF, **CONTROL_DEFAULTS["pv"]})
    elif device.kind == "bess":
        bess = twin.site.bess
        values.update({(124, "WChaMax_SF"): w_sf, (124, "WChaMax"): bess.p_max_kw * 1e3,
                       (124, "MinRsvPct_SF"): PCT_SF, (124, "MinRsvPct"): bess.soc_min_pct,
                       (124, "ChaState_SF"): PCT_SF, (124, "InOutWRte_SF"): PCT_SF, **CONTROL_DEFAULTS["bess"],
                       (802, "WHRtg_SF"): scale_for(bess.e_kwh * 1e3, RAW_RANGE["uint16"][1]),
                       (802, "WHRtg"): bess.e_kwh * 1e3, (802, "WChaDisChaMax_SF"): w_sf,
                       (802, "WChaRteMax"): bess.p_max_kw * 1e3, (802, "WDisChaRteMax"): bess.p_max_kw * 1e3,
                       (802, "SoC_SF"): PCT_SF, (802, "SoCMax"): bess.soc_max_pct, (802, "SoCMin"): bess.soc_min_pct,
                       (802, "Typ"): BATTERY_LITHIUM_ION, (802, "State"): BATTERY_CONNECTED,
                       (802, "LocRemCtl"): BATTERY_REMOTE, (802, "W_SF"): w_sf})
    elif device.kind == "meter":
        values.update({(203, "W_SF"): w_sf, (203, "VAR_SF"): w_sf, (203, "V_SF"): 0})
    return values


def _bess_state(m: Measurements) -> int:
    return CHAST_DISCHARGING if m.bess_p_kw > IDLE_KW else CHAST_CHARGING if m.bess_p_kw < -IDLE_KW else CHAST_HOLDING


# point -> value from the step (engineering units; the block applies the SF)
LiveValue = Callable[["SunSpecDevice", Measurements, Snapshot], float]
LIVE: dict[str, dict[tuple[int, str], LiveValue]] = {
    "pv": {  # as the plain map's p_kw shows it: a sensor model on the array acts on both
        (103, "W"): lambda b, m, s: b.p_kw(m, s) * 1e3,
        (103, "St"): lambda b, m, s: ST_MPPT if b.p_kw(m, s) > 0 else ST_SLEEPING,
    },
    "bess": {
        (103, "W"): lambda b, m, s: m.bess_p_kw * 1e3,
        (103, "St"): lambda b, m, s: ST_MPPT if abs(m.bess_p_kw) > IDLE_KW else ST_STANDBY,
        (124, "ChaState"): lambda b, m, s: m.bess_soc_pct,
        (124, "ChaSt"): lambda b, m, s: _bess_state(m),
        (802, "SoC"): lambda b, m, s: m.bess_soc_pct,
        (802, "ChaSt"): lambda b, m, s: _bess_state(m),
        (802, "W"): lambda b, m, s: m.bess_p_kw * 1e3,
    },
    "meter": {
        (203, "W"): lambda b, m, s: m.grid_p_kw * 1e3,
        (203, "VAR"): lambda b, m, s: m.grid_q_kvar * 1e3,
        (203, "PhV"): lambda b, m, s: m.poc_v_pu * b.v_ph_nominal,
    },
}

# Control points read back the setpoint last written (by SunSpec or through the plain map), as a
# SunSpec device does; the value in force is in the plain map and in 103 W.
CONTROL_DEFAULTS: dict[str, dict[tuple[int, str], float]] = {
    "pv": {(123, "Conn"): 1, (123, "WMaxLimPct"): 100.0, (123, "WMaxLim_Ena"): 0},
    "bess": {(124, "StorCtl_Mod"): 0, (124, "OutWRte"): 0.0, (124, "InWRte"): 0.0},
    "meter": {},
}

# writable control points and their accepted range (engineering units, after the scale factor)
WRITABLE: dict[str, dict[tuple[int, str], tuple[float, float]]] = {
    "pv": {(123, "Conn"): (0, 1), (123, "WMaxLimPct"): (0.0, 100.0), (123, "WMaxLim_Ena"): (0, 1)},
    "bess": {(124, "StorCtl_Mod"): (0, 3), (124, "OutWRte"): (0.0, 100.0), (124, "InWRte"): (0.0, 100.0)},
    "meter": {},
}


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


class SunSpecDevice:
    """The SunSpec models of one device: its register image and the meaning of writes to it."""

    def __init__(self, device: Device, twin: Twin) -> None:
        self.device = device
        self.models = [ssdev.Model(model_id=model_id) for model_id in SUNSPEC_KINDS[device.kind]]
        self.by_id = {model.model_id: model for model in self.models}
        self.v_ph_nominal = twin.site.utility.vn_kv * 1e3 / math.sqrt(3.0)
        self.p_kw = point_reader(device, "p_kw", twin)
        self._set(_static_values(device, twin))
        self.model_address: dict[int, int] = {}
        address = SUNSPEC_BASE + len(SUNS_MARKER)
        for model in self.models:
            self.model_address[model.model_id] = address
            address += model.len  # pysunspec2's len counts ID and L too
        self.size = address + len(END_MARKER) - SUNSPEC_BASE
        self.writable = {self.address(mid, name): (mid, name, bounds)
                         for (mid, name), bounds in WRITABLE[device.kind].items()}

    def address(self, model_id: int, name: str) -> int:
        return self.model_address[model_id] + self.by_id[model_id].points[name].offset

    def point(self, model_id: int, name: str):
        return self.by_id[model_id].points[name]

    def scale_exponent(self, model_id: int, name: str) -> int:
        """The point's scale factor: a fixed number, the value of its ``*_SF`` point, or none (0)."""
        sf = self.point(model_id, name).sf
        return (self.point(model_id, sf).value if isinstance(sf, str) else sf) or 0

    def _set(self, values: dict[tuple[int, str], float | str]) -> None:
        """Set points from engineering values; numbers saturate, so an odd step never breaks the image."""
        for (model_id, name), value in values.items():
            point = self.point(model_id, name)
            if isinstance(value, str):
                point.value = value
                continue
            sf = self.scale_exponent(model_id, name)
            low, high = RAW_RANGE[TYPES[point.pdef["type"]]]
            point.value = min(max(int(round(value / 10.0 ** sf)), low), high)

    def image(self, m: Measurements, s: Snapshot) -> list[int]:
        """The whole block at SUNSPEC_BASE for this step."""
        self._set({key: value(self, m, s) for key, value in LIVE[self.device.kind].items()})
        words = list(SUNS_MARKER)
        for model in self.models:
            words += _words(model.get_mb())
        return words + END_MARKER

    def engineering(self, model_id: int, name: str, raw: int) -> float:
        """A written register as an engineering value (signed for int16, scaled by the point's SF)."""
        point = self.point(model_id, name)
        if point.pdef["type"] == "int16" and raw >= 0x8000:
            raw -= 0x10000
        return raw * 10.0 ** self.scale_exponent(model_id, name)

    def command(self, written: dict[tuple[int, str], float]) -> tuple[str, str, float]:
        """Take a validated write into the control points; returns what the controls now command,
        as (target, quantity, value) of ``twin.model.commands``."""
        self._set(written)

        def value(model_id: int, name: str) -> float:
            return self.point(model_id, name).cvalue

        if self.device.kind == "pv":
            limited = value(123, "WMaxLim_Ena") == 1
            limit_pct = 0.0 if value(123, "Conn") == 0 else value(123, "WMaxLimPct") if limited else 100.0
            return self.device.twin_name, "p_limit_pct", limit_pct
        mode = int(value(124, "StorCtl_Mod"))
        rate_pct = (value(124, "OutWRte") if mode & STORCTL_DISCHARGE else 0.0) - \
            (value(124, "InWRte") if mode & STORCTL_CHARGE else 0.0)
        return self.device.twin_name, "p_set_kw", rate_pct / 100.0 * self.device.rating_kw

    def follow(self, quantity: str, value: float) -> None:
        """Mirror a plain-map setpoint into the control points, so both views agree."""
        if self.device.kind == "pv":
            self._set({(123, "Conn"): 1, (123, "WMaxLimPct"): value, (123, "WMaxLim_Ena"): int(value < 100.0)})
        elif self.device.kind == "bess":
            rate_pct = abs(value) / self.device.rating_kw * 100.0
            mode = STORCTL_DISCHARGE if value > 0 else STORCTL_CHARGE if value < 0 else 0
            self._set({(124, "StorCtl_Mod"): mode, (124, "OutWRte"): rate_pct if value > 0 else 0.0,
                       (124, "InWRte"): rate_pct if value < 0 else 0.0})


def sunspec_points(device: Device, twin: Twin) -> list[Point]:
    """Table rows for the SunSpec points this twin fills or accepts, from the model definitions."""
    block = SunSpecDevice(device, twin)
    filled = set(_static_values(device, twin)) | set(LIVE[device.kind])
    rows = [Point(device.name, device.unit_id, "SunS", "holding", SUNSPEC_BASE, "string", 2, 1.0, "", "R",
                  "SunSpec marker; models follow")]
    for model in block.models:
        base = block.model_address[model.model_id]
        rows.append(Point(device.name, device.unit_id, f"{model.gname}.ID", "holding", base, "uint16", 1, 1.0, "", "R",
                          f"SunSpec model {model.model_id} ({model.gname}), {model.len - 2} registers after L"))
        for name, point in model.points.items():
            if (model.model_id, name) not in filled:
                continue
            pdef = point.pdef
            bounds = WRITABLE[device.kind].get((model.model_id, name))
            sf = block.scale_exponent(model.model_id, name)
            rows.append(Point(device.name, device.unit_id, f"{model.gname}.{name}", "holding", base + point.offset,
                              TYPES.get(pdef["type"], "uint16"), point.len, 10.0 ** sf, pdef.get("units", ""),
                              "RW" if bounds else "R", _describe(pdef) + NOTES.get((model.model_id, name), ""),
                              bounds[0] if bounds else None, bounds[1] if bounds else None, _enum(pdef),
                              0.0 if bounds else None))
    return rows


# what the model definitions leave open and the twin decides
NOTES = {(124, "StorCtl_Mod"): "; 3 = both bits: the battery runs at OutWRte - InWRte (% of WChaMax), "
                               "0 = hold (0 kW)"}


def _enum(pdef: dict) -> tuple[tuple[int, str], ...]:
    """The point's symbols from the model definition; a bitfield's as masks (bit 1 -> 2)."""
    symbols = pdef.get("symbols", [])
    if pdef["type"].startswith("bitfield"):
        return tuple((1 << sym["value"], sym["name"].upper()) for sym in symbols)
    return tuple((sym["value"], sym["name"]) for sym in symbols)


def _describe(pdef: dict) -> str:
    label = pdef.get("label", pdef["name"])
    return pdef.get("desc", label) if label == pdef["name"] else label
