"""Transformer thermal overload protection: the IEC 60076-7 hot spot, tripping as a fault.

The hot-spot temperature follows the standard's difference equations (IEC 60076-7:2018,
clause 8.2.3 and annex C) with the constants of ONAN distribution transformers (table 5), the
load factor K being the transformer's loading from the step's power flow:

    top oil   dθo/dt   = [((1 + K²R) / (1 + R))^x · Δθor − (θo − θa)] / (k11 τo)
    winding   dΔθh1/dt = [k21 · Δθhr · K^y − Δθh1] / (k22 τw)
              dΔθh2/dt = [(k21 − 1) · Δθhr · K^y − Δθh2] / (τo / k22)
    hot spot  θh = θo + Δθh1 − Δθh2

Every transformer starts in the steady state of no load. The standard asks for time steps
under half the smallest time constant (k22·τw = 8 min here); long run steps are split into
sub-steps of at most ``MAX_SUBSTEP_S``. A transformer above ``trip_hot_spot_c`` is opened as a
``transformer_outage`` fault lasting ``lockout_s`` (scheduled through ``Twin.schedule_fault``, so
it is logged and applied exactly like a scheduled outage, from the next step on).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from twin.config.faults import Fault
from twin.config.site import TransformerProtection

# IEC 60076-7:2018 table 5, ONAN distribution transformers
OIL_EXPONENT_X, WINDING_EXPONENT_Y = 0.8, 1.6
LOSS_RATIO_R = 5.0  # load losses at rated current / no-load losses
K11, K21, K22 = 1.0, 1.0, 2.0
TAU_OIL_S, TAU_WINDING_S = 180 * 60.0, 4 * 60.0
TOP_OIL_RISE_K = 55.0  # at rated load, over ambient
HOT_SPOT_GRADIENT_K = 23.0  # hot spot over top oil at rated load (H · gr)
MAX_SUBSTEP_S = 60.0


class HotSpots:
    """Top-oil and hot-spot temperatures of a set of transformers, advanced step by step."""

    def __init__(self, n: int, ambient_c: float) -> None:
        self.ambient_c = ambient_c
        self.top_oil_c = np.full(n, ambient_c + TOP_OIL_RISE_K * (1.0 / (1.0 + LOSS_RATIO_R)) ** OIL_EXPONENT_X)
        self._rise_1_k = np.zeros(n)
        self._rise_2_k = np.zeros(n)

    @property
    def hot_spot_c(self) -> np.ndarray:
        return self.top_oil_c + self._rise_1_k - self._rise_2_k

    def advance(self, dt_s: float, load_factor: np.ndarray) -> np.ndarray:
        """Advance ``dt_s`` at load factor K (loading / 100) and return the hot spots (°C)."""
        parts = max(1, math.ceil(dt_s / MAX_SUBSTEP_S))
        h = dt_s / parts
        oil_target = TOP_OIL_RISE_K * ((1.0 + load_factor ** 2 * LOSS_RATIO_R) / (1.0 + LOSS_RATIO_R)) ** OIL_EXPONENT_X
        winding = HOT_SPOT_GRADIENT_K * load_factor ** WINDING_EXPONENT_Y
        for _ in range(parts):
            self.top_oil_c += h / (K11 * TAU_OIL_S) * (oil_target - (self.top_oil_c - self.ambient_c))
            self._rise_1_k += h / (K22 * TAU_WINDING_S) * (K21 * winding - self._rise_1_k)
            self._rise_2_k += h / (TAU_OIL_S / K22) * ((K21 - 1.0) * winding - self._rise_2_k)
        return self.hot_spot_c


class ThermalProtection:
    """Trips a transformer whose hot spot exceeds the setting; ``schedule(fault, source)`` opens it."""

    def __init__(self, settings: TransformerProtection, trafo_names: list[str],
                 schedule: Callable[[Fault, str], None]) -> None:
        self.settings, self.names, self.schedule = settings, trafo_names, schedule
        self.hot_spots = HotSpots(len(trafo_names), settings.ambient_c)
        self._open_until_s = np.full(len(trafo_names), -np.inf)

    def check(self, t_s: float, dt_s: float, trafo_loading_pct: np.ndarray) -> None:
        """After the step ending at ``t_s``: heat or cool every transformer, trip those too hot."""
        hot_spot_c = self.hot_spots.advance(dt_s, trafo_loading_pct / 100.0)
        trips = (hot_spot_c > self.settings.trip_hot_spot_c) & (t_s >= self._open_until_s)
        for k in np.flatnonzero(trips):
            lockout_s = self.settings.lockout_s
            self._open_until_s[k] = t_s + lockout_s
            self.schedule(Fault(kind="transformer_outage", device=self.names[k], start_s=t_s, duration_s=lockout_s),
                          f"thermal protection, hot spot {hot_spot_c[k]:.1f} °C")
