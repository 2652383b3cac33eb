"""The actor's current policy, swapped by the weights callback while the control loop runs."""

import threading
from typing import Optional


class PolicySlot:
    """
    Thread-safe holder of the newest policy: swapped by a callback, used by the control loop.

    The swap is a reference assignment under a lock; an action computation already running
    keeps the policy it started with, so control never pauses for new weights.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._policy = None
        self.version: Optional[int] = None

    def put(self, version: int, policy) -> None:
        """Install ``policy`` (a ``networks.Policy``) with learner version ``version``."""
        with self._lock:
            self._policy, self.version = policy, int(version)

    def get(self):
        """Return ``(version, policy)``; policy is None before any weights arrived."""
        with self._lock:
            return self.version, self._policy
