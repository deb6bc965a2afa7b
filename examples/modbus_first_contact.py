"""First contact with `satwin serve` from a controller's point of view, using pymodbus only.

    satwin serve scenarios/holiday-peak-freight.toml --speed 60 &
    satwin registers scenarios/holiday-peak-freight.toml --format json --out map.json
    python examples/modbus_first_contact.py --port 5020 --map map.json

Reads the meter and the battery by point name from the exported map, asks the battery for
200 kW of discharge and writes the heartbeat — everything an EMS does, once.
"""

from __future__ import annotations

import argparse
import json

from pymodbus.client import ModbusTcpClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5020)
    parser.add_argument("--map", required=True, help="JSON from `satwin registers --format json`")
    args = parser.parse_args()
    points = {(p["device"], p["point"]): p for p in json.load(open(args.map))}

    with ModbusTcpClient(args.host, port=args.port, timeout=2) as client:
        def read(device: str, point: str) -> float:
            p = points[(device, point)]
            words = client.read_holding_registers(p["address"], count=p["count"], device_id=p["unit_id"]).registers
            return client.convert_from_registers(words, getattr(client.DATATYPE, p["type"].upper()))

        def write(device: str, point: str, value: float) -> None:
            p = points[(device, point)]
            words = client.convert_to_registers(value, getattr(client.DATATYPE, p["type"].upper()))
            response = client.write_registers(p["address"], words, device_id=p["unit_id"])
            if response.isError():
                raise SystemExit(f"{device}.{point}: Modbus exception {response.exception_code}")

        print(f"sim time {read('site', 'sim_time_s'):.0f} s: grid import {read('meter', 'p_kw'):.0f} kW "
              f"(contract {read('site', 'contract_limit_kw'):.0f} kW), battery at {read('bess', 'soc_pct'):.1f} %")
        write("bess", "p_set_kw", 200.0)
        write("site", "heartbeat", 1)
        print("battery asked for 200 kW discharge; heartbeat written")


if __name__ == "__main__":
    main()
