"""The controller's health as verdicts, the controller process contract (shell, placeholders,
environment, controller.log) and the watchdog's safe state inside the contract."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
from hil_rig import DATA

from hil.acceptance import controller_command, run_with_external_controller
from hil.datastore.bridge import Bridge
from hil.datastore.watchdog import safe_ev_cap_kw
from hil.maps.registers import build_register_map
from twin.config.scenario import load_scenario
from twin.model.core import Twin
from twin.run.loop import run_loop

# connects, writes one setpoint and one heartbeat, then stays connected and silent
SILENT_EMS = textwrap.dedent("""
    import json, os, sys, time
    from pymodbus.client import ModbusTcpClient
    host, port, scenario, out = sys.argv[1:5]
    json.dump({"argv": sys.argv[1:], "ems_x": os.environ.get("EMS_X"), "cwd": os.getcwd(),
               "env_port": os.environ.get("SATWIN_PORT"), "env_out": os.environ.get("SATWIN_OUT")},
              open(os.path.join(out, "seen.json"), "w"))
    client = ModbusTcpClient(host, port=int(port))
    client.connect()
    client.write_registers(18, [1], device_id=1)
    client.write_registers(0, client.convert_to_registers(3000.0, client.DATATYPE.FLOAT32), device_id=1)
    print("ems: wrote once, now silent", flush=True)
    time.sleep(600)
""")


def test_a_silent_but_connected_controller_fails_the_health_verdict(tmp_path, monkeypatch):
    script = tmp_path / "my ems.py"  # a space in the path: placeholders are shell-quoted
    script.write_text(SILENT_EMS)
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(DATA / "evening-peak.toml").with_options(duration_s=1800.0)
    out = tmp_path / "run dir"
    command = f"EMS_X=42 {sys.executable} {script.name!r} {{host}} {{port}} {{scenario}} {{out}} | cat"
    result = run_with_external_controller(scenario, out, command, speed=1800, clock="paced")
    seen = json.loads((out / "seen.json").read_text())
    assert seen["argv"][2:] == [scenario.name, str(out.resolve())] and seen["argv"][0] == "127.0.0.1"
    assert seen["ems_x"] == "42" and seen["env_port"] == seen["argv"][1] and seen["env_out"] == str(out.resolve())
    assert seen["cwd"] == str(tmp_path)
    assert "wrote once, now silent" in (out / "controller.log").read_text()
    verdicts = {v["criterion"]: v for v in json.loads((out / "verdicts.json").read_text())}
    silence = next(v for k, v in verdicts.items() if k.startswith("controller healthy: heartbeat"))
    trip = verdicts["controller healthy: no watchdog trip"]
    assert not silence["passed"] and silence["measured"] > 1000 and silence["windows"][0][0] <= 10
    assert not trip["passed"] and trip["measured"] == 1
    assert verdicts["controller healthy: ran until the end"]["passed"]  # it did not crash: it went silent
    assert not result.passed
    assert "heartbeat" in (out / "report.md").read_text()


def test_placeholders_are_shell_quoted_and_other_braces_stay():
    command = controller_command("X=1 ems --at {host}:{port} --name {scenario} --log {out}/log ${HOME} '{print}'",
                                 {"host": "127.0.0.1", "port": "5020", "scenario": "peak", "out": "/tmp/a b"})
    assert command == "X=1 ems --at 127.0.0.1:5020 --name peak --log '/tmp/a b'/log ${HOME} '{print}'"


def test_the_safe_state_keeps_a_silent_site_inside_its_contract_through_the_holiday_peak():
    """No controller at all (no heartbeat): the watchdog trips after 10 s and the safe state,
    with its losses margin, must hold grid import under the contract through 17:00-19:00."""
    scenario = load_scenario(DATA / "evening-peak.toml").with_options(duration_s=7200.0)
    twin = Twin(scenario)
    bridge = Bridge(twin, build_register_map(twin))
    rows: list[tuple[float, float, float, float]] = []

    class Grid:
        def on_snapshot(self, snap) -> None:
            rows.append((snap.t_s, snap.grid_p_kw, snap.contract_limit_kw, snap.measured.ev_p_kw))

        def on_events(self, events) -> None:
            pass

    run_loop(twin, bridge, [bridge, Grid()])
    t_s, grid_kw, contract_kw, ev_kw = np.array(rows).T
    settled = t_s > 60.0  # trip at 10 s, then the chargers' latency and ramp
    site = twin.site
    contract = site.utility.contract_limit_kw
    assert bridge.tripped
    assert safe_ev_cap_kw(twin.site) == contract - sum(load.p_peak_kw for load in site.loads) \
        - site.watchdog.safe_losses_margin_pct / 100.0 * contract
    assert ev_kw[settled].max() >= 0.99 * safe_ev_cap_kw(twin.site)  # the cap binds: the peak wants more
    assert grid_kw[settled].max() <= contract_kw[0]
