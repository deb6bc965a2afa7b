"""The peak envelope the panels draw: per bin of samples, the max and the min, for all channels.

Why not pyqtgraph's own peak downsampling: it re-reduces every curve's whole visible
data on every ``setData`` (plus a finiteness scan and a bounds scan of the full arrays),
so with a day of 1 s data on screen each redraw re-read 30 x 86,400 samples to add the
~72 new ones — about half of the redraw's time (measured with ``gui.bench``). Rows only
ever append, so the min/max of a complete bin never changes: each bin size keeps the
bins it has computed and a redraw reduces only the rows that completed new bins, plus the
one partial bin at the live edge.

Bins are counted in samples from the first one (as pyqtgraph's peak method does), so
irregular time steps are binned the same way, and bin sizes are powers of two, so a zoom
or a window resize reuses a cached size instead of re-reducing a whole day.
"""

from __future__ import annotations

import math

import numpy as np


class _BinLevel:
    """Max and min of complete bins of ``bin_samples`` samples, for every channel."""

    def __init__(self, bin_samples: int, n_channels: int) -> None:
        self.bin_samples = bin_samples
        self.maxs = np.empty((n_channels, 0))
        self.mins = np.empty((n_channels, 0))
        self.done = 0  # complete bins reduced so far

    def update(self, data: np.ndarray, n: int) -> None:
        """Reduce the bins completed since the last call (``data`` is channels x samples)."""
        complete = n // self.bin_samples
        if complete <= self.done:
            return
        if complete > self.maxs.shape[1]:
            self._grow(max(complete, 2 * self.maxs.shape[1]))
        b = self.bin_samples
        rows = data[:, self.done * b:complete * b].reshape(data.shape[0], complete - self.done, b)
        self.maxs[:, self.done:complete] = rows.max(axis=2)
        self.mins[:, self.done:complete] = rows.min(axis=2)
        self.done = complete

    def _grow(self, bins: int) -> None:
        maxs, mins = np.empty((self.maxs.shape[0], bins)), np.empty((self.mins.shape[0], bins))
        maxs[:, :self.done], mins[:, :self.done] = self.maxs[:, :self.done], self.mins[:, :self.done]
        self.maxs, self.mins = maxs, mins


class PeakEnvelope:
    """What to draw of a ``SeriesStore`` for an x range and a plot width in pixels."""

    def __init__(self) -> None:
        self._levels: dict[int, _BinLevel] = {}
        self._store_key: tuple[int, int] | None = None  # (store, its generation) the bins were reduced from

    @staticmethod
    def bin_samples(samples: int, width_px: float) -> int:
        """The largest power of two <= samples per pixel column: 1 to 2 bins (2 to 4 points) a column."""
        per_px = samples / max(width_px, 1.0)
        return 1 if per_px < 2.0 else 2 ** int(math.log2(per_px))

    def view(self, store, x0_s: float, x1_s: float, width_px: float) -> tuple[np.ndarray, np.ndarray]:
        """(x, channels x points) covering [x0_s, x1_s] plus one bin either side, so lines reach the edges.

        With fewer than two samples a pixel column the samples themselves (views, no copy);
        otherwise a (max, min) pair per bin at the bin's middle sample time.
        """
        key = (id(store), store.generation)
        if key != self._store_key:  # another store, or the same one cleared for a new run: no bin is valid
            self._levels, self._store_key = {}, key
        n, t_s, data = store.n, store.t_s, store.data
        i0 = max(int(np.searchsorted(t_s[:n], x0_s)) - 1, 0)
        i1 = min(int(np.searchsorted(t_s[:n], x1_s, side="right")) + 1, n)
        b = self.bin_samples(i1 - i0, width_px)
        if b == 1:
            return t_s[i0:i1], data[:, i0:i1]
        level = self._levels.get(b)
        if level is None:
            level = self._levels[b] = _BinLevel(b, data.shape[0])
        level.update(data, n)
        first, last = i0 // b, -(-i1 // b)  # bins touching [i0, i1)
        complete_end = min(last, level.done)
        maxs, mins = level.maxs[:, first:complete_end], level.mins[:, first:complete_end]
        if last > level.done:  # the live edge: a bin still filling, reduced now and not kept
            tail = data[:, level.done * b:n]
            maxs = np.concatenate([maxs, tail.max(axis=1, keepdims=True)], axis=1)
            mins = np.concatenate([mins, tail.min(axis=1, keepdims=True)], axis=1)
        middles = np.minimum(np.arange(first, first + maxs.shape[1]) * b + b // 2, n - 1)
        x = np.repeat(t_s[middles], 2)
        y = np.empty((data.shape[0], 2 * maxs.shape[1]))
        y[:, 0::2], y[:, 1::2] = maxs, mins
        return x, y
