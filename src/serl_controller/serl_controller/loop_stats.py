"""
Timing statistics of a periodic loop: achieved rate and period jitter over a sliding window.

Used by the controller node's diagnostics and by bench/controller_loop.py.
"""

from typing import Dict

import numpy as np


class LoopStats:
    """
    Ring buffer of loop periods (s) with percentile summaries.

    Parameters
    ----------
    nominal_period : float
        The period the loop aims at, s (> 0).
    capacity : int
        Number of most recent periods kept.

    """

    def __init__(self, nominal_period: float, capacity: int = 5000) -> None:
        if not nominal_period > 0.0:
            raise ValueError(f'nominal_period must be > 0, got {nominal_period}')
        self.nominal_period = float(nominal_period)
        self._periods = np.zeros(int(capacity))
        self._count = 0
        self._last = None

    def tick(self, now: float) -> float:
        """
        Record a loop start at monotonic time `now` (s); return the period since the last one.

        The first call returns `nominal_period` and records nothing.
        """
        if self._last is None:
            self._last = now
            return self.nominal_period
        period = now - self._last
        self._last = now
        self._periods[self._count % self._periods.size] = period
        self._count += 1
        return period

    def reset(self) -> None:
        """Forget all periods (e.g. after a pause of the loop)."""
        self._count = 0
        self._last = None

    @property
    def count(self) -> int:
        """Return the number of periods recorded since the last reset."""
        return self._count

    def summary(self) -> Dict[str, float]:
        """
        Summarise the window.

        Returns
        -------
        dict
            `rate_hz` (1 / mean period), `period_p50_ms`, `period_p99_ms`, `period_max_ms`,
            `jitter_p50_ms`, `jitter_p99_ms`, `jitter_max_ms` (absolute deviation of the period
            from the nominal one), `samples`. Zeros when nothing was recorded.

        """
        n = min(self._count, self._periods.size)
        if n == 0:
            keys = ('rate_hz', 'period_p50_ms', 'period_p99_ms', 'period_max_ms',
                    'jitter_p50_ms', 'jitter_p99_ms', 'jitter_max_ms')
            return {**{k: 0.0 for k in keys}, 'samples': 0}
        periods = self._periods[:n]
        jitter = np.abs(periods - self.nominal_period)
        p50, p99 = np.percentile(periods, [50, 99])
        j50, j99 = np.percentile(jitter, [50, 99])
        return {
            'rate_hz': float(1.0 / periods.mean()),
            'period_p50_ms': 1e3 * float(p50), 'period_p99_ms': 1e3 * float(p99),
            'period_max_ms': 1e3 * float(periods.max()),
            'jitter_p50_ms': 1e3 * float(j50), 'jitter_p99_ms': 1e3 * float(j99),
            'jitter_max_ms': 1e3 * float(jitter.max()),
            'samples': n,
        }
