"""
Active label queries (RAQ: Singh, Yang, Hartikainen, Finn, Levine 2019, Sec. 4).

Between two queries the reward source keeps the frame set its classifier scored highest; at a
fixed interval it asks for the true label of that one frame set (a person on a real robot, the
simulator's ground truth in sim). A wrong "success" there is exactly the false positive the
policy is learning to exploit, so these labels are the most informative ones to add.
"""

import dataclasses


@dataclasses.dataclass
class QueryCandidate:
    """
    A frame set proposed for labelling.

    :ivar stamp: (sec, nanosec) of the newest image of the set.
    :ivar frames: camera name -> uint8 (H, W, 3) RGB.
    :ivar probability: the classifier's p(success) of the set.
    """

    stamp: tuple
    frames: dict
    probability: float


class ActiveQuerySelector:
    """
    Picks the highest-scored frame set since the last query, once per ``interval``.

    :param interval: seconds between queries (any monotonic clock the caller uses); <= 0
        disables queries.
    :param min_probability: frame sets scored below this are never proposed (asking about an
        obvious failure wastes the labeller's time).
    """

    def __init__(self, interval, min_probability=0.0):
        self.interval = float(interval)
        self.min_probability = float(min_probability)
        self._best = None
        self._last_query = None

    @property
    def enabled(self):
        """Tell whether queries are on (``interval`` > 0)."""
        return self.interval > 0

    def observe(self, stamp, frames, probability):
        """Consider one scored frame set (stamp (sec, nanosec), camera -> uint8 (H, W, 3))."""
        if probability < self.min_probability:
            return
        if self._best is None or probability > self._best.probability:
            self._best = QueryCandidate(tuple(stamp), dict(frames), float(probability))

    def take(self, now):
        """
        Return the candidate to query if ``interval`` seconds have passed, else None.

        The first call starts the clock. Taking a candidate starts a new interval and forgets
        the previous maximum; an interval without any candidate keeps waiting for one.
        """
        if not self.enabled:
            return None
        if self._last_query is None:
            self._last_query = float(now)
            return None
        if self._best is None or now - self._last_query < self.interval:
            return None
        candidate, self._best, self._last_query = self._best, None, float(now)
        return candidate
