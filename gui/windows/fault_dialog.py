"""Choose a fault to inject into the live run: kind, device, delay, duration and its strength.

Devices come from ``twin.faults.valid_devices`` for the chosen kind, so the dialog cannot
offer a device the twin would refuse.
"""

from __future__ import annotations

from typing import get_args

from PySide6 import QtWidgets

from twin.config.faults import SITE_WIDE, Fault, FaultKind, valid_devices


class FaultDialog(QtWidgets.QDialog):
    def __init__(self, site, now_s: float, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Inject fault")
        self.site, self.now_s = site, now_s
        self.kind = QtWidgets.QComboBox()
        self.kind.addItems(list(get_args(FaultKind)))
        self.device = QtWidgets.QComboBox()
        self.delay = self._spin(0, 86400, 0, " s after now")
        self.duration = self._spin(1, 7 * 86400, 600, " s")
        self.derate = self._spin(1, 100, 50, " %")
        self.sag = QtWidgets.QDoubleSpinBox()
        self.sag.setRange(0.31, 0.99)
        self.sag.setSingleStep(0.05)
        self.sag.setValue(0.9)
        self.sag.setSuffix(" pu")
        form = QtWidgets.QFormLayout(self)
        for label, widget in (("kind", self.kind), ("device", self.device), ("start", self.delay),
                              ("duration", self.duration), ("derate (bess_derate)", self.derate),
                              ("sag (voltage_sag)", self.sag)):
            form.addRow(label, widget)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.kind.currentTextChanged.connect(self._kind_changed)
        self._kind_changed(self.kind.currentText())

    @staticmethod
    def _spin(low: int, high: int, value: int, suffix: str) -> QtWidgets.QSpinBox:
        spin = QtWidgets.QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setSuffix(suffix)
        return spin

    def _kind_changed(self, kind: str) -> None:
        self.device.clear()
        devices = [] if kind in SITE_WIDE else valid_devices(self.site, kind)
        self.device.addItems(devices or ["(site-wide)"])
        self.device.setEnabled(bool(devices))
        self.derate.setEnabled(kind == "bess_derate")
        self.sag.setEnabled(kind == "voltage_sag")

    def fault(self) -> Fault:
        kind = self.kind.currentText()
        return Fault(kind=kind, device="" if kind in SITE_WIDE else self.device.currentText(),
                     start_s=self.now_s + self.delay.value(), duration_s=float(self.duration.value()),
                     derate_pct=float(self.derate.value()), sag_pu=float(self.sag.value()))
