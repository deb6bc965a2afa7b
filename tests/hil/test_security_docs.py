"""The security sections of the guides quote options, limits and intervals: they are the code's."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from hil.cli import register
from hil.logs import LOG_EVERY_S
from hil.ocpp.security import MAX_MESSAGE_BYTES

DOCS = Path(__file__).resolve().parents[2] / "docs"
app = typer.Typer()
register(app)
COMMANDS = typer.main.get_command(app).commands


def section(guide: str, start: str, end: str | None) -> str:
    text = (DOCS / guide).read_text()
    body = text[text.index(start):]
    return " ".join((body[:body.index(end)] if end else body).split())


def options_of(*commands: str) -> set[str]:
    return {opt for name in commands for param in COMMANDS[name].params for opt in param.opts}


def test_the_modbus_tls_section_quotes_serve_options():
    text = section("controller-guide.md", "## 10. Modbus/TCP Security", None)
    quoted = set(re.findall(r"--[a-z][a-z-]*[a-z]", text))
    assert {"--tls-cert", "--tls-key", "--tls-ca", "--tls-roles"} <= quoted
    assert quoted <= options_of("serve"), quoted - options_of("serve")


def test_the_ocpp_security_sections_quote_serve_and_csms_options_and_limits():
    text = section("ocpp-guide.md", "## Security", "## The reference CSMS")
    quoted = set(re.findall(r"--[a-z][a-z-]*[a-z]", text))
    assert {"--tls-cert", "--tls-key", "--password-file", "--allow", "--ocpp-ca-file"} <= quoted
    assert quoted <= options_of("serve", "csms"), quoted - options_of("serve", "csms")
    assert f"over {MAX_MESSAGE_BYTES // 1024} KiB" in text and f"({MAX_MESSAGE_BYTES // 1024} KiB)" in text
    assert f"one log line per {LOG_EVERY_S:g} s" in text
