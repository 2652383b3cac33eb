"""
Validation and hold policy of joint effort commands (what the FR3's effort interface enforces).

A command must have one finite value per arm joint; otherwise it is rejected and the reason
returned. Valid values beyond the joint torque limits are clipped (and counted). The last valid
command is applied for at most ``hold`` seconds after it arrived; after that the torques are
zero, so a controller that stops sending cannot leave the arm pushing.
"""

from typing import Optional, Sequence

import numpy as np


class EffortGuard:
    """
    Hold the last valid effort command for a bounded time.

    Parameters
    ----------
    limits
        (n,) torque limits, N m (> 0).
    hold
        s, how long a command stays in force (one period of the effort loop).

    Attributes
    ----------
    received, rejected, clipped, expired
        counters: commands received, rejected (NaN/inf or wrong length), clipped to the
        limits, and commands that expired before a new one arrived.

    Raises
    ------
        ValueError: for non-positive limits or hold.

    """

    def __init__(self, limits: Sequence[float], hold: float) -> None:
        self.limits = np.asarray(limits, dtype=np.float64)
        if self.limits.ndim != 1 or np.any(~(self.limits > 0.0)):
            raise ValueError(f'effort limits must be positive, got {limits}')
        if not (np.isfinite(hold) and hold > 0.0):
            raise ValueError(f'effort hold must be a positive number of seconds, got {hold}')
        self.hold = float(hold)
        self.received = self.rejected = self.clipped = self.expired = 0
        self._command = np.zeros_like(self.limits)
        self._stamp: Optional[float] = None

    def submit(self, values: Sequence[float], now: float) -> Optional[str]:
        """
        Offer a command received at time ``now`` (s).

        Returns
        -------
            None when accepted (possibly clipped), else the reason it was rejected.

        """
        self.received += 1
        command = np.asarray(values, dtype=np.float64)
        if command.shape != self.limits.shape:
            self.rejected += 1
            return (f'effort command has {command.size} values, expected {self.limits.size} '
                    '(one per arm joint, in joint order)')
        if not np.all(np.isfinite(command)):
            self.rejected += 1
            return f'effort command contains NaN or inf: {command.tolist()}'
        clipped = np.clip(command, -self.limits, self.limits)
        if np.any(clipped != command):
            self.clipped += 1
        self._command = clipped
        self._stamp = now
        return None

    def torque(self, now: float) -> np.ndarray:
        """Return the torques to apply at time ``now`` (s): the held command, or zeros."""
        if self._stamp is None:
            return np.zeros_like(self.limits)
        if now - self._stamp > self.hold + 1e-9:
            self.expired += 1
            self._stamp = None
            self._command = np.zeros_like(self.limits)
        return self._command

    @property
    def active(self) -> bool:
        """Return True while a command is in force."""
        return self._stamp is not None

    def clear(self) -> None:
        """Drop the command in force (torques zero until the next valid command)."""
        self._stamp = None
        self._command = np.zeros_like(self.limits)
