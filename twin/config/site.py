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

from twin.config.errors import ScenarioError
from twin.config.files import FrozenModel, read_toml, validate
from twin.config.overrides import COMMAND_LINE, Origin, Overrides, apply, attributed
from twin.config.quantities import (
    MAX_MINUTES,
    ApparentPowerKva,
    CapacitanceNfPerKm,
    CurrentKa,
    EnergyKwh,
    Fraction,
    LatencyS,
    LengthKm,
    Minutes,
    Name,
    Pct,
    PowerKw,
    PowerOrZeroKw,
    PriceCnyPerKwh,
    RampKwPerS,
    ReactanceOhmPerKm,
    ResistanceOhmPerKm,
    VoltageKv,
)
from twin.config.site_checks import check_site

HourlyProfile = Annotated[tuple[Fraction, ...], Field(min_length=24, max_length=24)]

VehicleClassName = Literal["car", "truck", "swap_truck"]
FEEDER_LINE = "utility_feeder"  # the network name of the 10 kV feeder from the utility substation


class Location(FrozenModel):
    latitude_deg: Annotated[float, Field(ge=-90, le=90)]
    """Latitude of the site, north positive (WGS84)."""
    longitude_deg: Annotated[float, Field(ge=-180, le=180)]
    """Longitude of the site, east positive (WGS84)."""
    altitude_m: Annotated[float, Field(ge=-500, le=9000)] = 0.0
    """Height above sea level; used by the clear-sky irradiance model."""
    timezone: str = "Asia/Shanghai"
    """IANA time zone of the site; profiles, tariff hours and `hour_local` are read in it."""


class Utility(FrozenModel):
    """The 10 kV feeder from the utility substation to the site's point of connection."""

    vn_kv: VoltageKv = 10.0
    """Nominal voltage of the utility feeder; the connection bus must have the same voltage."""
    connection_bus: str
    """Bus at the site end of the feeder: the point of connection where grid import is metered."""
    contract_limit_kw: PowerKw
    """Contracted (demand) limit of import at the point of connection, in kW (not MW)."""
    feeder_length_km: LengthKm
    """Length of the feeder from the utility substation to the connection bus."""
    feeder_r_ohm_per_km: ResistanceOhmPerKm
    """Feeder series resistance per km."""
    feeder_x_ohm_per_km: ReactanceOhmPerKm
    """Feeder series reactance per km."""
    feeder_c_nf_per_km: CapacitanceNfPerKm = 0.0
    """Feeder shunt capacitance per km."""
    feeder_max_i_ka: CurrentKa
    """Feeder thermal current rating; `line_loading_pct.utility_feeder` is relative to it."""
    vm_pu: Annotated[float, Field(gt=0.5, lt=1.5)] = 1.0
    """Voltage held at the utility substation busbar (the slack), per unit of `vn_kv`."""


class Bus(FrozenModel):
    name: Name
    """Name that devices, lines and transformers use to refer to the bus."""
    vn_kv: VoltageKv
    """Nominal (line-to-line) voltage of the bus."""


class Transformer(FrozenModel):
    name: Name
    """Name of the transformer (faults and `trafo_loading_pct.NAME` use it)."""
    hv_bus: str
    """Bus on the high-voltage side."""
    lv_bus: str
    """Bus on the low-voltage side."""
    sn_kva: ApparentPowerKva
    """Rated apparent power; loading is relative to it."""
    vn_hv_kv: VoltageKv
    """Rated voltage of the HV winding (within 10 % of the HV bus)."""
    vn_lv_kv: VoltageKv
    """Rated voltage of the LV winding (within 10 % of the LV bus)."""
    vk_percent: Annotated[float, Field(ge=0.5, le=50)]
    """Short-circuit voltage, percent of rated voltage."""
    vkr_percent: Annotated[float, Field(ge=0, le=50)]
    """Real part of the short-circuit voltage (copper losses at rated current)."""
    pfe_kw: PowerOrZeroKw = 0.0
    """Iron (no-load) losses."""
    i0_percent: Annotated[float, Field(ge=0, le=20)] = 0.0
    """No-load current, percent of rated current."""

    @model_validator(mode="after")
    def _impedance(self) -> Transformer:
        if not self.vkr_percent < self.vk_percent:  # the reactive part is sqrt(vk^2 - vkr^2)
            raise ValueError("vkr_percent (the resistive part) must be below vk_percent")
        if self.pfe_kw > 0.1 * self.sn_kva:
            raise ValueError("pfe_kw (iron losses) must be at most 10 % of sn_kva")
        return self


class Line(FrozenModel):
    name: Name
    """Name of the line or cable (faults and `line_loading_pct.NAME` use it)."""
    from_bus: str
    """Bus at one end."""
    to_bus: str
    """Bus at the other end (same nominal voltage as `from_bus`)."""
    length_km: LengthKm
    """Route length."""
    r_ohm_per_km: ResistanceOhmPerKm
    """Series resistance per km of one circuit."""
    x_ohm_per_km: ReactanceOhmPerKm
    """Series reactance per km of one circuit."""
    c_nf_per_km: CapacitanceNfPerKm = 0.0
    """Shunt capacitance per km of one circuit."""
    max_i_ka: CurrentKa
    """Thermal current rating of one circuit; loading is relative to `parallel` x this."""
    parallel: Annotated[int, Field(ge=1, le=100)] = 1
    """Number of identical circuits in parallel."""


class PvArray(FrozenModel):
    name: Name
    """Name of the array and its inverter (faults, sensors and Modbus use it)."""
    bus: str
    """Bus the inverter feeds (an LV bus)."""
    p_peak_kwp: PowerKw
    """DC peak power of the modules at standard test conditions."""
    inverter_kw: PowerKw
    """AC rating of the inverter(s); AC output is clipped to it (inverter efficiency: see the conventions above)."""
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 10.0
    """Module tilt from horizontal (0 = flat, 90 = vertical)."""
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = 180.0
    """Direction the modules face, clockwise from north (pvlib convention): 180 = south, 90 = east. 0 is NORTH, not south."""
    system_loss_pct: Pct = 14.0
    """DC-side losses (soiling, mismatch, wiring, availability) applied to the module output."""
    temp_coeff_pct_per_c: Annotated[float, Field(ge=-2, le=1)] = -0.35
    """Power temperature coefficient of the modules (negative: output falls as cells warm)."""


class Bess(FrozenModel):
    name: Name
    """Name of the battery and its PCS (faults, sensors and Modbus use it)."""
    bus: str
    """Bus the PCS connects to."""
    p_max_kw: PowerKw
    """PCS rating, the same for charge and discharge."""
    e_kwh: EnergyKwh
    """Usable energy between 0 and 100 % SoC."""
    soc_min_pct: Pct = 10.0
    """Discharge stops at this SoC."""
    soc_max_pct: Pct = 95.0
    """Charging stops at this SoC."""
    soc_init_pct: Pct = 60.0
    """SoC at the scenario start (between `soc_min_pct` and `soc_max_pct`)."""
    round_trip_eff_pct: Annotated[float, Field(gt=50, le=100)] = 90.0
    """Round-trip efficiency; split evenly (square root) between charge and discharge."""
    ramp_kw_per_s: RampKwPerS = 1000.0
    """Fastest change of PCS power."""
    command_latency_s: LatencyS = 0.2
    """Delay between a setpoint write and the PCS starting to follow it."""

    @model_validator(mode="after")
    def _soc_window(self) -> Bess:
        if not self.soc_min_pct < self.soc_max_pct:
            raise ValueError("soc_min_pct must be below soc_max_pct")
        if not self.soc_min_pct <= self.soc_init_pct <= self.soc_max_pct:
            raise ValueError("soc_init_pct must lie between soc_min_pct and soc_max_pct")
        return self


class ChargerGroup(FrozenModel):
    """``count`` identical connectors on one bus, each a Modbus device in HIL."""

    name: Name
    """Group name; connectors are `NAME_1` ... `NAME_count` in events, time series, faults and Modbus."""
    bus: str
    """Bus of the group (an LV bus: chargers are fed at 0.4 kV)."""
    serves: tuple[VehicleClassName, ...]
    """Vehicle classes that may use these connectors (`car`, `truck`)."""
    count: Annotated[int, Field(ge=1, le=200)]
    """Number of connectors in the group."""
    p_max_kw: PowerKw
    """Grid-side rating of each connector."""
    efficiency_pct: Annotated[float, Field(gt=50, le=100)] = 95.0
    """AC grid to vehicle battery efficiency of a connector; the loss counts as charger losses."""
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.99
    """Power factor of the connectors' grid draw (inductive: they draw reactive power)."""
    ramp_kw_per_s: RampKwPerS = 100.0
    """Soft-start: fastest rise of a connector's power."""
    command_latency_s: LatencyS = 1.0
    """Delay between a limit write and the connector following it."""
    protocol: Literal["modbus", "ocpp", "both"] = "both"
    """HIL: how a controller reaches these connectors; `ocpp` makes their Modbus limit read-only."""
    station_connectors: Annotated[int, Field(ge=0, le=200)] = 0
    """Connectors per OCPP charging station (0: the whole group is one station, named like the group)."""
    vendor: str = "satwin"
    """OCPP BootNotification vendor."""
    model: str = "twin-dc"
    """OCPP BootNotification model."""
    supply_v: Annotated[float, Field(gt=0, le=100_000)] = 230.0
    """Line-to-neutral supply voltage: OCPP limits in A become W with it."""
    supply_phases: Literal[1, 3] = 3
    """Supply phases: OCPP limits in A become W with them."""


class SwapStation(FrozenModel):
    name: Name
    """Name of the station (faults, sensors and Modbus use it)."""
    bus: str
    """Bus of the station."""
    packs: Annotated[int, Field(ge=1, le=1000)]
    """Battery packs in the station's stock."""
    pack_kwh: Annotated[float, Field(gt=0, le=10_000)]
    """Energy of one pack."""
    pack_chargers: Annotated[int, Field(ge=1, le=1000)]
    """Pack chargers (packs charged at the same time)."""
    pack_charger_kw: PowerKw
    """Rating of one pack charger."""
    bays: Annotated[int, Field(ge=1, le=100)] = 1
    """Swap bays (trucks swapped at the same time)."""
    swap_minutes: Annotated[float, Field(ge=0.1, le=MAX_MINUTES)] = 5.0
    """Duration of one swap."""
    full_soc_pct: Pct = 95.0
    """A pack counts as full, and stops charging, at this SoC."""
    aux_kw: PowerOrZeroKw = 20.0
    """Constant auxiliary load (robot, cooling) while the station is energized."""
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.98
    """Power factor of the station's grid draw."""

    @model_validator(mode="after")
    def _chargers_per_pack(self) -> SwapStation:
        if self.pack_chargers > self.packs:
            raise ValueError("pack_chargers must be at most packs (a charger holds one pack)")
        return self


class Load(FrozenModel):
    name: Name
    """Name of the load (faults use it)."""
    bus: str
    """Bus of the load."""
    p_peak_kw: PowerKw
    """Active power when the hourly profile is 1.0."""
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.95
    """Power factor (inductive)."""
    hourly_profile: HourlyProfile
    """24 fractions of `p_peak_kw`, hour 0 first, local time; each is the value at the middle of its hour, linearly interpolated between (periodic over midnight)."""


class VehicleClass(FrozenModel):
    """Vehicles of one class that stop to charge (or swap) on an ordinary day."""

    name: VehicleClassName
    """Vehicle class: `car`, `truck` or `swap_truck` (swaps packs at the swap station)."""
    daily_vehicles: Annotated[float, Field(ge=0, le=20_000)]  # x the scenario's multiplier (at most 50)
    """Vehicles of this class that stop to charge on an ordinary day (a scenario's traffic multiplier scales it)."""
    hourly_profile: HourlyProfile
    """24 relative arrival weights, hour 0 first, local time (normalised to sum 1; each hour's rate is constant)."""
    battery_kwh: tuple[Annotated[float, Field(gt=0, le=10_000)], Annotated[float, Field(gt=0, le=10_000)]]
    """[low, high] battery size, drawn uniformly per vehicle."""
    arrival_soc_pct: tuple[Pct, Pct]
    """[low, high] SoC on arrival, drawn uniformly per vehicle."""
    target_soc_pct: Pct = 80.0
    """A vehicle leaves when it reaches this SoC (or its dwell limit)."""
    max_charge_kw: PowerKw
    """Highest power a vehicle of the class accepts; each vehicle accepts a random share of it (see the conventions above)."""
    taper_start_soc_pct: Pct = 80.0
    """Above this SoC the accepted power falls linearly towards 100 %."""
    max_wait_min: Minutes = 20.0
    """A queueing vehicle gives up (reneges) after this wait."""
    max_dwell_min: Minutes = 60.0
    """A vehicle unplugs after this long on a connector, full or not."""
    balk_queue_len: Annotated[int, Field(ge=0, le=10_000)] = 8
    """An arriving vehicle leaves at once (balks) when this many are already queueing."""

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
    hourly_cny_per_kwh: Annotated[tuple[PriceCnyPerKwh, ...], Field(min_length=24, max_length=24)]
    """Import price of each local hour, hour 0 first (time-of-use)."""
    export_cny_per_kwh: PriceCnyPerKwh = 0.0
    """Price paid for exported energy."""
    source: str
    """Where the tariff comes from."""


class Emissions(FrozenModel):
    grid_kg_co2_per_kwh: Annotated[float, Field(ge=0, le=10)]
    """CO2 emission factor of imported electricity."""
    source: str
    """Where the factor comes from."""


Monthly = Annotated[tuple[float, ...], Field(min_length=12, max_length=12)]


class Climate(FrozenModel):
    """Monthly climate normals of the site (January first), for the ``climate`` weather model."""

    ghi_kwh_m2_day: Monthly
    """Mean daily global horizontal irradiation of each month, January first."""
    temp_c: Annotated[tuple[Annotated[float, Field(ge=-60, le=60)], ...], Field(min_length=12, max_length=12)]  # monthly mean air temperature
    """Mean air temperature of each month, January first."""
    diurnal_range_c: Annotated[float, Field(ge=0, le=30)] = 8.0  # mean daily max minus min
    """Mean daily maximum minus minimum air temperature."""
    source: str
    """Where the normals come from."""

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
    """Output lost in the first year of operation."""
    per_year_pct: Annotated[float, Field(ge=0, le=5)] = 0.55
    """Output lost each further year."""
    source: str = "[A] crystalline-silicon warranty curve: <= 2 % in year 1, then 0.55 %/year (CPIA roadmap, PERC)"
    """Where the curve comes from."""

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
    v_min_pu: Annotated[float, Field(ge=0.5, le=1.0)] = 0.95
    """Lowest acceptable bus voltage; a step below it is a `limit_violation` event."""
    v_max_pu: Annotated[float, Field(ge=1.0, le=1.5)] = 1.05
    """Highest acceptable bus voltage; a step above it is a `limit_violation` event."""
    max_loading_pct: Annotated[float, Field(ge=1, le=1000)] = 100.0
    """Highest acceptable loading of any transformer, line or the feeder."""

    @model_validator(mode="after")
    def _band(self) -> Limits:
        if not self.v_min_pu < self.v_max_pu:
            raise ValueError("v_min_pu must be below v_max_pu")
        return self


class Watchdog(FrozenModel):
    """HIL: how long the controller may stay silent before devices fall back to a safe state."""

    heartbeat_timeout_s: Annotated[float, Field(ge=0.1, le=86_400)] = 10.0
    """HIL: how long the controller may stay silent before the safe state."""
    safe_losses_margin_pct: Annotated[float, Field(ge=0, le=50)] = 6.0
    """HIL: share of the contract the safe state's EV cap leaves for network losses (transformers,
    cables); the reference freight site loses up to 193 kW (4.8 %) at its 4000 kW contract."""


class ModbusDevice(FrozenModel):
    """HIL: a device also served as a real product (a register profile in ``hil/profiles``),
    so a controller configured for that product connects unchanged (docs/controller-guide.md)."""

    device: str
    """`meter` (the site meter), or a PV array's or the battery's name."""
    profile: str
    """A shipped profile, e.g. `dtsu666-h`, `sdm630`, `sun2000` (`satwin registers --profile`)."""
    unit_id: Annotated[int, Field(ge=1, le=247)] | None = None
    """Modbus unit id of the product; none: the product's factory address."""
    transport: Literal["tcp", "rtu", "both"] = "both"
    """Served over Modbus TCP, over the RTU line (`satwin serve --rtu`), or both."""


class Site(FrozenModel):
    name: str
    """Site name, used in reports and results folders."""
    description: str = ""
    """One line about the site."""
    location: Location
    """Where the site is (sun position, time zone)."""
    utility: Utility
    """The utility feeder and contract."""
    buses: tuple[Bus, ...]
    """Every bus of the site network."""
    transformers: tuple[Transformer, ...] = ()
    """MV/LV transformers."""
    lines: tuple[Line, ...] = ()
    """Lines and cables inside the site."""
    pv: tuple[PvArray, ...] = ()
    """PV arrays, each with its inverter."""
    bess: Bess | None = None
    """The battery energy storage system (at most one)."""
    chargers: tuple[ChargerGroup, ...] = ()
    """Charger groups of identical connectors."""
    swap: SwapStation | None = None
    """The heavy-truck battery swap station (at most one)."""
    loads: tuple[Load, ...] = ()
    """Service-building loads."""
    vehicles: tuple[VehicleClass, ...] = ()
    """Vehicle classes that stop to charge or swap."""
    tariff: Tariff
    """Time-of-use tariff."""
    emissions: Emissions
    """Grid emission factor."""
    climate: Climate | None = None
    """Monthly climate normals for the `climate` weather model."""
    pv_degradation: PvDegradation = PvDegradation()
    """PV ageing, for comparison with lifetime-average published figures."""
    limits: Limits = Limits()
    """Operating limits checked during a run (events, KPIs, report)."""
    watchdog: Watchdog = Watchdog()
    """HIL controller watchdog."""
    modbus_devices: tuple[ModbusDevice, ...] = ()
    """Devices served with a product register profile (``hil/profiles``), beside the plain map."""

    @property
    def bus_kv(self) -> dict[str, float]:
        return {bus.name: bus.vn_kv for bus in self.buses}

    @property
    def connector_names(self) -> list[str]:
        """Every charging connector, group by group: ``car_dc_1``, ``car_dc_2``, ..."""
        return [f"{g.name}_{i + 1}" for g in self.chargers for i in range(g.count)]


def load_site(path: str | Path, overrides: Overrides | None = None, origin: Origin = COMMAND_LINE) -> Site:
    """Read and validate a site file; a mistake raises ``ScenarioError`` naming file and field.

    ``overrides`` (paths inside the site file, see ``twin.config.overrides``) are set first.
    """
    path = Path(path)
    data, resolved = read_toml(path), {}
    if overrides:
        data, resolved = apply(data, overrides, origin)
    try:
        site = validate(Site, data, path)
        check_site(site, path)
    except ScenarioError as exc:
        raise attributed(exc, resolved, overrides or {}, origin) from None
    return site
