"""
Wall-clock pacing of the physics at a real-time factor.

The sim advances ``real_time_factor`` simulated seconds per wall second. When the machine
cannot keep up, the pacer runs at most ``max_catch_up`` steps per call and then drops the
deficit (the sim runs slower than asked instead of bursting); the achieved factor is measured.
"""

import time
from typing import Callable


class Pacer:
    """
    Decide how many physics steps are due and how long to sleep.

    Parameters
    ----------
    dt
        physics timestep, s.
    real_time_factor
        simulated seconds per wall second (> 0).
    max_catch_up
        most steps one call may ask for.
    clock
        wall clock, s (``time.monotonic``).

    Raises
    ------
        ValueError: for a non-positive ``dt`` or ``real_time_factor``.

    """

    def __init__(self, dt: float, real_time_factor: float, max_catch_up: int = 50,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not dt > 0.0:
            raise ValueError(f'physics timestep must be > 0, got {dt}')
        if not real_time_factor > 0.0:
            raise ValueError(f'real_time_factor must be > 0, got {real_time_factor}')
        self.dt = dt
        self.real_time_factor = real_time_factor
        self.max_catch_up = max_catch_up
        self._clock = clock
        self._wall0 = clock()
        self._steps = 0
        self.dropped_steps = 0

    def due(self) -> int:
        """Return the number of steps to run now (0 when ahead of the wall clock)."""
        elapsed = (self._clock() - self._wall0) * self.real_time_factor
        behind = int(elapsed / self.dt + 1e-9) - self._steps
        if behind > self.max_catch_up:
            self.dropped_steps += behind - self.max_catch_up
            self._steps += behind - self.max_catch_up
            behind = self.max_catch_up
        return max(behind, 0)

    def done(self, steps: int) -> None:
        """Record that ``steps`` steps were run."""
        self._steps += steps

    def sleep_time(self) -> float:
        """Return the wall seconds until the next step is due (>= 0)."""
        next_wall = self._wall0 + (self._steps + 1) * self.dt / self.real_time_factor
        return max(0.0, next_wall - self._clock())
