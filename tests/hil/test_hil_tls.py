"""Modbus/TCP Security on 127.0.0.1: TLS with client certificates made in the test, a role per
certificate enforced in the datastore (a read-only certificate's write is exception 01, audited)."""

from __future__ import annotations

import json
import socket
import ssl
import struct

import pytest
from certs import TestCa
from hil_rig import f32, make_rig
from pymodbus.client import ModbusTlsClient

from hil.servers.tls import CONTROL, READ_ONLY, TlsOptions, tls_options

WAIT_S = 3.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = TestCa(folder)
    return {"folder": folder, "ca": ca, "server": ca.issue("server", "satwin", server=True),
            "control": ca.issue("ems", "ems-vendor", unit=CONTROL),
            "observer": ca.issue("observer", "scada-observer", unit=READ_ONLY),
            "unassigned": ca.issue("unassigned", "someone"),
            "stranger": TestCa(folder, "other CA").issue("stranger", "ems-vendor", unit=CONTROL)}


@pytest.fixture
def tls_rig(tmp_path, pki):
    server_cert = pki["server"]
    rig, server = make_rig(tmp_path, tls=TlsOptions(server_cert.cert, server_cert.key, pki["ca"].path))
    rig.step()
    yield rig
    server.stop()
    rig.bridge.close()


def client_context(pki, who: str | None, check_hostname: bool = True) -> ssl.SSLContext:
    """A client trusting the test CA; pymodbus' sync TLS client passes no server name, so it
    verifies the chain only (``check_hostname=False``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = check_hostname
    context.load_verify_locations(cafile=pki["ca"].path)
    if who is not None:
        context.load_cert_chain(pki[who].cert, pki[who].key)
    return context


def tls_client(rig, pki, who: str) -> ModbusTlsClient:
    client = ModbusTlsClient("127.0.0.1", port=rig.port, sslctx=client_context(pki, who, False), timeout=WAIT_S, retries=0)
    assert client.connect()
    return client


def audit_lines(rig) -> list[dict]:
    return [json.loads(line) for line in rig.audit_path.read_text().splitlines()]


def test_a_control_certificate_reads_and_writes(tls_rig, pki):
    bess = tls_rig.reg_map.point("bess", "p_set_kw")
    with tls_client(tls_rig, pki, "control") as client:
        assert not client.read_holding_registers(bess.address, count=2, device_id=bess.unit_id).isError()
        assert not client.write_registers(bess.address, f32(client, -500.0), device_id=bess.unit_id).isError()
    tls_rig.step()
    assert tls_rig.snap.bess_p_set_kw == -500.0
    (line,) = audit_lines(tls_rig)
    assert line["result"] == "ok" and line["client"].endswith("cn=ems-vendor role=control")


@pytest.mark.parametrize("who", ["observer", "unassigned"])
def test_a_read_only_certificate_reads_but_cannot_write(tls_rig, pki, who):
    bess = tls_rig.reg_map.point("bess", "p_set_kw")
    heartbeat = tls_rig.reg_map.point("site", "heartbeat")
    with tls_client(tls_rig, pki, who) as client:
        assert not client.read_holding_registers(bess.address, count=2, device_id=bess.unit_id).isError()
        assert client.write_registers(bess.address, f32(client, 100.0), device_id=bess.unit_id).exception_code == 1
        assert client.write_register(heartbeat.address, 7, device_id=heartbeat.unit_id).exception_code == 1
    tls_rig.step()
    assert tls_rig.snap.bess_p_set_kw == 0.0
    lines = audit_lines(tls_rig)
    assert [line["result"] for line in lines] == ["exception 01"] * 2
    assert all(line["client"].endswith("role=read-only") for line in lines)


def test_the_roles_file_names_certificates(tmp_path, pki):
    roles = tmp_path / "roles.toml"
    roles.write_text('"scada-observer" = "control"\n"ems-vendor" = "read-only"\n')
    server = pki["server"]
    options = tls_options(server.cert, server.key, pki["ca"].path, roles)
    rig, modbus = make_rig(tmp_path, tls=options)
    rig.step()
    try:
        bess = rig.reg_map.point("bess", "p_set_kw")
        with tls_client(rig, pki, "observer") as client:
            assert not client.write_registers(bess.address, f32(client, 50.0), device_id=bess.unit_id).isError()
        with tls_client(rig, pki, "control") as client:
            assert client.write_registers(bess.address, f32(client, 60.0), device_id=bess.unit_id).exception_code == 1
    finally:
        modbus.stop()
        rig.bridge.close()


def read_request() -> bytes:
    return struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0, 2)


def refused(port: int, context: ssl.SSLContext) -> bool:
    """True when the server ends the TLS session before answering a valid request (with TLS 1.3 the
    client's side of the handshake can finish before the server has checked its certificate)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(read_request())
                return tls.recv(256) == b""
        except (ssl.SSLError, ConnectionError):
            return True


@pytest.mark.parametrize("who", [None, "stranger"])
def test_refused_without_a_certificate_or_with_an_untrusted_one(tls_rig, pki, who):
    assert refused(tls_rig.port, client_context(pki, who))
    assert not refused(tls_rig.port, client_context(pki, "observer"))  # the same server still answers
    assert tls_rig.bridge.connections == 1  # the refused client never got a Modbus connection


def test_plain_modbus_tcp_gets_no_answer_from_the_tls_port(tls_rig):
    with socket.create_connection(("127.0.0.1", tls_rig.port), timeout=WAIT_S) as raw:
        raw.sendall(read_request())
        try:
            answer = raw.recv(256)
        except ConnectionError:
            answer = b""
    assert answer[:2] != b"\x00\x01"  # no Modbus answer: a TLS alert or a closed socket


@pytest.mark.parametrize("given, message", [
    ({"cert": True}, "--tls-key: TLS needs all of"),
    ({"roles": True}, "--tls-roles: needs --tls-cert"),
    ({"cert": True, "key": True, "ca": "missing"}, "--tls-ca: "),
    ({"cert": True, "key": "ca", "ca": True}, "cannot use them"),
])
def test_tls_option_mistakes_name_the_option(tmp_path, pki, given, message):
    server = pki["server"]
    paths = {"cert": server.cert, "key": server.key, "ca": pki["ca"].path, "missing": tmp_path / "nope.pem"}
    roles = tmp_path / "roles.toml"
    roles.write_text("")
    args = [paths[v if isinstance(v, str) else k] if (v := given.get(k)) else None for k in ("cert", "key", "ca")]
    with pytest.raises(ValueError, match=message):
        tls_options(*args, roles if given.get("roles") else None)


def test_a_roles_file_with_an_unknown_role_is_refused(tmp_path, pki):
    server = pki["server"]
    roles = tmp_path / "roles.toml"
    roles.write_text('"ems-vendor" = "admin"\n')
    with pytest.raises(ValueError, match="'admin' is not a role"):
        tls_options(server.cert, server.key, pki["ca"].path, roles)


def test_serve_with_tls_records_who_wrote(tmp_path, pki):
    """``serve(tls=...)``, as ``satwin serve --tls-*`` calls it: a control certificate's write is
    applied and audited under its name; the run finishes as usual."""
    import threading

    from hil.serve import ServeOptions, serve
    from hil_rig import evening_scenario

    server = pki["server"]
    listening, stop = threading.Event(), threading.Event()
    ports: list[int] = []
    out = tmp_path / "served"

    def on_listening(port: int) -> None:
        ports.append(port)
        listening.set()

    worker = threading.Thread(target=serve, args=(evening_scenario(3600.0), out), kwargs=dict(
        port=0, options=ServeOptions(speed=50.0), echo=lambda _text: None, stop=stop, on_listening=on_listening,
        tls=TlsOptions(server.cert, server.key, pki["ca"].path)))
    worker.start()
    try:
        assert listening.wait(30)
        client = ModbusTlsClient("127.0.0.1", port=ports[0], sslctx=client_context(pki, "control", False),
                                 timeout=WAIT_S, retries=0)
        assert client.connect()
        with client:
            assert not client.write_registers(0, f32(client, 1000.0), device_id=1).isError()  # site ev_cap_kw
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive()
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["modbus_tls"] is True
    (line,) = [json.loads(text) for text in (out / "modbus_audit.jsonl").read_text().splitlines()]
    assert line["result"] == "ok" and "cn=ems-vendor role=control" in line["client"]


def test_serve_cli_refuses_half_a_tls_configuration(pki):
    from test_hil_cli import assert_user_error, invoke

    from hil_rig import REFERENCE_SCENARIO

    result = invoke("serve", str(REFERENCE_SCENARIO), "--port", "0", "--tls-cert", str(pki["server"].cert))
    assert_user_error(result, "--tls-key: TLS needs all of --tls-cert, --tls-key and --tls-ca")
