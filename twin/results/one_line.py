"""The one-line diagram of a site, drawn from the site file (a layout of our own).

The utility is at the top; every bus hangs below the bus it is fed from (a tree found
breadth-first from the point of connection, so the 10 kV level sits above the 0.4 kV
one), with the devices of each bus under it. Given a power-flow state, buses are coloured
by voltage and branches by loading; opened branches are drawn dashed and marked "open".
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import colormaps
from matplotlib.colors import Normalize

from twin.config.site import FEEDER_LINE, Site
from twin.model.grid import UTILITY_BUS, GridState

BUS_HALF_WIDTH = 0.38
DEVICE_DROP = 0.42  # how far below its bus a device's label hangs


def _edges(site: Site) -> list[tuple[str, str, str, str]]:
    """(from bus, to bus, element name, kind) of every branch, feeder first."""
    edges = [(UTILITY_BUS, site.utility.connection_bus, FEEDER_LINE, "line")]
    edges += [(t.hv_bus, t.lv_bus, t.name, "trafo") for t in site.transformers]
    edges += [(ln.from_bus, ln.to_bus, ln.name, "line") for ln in site.lines]
    return edges


def layout(site: Site) -> dict[str, tuple[float, float]]:
    """x, y of each bus: a breadth-first tree from the utility, leaves side by side, parents centred."""
    children: dict[str, list[str]] = {UTILITY_BUS: []} | {b.name: [] for b in site.buses}
    depth, order = {UTILITY_BUS: 0}, [UTILITY_BUS]
    for bus in order:
        for a, b, _name, _kind in _edges(site):
            for near, far in ((a, b), (b, a)):
                if near == bus and far not in depth:
                    depth[far] = depth[bus] + 1
                    children[bus].append(far)
                    order.append(far)
    x: dict[str, float] = {}
    next_leaf = [0.0]

    def place(bus: str) -> float:
        if not children[bus]:
            x[bus] = next_leaf[0]
            next_leaf[0] += 1.6
        else:
            x[bus] = sum(place(child) for child in children[bus]) / len(children[bus])
        return x[bus]

    place(UTILITY_BUS)
    return {bus: (x[bus], -1.6 * depth[bus]) for bus in depth}


def _devices(site: Site) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {b.name: [] for b in site.buses}
    for a in site.pv:
        labels[a.bus].append(f"PV {a.name}\n{a.p_peak_kwp:g} kWp")
    if site.bess:
        labels[site.bess.bus].append(f"BESS {site.bess.name}\n{site.bess.p_max_kw:g} kW / {site.bess.e_kwh:g} kWh")
    for g in site.chargers:
        labels[g.bus].append(f"{g.count} x {g.p_max_kw:g} kW\n{g.name}")
    if site.swap:
        labels[site.swap.bus].append(f"swap {site.swap.name}\n{site.swap.pack_chargers} x {site.swap.pack_charger_kw:g} kW")
    for load in site.loads:
        labels[load.bus].append(f"load {load.name}\n{load.p_peak_kw:g} kW")
    return labels


def draw_one_line(site: Site, path: Path, state: GridState | None = None, bus_names: list[str] | None = None,
                  line_names: list[str] | None = None, trafo_names: list[str] | None = None,
                  out_of_service: frozenset[str] = frozenset()) -> Path:
    """Write the diagram as a PNG; with ``state``, coloured by bus voltage and branch loading."""
    pos = layout(site)
    kv = site.bus_kv | {UTILITY_BUS: site.utility.vn_kv}
    v_pu = dict(zip(bus_names or [], state.v_pu)) if state is not None else {}
    loading = {}
    if state is not None:
        loading = dict(zip(line_names or [], state.line_loading_pct)) | dict(zip(trafo_names or [], state.trafo_loading_pct))
    lim = site.limits
    v_colour, load_colour = colormaps["coolwarm"], colormaps["RdYlGn_r"]
    v_norm, load_norm = Normalize(lim.v_min_pu, lim.v_max_pu), Normalize(0.0, lim.max_loading_pct)

    width = max(x for x, _ in pos.values()) - min(x for x, _ in pos.values()) + 3
    depth = -min(y for _, y in pos.values()) + 3
    fig, ax = plt.subplots(layout="constrained", figsize=(max(7.0, 1.25 * width), max(4.5, 1.3 * depth)))
    for a, b, name, kind in _edges(site):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        opened = name in out_of_service
        colour = "lightgray" if opened else (load_colour(load_norm(loading[name])) if name in loading else "black")
        ax.plot([xa, xa, xb, xb], [ya, (ya + yb) / 2, (ya + yb) / 2, yb], color=colour, lw=2,
                ls="--" if opened else "-", zorder=1)
        mx, my = xb, (ya + yb) / 2 - 0.4
        text = name + (f"\n{loading[name]:.0f} %" if name in loading and not opened else "") + ("\nopen" if opened else "")
        if kind == "trafo":
            for dy in (0.09, -0.09):
                ax.add_patch(plt.Circle((mx, my + dy), 0.13, fill=False, color=colour, lw=1.6, zorder=2))
        ax.annotate(text, (mx + 0.2, my), fontsize=7, va="center")
    for bus, (x, y) in pos.items():
        dead = bus in v_pu and v_pu[bus] <= 0
        colour = "lightgray" if dead else (v_colour(v_norm(v_pu[bus])) if bus in v_pu else "black")
        ax.plot([x - BUS_HALF_WIDTH, x + BUS_HALF_WIDTH], [y, y], color=colour, lw=6, solid_capstyle="butt", zorder=3)
        state_text = "\nde-energized" if dead else (f"\n{v_pu[bus]:.4f} pu" if bus in v_pu else "")
        label = f"{bus}  {kv[bus]:g} kV" + state_text
        ax.annotate(label, (x + BUS_HALF_WIDTH + 0.05, y), fontsize=7, weight="bold", va="center")
    for bus, labels in _devices(site).items():
        x, y = pos[bus]
        for i, text in enumerate(labels):
            dx = (i - (len(labels) - 1) / 2) * 0.55
            ax.plot([x + dx, x + dx], [y, y - DEVICE_DROP + 0.12], color="gray", lw=1, zorder=1)
            ax.annotate(text, (x + dx, y - DEVICE_DROP), fontsize=6, ha="center", va="top",
                        bbox={"boxstyle": "round", "fc": "white", "ec": "gray", "lw": 0.5})
    if state is not None:
        for norm, cmap, title in ((v_norm, v_colour, "bus voltage, pu"), (load_norm, load_colour, "loading, %")):
            fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, orientation="horizontal",
                         fraction=0.03, pad=0.02, aspect=60, label=title)
    ax.set_title(f"{site.name} — one-line diagram" + (" (power-flow state)" if state is not None else ""), fontsize=10)
    ax.set_xlim(min(x for x, _ in pos.values()) - 1.5, max(x for x, _ in pos.values()) + 1.5)
    ax.set_ylim(min(y for _, y in pos.values()) - 1.6, 0.8)
    ax.axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
