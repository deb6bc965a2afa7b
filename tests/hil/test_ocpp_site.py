"""Which connectors form a station, and which side commands them (the site's charger groups)."""

from __future__ import annotations

from hil_rig import evening_scenario

from hil.maps.site_map import build_register_map
from hil.ocpp.stations import build_stations
from twin.model.core import Twin


def twin_with(**by_group) -> Twin:
    scenario = evening_scenario(60.0)
    site = scenario.site
    groups = tuple(g.model_copy(update=by_group.get(g.name, {})) for g in site.chargers)
    return Twin(scenario.model_copy(update={"site": site.model_copy(update={"chargers": groups})}))


def test_default_is_one_station_per_group_and_splits_by_station_connectors():
    stations = build_stations(twin_with(), 60.0)
    assert [s.station_id for s in stations] == ["car_dc", "truck_dc", "mcs"]
    assert [c.name for c in stations[2].connectors] == ["mcs_1", "mcs_2"]
    split = build_stations(twin_with(car_dc={"station_connectors": 6}, mcs={"protocol": "modbus"}), 60.0)
    assert [s.station_id for s in split] == ["car_dc_s1", "car_dc_s2", "car_dc_s3", "truck_dc"]
    assert [(c.number, c.name) for c in split[2].connectors] == [(1, "car_dc_13"), (2, "car_dc_14"),
                                                                  (3, "car_dc_15"), (4, "car_dc_16")]
    assert split[0].serial.endswith("-car_dc_s1")


def test_an_ocpp_only_group_is_read_only_on_modbus():
    reg_map = build_register_map(twin_with(mcs={"protocol": "ocpp"}).site)
    limits = {p.device: p for p in reg_map.points if p.point == "p_limit_kw"}
    assert limits["charger_mcs_1"].access == "R" and "governed by OCPP" in limits["charger_mcs_1"].description
    assert limits["charger_car_dc_1"].access == "RW"
