"""The one-line diagram of a site as a PNG (matplotlib), drawn from ``twin.results.one_line_layout``.

Given a power-flow state, buses are coloured by voltage and branches by loading; opened
branches are drawn dashed and marked "open". The GUI's site view draws the same layout
with Qt (``gui.plot.site_view``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap, Normalize

from twin.config.site import Site
from twin.model.grid import GridState
from twin.results.one_line_layout import (DEAD_COLOUR, LOADING_STOPS, NO_STATE_COLOUR,
                                          VOLTAGE_STOPS, colour_at, one_line)


def draw_one_line(site: Site, path: Path, state: GridState | None = None, bus_names: list[str] | None = None,
                  line_names: list[str] | None = None, trafo_names: list[str] | None = None,
                  out_of_service: frozenset[str] = frozenset()) -> Path:
    """Write the diagram as a PNG; with ``state``, coloured by bus voltage and branch loading."""
    diagram = one_line(site)
    pos = diagram.buses
    v_pu = dict(zip(bus_names or [], state.v_pu)) if state is not None else {}
    loading = {}
    if state is not None:
        loading = dict(zip(line_names or [], state.line_loading_pct)) | dict(zip(trafo_names or [], state.trafo_loading_pct))
    lim = site.limits

    x_min, x_max = diagram.x_range
    depth = -diagram.lowest_y + 3
    fig, ax = plt.subplots(layout="constrained", figsize=(max(7.0, 1.25 * (x_max - x_min + 3)), max(4.5, 1.3 * depth)))
    for branch in diagram.branches:
        name = branch.name
        opened = name in out_of_service
        colour = DEAD_COLOUR if opened else (
            colour_at(loading[name], 0.0, lim.max_loading_pct, LOADING_STOPS) if name in loading else NO_STATE_COLOUR)
        xs, ys = zip(*diagram.branch_path(branch))
        ax.plot(xs, ys, color=colour, lw=2, ls="--" if opened else "-", zorder=1)
        mx, my = diagram.branch_mark(branch)
        text = name + (f"\n{loading[name]:.0f} %" if name in loading and not opened else "") + ("\nopen" if opened else "")
        if branch.kind == "trafo":
            for dy in (0.09, -0.09):
                ax.add_patch(plt.Circle((mx, my + dy), 0.13, fill=False, color=colour, lw=1.6, zorder=2))
        ax.annotate(text, (mx + 0.2, my), fontsize=7, va="center")
    for bus, (x, y) in pos.items():
        dead = bus in v_pu and v_pu[bus] <= 0
        colour = DEAD_COLOUR if dead else (
            colour_at(v_pu[bus], lim.v_min_pu, lim.v_max_pu, VOLTAGE_STOPS) if bus in v_pu else NO_STATE_COLOUR)
        half = diagram.bus_half_width[bus]
        ax.plot([x - half, x + half], [y, y], color=colour, lw=6, solid_capstyle="butt", zorder=3)
        state_text = "\nde-energized" if dead else (f"\n{v_pu[bus]:.4f} pu" if bus in v_pu else "")
        ax.annotate(f"{bus}  {diagram.kv[bus]:g} kV" + state_text, (x + half + 0.05, y), fontsize=7,
                    weight="bold", va="center")
    for device in diagram.devices:
        bus_y = pos[device.bus][1]
        ax.plot([device.x, device.x], [bus_y, device.y + 0.12], color="gray", lw=1, zorder=1)
        ax.annotate(device.label, (device.x, device.y), fontsize=6, ha="center", va="top",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "gray", "lw": 0.5})
    if state is not None:
        for (low, high), stops, title in (((lim.v_min_pu, lim.v_max_pu), VOLTAGE_STOPS, "bus voltage, pu"),
                                          ((0.0, lim.max_loading_pct), LOADING_STOPS, "loading, %")):
            cmap = LinearSegmentedColormap.from_list(title, list(stops))
            fig.colorbar(plt.cm.ScalarMappable(norm=Normalize(low, high), cmap=cmap), ax=ax,
                         orientation="horizontal", fraction=0.03, pad=0.02, aspect=60, label=title)
    ax.set_title(f"{site.name} — one-line diagram" + (" (power-flow state)" if state is not None else ""), fontsize=10)
    ax.set_xlim(x_min - 1.5, x_max + 1.5)
    ax.set_ylim(diagram.lowest_y - 1.6, 0.8)
    ax.axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
