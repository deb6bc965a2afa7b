"""Modbus RTU on a pty pair: several unit ids on one line, malformed frames, RTU over TCP,
bus timing, and ``satwin serve --rtu``'s argument."""

from __future__ import annotations

import struct
import time

import pytest
from hil_rig import make_rig
from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.framer import FramerRTU
from test_hil_profiles import product_scenario

from hil.servers.modbus_tcp import ModbusServer
from hil.servers.pty_link import PtyLink
from hil.servers.rtu import RtuLine, RtuServer
from hil.servers.units import BusTiming, bus_units_of

SILENCE_S = 0.08  # longer than the server's frame gap (FRAME_GAP_MIN_S): the line is quiet between frames


def frame(body: bytes) -> bytes:
    return body + struct.pack("<H", FramerRTU.compute_CRC(body))


@pytest.fixture
def line(tmp_path):
    rig, server = make_rig(tmp_path, scenario=product_scenario())
    rig.step(3)
    link = PtyLink()
    rtu = RtuServer(rig.bridge, RtuLine(link.server_path, 115200), timing=False)
    rtu.start()
    client = ModbusSerialClient(link.client_path, baudrate=115200, timeout=1, retries=0)
    assert client.connect()
    yield rig, rtu, client
    client.close()
    rtu.stop()
    link.close()
    server.stop()
    rig.bridge.close()


def voltage(client, unit_id: int) -> float:
    """Phase A voltage of a product on the line (SDM630 input 0x0000 / DTSU666-H holding 2110)."""
    if unit_id == 21:
        response = client.read_input_registers(0x0000, count=2, device_id=21)
    else:
        response = client.read_holding_registers(2110, count=2, device_id=unit_id)
    assert not response.isError(), response
    return client.convert_from_registers(response.registers, client.DATATYPE.FLOAT32)


def test_malformed_frames_never_crash_the_line_or_disturb_other_units(line):
    rig, rtu, client = line
    good = {unit: voltage(client, unit) for unit in (21, 11)}
    wire = client.socket  # the pyserial port under the client: raw bytes onto the line
    request_21 = bytes([21, 4, 0, 0, 0, 2])
    garbage = [
        b"\x00\xff\x13\x37noise on the bus\x55\xaa",  # noise between frames
        frame(request_21)[:-1] + b"\x00",  # bad CRC
        frame(request_21)[:5],  # cut short
        frame(bytes([11, 16, 0x08, 0x3E, 0, 2, 9, 0, 0])),  # FC16 whose byte count says 9 and carries 2
        frame(bytes([11, 3, 0x08, 0x3E, 0x7F, 0xFF])),  # a count far beyond the table: exception, not a crash
        bytes(range(256)),  # everything at once
    ]
    for junk in garbage:
        wire.write(junk)
        wire.flush()
        time.sleep(SILENCE_S)
        wire.reset_input_buffer()  # whatever the line answered to the junk is not ours to read
        for unit, volts in good.items():
            assert voltage(client, unit) == volts, (junk, unit)
    assert rtu._thread.is_alive()
    assert rig.twin.site.modbus_devices  # the products are what the line carries


def test_frames_for_other_addresses_get_no_reply(line):
    _, _, client = line
    with pytest.raises(Exception, match="No response"):
        client.read_holding_registers(0, count=2, device_id=2)  # the plain meter is on TCP, not this line


def test_rtu_over_tcp_carries_the_same_units(tmp_path):
    rig, server = make_rig(tmp_path, scenario=product_scenario())
    rig.step()
    gateway = ModbusServer(rig.bridge, "127.0.0.1", 0, rtu_timing=BusTiming(9600, enabled=False))
    port = gateway.start()
    try:
        with ModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU, timeout=2, retries=0) as client:
            assert voltage(client, 11) == pytest.approx(
                rig.snap.measured.poc_v_pu * rig.twin.site.utility.vn_kv * 1e3 / 3 ** 0.5, rel=1e-6)
            assert voltage(client, 21) > 0.0  # the SDM630 shares the line
    finally:
        gateway.stop()
        server.stop()
        rig.bridge.close()


def test_bus_timing_is_what_the_line_and_the_product_take(tmp_path):
    rig, server = make_rig(tmp_path, scenario=product_scenario())
    server.stop()
    units = bus_units_of(rig.bridge, "rtu")

    class Read:
        function_code, count, dev_id = 3, 2, 11

    slow, fast = BusTiming(9600), BusTiming(115200)
    # 8-byte request + 9-byte reply + two 3.5-character gaps, 10 bits a character, plus 50 ms reply time
    assert slow.delay_s(units, Read) == pytest.approx(24 * 10 / 9600 + 0.050)
    assert fast.delay_s(units, Read) == pytest.approx(24 * 10 / 115200 + 0.050)
    assert BusTiming(9600, enabled=False).delay_s(units, Read) == 0.0
    rig.bridge.close()


@pytest.mark.parametrize("text,expected", [
    ("/dev/ttyUSB0", RtuLine("/dev/ttyUSB0")),
    ("/dev/ttyUSB0:19200", RtuLine("/dev/ttyUSB0", 19200)),
    ("/dev/ttyUSB0:9600:e", RtuLine("/dev/ttyUSB0", 9600, "E")),
])
def test_rtu_line_argument(text, expected):
    assert RtuLine.parse(text) == expected


@pytest.mark.parametrize("text", ["", "/dev/ttyUSB0:9601", "/dev/ttyUSB0:9600:X", "a:1:2:3"])
def test_bad_rtu_line_argument(text):
    with pytest.raises(ValueError):
        RtuLine.parse(text)
