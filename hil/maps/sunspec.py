"""SunSpec blocks (base 40000, "SunS") for PV inverters, the battery and the site meter.

The register layout comes from pysunspec2's official model definitions
(``sunspec2/models/json/model_N.json``) through ``sunspec2.device.Model``: offsets, sizes,
types, units and access are never typed in here. This module only says which points the
twin fills and what a write to a control point commands, so that a write via SunSpec
(WMaxLimPct, battery rates) acts on the same device as the plain map. A block is built
from the ``Site``; the datastore feeds it each step's live values (``hil.maps.sunspec_live``).
"""

from __future__ import annotations

import math
from typing import Any

import sunspec2.device as ssdev

from hil.maps.registers import SUNSPEC_BASE, Device, Point
from hil.maps.sunspec_controls import SetpointTimers
from hil.maps.sunspec_live import LIVE, static_values, symbol
from twin.config.site import Site
from twin.model.commands import command_specs

SUNS_MARKER = [0x5375, 0x6E53]  # "SunS"
END_MARKER = [0xFFFF, 0x0000]
SUNSPEC_KINDS = {"pv": (1, 103, 120, 123), "bess": (1, 103, 124, 802), "meter": (1, 203)}

TYPES = {"int16": "int16", "sunssf": "int16", "uint16": "uint16", "enum16": "uint16", "bitfield16": "uint16",
         "count": "uint16", "acc16": "uint16", "pad": "uint16", "int32": "int32", "uint32": "uint32",
         "acc32": "uint32", "enum32": "uint32", "bitfield32": "uint32", "float32": "float32", "string": "string"}
# raw ranges a step may have to saturate to (SunSpec reserves the extremes as "not implemented")
RAW_RANGE = {"int16": (-32767, 32767), "uint16": (0, 65534), "int32": (-(2**31) + 1, 2**31 - 1),
             "uint32": (0, 2**32 - 2)}
# model 124 StorCtl_Mod bits, spelled as the model definition spells them
STORCTL_CHARGE, STORCTL_DISCHARGE = (1 << symbol(124, "StorCtl_Mod", name) for name in ("CHARGE", "DiSCHARGE"))
TIMING = ("WinTms", "RmpTms", "RvrtTms")
# each device's one timed control: the point whose *_Tms apply, and where its revert timer returns
TIMED = {"pv": (123, "WMaxLimPct"), "bess": (124, "InOutWRte")}


# Control points read back the setpoint last written (by SunSpec or through the plain map), as a
# SunSpec device does; the value in force is in the plain map and in 103 W.
CONTROL_DEFAULTS: dict[str, dict[tuple[int, str], float]] = {
    "pv": {(123, "Conn"): 1, (123, "WMaxLimPct"): 100.0, (123, "WMaxLim_Ena"): 0,
           **{(123, f"WMaxLimPct_{t}"): 0 for t in TIMING}},
    "bess": {(124, "StorCtl_Mod"): 0, (124, "OutWRte"): 0.0, (124, "InWRte"): 0.0,
             **{(124, f"InOutWRte_{t}"): 0 for t in TIMING}},
    "meter": {},
}
TMS_MAX = 65534  # seconds; 0xFFFF is "not implemented"

# writable control points whose range is the register's encoding (on/off, mode bits, timers);
# the percentages that command a device take their range from ``command_specs`` (``writable_ranges``)
ENCODING_RANGES: dict[str, dict[tuple[int, str], tuple[float, float]]] = {
    "pv": {(123, "Conn"): (0, 1), (123, "WMaxLim_Ena"): (0, 1),
           **{(123, f"WMaxLimPct_{t}"): (0, TMS_MAX) for t in TIMING}},
    "bess": {(124, "StorCtl_Mod"): (0, 3), **{(124, f"InOutWRte_{t}"): (0, TMS_MAX) for t in TIMING}},
    "meter": {},
}


def writable_ranges(device: Device, site: Site) -> dict[tuple[int, str], tuple[float, float]]:
    """Every writable control point of ``device`` with its accepted range (engineering units)."""
    ranges = dict(ENCODING_RANGES[device.kind])
    specs = command_specs(site)
    if device.kind == "pv":
        spec = specs[(device.twin_name, "p_limit_pct")]
        ranges[(123, "WMaxLimPct")] = (spec.low, spec.high)
    elif device.kind == "bess":  # rates in % of WChaMax (the rating), one each way
        spec = specs[(device.twin_name, "p_set_kw")]
        ranges[(124, "OutWRte")] = (0.0, 100.0 * spec.high / device.rating_kw)
        ranges[(124, "InWRte")] = (0.0, 100.0 * -spec.low / device.rating_kw)
    return ranges


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


class SunSpecDevice:
    """The SunSpec models of one device: its register image and the meaning of writes to it."""

    def __init__(self, device: Device, site: Site) -> None:
        self.device = device
        self.models = [ssdev.Model(model_id=model_id) for model_id in SUNSPEC_KINDS[device.kind]]
        self.by_id = {model.model_id: model for model in self.models}
        bus = site.utility.connection_bus if device.kind == "meter" else \
            (site.pv[device.index].bus if device.kind == "pv" else site.bess.bus)
        self.v_ph_nominal = site.bus_kv[bus] * 1e3 / math.sqrt(3.0)
        self._sf_cache: dict[tuple[int, str], int] | None = None  # filled once the SF points are set
        self._changed: set[int] = set()  # models set since their words were last encoded
        self._model_words: dict[int, list[int]] = {}
        self._live_points: dict[tuple[int, str], tuple[Any, float, int, int]] = {}  # by ``image``
        self._set(static_values(device, site, self.v_ph_nominal))
        self._set(CONTROL_DEFAULTS[device.kind])
        self.timers = SetpointTimers(100.0 if device.kind == "pv" else 0.0)
        self.model_address: dict[int, int] = {}
        address = SUNSPEC_BASE + len(SUNS_MARKER)
        for model in self.models:
            self.model_address[model.model_id] = address
            address += model.len  # pysunspec2's len counts ID and L too
        self.size = address + len(END_MARKER) - SUNSPEC_BASE
        self.ranges = writable_ranges(device, site)
        self.writable = {self.address(mid, name): (mid, name, bounds) for (mid, name), bounds in self.ranges.items()}
        self._sf_cache = {}  # the scale factors are fixed from here on (no *_SF point is writable)

    def address(self, model_id: int, name: str) -> int:
        return self.model_address[model_id] + self.by_id[model_id].points[name].offset

    def point(self, model_id: int, name: str):
        return self.by_id[model_id].points[name]

    def scale_exponent(self, model_id: int, name: str) -> int:
        """The point's scale factor: a fixed number, the value of its ``*_SF`` point, or none (0)."""
        cached = self._sf_cache.get((model_id, name)) if self._sf_cache is not None else None
        if cached is not None:
            return cached
        sf = self.point(model_id, name).sf
        exponent = (self.point(model_id, sf).value if isinstance(sf, str) else sf) or 0
        if self._sf_cache is not None:
            self._sf_cache[(model_id, name)] = exponent
        return exponent

    def _set(self, values: dict[tuple[int, str], float | str]) -> None:
        """Set points from engineering values; their models are encoded anew at the next ``image``."""
        for (model_id, name), value in values.items():
            self._changed.add(model_id)
            self._set_point(model_id, name, value)

    def _set_point(self, model_id: int, name: str, value: float | str) -> None:
        """One point from its engineering value; numbers saturate, so an odd step never breaks the image."""
        point = self.point(model_id, name)
        if isinstance(value, str):
            point.value = value
            return
        sf = self.scale_exponent(model_id, name)
        low, high = RAW_RANGE[TYPES[point.pdef["type"]]]
        point.value = min(max(int(round(value / 10.0 ** sf)), low), high)

    def image(self, live: dict[tuple[int, str], float]) -> list[int]:
        """The whole block at SUNSPEC_BASE for a step whose ``LIVE`` points have these values.

        pysunspec2's encoding is the costly part: a model that nothing but live points changed
        keeps its words and has just those points encoded into them (pysunspec2 encodes each
        point, so the words are the ones ``model.get_mb()`` gives); a model set otherwise (a
        control write, the first image) is encoded whole (``image_reference`` encodes all).
        """
        for key, value in live.items():
            point, scale, low, high = self._live_points.get(key) or self._live_point(key)
            point.value = min(max(int(round(value / scale)), low), high)  # as ``_set_point`` sets a number
            if key[0] not in self._changed:
                self._model_words[key[0]][point.offset:point.offset + point.len] = _words(point.get_mb())
        for model in self.models:
            if model.model_id in self._changed:
                self._model_words[model.model_id] = _words(model.get_mb())
        self._changed.clear()
        return self._block_words()

    def _live_point(self, key: tuple[int, str]) -> tuple[Any, float, int, int]:
        """A live point, its scale (the scale factors are fixed once built) and raw range, kept."""
        point = self.point(*key)
        self._live_points[key] = point, 10.0 ** self.scale_exponent(*key), *RAW_RANGE[TYPES[point.pdef["type"]]]
        return self._live_points[key]

    def image_reference(self, live: dict[tuple[int, str], float]) -> list[int]:
        """``image`` with every model encoded whole by pysunspec2, as the tests compare it."""
        self._set(live)
        for model in self.models:
            self._model_words[model.model_id] = _words(model.get_mb())
        self._changed.clear()
        return self._block_words()

    def _block_words(self) -> list[int]:
        words = list(SUNS_MARKER)
        for model in self.models:
            words += self._model_words[model.model_id]
        return words + END_MARKER

    def engineering(self, model_id: int, name: str, raw: int) -> float:
        """A written register as an engineering value (signed for int16, scaled by the point's SF)."""
        point = self.point(model_id, name)
        if point.pdef["type"] == "int16" and raw >= 0x8000:
            raw -= 0x10000
        return raw * 10.0 ** self.scale_exponent(model_id, name)

    def _value(self, model_id: int, name: str) -> float:
        return self.point(model_id, name).cvalue

    def command(self, written: dict[tuple[int, str], float], now_s: float) -> list[tuple[str, str, float]]:
        """Take a validated write into the control points and their timers; returns what is to be
        commanded now, as (target, quantity, value) of ``twin.model.commands`` (``due`` the rest)."""
        self._set(written)
        value = self._value
        if self.device.kind == "pv":
            limited = value(123, "WMaxLim_Ena") == 1
            target = 0.0 if value(123, "Conn") == 0 else value(123, "WMaxLimPct") if limited else 100.0
        else:
            mode = int(value(124, "StorCtl_Mod"))
            # both bits set: the net of the two rates (discharge minus charge), as a % of WChaMax
            rate_pct = (value(124, "OutWRte") if mode & STORCTL_DISCHARGE else 0.0) - \
                (value(124, "InWRte") if mode & STORCTL_CHARGE else 0.0)
            target = rate_pct / 100.0 * self.device.rating_kw
        model_id, control = TIMED[self.device.kind]
        win_s, ramp_s, revert_s = (value(model_id, f"{control}_{t}") for t in TIMING)
        self.timers.write(now_s, target, win_s, ramp_s, revert_s)
        return self.due(now_s)

    def due(self, now_s: float) -> list[tuple[str, str, float]]:
        """What the control timers command at ``now_s`` (called every step)."""
        setpoint, reverted = self.timers.due(now_s)
        if setpoint is None:
            return []
        if reverted:  # the controls read back the default, as the device now runs
            self._set({(123, "WMaxLim_Ena"): 0, (123, "WMaxLimPct"): 100.0} if self.device.kind == "pv" else
                      {(124, "StorCtl_Mod"): 0, (124, "OutWRte"): 0.0, (124, "InWRte"): 0.0})
        quantity = "p_limit_pct" if self.device.kind == "pv" else "p_set_kw"
        return [(self.device.twin_name, quantity, setpoint)]

    def follow(self, quantity: str, value: float) -> None:
        """Mirror a plain-map setpoint into the control points, so both views agree (timers stop)."""
        if self.device.kind == "pv":
            self._set({(123, "Conn"): 1, (123, "WMaxLimPct"): value, (123, "WMaxLim_Ena"): int(value < 100.0)})
        elif self.device.kind == "bess":
            rate_pct = abs(value) / self.device.rating_kw * 100.0
            mode = STORCTL_DISCHARGE if value > 0 else STORCTL_CHARGE if value < 0 else 0
            self._set({(124, "StorCtl_Mod"): mode, (124, "OutWRte"): rate_pct if value > 0 else 0.0,
                       (124, "InWRte"): rate_pct if value < 0 else 0.0})
        self.timers.follow(value)


def sunspec_points(device: Device, site: Site) -> list[Point]:
    """Table rows for the SunSpec points the twin fills or accepts, from the model definitions."""
    block = SunSpecDevice(device, site)
    filled = set(static_values(device, site, block.v_ph_nominal)) | set(LIVE[device.kind]) | \
        set(CONTROL_DEFAULTS[device.kind])
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
            bounds = block.ranges.get((model.model_id, name))
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
