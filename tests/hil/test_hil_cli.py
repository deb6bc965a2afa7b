"""User mistakes on the hil commands: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import json
import socket

import pytest
import typer
from hil_rig import REFERENCE_SCENARIO
from typer.testing import CliRunner

from hil.cli import register

app = typer.Typer()
register(app)
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def assert_user_error(result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert needle in result.output


def test_unknown_scenario_file():
    assert_user_error(invoke("serve", "no/such/scenario.toml", "--port", "0"), "error:")


def test_bad_host():
    assert_user_error(invoke("serve", str(REFERENCE_SCENARIO), "--host", "no.such.host.invalid", "--port", "0"),
                      "--host")


def test_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", str(REFERENCE_SCENARIO), "--port", str(port), "--duration", "10s",
                        "--out", str(tmp_path / "out"))
    assert_user_error(result, f"127.0.0.1:{port}")


def test_bad_step_option():
    assert_user_error(invoke("serve", str(REFERENCE_SCENARIO), "--step", "soon"), "--step")


@pytest.mark.parametrize("fmt", ["json", "csv", "md"])
def test_registers_export(tmp_path, fmt):
    out = tmp_path / f"map.{fmt}"
    result = invoke("registers", str(REFERENCE_SCENARIO), "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if fmt == "json":
        assert any(entry["point"] == "heartbeat" for entry in json.loads(text))
    else:
        assert "heartbeat" in text


def test_registers_unknown_format():
    assert_user_error(invoke("registers", str(REFERENCE_SCENARIO), "--format", "xml"), "--format")


def test_controller_without_server_gives_up():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert_user_error(invoke("controller", "--port", str(port)), "no Modbus server")


def test_bad_rtu_line():
    assert_user_error(invoke("serve", str(REFERENCE_SCENARIO), "--port", "0", "--rtu", "/dev/ttyUSB0:9601"),
                      "--rtu")


def test_missing_serial_device(tmp_path):
    result = invoke("serve", str(REFERENCE_SCENARIO), "--port", "0", "--duration", "10s", "--rtu",
                    "/dev/no-such-tty", "--out", str(tmp_path / "out"))
    assert_user_error(result, "no serial device /dev/no-such-tty")
    assert not (tmp_path / "out").exists()


def test_a_site_with_a_bad_product_entry(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text((REFERENCE_SCENARIO.parent / "sites" / "freight-corridor.toml").read_text()
                    + '\n[[modbus_devices]]\ndevice = "meter"\nprofile = "dtsu999"\n')
    result = invoke("serve", str(REFERENCE_SCENARIO), "--site", str(site), "--port", "0", "--duration", "10s")
    assert_user_error(result, "modbus_devices[0].profile: unknown profile 'dtsu999'")
    assert str(site) in result.output


@pytest.mark.parametrize("fmt", ["json", "csv", "md"])
def test_registers_export_of_a_profile(fmt):
    result = invoke("registers", "--profile", "dtsu666-h", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "2126" in result.output


def test_registers_export_of_an_unknown_profile():
    assert_user_error(invoke("registers", "--profile", "dtsu999"), "--profile: unknown profile")
