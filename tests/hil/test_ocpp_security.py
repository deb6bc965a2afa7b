"""OCPP security profile 2 on 127.0.0.1: the stations connect over wss:// to the reference CSMS
with the CA the user gives and HTTP basic auth; wrong passwords, untrusted servers and addresses
outside ``--allow`` are refused before any OCPP message (certificates made in the test)."""

from __future__ import annotations

import pytest
from certs import TestCa
from ocpp_rig import run_served
from test_hil_cli import assert_user_error, invoke

from hil.ocpp.csms import ReferenceCsms
from hil.ocpp.security import CsmsSecurity
from hil.ocpp.stations import station_ids
from hil_rig import evening_scenario
from twin.model.core import Twin

DURATION_S = 600.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocpp-pki")
    ca = TestCa(folder)
    return {"ca": ca.path, "server": ca.issue("csms", "satwin csms", server=True),
            "other_ca": TestCa(folder, "other CA").path}


@pytest.fixture(scope="module")
def passwords():
    return {station: f"secret-{station}" for station in station_ids(Twin(evening_scenario(60.0)))}


def secured_csms(pki, passwords, allow=None) -> ReferenceCsms:
    server = pki["server"]
    return ReferenceCsms(port=0, security=CsmsSecurity(server.cert, server.key, passwords, allow))


def station_verdicts(result) -> dict[str, bool]:
    return {v.criterion: v.passed for v in result.verdicts if v.criterion.startswith("ocpp station")}


def test_profile_2_stations_boot_over_tls_with_basic_auth(tmp_path, pki, passwords):
    csms = secured_csms(pki, passwords)
    port = csms.start()
    try:
        result, summary = run_served(tmp_path, f"wss://127.0.0.1:{port}/ocpp", "2.0.1", DURATION_S,
                                     passwords=passwords, ca_file=pki["ca"])
    finally:
        csms.stop()
    assert result.status == "completed"
    assert set(csms.state.boots) == set(passwords)
    assert all(station_verdicts(result).values()), station_verdicts(result)
    assert all(s["state"] == "online" and s["errors"] == 0 for s in summary["stations"].values())


@pytest.mark.parametrize("case", ["wrong password", "another station's password", "untrusted CA", "not allowed"])
def test_refused_before_any_ocpp_message(tmp_path, pki, passwords, case):
    given = dict(passwords)
    ca = pki["ca"]
    allow = None
    first = sorted(given)[0]
    if case == "wrong password":
        given[first] = "guess"
    elif case == "another station's password":
        given[first] = passwords[sorted(given)[1]]
    elif case == "untrusted CA":
        ca = pki["other_ca"]
    else:
        allow = {"192.0.2.7"}
    csms = secured_csms(pki, passwords, allow)
    port = csms.start()
    try:
        result, summary = run_served(tmp_path, f"wss://127.0.0.1:{port}/ocpp", "1.6", 60.0, passwords=given,
                                     ca_file=ca, boot_wait_s=1.0, backoff_s=(0.2, 0.5))
    finally:
        csms.stop()
    refused = [first] if case.endswith("password") else sorted(passwords)
    assert not set(refused) & set(csms.state.boots)  # the CSMS never saw their BootNotification
    for station in refused:
        link = summary["stations"][station]
        assert not link["booted"] and link["errors"] >= 1
        expected = {"wrong password": "401", "another station's password": "401", "untrusted CA": "CERTIFICATE_VERIFY",
                    "not allowed": "403"}[case]
        assert expected in link["last_error"], link["last_error"]
    assert result.status == "completed"  # the twin ran on; the verdicts say which stations failed
    failed = {c for c, ok in station_verdicts(result).items() if not ok}
    assert {c.split()[2] for c in failed} == set(refused)


def test_a_plain_ws_station_gets_no_ocpp_from_a_tls_csms(tmp_path, pki, passwords):
    csms = secured_csms(pki, passwords)
    port = csms.start()
    try:
        _, summary = run_served(tmp_path, f"ws://127.0.0.1:{port}/ocpp", "2.0.1", 60.0, passwords=passwords,
                                boot_wait_s=1.0, backoff_s=(0.2, 0.5))
    finally:
        csms.stop()
    assert not csms.state.boots
    assert not any(s["booted"] for s in summary["stations"].values())


@pytest.mark.parametrize("args, needle", [
    (["--tls-cert", "cert.pem"], "--tls-key: give both --tls-cert and --tls-key"),
    (["--allow", "localhost"], "--allow: 'localhost' is not an IP address"),
    (["--password-file", "missing.toml"], "--password-file: cannot read"),
])
def test_csms_option_mistakes(tmp_path, args, needle):
    assert_user_error(invoke("csms", "--port", "0", *[str(tmp_path / a) if a.endswith((".pem", ".toml")) else a
                                                       for a in args]), needle)


def test_serve_refuses_a_ca_file_for_a_plain_url(tmp_path, pki):
    from hil_rig import REFERENCE_SCENARIO

    result = invoke("serve", str(REFERENCE_SCENARIO), "--port", "0", "--ocpp-csms", "ws://127.0.0.1:9/ocpp",
                    "--ocpp-ca-file", str(pki["ca"]))
    assert_user_error(result, "--ocpp-ca-file: is for a wss:// CSMS")
