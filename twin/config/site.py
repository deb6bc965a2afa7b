"""Site file schema: the electrical network, the devices and the traffic of one service area.

A site file (``scenarios/sites/*.toml``) is validated into a frozen ``Site``. Cross-field
rules (every bus a device names exists, transformer voltages match their buses, every bus
reaches the utility) are checked here so that a mistake is reported against the field
that holds it, not as a power-flow failure minutes into a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from twin.config.files import FrozenModel, read_toml, validate
from twin.config.site_checks import check_site

PositiveKw = Annotated[float, Field(gt=0)]
Pct = Annotated[float, Field(ge=0, le=100)]
Fraction = Annotated[float, Field(ge=0, le=1)]
HourlyProfile = Annotated[tuple[Fraction, ...], Field(min_length=24, max_length=24)]

VehicleClassName = Literal["car", "truck", "swap_truck"]
FEEDER_LINE = "utility_feeder"  # the network name of the 10 kV feeder from the utility substation


class Location(FrozenModel):
    latitude_deg: Annotated[float, Field(ge=-90, le=90)]
    longitude_deg: Annotated[float, Field(ge=-180, le=180)]
    altitude_m: float = 0.0
    timezone: str = "Asia/Shanghai"


class Utility(FrozenModel):
    """The 10 kV feeder from the utility substation to the site's point of connection."""

    vn_kv: PositiveKw = 10.0
    connection_bus: str
    contract_limit_kw: PositiveKw
    feeder_length_km: PositiveKw
    feeder_r_ohm_per_km: Annotated[float, Field(ge=0)]
    feeder_x_ohm_per_km: Annotated[float, Field(ge=0)]
    feeder_c_nf_per_km: Annotated[float, Field(ge=0)] = 0.0
    feeder_max_i_ka: PositiveKw
    vm_pu: Annotated[float, Field(gt=0.5, lt=1.5)] = 1.0


class Bus(FrozenModel):
    name: str
    vn_kv: PositiveKw


class Transformer(FrozenModel):
    name: str
    hv_bus: str
    lv_bus: str
    sn_kva: PositiveKw
    vn_hv_kv: PositiveKw
    vn_lv_kv: PositiveKw
    vk_percent: Annotated[float, Field(gt=0, lt=100)]
    vkr_percent: Annotated[float, Field(ge=0, lt=100)]
    pfe_kw: Annotated[float, Field(ge=0)] = 0.0
    i0_percent: Annotated[float, Field(ge=0, lt=100)] = 0.0


class Line(FrozenModel):
    name: str
    from_bus: str
    to_bus: str
    length_km: PositiveKw
    r_ohm_per_km: Annotated[float, Field(ge=0)]
    x_ohm_per_km: Annotated[float, Field(ge=0)]
    c_nf_per_km: Annotated[float, Field(ge=0)] = 0.0
    max_i_ka: PositiveKw
    parallel: Annotated[int, Field(ge=1)] = 1


class PvArray(FrozenModel):
    name: str
    bus: str
    p_peak_kwp: PositiveKw
    inverter_kw: PositiveKw
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 10.0
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = 180.0
    system_loss_pct: Pct = 14.0
    temp_coeff_pct_per_c: float = -0.35


class Bess(FrozenModel):
    name: str
    bus: str
    p_max_kw: PositiveKw
    e_kwh: PositiveKw
    soc_min_pct: Pct = 10.0
    soc_max_pct: Pct = 95.0
    soc_init_pct: Pct = 60.0
    round_trip_eff_pct: Annotated[float, Field(gt=50, le=100)] = 90.0
    ramp_kw_per_s: PositiveKw = 1000.0
    command_latency_s: Annotated[float, Field(ge=0)] = 0.2

    @model_validator(mode="after")
    def _soc_window(self) -> Bess:
        if not self.soc_min_pct < self.soc_max_pct:
            raise ValueError("soc_min_pct must be below soc_max_pct")
        if not self.soc_min_pct <= self.soc_init_pct <= self.soc_max_pct:
            raise ValueError("soc_init_pct must lie between soc_min_pct and soc_max_pct")
        return self


class ChargerGroup(FrozenModel):
    """``count`` identical connectors on one bus, each a Modbus device in HIL."""

    name: str
    bus: str
    serves: tuple[VehicleClassName, ...]
    count: Annotated[int, Field(ge=1, le=200)]
    p_max_kw: PositiveKw
    efficiency_pct: Annotated[float, Field(gt=50, le=100)] = 95.0
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.99
    ramp_kw_per_s: PositiveKw = 100.0
    command_latency_s: Annotated[float, Field(ge=0)] = 1.0


class SwapStation(FrozenModel):
    name: str
    bus: str
    packs: Annotated[int, Field(ge=1)]
    pack_kwh: PositiveKw
    pack_chargers: Annotated[int, Field(ge=1)]
    pack_charger_kw: PositiveKw
    bays: Annotated[int, Field(ge=1)] = 1
    swap_minutes: PositiveKw = 5.0
    full_soc_pct: Pct = 95.0
    aux_kw: Annotated[float, Field(ge=0)] = 20.0
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.98


class Load(FrozenModel):
    name: str
    bus: str
    p_peak_kw: PositiveKw
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.95
    hourly_profile: HourlyProfile


class VehicleClass(FrozenModel):
    """Vehicles of one class that stop to charge (or swap) on an ordinary day."""

    name: VehicleClassName
    daily_vehicles: Annotated[float, Field(ge=0)]
    hourly_profile: HourlyProfile
    battery_kwh: tuple[PositiveKw, PositiveKw]
    arrival_soc_pct: tuple[Pct, Pct]
    target_soc_pct: Pct = 80.0
    max_charge_kw: PositiveKw
    taper_start_soc_pct: Pct = 80.0
    max_wait_min: PositiveKw = 20.0
    max_dwell_min: PositiveKw = 60.0
    balk_queue_len: Annotated[int, Field(ge=0)] = 8

    @field_validator("battery_kwh", "arrival_soc_pct")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError("range must be [low, high]")
        return value

    @field_validator("hourly_profile")
    @classmethod
    def _not_all_zero(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if sum(value) <= 0:
            raise ValueError("hourly_profile must have at least one hour above zero")
        return value


class Tariff(FrozenModel):
    hourly_cny_per_kwh: Annotated[tuple[Annotated[float, Field(ge=0)], ...], Field(min_length=24, max_length=24)]
    export_cny_per_kwh: Annotated[float, Field(ge=0)] = 0.0
    source: str


class Emissions(FrozenModel):
    grid_kg_co2_per_kwh: Annotated[float, Field(ge=0)]
    source: str


Monthly = Annotated[tuple[float, ...], Field(min_length=12, max_length=12)]


class Climate(FrozenModel):
    """Monthly climate normals of the site (January first), for the ``climate`` weather model."""

    ghi_kwh_m2_day: Monthly  # mean daily global horizontal irradiation of each month
    temp_c: Monthly  # mean air temperature of each month
    diurnal_range_c: Annotated[float, Field(ge=0, le=30)] = 8.0  # mean daily max minus min
    source: str

    @field_validator("ghi_kwh_m2_day")
    @classmethod
    def _plausible_ghi(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 <= v <= 12 for v in value):
            raise ValueError("daily GHI must lie between 0 and 12 kWh/m2/day (the top of the atmosphere gives ~12)")
        return value


class PvDegradation(FrozenModel):
    """How PV modules lose output with age, for figures published as lifetime averages.

    The twin simulates a plant at nameplate; a published "average over the operating
    life" is compared with the first-year yield times ``lifetime_factor``. The defaults
    are the usual crystalline-silicon warranty curve (at most 2 % in the first year, then
    0.55 % a year, as in China's PV industry roadmap for p-type PERC modules).
    """

    first_year_pct: Annotated[float, Field(ge=0, le=20)] = 2.0
    per_year_pct: Annotated[float, Field(ge=0, le=5)] = 0.55
    source: str = "[A] crystalline-silicon warranty curve: <= 2 % in year 1, then 0.55 %/year (CPIA roadmap, PERC)"

    def lifetime_factor(self, years: int) -> float:
        """Mean output over the first ``years`` years relative to nameplate (linear warranty curve).

        Output falls linearly within each year, so a year's mean is its mid-year value:
        year 1 loses half of ``first_year_pct``; year k > 1 loses ``first_year_pct`` plus
        ``per_year_pct`` for the k - 1.5 years since the end of year 1 ... mid-year k.
        """
        if years < 1:
            raise ValueError("years must be at least 1")
        losses_pct = [self.first_year_pct / 2] + [self.first_year_pct + self.per_year_pct * (k - 1.5)
                                                  for k in range(2, years + 1)]
        return 1.0 - sum(losses_pct) / years / 100.0


class Limits(FrozenModel):
    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    max_loading_pct: PositiveKw = 100.0


class Watchdog(FrozenModel):
    """HIL: how long the controller may stay silent before devices fall back to a safe state."""

    heartbeat_timeout_s: PositiveKw = 10.0
    # the safe state's EV cap leaves this share of the contract for network losses (transformers,
    # cables): the reference freight site loses up to 193 kW (4.8 %) at its 4000 kW contract
    safe_losses_margin_pct: Annotated[float, Field(ge=0, le=50)] = 6.0


class Site(FrozenModel):
    name: str
    description: str = ""
    location: Location
    utility: Utility
    buses: tuple[Bus, ...]
    transformers: tuple[Transformer, ...] = ()
    lines: tuple[Line, ...] = ()
    pv: tuple[PvArray, ...] = ()
    bess: Bess | None = None
    chargers: tuple[ChargerGroup, ...] = ()
    swap: SwapStation | None = None
    loads: tuple[Load, ...] = ()
    vehicles: tuple[VehicleClass, ...] = ()
    tariff: Tariff
    emissions: Emissions
    climate: Climate | None = None
    pv_degradation: PvDegradation = PvDegradation()
    limits: Limits = Limits()
    watchdog: Watchdog = Watchdog()

    @property
    def bus_kv(self) -> dict[str, float]:
        return {bus.name: bus.vn_kv for bus in self.buses}

    @property
    def connector_names(self) -> list[str]:
        """Every charging connector, group by group: ``car_dc_1``, ``car_dc_2``, ..."""
        return [f"{g.name}_{i + 1}" for g in self.chargers for i in range(g.count)]


def load_site(path: str | Path) -> Site:
    """Read and validate a site file; a mistake raises ``ScenarioError`` naming file and field."""
    path = Path(path)
    site = validate(Site, read_toml(path), path)
    check_site(site, path)
    return site
