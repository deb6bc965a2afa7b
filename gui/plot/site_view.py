"""The live site view: the one-line diagram of ``satwin grid --plot`` as a Qt scene, coloured at the cursor.

Geometry and colours come from ``twin.results.one_line_layout`` (the PNG uses the same),
the state from ``gui.data.site_state``. ``show_at`` only touches the items whose state
changed, so following a live run costs little when nothing moves.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from gui.data.channels import Limits
from gui.data.site_state import ElementState, SiteState, SiteStates
from gui.data.store import SeriesStore
from twin.config.site import Site
from twin.results.one_line_layout import LOADING_STOPS, NO_STATE_COLOUR, VOLTAGE_STOPS, one_line

PX = 120.0  # scene pixels per diagram unit
LABEL_FONT_PT, DEVICE_FONT_PT = 7.5, 6.5
LEGEND_WIDTH_PX = 180.0


def _point(x: float, y: float) -> QtCore.QPointF:
    return QtCore.QPointF(x * PX, -y * PX)  # diagram y is up, the scene's is down


def _text(scene: QtWidgets.QGraphicsScene, text: str, size_pt: float, bold: bool = False):
    item = scene.addSimpleText(text)
    font = item.font()
    font.setPointSizeF(size_pt)
    font.setBold(bold)
    item.setFont(font)
    return item


class SiteView(QtWidgets.QGraphicsView):
    """The diagram; ``show_at(store, t_s)`` colours it with the state at ``t_s``."""

    def __init__(self, site: Site, limits: Limits, parent=None) -> None:
        super().__init__(parent)
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QtGui.QColor("white"))
        self.diagram = one_line(site)
        self.states = SiteStates(self.diagram, limits)
        self.shown: SiteState | None = None  # what is drawn now
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.bus_bars: dict[str, QtWidgets.QGraphicsLineItem] = {}
        self.bus_labels: dict[str, QtWidgets.QGraphicsSimpleTextItem] = {}
        self.branch_lines: dict[str, QtWidgets.QGraphicsPathItem] = {}
        self.branch_labels: dict[str, QtWidgets.QGraphicsSimpleTextItem] = {}
        self.trafo_rings: dict[str, list[QtWidgets.QGraphicsEllipseItem]] = {}
        self.device_boxes: dict[str, QtWidgets.QGraphicsRectItem] = {}
        self.device_marks: dict[str, QtWidgets.QGraphicsSimpleTextItem] = {}
        self._build(site.name, limits)

    # -- building -------------------------------------------------------------------------
    def _build(self, title: str, limits: Limits) -> None:
        scene, d = self.scene(), self.diagram
        for branch in d.branches:
            path = QtGui.QPainterPath(_point(*d.branch_path(branch)[0]))
            for x, y in d.branch_path(branch)[1:]:
                path.lineTo(_point(x, y))
            self.branch_lines[branch.name] = scene.addPath(path, QtGui.QPen(QtGui.QColor(NO_STATE_COLOUR), 2.5))
            mx, my = d.branch_mark(branch)
            if branch.kind == "trafo":
                self.trafo_rings[branch.name] = [
                    scene.addEllipse(QtCore.QRectF(_point(mx - 0.13, my + dy + 0.13), _point(mx + 0.13, my + dy - 0.13)),
                                     QtGui.QPen(QtGui.QColor(NO_STATE_COLOUR), 1.8), QtGui.QBrush(QtGui.QColor("white")))
                    for dy in (0.09, -0.09)]
            label = _text(scene, branch.name, LABEL_FONT_PT)
            label.setPos(_point(mx + 0.2, my) - QtCore.QPointF(0, label.boundingRect().height() / 2))
            self.branch_labels[branch.name] = label
        for bus, (x, y) in d.buses.items():
            pen = QtGui.QPen(QtGui.QColor(NO_STATE_COLOUR), 7)
            pen.setCapStyle(QtCore.Qt.PenCapStyle.FlatCap)
            half = d.bus_half_width[bus]
            bar = scene.addLine(QtCore.QLineF(_point(x - half, y), _point(x + half, y)), pen)
            bar.setZValue(3)
            self.bus_bars[bus] = bar
            self.bus_labels[bus] = _text(scene, "", LABEL_FONT_PT, bold=True)
            self._paint_bus(bus, ElementState(NO_STATE_COLOUR, ""))
        for device in d.devices:
            scene.addLine(QtCore.QLineF(_point(device.x, d.buses[device.bus][1]), _point(device.x, device.y)),
                          QtGui.QPen(QtGui.QColor("gray"), 1))
            text = _text(scene, device.label, DEVICE_FONT_PT)
            rect = text.boundingRect()
            top = _point(device.x, device.y)
            text.setPos(top.x() - rect.width() / 2, top.y() + 2)
            box = scene.addRect(text.sceneBoundingRect().adjusted(-3, -2, 3, 2), QtGui.QPen(QtGui.QColor("gray"), 0.8),
                                QtGui.QBrush(QtGui.QColor("white")))
            text.setZValue(box.zValue() + 1)
            mark = _text(scene, "", DEVICE_FONT_PT, bold=True)
            mark.setBrush(QtGui.QColor("#d62728"))
            mark.setPos(box.rect().left(), box.rect().bottom() + 1)
            self.device_boxes[device.name], self.device_marks[device.name] = box, mark
        self.title = title
        self.caption = _text(scene, f"{title} — one-line diagram", 9.0, bold=True)
        x_min, _ = d.x_range
        self.caption.setPos(_point(x_min - 1.2, 0.75))
        self._legend(limits)

    def _legend(self, limits: Limits) -> None:
        """Two colour bars, voltage and loading, under the caption."""
        scene = self.scene()
        left = self.caption.pos() + QtCore.QPointF(0, 22)
        for row, (stops, low, high, unit) in enumerate(
                ((VOLTAGE_STOPS, limits.v_min_pu, limits.v_max_pu, "pu"), (LOADING_STOPS, 0.0, limits.max_loading_pct, "%"))):
            top = left + QtCore.QPointF(0, 24 * row)
            gradient = QtGui.QLinearGradient(top, top + QtCore.QPointF(LEGEND_WIDTH_PX, 0))
            for fraction, colour in stops:
                gradient.setColorAt(fraction, QtGui.QColor(colour))
            scene.addRect(QtCore.QRectF(top, QtCore.QSizeF(LEGEND_WIDTH_PX, 8)), QtGui.QPen(QtCore.Qt.PenStyle.NoPen),
                          QtGui.QBrush(gradient))
            name = "bus voltage" if unit == "pu" else "loading"
            label = _text(scene, f"{name}: {low:g} … {high:g} {unit}", DEVICE_FONT_PT)
            label.setPos(top + QtCore.QPointF(LEGEND_WIDTH_PX + 6, -3))

    # -- state ----------------------------------------------------------------------------
    def show_at(self, store: SeriesStore, t_s: float, time_text: str = "") -> SiteState:
        state = self.states.at(store, t_s)
        self.caption.setText(f"{self.title} — one-line diagram" + (f", {time_text}" if time_text else ""))
        old = self.shown
        for bus, s in state.buses.items():
            if old is None or old.buses[bus] != s:
                self._paint_bus(bus, s)
        for name, s in state.branches.items():
            if old is None or old.branches[name] != s:
                self._paint_branch(name, s)
        for name, s in state.devices.items():
            if old is None or old.devices[name] != s:
                self.device_boxes[name].setPen(QtGui.QPen(QtGui.QColor(s.colour), 2.0 if s.marks else 0.8))
                self.device_marks[name].setText(" ".join(s.marks))
        self.shown = state
        return state

    def _paint_bus(self, bus: str, s: ElementState) -> None:
        pen = self.bus_bars[bus].pen()
        pen.setColor(QtGui.QColor(s.colour))
        self.bus_bars[bus].setPen(pen)
        label = self.bus_labels[bus]
        label.setText("\n".join(filter(None, (f"{bus}  {self.diagram.kv[bus]:g} kV", s.text))))
        label.setBrush(QtGui.QColor("#d62728" if s.marks else "black"))
        x, y = self.diagram.buses[bus]
        label.setPos(_point(x + self.diagram.bus_half_width[bus] + 0.05, y) - QtCore.QPointF(0, label.boundingRect().height() / 2))

    def _paint_branch(self, name: str, s: ElementState) -> None:
        opened = "open" in s.marks
        pen = QtGui.QPen(QtGui.QColor(s.colour), 2.5)
        pen.setStyle(QtCore.Qt.PenStyle.DashLine if opened else QtCore.Qt.PenStyle.SolidLine)
        self.branch_lines[name].setPen(pen)
        for ring in self.trafo_rings.get(name, ()):
            ring.setPen(QtGui.QPen(QtGui.QColor(s.colour), 1.8))
        label = self.branch_labels[name]
        label.setText("\n".join(filter(None, (name, s.text))))
        label.setBrush(QtGui.QColor("#d62728" if s.marks else "black"))

    # -- view -----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fitInView(self.scene().itemsBoundingRect().adjusted(-10, -10, 10, 10),
                       QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def export_png(self, path) -> bool:
        return self.grab().save(str(path))

