"""What every recorded column and event kind means: the data dictionary of a results folder.

``docs/data-dictionary.md`` is generated from these tables (``satwin reference --write``);
a test checks that every ``Snapshot`` field and every event kind a run writes is here.
"""

from __future__ import annotations

from twin.model.devices.bess import BessState

# snapshot field -> (unit, meaning); array fields get one column per name: FIELD.NAME
COLUMNS: dict[str, tuple[str, str]] = {
    "t_s": ("s", "End of the step, seconds since the scenario start. Every other column of the row describes "
                 "the step (t_s - dt_s, t_s]: powers are means over it, states are at its end."),
    "dt_s": ("s", "Length of the step."),
    "hour_local": ("h", "Local clock time at t_s (the step's end), 0 to 24, in the site's time zone."),
    "grid_p_kw": ("kW", "Active power at the point of connection (site end of the feeder); import positive."),
    "grid_q_kvar": ("kvar", "Reactive power at the point of connection; import positive."),
    "slack_p_kw": ("kW", "Active power taken from the utility substation (grid_p_kw plus feeder losses); "
                         "0 when islanded."),
    "poc_v_pu": ("pu", "Voltage of the connection bus."),
    "losses_kw": ("kW", "Network losses: feeder, lines and cables, transformer copper and iron losses."),
    "v_pu": ("pu", "Voltage of each bus (0 when de-energized)."),
    "line_loading_pct": ("%", "Current of each line relative to its rating (utility_feeder first)."),
    "trafo_loading_pct": ("%", "Current of each transformer relative to its rating (worse of the two sides)."),
    "pv_available_kw": ("kW", "AC power each PV array could produce (before curtailment); positive."),
    "pv_p_kw": ("kW", "AC power each PV array produced; production positive."),
    "pv_limit_pct": ("%", "Curtailment limit of each inverter, percent of its AC rating."),
    "bess_p_kw": ("kW", "Battery AC power; discharge positive, charge negative."),
    "bess_p_set_kw": ("kW", "Battery setpoint in force; discharge positive."),
    "bess_soc_pct": ("%", "Battery state of charge at t_s."),
    "bess_state": ("", "Battery state: " + ", ".join(f"{s.value} {s.name.lower()}" for s in BessState) + "."),
    "charger_p_kw": ("kW", "Grid-side power of each connector (consumption positive)."),
    "charger_limit_kw": ("kW", "Limit of each connector set by a controller."),
    "charger_connected": ("0/1", "1 while a vehicle is plugged into the connector at t_s."),
    "charger_ev_soc_pct": ("%", "SoC of the vehicle on each connector (the last one, when free)."),
    "swap_p_kw": ("kW", "Grid-side power of the swap station: pack chargers plus auxiliaries."),
    "swap_full_packs": ("", "Full packs in the swap station's stock at t_s."),
    "load_p_kw": ("kW", "Service-building load supplied (after any shedding); consumption positive."),
    "ev_p_kw": ("kW", "Chargers plus swap station, grid side; consumption positive."),
    "ev_cap_kw": ("kW", "Site-wide cap on EV charging in force."),
    "queue_len": ("vehicles", "Vehicles of each class waiting for a connector or a swap bay at t_s."),
    "arrived": ("vehicles", "Vehicles arrived since the start (running total)."),
    "served": ("vehicles", "Vehicles that charged or swapped and left (running total)."),
    "balked": ("vehicles", "Vehicles that left at once, the queue being too long (running total)."),
    "reneged": ("vehicles", "Vehicles that gave up waiting (running total)."),
    "delivered_kwh": ("kWh", "Energy delivered into vehicle batteries by departed vehicles (running total)."),
    "unserved_kwh": ("kWh", "Energy vehicles wanted but did not get, counted when they leave (running total)."),
    "contract_limit_kw": ("kW", "Contract (demand) limit at the point of connection."),
    "tariff_cny_per_kwh": ("CNY/kWh", "Import price of the step (its starting hour)."),
    "load_shed_kw": ("kW", "Building load not supplied (outage, or an island the battery cannot carry)."),
    "islanded": ("0/1", "1 while the site runs on its battery without the utility."),
    "fault_count": ("", "Faults active at t_s."),
    "measured": ("", "What a controller sees: each site point (grid_p_kw, ...) and each device point with a "
                     "sensor model, after the sensor models; same units as the truth."),
}

# event kind -> (device column, value column and unit, meaning); every event is stamped at
# its exact simulated time t_s, which may lie inside a step
EVENTS: dict[str, tuple[str, str, str]] = {
    "arrival": ("vehicle class", "energy wanted, kWh", "A vehicle arrives."),
    "balk": ("vehicle class or swap station", "energy wanted, kWh", "It leaves at once: the queue is too long."),
    "renege": ("vehicle class or swap station", "energy wanted, kWh", "It gives up after its maximum wait."),
    "plug": ("connector (car_dc_1)", "wait, min", "A vehicle plugs in."),
    "departure": ("connector (car_dc_1)", "energy delivered to the battery, kWh",
                  "A vehicle unplugs: full, or at its dwell limit."),
    "swap": ("swap station", "wait, min", "A truck swaps its pack."),
    "setpoint": ("setpoint key", "new value", "A controller command (shown when it changes by 50 kW or more, "
                                               "or to or from 0)."),
    "fault": ("device, or site", "duration, s", "A fault starts (detail: kind and source)."),
    "fault_cleared": ("device, or site", "0", "A fault ends."),
    "limit_violation": ("bus, line or transformer", "voltage (pu) or loading (%) when it left the band",
                        "A bus leaves the [limits] voltage band or a branch exceeds max_loading_pct (detail: "
                        "which limit); stamped at the end of the first step outside."),
    "limit_cleared": ("bus, line or transformer", "time outside, s", "Back inside the [limits] band."),
    "watchdog": ("site", "silent time, s", "HIL: the controller went silent; devices drop to the safe state."),
    "watchdog_recovered": ("site", "silent time, s", "HIL: the controller is back."),
}
