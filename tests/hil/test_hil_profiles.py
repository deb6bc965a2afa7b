"""Product profiles as a controller configured for the real product reads them: a generic
Modbus client, the product's function codes, word order and scaling (as its document, cited
in each profile file, publishes them), over TCP and over RTU on a pty pair; every point is
compared with the twin's values at that step, computed here from the snapshot."""

from __future__ import annotations

import math
import struct

import pytest
from hil_rig import REPO, evening_scenario, make_rig
from pymodbus.client import ModbusSerialClient, ModbusTcpClient

from hil.maps.profiles import load_profile, profile_names, resolve_products
from hil.servers.pty_link import PtyLink
from hil.servers.rtu import RtuLine, RtuServer
from twin.config.errors import ScenarioError
from twin.config.site import ModbusDevice

STEP_S = 5.0
PRODUCTS = (  # (device, profile, unit id, transport)
    ("meter", "sdm630", 21, "both"),
    ("meter", "dtsu666", 22, "both"),
    ("meter", "dtsu666-h", 11, "rtu"),  # a SUN2000's meter bus: address 11, on RTU only (11 is pv_roof on TCP)
    ("pv_canopy", "sun2000", 23, "both"),
)


def product_scenario(products=PRODUCTS, duration_s=3600.0):
    scenario = evening_scenario(duration_s=duration_s, step_s=STEP_S, hour=12)
    entries = tuple(ModbusDevice(device=d, profile=p, unit_id=u, transport=t) for d, p, u, t in products)
    return scenario.model_copy(update={"site": scenario.site.model_copy(update={"modbus_devices": entries})})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    rig, server = make_rig(tmp_path_factory.mktemp("profiles"), scenario=product_scenario())
    snaps = [rig.step() for _ in range(24)]  # two minutes at noon: the counters have counted
    yield rig, snaps
    server.stop()
    rig.bridge.close()


def expected(rig, snaps, device: str, quantity: str, unit_id: int) -> float:
    """What the product shows for ``quantity`` at the last step, from the snapshots alone."""
    twin, snap = rig.twin, snaps[-1]
    m, site = snap.measured, twin.site
    if device == "meter":
        p_w, q_var = m.grid_p_kw * 1e3, m.grid_q_kvar * 1e3
        v_ph = m.poc_v_pu * site.utility.vn_kv * 1e3 / math.sqrt(3)
        import_kwh = sum(max(s.grid_p_kw, 0.0) * s.dt_s / 3600 for s in snaps)
        export_kwh = sum(max(-s.grid_p_kw, 0.0) * s.dt_s / 3600 for s in snaps)
    else:
        index = twin.pv.names.index(device)
        p_w, q_var = float(snap.pv_p_kw[index]) * 1e3, 0.0
        bus = site.pv[index].bus
        v_ph = float(snap.v_pu[twin.grid.bus_names.index(bus)]) * site.bus_kv[bus] * 1e3 / math.sqrt(3)
        import_kwh = sum(float(s.pv_p_kw[index]) * s.dt_s / 3600 for s in snaps)
        export_kwh = 0.0
    s_va = math.hypot(p_w, q_var)
    values = {
        "v_ph_v": v_ph, "v_ll_v": v_ph * math.sqrt(3), "i_a": s_va / (3 * v_ph), "i_sum_a": s_va / v_ph,
        "p_w": p_w, "p_kw": p_w / 1e3, "p_ph_w": p_w / 3, "q_var": q_var, "q_kvar": q_var / 1e3,
        "q_ph_var": q_var / 3, "s_va": s_va, "s_ph_va": s_va / 3, "pf": abs(p_w) / s_va if s_va else 1.0,
        "hz": 50.0, "import_kwh": import_kwh, "export_kwh": export_kwh, "import_ph_kwh": import_kwh / 3,
        "export_ph_kwh": export_kwh / 3, "total_kwh": import_kwh + export_kwh, "yield_kwh": import_kwh,
        "unit_id": unit_id, "serial_number": 10_000_000 + unit_id,
    }
    if device != "meter":
        values.update(rated_kw=site.pv[index].inverter_kw, p_limit_pct=float(snap.pv_limit_pct[index]),
                      status=0x0200)  # on-grid: producing at noon, not limited
    return values[quantity]


def decode(point, words: list[int], word_order: str):
    """The product document's decoding: big-endian bytes, the word order, then x scale."""
    if point.type == "string":
        return b"".join(w.to_bytes(2, "big") for w in words).rstrip(b"\0").decode("ascii")
    ordered = words[::-1] if word_order == "little" else words
    raw = b"".join(w.to_bytes(2, "big") for w in ordered)
    fmt = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}[point.type]
    return struct.unpack(fmt, raw)[0] * point.scale


def check_every_point(client, rig, snaps, device, profile_name, unit_id):
    profile = load_profile(profile_name)
    for point in profile.points:
        read = client.read_input_registers if point.table == "input" else client.read_holding_registers
        response = read(point.address, count=point.count, device_id=unit_id)
        assert not response.isError(), (profile_name, point.point, response)
        value = decode(point, response.registers, profile.word_order)
        shown = profile.shown[point.point]
        if shown.text is not None:
            assert value == shown.text
        elif shown.value is not None:
            assert value == shown.value, point.point
        elif shown.quantity == "device_name":
            assert value == device
        else:
            want = expected(rig, snaps, device, shown.quantity, unit_id)
            step = point.scale if point.type != "float32" else 0.0  # integers round to one count
            assert value == pytest.approx(want, rel=1e-5, abs=step / 2 + 1e-6), (profile_name, point.point)


@pytest.mark.parametrize("device,profile,unit_id", [(d, p, u) for d, p, u, t in PRODUCTS if t != "rtu"])
def test_every_point_over_tcp(served, device, profile, unit_id):
    rig, snaps = served
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2, retries=0) as client:
        check_every_point(client, rig, snaps, device, profile, unit_id)


def test_every_point_over_rtu_on_a_pty_pair(served):
    rig, snaps = served
    with PtyLink() as link:
        line = RtuServer(rig.bridge, RtuLine(link.server_path, 115200), timing=False)
        line.start()
        try:
            client = ModbusSerialClient(link.client_path, baudrate=115200, timeout=1, retries=0)
            assert client.connect()
            for device, profile, unit_id, _ in PRODUCTS:  # one line, four unit ids
                check_every_point(client, rig, snaps, device, profile, unit_id)
            client.close()
        finally:
            line.stop()


def test_a_sdm630_reads_its_measurements_with_function_04_and_its_settings_with_03(served):
    rig, _ = served
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2, retries=0) as client:
        voltage = client.read_input_registers(0x0000, count=2, device_id=21)
        address = client.read_holding_registers(0x0014, count=2, device_id=21)
        assert client.convert_from_registers(voltage.registers, client.DATATYPE.FLOAT32) > 5000.0  # 10 kV feeder
        assert client.convert_from_registers(address.registers, client.DATATYPE.FLOAT32) == 21.0


def test_a_sun2000_derating_write_limits_the_inverter(served):
    rig, _ = served
    heartbeat = rig.reg_map.point("site", "heartbeat")
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2, retries=0) as client:
        assert not client.write_register(heartbeat.address, 7, device_id=heartbeat.unit_id).isError()
        assert not client.write_register(40125, 500, device_id=23).isError()  # 50.0 %, gain 10
        rig.step()
        assert rig.snap.pv_limit_pct[0] == 50.0
        assert client.read_holding_registers(40125, count=1, device_id=23).registers == [500]
        assert client.write_register(40125, 1500, device_id=23).exception_code == 3  # 150 %: refused
        assert client.write_register(32080, 1, device_id=23).isError()  # a measurement is read-only
        assert not client.write_register(40125, 1000, device_id=23).isError()
        rig.step()


def test_every_shipped_profile_names_its_source_and_reads_only_known_quantities():
    for name in profile_names():
        profile = load_profile(name)
        assert profile.source and profile.controllers
        assert len({(p.table, p.address) for p in profile.points}) == len(profile.points)


def test_a_site_naming_an_unknown_profile_or_a_taken_unit_gets_a_one_line_error(tmp_path):
    scenario = product_scenario((("meter", "dtsu999", 30, "tcp"),))
    with pytest.raises(ScenarioError, match=r"modbus_devices\[0\]\.profile: unknown profile 'dtsu999'"):
        make_rig(tmp_path, scenario=scenario)
    taken = product_scenario((("meter", "sdm630", 10, "tcp"),))  # unit 10 is pv_canopy's plain map
    with pytest.raises(ScenarioError, match=r"modbus_devices\[0\]\.unit_id: unit 10 on tcp is already pv_canopy"):
        make_rig(tmp_path, scenario=taken)
    wrong_kind = product_scenario((("bess", "sun2000", 30, "tcp"),))
    with pytest.raises(ScenarioError, match=r"modbus_devices\[0\]\.device: 'bess' is not a pv"):
        make_rig(tmp_path, scenario=wrong_kind)
    assert resolve_products((), ()) == []


def test_the_controller_guide_quotes_the_profiles_and_the_line_model():
    from hil.servers.units import FRAME_GAP_MIN_S, frame_time_s, reply_bytes

    guide = (REPO / "docs" / "controller-guide.md").read_text()
    sensor = load_profile("dtsu666-h")
    assert sensor.default_unit_id == 11 and sensor.baud == 9600 and sensor.parity == "N"
    assert "**address 11**, 9,600 baud 8N1" in guide
    assert min(p.address for p in sensor.points) == 2102 and "polling 2102–2181 (40 floats)" in guide
    assert sum(p.count for p in sensor.points if 2102 <= p.address < 2182) == 80
    derating = next(p for p in load_profile("sun2000").points if p.address == 40125)
    assert derating.command == "p_limit_pct" and derating.scale == 0.1 and "40125 active power" in guide
    assert FRAME_GAP_MIN_S == 0.05 and "(at least 50 ms" in guide
    assert frame_time_s(8, reply_bytes(3, 80), 9600) == pytest.approx(0.1875) and "187.5 ms of" in guide
    assert sensor.response_ms == 50 and "the sensor's 50 ms" in guide
