"""The heartbeat watchdog: a controller that goes silent drops the site to a documented safe state.

The controller writes the site's ``heartbeat`` point at least once per ``heartbeat_timeout_s``
(simulated seconds). When it stops, the watchdog sends the safe state's ``Command``s; when
the heartbeat resumes it restores the setpoints last written. Writes accepted while tripped
are kept for that recovery.
"""

from __future__ import annotations

from collections.abc import Callable

from hil.datastore.health import ControllerHealth
from twin.config.site import Site
from twin.model.commands import SITE_TARGET, Command

SAFE_PV_LIMIT_PCT = 100.0  # PV is safe to run: it only lowers import


def safe_ev_cap_kw(site: Site) -> float:
    """EV cap of the safe state: what the contract leaves beside the building loads at their peak and
    a margin for network losses (``[watchdog] safe_losses_margin_pct`` of the contract), so the site
    stays inside its contract with the battery idle and no PV:
    ``contract - sum(load peaks) - margin % x contract``."""
    contract_kw = site.utility.contract_limit_kw
    margin_kw = site.watchdog.safe_losses_margin_pct / 100.0 * contract_kw
    return max(0.0, contract_kw - sum(load.p_peak_kw for load in site.loads) - margin_kw)


def safe_commands(site: Site) -> tuple[Command, ...]:
    """The watchdog's safe state: battery idle, EV charging capped (``safe_ev_cap_kw``), PV free."""
    source = "watchdog"
    commands = [Command(SITE_TARGET, "ev_cap_kw", safe_ev_cap_kw(site), source)]
    if site.bess:
        commands.insert(0, Command(site.bess.name, "p_set_kw", 0.0, source))
    commands += [Command(array.name, "p_limit_pct", SAFE_PV_LIMIT_PCT, source) for array in site.pv]
    return tuple(commands)


class Watchdog:
    """Heartbeats in (from the server thread, under the datastore's lock), commands out (run loop)."""

    def __init__(self, site: Site, log: Callable[..., None], health: ControllerHealth) -> None:
        self.heartbeat_timeout_s = site.watchdog.heartbeat_timeout_s
        self.health = health  # silences, trips and recoveries, for the controller-health verdicts
        self.safe_commands = safe_commands(site)
        self.tripped = False
        self._log = log  # the twin's event log: a trip and a recovery are events of the run
        self._heartbeats = 0
        self._heartbeats_at_trip = 0
        self._last_heartbeat_t_s = 0.0
        self._commanded: dict[tuple[str, str], Command] = {}  # the last accepted, restored after a trip

    def beat(self, sim_t_s: float) -> None:
        self._heartbeats += 1
        self._last_heartbeat_t_s = sim_t_s

    def decide(self, now_s: float, pending: dict[tuple[str, str], Command]) -> list[Command] | None:
        """The commands for the next step, given the writes accepted since the last one."""
        self._commanded.update(pending)
        self.health.observe(now_s, self._last_heartbeat_t_s)
        if self.tripped:
            if self._heartbeats == self._heartbeats_at_trip:
                return None  # stay in the safe state; writes are kept for the recovery
            self.tripped = False
            self.health.recovered(now_s)
            self._log("watchdog_recovered", "site", value=now_s - self._last_heartbeat_t_s,
                      detail="heartbeat resumed; last written setpoints restored")
            return list(self._commanded.values())
        silent_s = now_s - self._last_heartbeat_t_s
        if silent_s > self.heartbeat_timeout_s:
            self.tripped = True
            self.health.tripped(now_s)
            self._heartbeats_at_trip = self._heartbeats
            safe = {c.quantity: c.value for c in self.safe_commands}
            self._log("watchdog", "site", value=silent_s,
                      detail=f"no heartbeat for {silent_s:g} s: safe state bess {safe.get('p_set_kw', 0.0):g} kW, "
                             f"EV cap {safe['ev_cap_kw']:g} kW, every PV array {SAFE_PV_LIMIT_PCT:g} %")
            return list(self.safe_commands)
        return list(pending.values()) if pending else None
