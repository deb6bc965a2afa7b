"""``serve`` with an RTU line beside TCP: the same run, a real serial device (a pty pair)."""

from __future__ import annotations

import threading

from pymodbus.client import ModbusSerialClient
from test_hil_profiles import product_scenario

from hil.serve import ServeOptions, serve
from hil.servers.pty_link import PtyLink
from hil.servers.rtu import RtuLine


def test_serve_answers_on_tcp_and_on_the_rtu_line(tmp_path):
    scenario = product_scenario(duration_s=600.0)  # noon, the meter also a DTSU666-H at 11 on RTU
    stop, seen, lines = threading.Event(), {}, []
    with PtyLink() as link:
        def poll(port: int) -> None:
            def run() -> None:
                client = ModbusSerialClient(link.client_path, baudrate=9600, timeout=2, retries=0)
                client.connect()
                for _ in range(50):  # the twin steps while we poll: wait for a step with power
                    response = client.read_holding_registers(2126, count=2, device_id=11)
                    if not response.isError():
                        seen["pt_w"] = client.convert_from_registers(response.registers, client.DATATYPE.FLOAT32)
                        if seen["pt_w"]:
                            break
                client.close()
                stop.set()
            threading.Thread(target=run, daemon=True).start()

        result = serve(scenario, tmp_path / "out", port=0, options=ServeOptions(speed=60.0), stop=stop, on_listening=poll,
                       echo=lines.append, rtu=RtuLine(link.server_path, 9600), bus_timing=False)
    assert seen.get("pt_w"), "no reading from the DTSU666-H on the RTU line"
    assert f"rtu {link.server_path} 9600 baud N" in lines[0]
    assert result.status in ("interrupted", "completed")
    assert (tmp_path / "out" / "run.json").exists()
