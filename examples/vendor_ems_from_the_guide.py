"""A vendor's EMS written from README.md and docs/controller-guide.md alone, not from the code.

    satwin test scenarios/holiday-peak-freight.toml --step 5s \
        --controller-cmd "python examples/vendor_ems_from_the_guide.py --host {host} --port {port}"

What a controller vendor writes after reading the guide: pymodbus only, no satwin import and no
map file. Unit ids are the guide's (section 2: 1 site, 2 meter, 3 battery, PV from 10 and
connectors from 100 until exception 0x0B), addresses are docs/registers.md's, and float32 and
uint32 values are packed here by hand, high word first. It waits for ``site.ready``, then once
per ``site.step`` reads the site, meter and battery maps in one request each, passes a change of
``site.ev_p_kw`` straight to the battery setpoint (discharge positive) and moves the setpoint
and the site EV cap by a fraction of the import's error (the meter may be late:
``meter-delay-30s``), writes the heartbeat and acknowledges the step in
``site.step_ack`` (lockstep, section 6). A battery in state 3 (FAULT) or holding below its
setpoint (a derate, which the plain map does not publish) leaves the EV cap to shave.
``tests/hil/test_hil_vendor_example.py`` runs it under ``satwin test --controller-cmd``.

Measured 2026-12-01 (lockstep, 5 s steps, shared 2-core machine): the 24 h holiday peak passes every
criterion (15-min peak 3,745 kW, 3.5 min over the contract, 0.68 % unserved; 17,280 steps in 519 s,
0 lockstep timeouts), and so do 2 h spans of ``meter-delay-30s`` (17:00-19:00) and
``bess-trip-derate`` (15:30-17:30, derated then tripped).

Unlike ``hil/clients/reference_ems.py``, which drives satwin's own policy and measurement types
over Modbus, this imports nothing of satwin: it shows the guide is enough to write one from.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

# unit ids (guide section 2)
SITE, METER, BESS, SWAP, PV0, CHG0 = 1, 2, 3, 4, 10, 100
# plain-map addresses (docs/registers.md, 0-based PDU)
SITE_EV_CAP, SITE_CONTRACT, SITE_SIM_T, SITE_EV_P_MAX, SITE_EV_P = 0, 2, 4, 12, 14
SITE_HEARTBEAT, SITE_READY, SITE_STEP, SITE_STEP_ACK, SITE_LEN = 18, 19, 20, 22, 25
METER_P = 0
BESS_P_SET, BESS_P, BESS_SOC, BESS_STATE, BESS_P_MAX = 0, 2, 4, 6, 7
BESS_SOC_MIN, BESS_SOC_MAX, BESS_LEN = 11, 13, 15
GATEWAY_TARGET_FAILED = 0x0B


def f32(words: list[int], at: int) -> float:            # float32, high word first
    return struct.unpack(">f", struct.pack(">HH", words[at], words[at + 1]))[0]


def u32(words: list[int], at: int) -> int:               # uint32, high word first
    return (words[at] << 16) | words[at + 1]


def f32_words(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


def u32_words(value: int) -> list[int]:
    return [(value >> 16) & 0xFFFF, value & 0xFFFF]


class Ems:
    def __init__(self, host: str, port: int) -> None:
        self.c = ModbusTcpClient(host, port=port, timeout=3)
        if not self.c.connect():
            sys.exit(f"cannot connect to {host}:{port}")
        self.beat = 0

    def read(self, unit: int, address: int, count: int) -> list[int]:
        r = self.c.read_holding_registers(address, count=count, device_id=unit)
        if r.isError():
            raise RuntimeError(f"read unit {unit} @{address}: exception {getattr(r, 'exception_code', r)}")
        return r.registers

    def write(self, unit: int, address: int, words: list[int]) -> None:
        r = self.c.write_registers(address, words, device_id=unit)
        if r.isError():
            raise RuntimeError(f"write unit {unit} @{address}: exception {getattr(r, 'exception_code', r)}")

    def scan(self, first: int) -> list[int]:
        """Walk a unit-id range until the server answers 0x0B (guide section 2)."""
        units, unit = [], first
        while True:
            r = self.c.read_holding_registers(0, count=2, device_id=unit)
            if r.isError():
                if getattr(r, "exception_code", None) != GATEWAY_TARGET_FAILED:
                    raise RuntimeError(f"scan unit {unit}: unexpected {r}")
                return units
            units.append(unit)
            unit += 1

    def heartbeat(self) -> None:
        self.beat = (self.beat + 1) & 0xFFFF
        self.write(SITE, SITE_HEARTBEAT, [self.beat])

    def run(self) -> None:
        # wait for site.ready (every register reads 0 before the first step)
        while self.read(SITE, SITE_READY, 1)[0] != 1:
            time.sleep(0.01)
        self.heartbeat()                                # beat at once: the counter runs from the start
        pvs, chargers = self.scan(PV0), self.scan(CHG0)
        site = self.read(SITE, 0, SITE_LEN)
        bess = self.read(BESS, 0, BESS_LEN)
        contract, ev_max = f32(site, SITE_CONTRACT), f32(site, SITE_EV_P_MAX)
        p_max = f32(bess, BESS_P_MAX)
        soc_min, soc_max = f32(bess, BESS_SOC_MIN), f32(bess, BESS_SOC_MAX)
        print(f"ready: contract {contract:.0f} kW, EV max {ev_max:.0f} kW, battery {p_max:.0f} kW "
              f"({soc_min:.0f}-{soc_max:.0f} %), PV units {pvs}, {len(chargers)} connectors "
              f"(units {chargers[0]}..{chargers[-1]})", flush=True)
        # Integral control on the measured import: the meter may be late (sensor delay), so each step
        # moves the setpoints by a fraction of the error instead of jumping to a computed value.
        target, charge_below, gain = 0.92 * contract, 0.6 * contract, 0.1
        last, steps = 0, 0
        p_set, ev_cap, ev_prev = 0.0, ev_max, None
        while True:
            site = self.read(SITE, 0, SITE_LEN)
            step = u32(site, SITE_STEP)
            if step == last:
                time.sleep(0.001)
                continue
            meter = self.read(METER, 0, 6)
            bess = self.read(BESS, 0, BESS_LEN)
            grid = f32(meter, METER_P)                  # import positive
            p_bess = f32(bess, BESS_P)                  # discharge positive
            soc = f32(bess, BESS_SOC)
            ev_p = f32(site, SITE_EV_P)
            avail = 0.0 if bess[BESS_STATE] == 3 else p_max   # 3 = FAULT: tripped or derated to 0
            # feed-forward: a change of the EV load (read at the site, not through the meter) is passed
            # to the battery at once when it is shaving or would push the import over the target
            ff = 0.0 if ev_prev is None or ev_cap < ev_max else ev_p - ev_prev
            ev_prev = ev_p
            if p_set > 0:
                p_set = max(0.0, p_set + ff)
            elif grid + ff > target:
                p_set += grid + ff - target
            if grid > target:
                p_set += gain * (grid - target)
            elif grid < charge_below:
                p_set -= gain * (charge_below - grid)
            elif p_set > 0:
                p_set = max(0.0, p_set - gain * (target - grid))
            else:
                p_set = min(0.0, p_set + gain * (grid - charge_below))
            hi = avail if soc > soc_min + 1 else 0.0
            lo = -0.5 * avail if soc < soc_max - 1 else 0.0     # recharge gently
            p_set = min(max(p_set, lo), hi)
            # the battery is out of help when at its limit, or holding well below its setpoint (a
            # derate: the plain map keeps the rating)
            spent = p_set >= hi - 1.0 or p_bess < p_set - 0.05 * p_max
            if grid > target and spent:
                ev_cap = max(0.0, min(ev_cap, ev_p) - gain * (grid - target))
            elif grid < target and ev_cap < ev_max:
                ev_cap = min(ev_max, ev_cap + gain * (target - grid))
            self.write(BESS, BESS_P_SET, f32_words(p_set))
            self.write(SITE, SITE_EV_CAP, f32_words(min(ev_cap, ev_max)))
            self.heartbeat()
            self.write(SITE, SITE_STEP_ACK, u32_words(step))
            steps += 1
            if step - last > 1 and last:
                print(f"step {step}: skipped {step - last - 1}", flush=True)
            if steps % 720 == 1:
                print(f"step {step} t={u32(site, SITE_SIM_T)} s grid {grid:.0f} kW battery {p_bess:.0f} kW "
                      f"soc {soc:.1f} % -> p_set {p_set:.0f} ev_cap {ev_cap:.0f}", flush=True)
            last = step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5020)
    args = ap.parse_args()
    ems = Ems(args.host, args.port)
    try:
        ems.run()
    except (ConnectionError, ModbusException, RuntimeError) as e:      # the server went away at the end of the run
        print(f"stopping: {e}", flush=True)


if __name__ == "__main__":
    main()
