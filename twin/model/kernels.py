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
@jit
def slots_wanted_kw(soc_pct, max_accept_kw, knee_pct, efficiency, p_max_kw, p_limit_kw, occupied, faulted,
                    target_soc_pct, min_taper_fraction, out):
    """``ChargingSlots.wanted_kw_reference`` in one pass, into ``out`` (returning it would cost a
    microsecond more a call: numba boxes a returned array through a pickled constant); returns
    its sum, as ``out.sum()`` would give it."""
    for i in range(soc_pct.shape[0]):
        if not occupied[i] or faulted[i] or soc_pct[i] >= target_soc_pct[i]:
            out[i] = 0.0
            continue
        if soc_pct[i] < knee_pct[i]:
            taper = 1.0
        else:
            taper = (100.0 - soc_pct[i]) / max(100.0 - knee_pct[i], 1e-9)
            taper = min(max(taper, min_taper_fraction), 1.0)
        accept = max_accept_kw[i] * taper / efficiency[i]
        out[i] = min(min(p_max_kw[i], p_limit_kw[i]), accept)
    return array_sum(out)


@jit
def slots_advance(dt_s, granted_kw, p_kw, ramp_kw_per_s, target_soc_pct, soc_pct, capacity_kwh, efficiency,
                  energy_kwh, occupied, reached):
    """``ChargingSlots.advance_reference`` in one pass: updates ``p_kw``, ``energy_kwh``,
    ``soc_pct`` in place, marks ``reached`` (occupied and at target); returns how many are, and
    the sum of ``p_kw`` (as ``p_kw.sum()``)."""
    hours = dt_s / 3600.0
    n_reached = 0
    for i in range(p_kw.shape[0]):
        p = min(granted_kw[i], p_kw[i] + ramp_kw_per_s[i] * dt_s)
        room_kwh = max(target_soc_pct[i] - soc_pct[i], 0.0) / 100.0 * capacity_kwh[i]
        p = min(p, room_kwh / efficiency[i] / hours)
        p_kw[i] = p
        energy_kwh[i] += p * hours
        soc_pct[i] += p * hours * efficiency[i] / capacity_kwh[i] * 100.0
        reached[i] = occupied[i] and soc_pct[i] >= target_soc_pct[i] - 1e-9
        n_reached += reached[i]
    return n_reached, array_sum(p_kw)


@jit
def slots_grant(wanted_kw, scale, granted_kw, occupied, target_soc_pct, soc_pct, capacity_kwh, efficiency):
    """``ChargingSlots.grant_reference``: ``granted_kw = wanted_kw * scale`` in place, and how long
    until the first slot reaches its target at it (``ChargingSlots.seconds_to_target``), in one pass
    (called once per charging part)."""
    shortest_h = np.inf
    for i in range(granted_kw.shape[0]):
        granted_kw[i] = wanted_kw[i] * scale
        if occupied[i] and granted_kw[i] > 0:
            room_kwh = (target_soc_pct[i] - soc_pct[i]) / 100.0 * capacity_kwh[i]
            shortest_h = min(shortest_h, room_kwh / (granted_kw[i] * efficiency[i]))
    return shortest_h if shortest_h == np.inf else max(0.0, shortest_h) * 3600.0


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
