"""``--allow`` values (Modbus ``satwin serve``, OCPP ``satwin csms``) as the addresses a peer reports."""

from __future__ import annotations

import ipaddress

from twin.config.errors import ScenarioError


def allowed_addresses(allow: list[str] | None, option: str = "--allow") -> set[str] | None:
    """The client addresses allowed (None: everyone); a host name would refuse everyone, so it is a
    mistake (``ScenarioError`` naming the option)."""
    if not allow:
        return None
    found = set()
    for text in allow:
        try:
            found.add(str(ipaddress.ip_address(text)))
        except ValueError:
            raise ScenarioError(None, option, f"'{text}' is not an IP address (write e.g. 127.0.0.1; host names "
                                "are not resolved)") from None
    return found
