"""A client that pipelines, sends what is not Modbus/TCP, asks for functions we do not serve,
holds connections or trickles bytes: answered in order, refused or disconnected, never wedged."""

from __future__ import annotations

import inspect
import logging
import random
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest
from hil_rig import REPO, client_for, serving

from hil.datastore.audit_file import KEEP, MAX_BYTES
from hil.servers.limits import ConnectionLimits
from twin.run.recorder import Recorder

WAIT_S = 3.0  # a bound on every wait for an answer: silence this long is a wedged connection


def request(tid: int, unit: int, pdu: bytes, protocol: int = 0, length: int | None = None) -> bytes:
    return struct.pack(">HHHB", tid, protocol, len(pdu) + 1 if length is None else length, unit) + pdu


def read_request(tid: int, unit: int, address: int = 0, count: int = 2) -> bytes:
    return request(tid, unit, struct.pack(">BHH", 3, address, count))


def receive_frames(sock: socket.socket, n: int) -> list[tuple[int, int, bytes]]:
    """``n`` answers as (transaction id, unit, PDU); fails if the server goes silent or closes first."""
    sock.settimeout(WAIT_S)
    buffer, frames = b"", []
    while len(frames) < n:
        while len(buffer) >= 6 and len(buffer) >= 6 + struct.unpack_from(">H", buffer, 4)[0]:
            tid, _, length, unit = struct.unpack_from(">HHHB", buffer)
            frames.append((tid, unit, buffer[7:6 + length]))
            buffer = buffer[6 + length:]
        if len(frames) < n:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed after {len(frames)} of {n} answers"
            buffer += chunk
    return frames


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closes the connection (EOF or reset) within ``WAIT_S``; False on silence."""
    sock.settimeout(WAIT_S)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One served twin for the tests that only read (building a twin takes seconds)."""
    with serving(tmp_path_factory.mktemp("abuse")) as rig:
        yield rig


@pytest.fixture
def limited_rig(tmp_path):
    with serving(tmp_path, limits=ConnectionLimits(max_connections=3, idle_timeout_s=0.5)) as rig:
        yield rig


def test_pipelined_requests_in_one_segment_are_each_answered_in_order(served):
    meter = served.reg_map.point("meter", "p_kw")
    with connect(served.port) as sock:
        sock.sendall(b"".join(read_request(tid, meter.unit_id, meter.address) for tid in range(1, 21)))
        answers = receive_frames(sock, 20)
    assert [tid for tid, _, _ in answers] == list(range(1, 21))
    assert all(pdu[0] == 3 and pdu[1] == 4 for _, _, pdu in answers)  # each a 2-register read answer


def test_a_write_pipelined_with_a_read_is_answered_first(rig):
    bess = rig.reg_map.point("bess", "p_set_kw")
    value = list(struct.unpack(">HH", struct.pack(">f", 500.0)))
    write = request(1, bess.unit_id, struct.pack(">BHHB", 16, bess.address, 2, 4) + struct.pack(">HH", *value))
    with connect(rig.port) as sock:
        sock.sendall(write + read_request(2, bess.unit_id, bess.address))
        (tid_w, _, written), (tid_r, _, read) = receive_frames(sock, 2)
    assert (tid_w, written[0], tid_r, read[0]) == (1, 16, 2, 3)  # both answered, in order, neither refused
    assert rig.bridge.accepted_writes == 1


@pytest.mark.parametrize("header", [
    request(1, 2, struct.pack(">BHH", 3, 0, 2), protocol=1),
    request(1, 2, struct.pack(">BHH", 3, 0, 2), protocol=0xFFFF),
    request(1, 2, struct.pack(">BHH", 3, 0, 2), length=0),
    request(1, 2, struct.pack(">BHH", 3, 0, 2), length=1),
    request(1, 2, struct.pack(">BHH", 3, 0, 2), length=65535),
    request(1, 2, struct.pack(">BHH", 3, 0, 2), length=255),
], ids=["protocol-1", "protocol-ffff", "length-0", "length-1", "length-65535", "length-255"])
def test_a_header_that_is_not_modbus_tcp_closes_the_connection(served, header):
    meter = served.reg_map.point("meter", "p_kw")
    with connect(served.port) as sock:
        sock.sendall(header + read_request(2, meter.unit_id, meter.address))
        assert closed_by_server(sock)
    with client_for(served.port) as bystander:  # and the server goes on serving
        assert not bystander.read_holding_registers(meter.address, count=2, device_id=meter.unit_id).isError()


def test_random_bytes_never_wedge_a_connection(served):
    rng = random.Random(18)
    meter = served.reg_map.point("meter", "p_kw")
    for _ in range(40):
        with connect(served.port) as sock:
            sock.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(8, 300))))
            sock.sendall(read_request(7, meter.unit_id, meter.address))
            sock.settimeout(WAIT_S)
            try:  # an answer (an exception or the read) or the server's close; silence raises TimeoutError
                reply = sock.recv(4096)
            except ConnectionResetError:
                reply = b""
            assert reply == b"" or len(reply) >= 9, reply


# the guide serves 3, 4, 6, 16 and 23 (docs/controller-guide.md, "Exception codes")
UNSERVED = [1, 2, 5, 7, 8, 11, 12, 15, 17, 20, 21, 22, 24, 43, 0x55, 0x81, 0xFF]


def test_function_codes_outside_the_guide_answer_exception_01(served):
    meter = served.reg_map.point("meter", "p_kw")
    with connect(served.port) as sock:
        sock.sendall(b"".join(request(i, meter.unit_id, bytes([code, 0, 0, 0, 1])) for i, code in enumerate(UNSERVED))
                     + read_request(99, meter.unit_id, meter.address))
        answers = receive_frames(sock, len(UNSERVED) + 1)
    assert [(tid, pdu[0], pdu[1]) for tid, _, pdu in answers[:-1]] == \
        [(i, code | 0x80, 0x01) for i, code in enumerate(UNSERVED)]
    assert (answers[-1][0], answers[-1][2][0]) == (99, 3)  # the connection goes on


def test_a_body_pymodbus_cannot_decode_answers_exception_03_and_the_connection_goes_on(served):
    meter = served.reg_map.point("meter", "p_kw")
    with connect(served.port) as sock:
        sock.sendall(request(1, meter.unit_id, b"\x03\x00") + read_request(2, meter.unit_id, meter.address))
        (tid, _, refused), (tid_next, _, read) = receive_frames(sock, 2)
    assert (tid, refused[0], refused[1], tid_next, read[0]) == (1, 0x83, 0x03, 2, 3)


def test_connections_beyond_the_cap_are_closed_and_logged_once(limited_rig, caplog):
    meter = limited_rig.reg_map.point("meter", "p_kw")
    caplog.set_level(logging.WARNING, logger="satwin.hil")
    held = [connect(limited_rig.port) for _ in range(3)]
    for sock in held:  # each is served
        sock.sendall(read_request(1, meter.unit_id, meter.address))
        assert receive_frames(sock, 1)[0][0] == 1
    refused = [connect(limited_rig.port) for _ in range(10)]
    assert all(closed_by_server(sock) for sock in refused)
    assert len([r for r in caplog.records if "refused a connection" in r.getMessage()]) == 1
    for sock in refused + held:
        sock.close()
    deadline = time.monotonic() + WAIT_S  # the server notices the closes; then a new client is served
    while time.monotonic() < deadline:
        with connect(limited_rig.port) as sock:
            sock.sendall(read_request(9, meter.unit_id, meter.address))
            sock.settimeout(WAIT_S)
            if sock.recv(4096):
                return
        time.sleep(0.05)
    pytest.fail("no connection was served after the others closed")


def test_idle_and_slowloris_connections_are_closed_but_a_polling_client_is_not(limited_rig):
    meter = limited_rig.reg_map.point("meter", "p_kw")
    frame = read_request(1, meter.unit_id, meter.address)
    with connect(limited_rig.port) as idle, connect(limited_rig.port) as slow, \
            client_for(limited_rig.port) as polling:
        slow_open = True
        for i in range(30):  # 1.5 s: three idle timeouts
            if slow_open and i < len(frame) - 1:
                try:
                    slow.sendall(frame[i:i + 1])  # one byte at a time, the frame never completes in time
                except (BrokenPipeError, ConnectionResetError):  # a slow machine: closed before the last byte
                    slow_open = False
            assert not polling.read_holding_registers(meter.address, count=2, device_id=meter.unit_id).isError()
            time.sleep(0.05)
        assert closed_by_server(idle)
        assert closed_by_server(slow)


EXHAUST = textwrap.dedent("""
    import resource, sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from hil_rig import make_rig
    from hil.servers.limits import ConnectionLimits
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[0] and 256, 256))
    rig, server = make_rig(Path({out!r}), limits=ConnectionLimits(max_connections=400, idle_timeout_s=60))
    rig.step()
    print(rig.port, flush=True)
    sys.stdin.readline()
    server.stop()
""")


def test_descriptor_exhaustion_is_one_log_line_and_the_server_recovers(tmp_path):
    """The cap is set above the descriptor limit (256) on purpose: the OS refuses, not the cap."""
    script = EXHAUST.format(tests=str(REPO / "tests" / "hil"), out=str(tmp_path))
    with subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as server:
        try:
            port = int(server.stdout.readline())
            held = []
            for _ in range(300):
                try:
                    held.append(connect(port))
                except OSError:
                    break
            time.sleep(1.0)  # asyncio retries accepting every 0.1-1 s: give it a few retries to log
            for sock in held:
                sock.close()
            deadline = time.monotonic() + 10 * WAIT_S
            served = False
            while not served and time.monotonic() < deadline:
                with client_for(port) as client:
                    served = not client.read_holding_registers(0, count=2, device_id=2).isError()
            server.stdin.write("\n")
            server.stdin.flush()
            _, stderr = server.communicate(timeout=30)
        finally:
            server.kill()
    assert served
    assert "Traceback" not in stderr, stderr[:2000]
    lines = [line for line in stderr.splitlines() if "out of file descriptors" in line]
    assert 1 <= len(lines) <= 2, stderr[:2000]


def test_the_guide_quotes_the_default_limits():
    guide = (REPO / "docs" / "controller-guide.md").read_text(encoding="utf-8")
    assert f"`--max-connections N` (default {ConnectionLimits.max_connections})" in guide
    assert f"`--idle-timeout S` (default {ConnectionLimits.idle_timeout_s:g} s)" in guide
    assert f"rotates past {MAX_BYTES // 2**20} MB (`modbus_audit.jsonl.1` to `.{KEEP}`" in " ".join(guide.split())
    chunk_wall_s = inspect.signature(Recorder).parameters["chunk_wall_s"].default
    assert f"at least every {chunk_wall_s:g} s of wall time" in " ".join(guide.split())
