"""Malformed frames never crash the server nor disturb other clients."""

from __future__ import annotations

import random
import socket
import struct

from pymodbus.client import ModbusTcpClient

RECV_TIMEOUT_S = 0.3


def mbap(transaction: int, unit: int, pdu: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1 if length is None else length, unit) + pdu


def send_raw(port: int, frame: bytes, wait_s: float = RECV_TIMEOUT_S) -> bytes:
    """Send one frame on its own connection; return whatever comes back within ``wait_s``."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.settimeout(wait_s)
        sock.sendall(frame)
        try:
            return sock.recv(1024)
        except (TimeoutError, ConnectionResetError):
            return b""


def test_malformed_frames_leave_the_server_serving(rig):
    rng = random.Random(4)
    frames = [
        mbap(1, 2, struct.pack(">BHH", 3, 0, 2), length=200),  # MBAP length longer than the frame
        mbap(2, 2, struct.pack(">BHH", 3, 0, 2), length=1),  # shorter than the PDU
        mbap(3, 2, b"\x03\x00"),  # truncated read request
        mbap(4, 2, bytes([0x55, 0, 0, 0, 1])),  # unknown function code
        mbap(6, 2, struct.pack(">BHH", 3, 0, 0xFFFF)),  # huge count
        mbap(7, 2, struct.pack(">BHH", 3, 65000, 2000)),  # huge count past the address space
        mbap(8, 3, struct.pack(">BHHB", 16, 0, 2, 200) + b"\x00" * 4),  # byte count lies
        mbap(9, 3, struct.pack(">BHHB", 16, 0, 0x7FFF, 0)),  # huge write count
        bytes(rng.getrandbits(8) for _ in range(300)),
        b"\x00" * 7,
    ]
    point = rig.reg_map.point("meter", "p_kw")
    with ModbusTcpClient("127.0.0.1", port=rig.port, timeout=2, retries=0) as bystander:
        before = bystander.read_holding_registers(point.address, count=2, device_id=point.unit_id).registers
        for frame in frames:
            reply = send_raw(rig.port, frame)
            if reply[7:8]:  # an answer, if any, is an exception response
                assert reply[7] & 0x80, (frame, reply)
            # the well-behaved client on its own connection is still served, within its 2 s timeout
            # (no retries: an unanswered read raises), whatever the machine's speed
            response = bystander.read_holding_registers(point.address, count=2, device_id=point.unit_id)
            assert not response.isError() and response.registers == before
        for _ in range(20):  # random garbage on many connections
            send_raw(rig.port, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))), wait_s=0.01)
        assert bystander.read_holding_registers(point.address, count=2, device_id=point.unit_id).registers == before
    rig.step()  # the twin steps on, and nothing was written
    assert rig.snap.bess_p_set_kw == 0.0
    assert not rig.audit_path.exists() or rig.audit_path.read_text().count('"ok"') == 0
