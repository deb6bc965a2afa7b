"""Exports and generated docs of the product profiles, beside the plain map's.

``satwin registers`` writes a site's whole map — plain units, SunSpec blocks and the product
devices its ``[[modbus_devices]]`` assign — and, in Markdown, a section per shipped profile
(``docs/registers.md`` is this output for the reference scenario).
"""

from __future__ import annotations

from hil.maps.profiles import (
    TABLE_FUNCTIONS,
    Profile,
    ProductAssignment,
    load_profile,
    product_points,
    profile_names,
    resolve_products,
)
from hil.maps.registers import Device, RegisterMap, export
from hil.maps.site_map import register_map_of

COLUMNS = ("point", "table", "address", "hex", "type", "count", "scale", "units", "shows", "description")


def _shows(profile: Profile, name: str) -> str:
    shown = profile.shown[name]
    if shown.text is not None:
        return f'"{shown.text}"'
    if shown.value is not None:
        return f"{shown.value:g}"
    return f"`{shown.quantity}`" + (" (writable)" if next(p for p in profile.points if p.point == name).command else "")


def profile_markdown(profile: Profile, level: str = "##") -> str:
    functions = ", ".join(f"{table} registers: function {TABLE_FUNCTIONS[table]:02d}"
                          for table in sorted(profile.tables()))
    lines = [f"{level} {profile.title} (`{profile.name}`)", "",
             f"* Source: {profile.source} (`hil/profiles/{profile.name}.toml` cites the cross-checks).",
             f"* Stands for: {', '.join(profile.kinds)}; factory unit id {profile.default_unit_id}; {functions}; "
             f"multi-register values {profile.word_order}-endian word order (high word "
             f"{'first' if profile.word_order == 'big' else 'last'}); engineering value = raw x scale.",
             f"* Line: {profile.baud} baud, parity {profile.parity}; reply time {profile.response_ms:g} ms "
             "(`--bus-timing`).",
             f"* Serves: {profile.controllers}.",
             f"* Known differences: {profile.notes or 'none recorded'}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for p in profile.points:
        lines.append(f"| {p.point} | {p.table} | {p.address} | 0x{p.address:04X} | {p.type} | {p.count} | "
                     f"{p.scale:g} | {p.units} | {_shows(profile, p.point)} | {p.description} |")
    return "\n".join(lines) + "\n"


def profiles_markdown() -> str:
    """The generated section of ``docs/registers.md``: every shipped profile."""
    parts = ["", "# Product profiles", "",
             "Generated from `hil/profiles/*.toml`; a site assigns a profile to a device with "
             "`[[modbus_devices]]` (see docs/controller-guide.md, 'Real products'). Quantities (`shows`) are "
             "defined in `hil/maps/profiles.py` (`QUANTITIES`): balanced phases carry a third of the power, "
             "frequency is the nominal 50 Hz, energy counters integrate the twin's true powers.", ""]
    return "\n".join(parts) + "\n".join(profile_markdown(load_profile(name)) for name in profile_names())


def _assignment_table(products: list[ProductAssignment]) -> str:
    if not products:
        return ""
    lines = ["", "## Product devices of this site", "", "| unit | transport | device | profile |", "|---:|---|---|---|"]
    lines += [f"| {a.unit_id} | {a.transport} | {a.device.name} | {a.profile.name} |" for a in products]
    return "\n".join(lines) + "\n"


def site_export(scenario, fmt: str) -> str:
    """A scenario's whole map as ``json``, ``csv`` or ``md`` (md adds every profile's section)."""
    reg_map = register_map_of(scenario)
    products = resolve_products(scenario.site.modbus_devices, reg_map.devices, scenario.site_path)
    title = f"{scenario.site.name} ({scenario.name})"
    if fmt == "md":
        return export(reg_map, "md", title) + _assignment_table(products) + profiles_markdown()
    rows = [point for a in products for point in product_points(a)]
    return export(RegisterMap(reg_map.devices, reg_map.points + tuple(rows)), fmt, title)


def profile_export(name: str, fmt: str, unit_id: int | None = None) -> str:
    """One profile's map, at ``unit_id`` (its factory address by default)."""
    profile = load_profile(name)
    if fmt == "md":
        return profile_markdown(profile, "#")
    unit = unit_id or profile.default_unit_id
    device = Device(profile.kinds[0], unit, profile.kinds[0], None, twin_name=profile.kinds[0])  # type: ignore[arg-type]
    rows = product_points(ProductAssignment(device, profile, unit, "both"))
    return export(RegisterMap((device,), tuple(rows)), fmt, profile.title)
