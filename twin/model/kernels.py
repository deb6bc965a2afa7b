"""Compiled kernels of the step's numeric hot spots, each the twin of a plain numpy reference.

A step over ~30 connectors and a ~27-bus network is dozens of tiny numpy calls, each a few
microseconds of Python overhead around nanoseconds of arithmetic. These kernels do the same
arithmetic in one numba-compiled call. The readable numpy versions stay where they were
(``ChargingSlots.wanted_kw_reference``, ``_DenseNewton`` with ``compiled=False``) and
``tests/twin/test_kernels.py`` checks each kernel against its reference: element-wise
kernels bit for bit, the power flow within 1e-9 pu (its sums run in another order).

``SATWIN_KERNELS=reference`` in the environment runs the references instead (no numba
import, no compile), for a profile of the plain model or an A/B of a kernel.
Compiled code is cached next to this file (``cache=True``), so only the first run of a
checkout pays the compile (a few seconds).
"""

from __future__ import annotations

import os

import numpy as np

COMPILED = os.environ.get("SATWIN_KERNELS", "compiled") != "reference"

if COMPILED:
    from numba import njit

    jit = njit(cache=True, nogil=True)
else:
    def jit(function):
        return function


# -- sums ------------------------------------------------------------------------------------
PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE: a stretch this long or shorter is summed in one block


@jit
def _block_sum(a, start, n):
    """numpy's pairwise summation of a stretch of at most ``PAIRWISE_BLOCK`` items (``pairwise_sum``
    in its loops): in order below 8 items, else eight running sums, combined in pairs, then the rest."""
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += a[i]
        return total
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    while i < n - n % 8:
        j = start + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += a[start + i]
        i += 1
    return total


@jit
def array_sum(a):
    """``a.sum()`` of a 1-D float array, bit for bit: numpy splits a longer array in halves (the first
    a multiple of 8 long) and adds their sums, and adds the whole to its identity, 0.0. The halving
    runs on a stack here (numba's cache cannot hold a recursive function)."""
    n = a.shape[0]
    if n <= PAIRWISE_BLOCK:
        return 0.0 + _block_sum(a, 0, n)
    depth = 2 * 64  # the tree is at most 64 halvings deep; each level leaves a pending right half
    starts = np.empty(depth, dtype=np.int64)
    lengths = np.empty(depth, dtype=np.int64)  # a negative length: add the two sums on top of ``sums``
    sums = np.empty(depth)
    n_sums = 0
    starts[0], lengths[0] = 0, n
    top = 1
    while top:
        top -= 1
        start, length = starts[top], lengths[top]
        if length < 0:
            n_sums -= 1
            sums[n_sums - 1] = sums[n_sums - 1] + sums[n_sums]
        elif length <= PAIRWISE_BLOCK:
            sums[n_sums] = _block_sum(a, start, length)
            n_sums += 1
        else:
            half = length // 2
            half -= half % 8
            starts[top], lengths[top] = 0, -1  # after both halves: their sum
            starts[top + 1], lengths[top + 1] = start + half, length - half
            starts[top + 2], lengths[top + 2] = start, half  # the first half first, as numpy does
            top += 3
    return 0.0 + sums[0]


# -- charging slots -------------------------------------------------------------------------
# A set of slots keeps its per-slot figures as the rows of two matrices (``ChargingSlots.state``
# and ``.flags``; the row names below), so a kernel takes two arrays for a set where it took
# eleven: numba checks the type of every argument of every call, ~0.05 us each.
(P_MAX_KW, EFFICIENCY, RAMP_KW_PER_S, P_LIMIT_KW, P_KW, SOC_PCT, CAPACITY_KWH, TARGET_SOC_PCT, MAX_ACCEPT_KW,
 KNEE_PCT, ENERGY_KWH, WANTED_KW, GRANTED_KW, STATE_ROWS) = range(14)
OCCUPIED, FAULTED, REACHED, FLAG_ROWS = range(4)
PACKS_OFF, PACKS_ON, PACKS_TRIPPED = range(3)  # how ``slots_share`` treats its second set


@jit
def slots_want(state, flags, min_taper_fraction):
    """``ChargingSlots.wanted_kw_reference`` in one pass, into the ``WANTED_KW`` row; returns its sum,
    as ``.sum()`` would give it."""
    soc_pct, knee_pct, target_soc_pct = state[SOC_PCT], state[KNEE_PCT], state[TARGET_SOC_PCT]
    out = state[WANTED_KW]
    for i in range(out.shape[0]):
        if not flags[OCCUPIED, i] or flags[FAULTED, i] or soc_pct[i] >= target_soc_pct[i]:
            out[i] = 0.0
            continue
        if soc_pct[i] < knee_pct[i]:
            taper = 1.0
        else:
            taper = (100.0 - soc_pct[i]) / max(100.0 - knee_pct[i], 1e-9)
            taper = min(max(taper, min_taper_fraction), 1.0)
        accept = state[MAX_ACCEPT_KW, i] * taper / state[EFFICIENCY, i]
        out[i] = min(min(state[P_MAX_KW, i], state[P_LIMIT_KW, i]), accept)
    return array_sum(out)


@jit
def slots_grant(state, flags, scale):
    """``ChargingSlots.grant_reference``: the ``GRANTED_KW`` row = the ``WANTED_KW`` row * ``scale``,
    and how long until the first slot reaches its target at it (``ChargingSlots.seconds_to_target``),
    in one pass."""
    granted_kw, wanted_kw = state[GRANTED_KW], state[WANTED_KW]
    shortest_h = np.inf
    for i in range(granted_kw.shape[0]):
        granted_kw[i] = wanted_kw[i] * scale
        if flags[OCCUPIED, i] and granted_kw[i] > 0:
            room_kwh = (state[TARGET_SOC_PCT, i] - state[SOC_PCT, i]) / 100.0 * state[CAPACITY_KWH, i]
            shortest_h = min(shortest_h, room_kwh / (granted_kw[i] * state[EFFICIENCY, i]))
    return shortest_h if shortest_h == np.inf else max(0.0, shortest_h) * 3600.0


@jit
def slots_share(cars_state, cars_flags, cars_live, packs_state, packs_flags, packs_mode, cap_kw,
                min_taper_fraction):
    """``charger.share_reference`` in one call: both sets' wanted powers (the cars' zero where
    ``cars_live`` is not, the packs' zero when tripped), the share of them a site cap of
    ``cap_kw`` allows, granted; returns (total wanted, scale, seconds to the first full battery)."""
    total_kw = slots_want(cars_state, cars_flags, min_taper_fraction)
    wanted_kw = cars_state[WANTED_KW]
    cut = False
    for i in range(wanted_kw.shape[0]):
        if not cars_live[i]:
            wanted_kw[i] = 0.0
            cut = True
    if cut:
        total_kw = array_sum(wanted_kw)
    packs_kw = 0.0
    if packs_mode != PACKS_OFF:
        packs_kw = slots_want(packs_state, packs_flags, min_taper_fraction)
        if packs_mode == PACKS_TRIPPED:
            packs_state[WANTED_KW, :] = 0.0
            packs_kw = 0.0
    total_kw = total_kw + packs_kw
    scale = min(1.0, cap_kw / total_kw) if total_kw > 0 else 1.0
    to_target_s = slots_grant(cars_state, cars_flags, scale)
    if packs_mode != PACKS_OFF:
        to_target_s = min(to_target_s, slots_grant(packs_state, packs_flags, scale))
    return total_kw, scale, to_target_s


@jit
def slots_advance(dt_s, state, flags):
    """``ChargingSlots.advance_reference`` in one pass, drawing the ``GRANTED_KW`` row: updates
    ``P_KW``, ``ENERGY_KWH`` and ``SOC_PCT`` in place, marks ``REACHED`` (occupied and at target);
    returns how many are, and the sum of ``P_KW`` (as ``.sum()``)."""
    hours = dt_s / 3600.0
    p_kw, soc_pct, target_soc_pct = state[P_KW], state[SOC_PCT], state[TARGET_SOC_PCT]
    n_reached = 0
    for i in range(p_kw.shape[0]):
        p = min(state[GRANTED_KW, i], p_kw[i] + state[RAMP_KW_PER_S, i] * dt_s)
        room_kwh = max(target_soc_pct[i] - soc_pct[i], 0.0) / 100.0 * state[CAPACITY_KWH, i]
        p = min(p, room_kwh / state[EFFICIENCY, i] / hours)
        p_kw[i] = p
        state[ENERGY_KWH, i] += p * hours
        soc_pct[i] += p * hours * state[EFFICIENCY, i] / state[CAPACITY_KWH, i] * 100.0
        reached = flags[OCCUPIED, i] and soc_pct[i] >= target_soc_pct[i] - 1e-9
        flags[REACHED, i] = reached
        n_reached += reached
    return n_reached, array_sum(p_kw)


# -- injections -----------------------------------------------------------------------------
@jit
def group_sums(group, p_kw, q_per_p, p_out, q_out):
    """``core.group_sums_reference`` (a charger group's P and Q from its connectors') in one pass:
    each group summed in index order from 0.0, as ``np.bincount`` does."""
    p_out[:] = 0.0
    q_out[:] = 0.0
    for i in range(group.shape[0]):
        p_out[group[i]] += p_kw[i]
        q_out[group[i]] += p_kw[i] * q_per_p[i]


# -- power flow -----------------------------------------------------------------------------
@jit
def update_bus_power(incidence, p_kw, q_kvar, s_bus):
    """``s_bus = -(incidence @ (p_kw + 1j q_kvar))`` in place (per-unit bus injections, generation
    positive); returns whether any bus changed, so an unchanged step is not solved again."""
    changed = False
    for i in range(incidence.shape[0]):
        acc = 0j
        for k in range(incidence.shape[1]):
            if incidence[i, k] != 0.0:
                acc += incidence[i, k] * (p_kw[k] + 1j * q_kvar[k])
        if -acc != s_bus[i]:
            changed = True
            s_bus[i] = -acc
    return changed


@jit
def newton_pq(y, v0, s_bus, tol, max_iter):
    """Newton-Raphson, polar form, slack at index 0, every other bus PQ (``_DenseNewton._newton``).

    Returns (v, converged). The Jacobian is built only for the non-slack block, from the
    same expressions as the reference (dS/dVm, dS/dVa of Zimmerman's MATPOWER note).
    """
    n = v0.shape[0]
    m = n - 1
    v = v0.copy()
    vm = np.abs(v)
    va = np.angle(v)
    i_bus = np.empty(n, dtype=np.complex128)
    f = np.empty(2 * m)
    jac = np.empty((2 * m, 2 * m))
    for _ in range(max_iter):
        worst = 0.0
        for i in range(n):
            acc = 0j
            for k in range(n):
                acc += y[i, k] * v[k]
            i_bus[i] = acc
        for i in range(1, n):
            mis = v[i] * np.conj(i_bus[i]) - s_bus[i]
            f[i - 1] = mis.real
            f[m + i - 1] = mis.imag
            worst = max(worst, abs(mis.real), abs(mis.imag))
        if worst < tol:
            return v, True
        for i in range(1, n):
            for k in range(1, n):
                yv = y[i, k] * v[k]
                d_vm = v[i] * np.conj(yv / vm[k])
                d_va = -1j * v[i] * np.conj(yv)
                if i == k:
                    d_vm += np.conj(i_bus[i]) * v[i] / vm[i]
                    d_va += 1j * v[i] * np.conj(i_bus[i])
                jac[i - 1, k - 1] = d_va.real
                jac[i - 1, m + k - 1] = d_vm.real
                jac[m + i - 1, k - 1] = d_va.imag
                jac[m + i - 1, m + k - 1] = d_vm.imag
        dx = np.linalg.solve(jac, -f)
        finite = True
        for i in range(1, n):
            va[i] += dx[i - 1]
            vm[i] += dx[m + i - 1]
        for i in range(n):
            v[i] = vm[i] * np.exp(1j * va[i])
            finite = finite and np.isfinite(v[i].real) and np.isfinite(v[i].imag)
        if not finite:
            return v, False
    return v, False


@jit
def grid_results(v, y_slack_row, y_from, y_to, branch_from, branch_to, i_base_ka, base_mva, bus_rows,
                 line_rows, line_i_max_ka, trafo_rows, trafo_i_rated_hv_ka, trafo_i_rated_lv_ka):
    """``_DenseNewton._results_reference`` in one call. Rows of -1 (left out of pandapower's
    internal case) read 0. Returns (p_import_kw, q_import_kvar, p_slack_kw, v_pu,
    line_loading_pct, trafo_loading_pct, losses_kw); the feeder is line 0."""
    n_branch = y_from.shape[0]
    s_to = np.empty(n_branch, dtype=np.complex128)
    i_from_ka = np.empty(n_branch)
    i_to_ka = np.empty(n_branch)
    losses_mw = 0.0
    for b in range(n_branch):
        i_f = 0j
        i_t = 0j
        for k in range(v.shape[0]):
            i_f += y_from[b, k] * v[k]
            i_t += y_to[b, k] * v[k]
        s_f = v[branch_from[b]] * np.conj(i_f) * base_mva
        s_to[b] = v[branch_to[b]] * np.conj(i_t) * base_mva
        losses_mw += s_f.real + s_to[b].real
        i_from_ka[b] = abs(i_f) * i_base_ka[branch_from[b]]
        i_to_ka[b] = abs(i_t) * i_base_ka[branch_to[b]]
    line_loading = np.zeros(line_rows.shape[0])
    for j in range(line_rows.shape[0]):
        r = line_rows[j]
        if r >= 0:
            line_loading[j] = max(i_from_ka[r], i_to_ka[r]) / line_i_max_ka[j] * 100.0
    trafo_loading = np.zeros(trafo_rows.shape[0])
    for j in range(trafo_rows.shape[0]):
        r = trafo_rows[j]
        if r >= 0:
            trafo_loading[j] = max(i_from_ka[r] / trafo_i_rated_hv_ka[j], i_to_ka[r] / trafo_i_rated_lv_ka[j]) * 100.0
    v_pu = np.zeros(bus_rows.shape[0])
    for j in range(bus_rows.shape[0]):
        if bus_rows[j] >= 0:
            v_pu[j] = abs(v[bus_rows[j]])
    i_slack = 0j
    for k in range(v.shape[0]):
        i_slack += y_slack_row[k] * v[k]
    s_slack = v[0] * np.conj(i_slack) * base_mva
    feeder_to = s_to[line_rows[0]] if line_rows[0] >= 0 else 0j
    return (-feeder_to.real * 1000.0, -feeder_to.imag * 1000.0, s_slack.real * 1000.0, v_pu, line_loading,
            trafo_loading, losses_mw * 1000.0)
