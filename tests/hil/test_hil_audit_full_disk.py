"""A write the audit log cannot hold is refused (exception 04) and has no effect; the log stays whole."""

from __future__ import annotations

import errno
import json

from hil_rig import client_for, f32


class FullDisk:
    """A fault-injecting audit file: the first part of a line lands, then the disk is full."""

    def __init__(self, real) -> None:
        self.real = real

    def tell(self) -> int:
        return self.real.tell()

    def write(self, text: str) -> int:
        self.real.write(text[: len(text) // 2])
        self.real.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        self.real.close()


def test_an_unauditable_write_is_refused_and_not_applied(rig, caplog):
    bess = rig.reg_map.point("bess", "p_set_kw")
    with client_for(rig.port) as client:
        assert not client.write_registers(bess.address, f32(client, 300.0), device_id=bess.unit_id).isError()
        rig.step()
        audit = rig.bridge.audit.file
        audit._file = FullDisk(audit._file)
        refused = client.write_registers(bess.address, f32(client, 900.0), device_id=bess.unit_id)
        assert refused.isError() and refused.exception_code == 4
        rig.step(2)  # (a few steps only: no heartbeat is written, and the watchdog trips at 10 s)
        assert rig.snap.bess_p_set_kw == 300.0  # the refused setpoint never acted
        lines = rig.audit_path.read_text().splitlines()
        assert [json.loads(line)["result"] for line in lines] == ["ok"]  # the torn half-line was cut off
        assert sum("audit log cannot be written" in r.getMessage() for r in caplog.records) == 1
        # the disk has room again: the log reopens and writes act again
        assert not client.write_registers(bess.address, f32(client, 500.0), device_id=bess.unit_id).isError()
        rig.step(2)
        assert rig.snap.bess_p_set_kw == 500.0
    assert len(rig.audit_path.read_text().splitlines()) == 2


def test_the_audit_log_rotates_and_stays_bounded(tmp_path):
    from hil.datastore.audit_file import AuditFile

    log = AuditFile(tmp_path / "audit.jsonl", max_bytes=1000, keep=2)
    for i in range(500):
        log.write_line(json.dumps({"n": i, "pad": "x" * 20}))
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all(f.stat().st_size <= 1000 + 64 for f in files)
    lines = [json.loads(line) for f in reversed(files) for line in f.read_text().splitlines()]
    assert [r["n"] for r in lines] == list(range(lines[0]["n"], 500))  # the newest lines, in order, whole
