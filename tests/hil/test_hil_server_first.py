"""Behind the wall clock the server comes first: the run loop waits, between steps, until the
Modbus server has answered every request it has taken (``Backlog``, ``WallClock(yield_to=...)``)."""

from __future__ import annotations

import socket
import time

from hil_rig import make_rig
from test_hil_abuse import read_request, receive_frames

from twin.run.loop import BEHIND_YIELD_S, WallClock

WAIT_S = 5.0


def _until(condition, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_request_is_in_the_backlog_from_taken_to_answered(tmp_path):
    rig, server = make_rig(tmp_path)
    rig.step()
    unit = rig.reg_map.devices[0].unit_id
    try:
        with socket.create_connection(("127.0.0.1", rig.port), timeout=WAIT_S) as sock:
            with rig.bridge.image.lock:  # the server takes the requests but cannot answer them yet
                sock.sendall(b"".join(read_request(tid, unit) for tid in range(1, 4)))
                assert _until(lambda: server.backlog.unanswered == 3)
                assert not server.backlog.wait_answered(0.05)
            assert server.backlog.wait_answered(WAIT_S)
            assert [tid for tid, _, _ in receive_frames(sock, 3)] == [1, 2, 3]
    finally:
        server.stop()
        rig.bridge.close()


def test_requests_left_by_a_client_that_went_away_leave_the_backlog(tmp_path):
    rig, server = make_rig(tmp_path)
    rig.step()
    unit = rig.reg_map.devices[0].unit_id
    try:
        sock = socket.create_connection(("127.0.0.1", rig.port), timeout=WAIT_S)
        with rig.bridge.image.lock:
            sock.sendall(b"".join(read_request(tid, unit) for tid in range(1, 11)))
            assert _until(lambda: server.backlog.unanswered == 10)
            sock.close()  # nine of them will never be answered
        assert server.backlog.wait_answered(WAIT_S)  # else a served run would wait on them every step
        assert server.backlog.unanswered == 0
    finally:
        server.stop()
        rig.bridge.close()


def test_the_clock_yields_to_the_server_only_while_behind():
    waits: list[float] = []
    clock = WallClock(speed=1.0, yield_to=waits.append)
    clock.start()
    clock.wait_until(0.02)  # on time: it sleeps, the server has the interpreter meanwhile
    assert waits == []
    time.sleep(0.05)
    assert clock.wait_until(0.03) > 0  # behind
    assert waits == [BEHIND_YIELD_S]
    clock.end()  # as the run loop does: this thread's priority back (the overrun lowered it)
