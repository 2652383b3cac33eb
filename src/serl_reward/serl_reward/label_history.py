"""Ground-truth success over time, to answer label queries about past frames (no rclpy)."""

import bisect
import collections


class LabelHistory:
    """
    Time-ordered (time, success) samples of a ground-truth signal, looked up by time.

    :param capacity: samples kept (oldest dropped first).
    """

    def __init__(self, capacity=1200):
        self._samples = collections.deque(maxlen=int(capacity))

    def __len__(self):
        return len(self._samples)

    def add(self, time, success):
        """Record ``success`` (bool) at ``time`` (seconds); out-of-order samples are dropped."""
        if self._samples and time < self._samples[-1][0]:
            return
        self._samples.append((float(time), bool(success)))

    def lookup(self, time, tolerance):
        """
        Return the sample nearest to ``time`` if within ``tolerance`` seconds, else None.

        :returns: bool success, or None when no sample is close enough.
        """
        if not self._samples:
            return None
        times = [t for t, _ in self._samples]
        i = bisect.bisect_left(times, time)
        near = [j for j in (i - 1, i) if 0 <= j < len(times)]
        best = min(near, key=lambda j: abs(times[j] - time))
        if abs(times[best] - time) > tolerance:
            return None
        return self._samples[best][1]


def parse_answer(text):
    """
    Parse a person's answer to a label query.

    :returns: True for y/yes/1/s(uccess), False for n/no/0/f(ail), None for anything else
        (skip).
    """
    text = text.strip().lower()
    if text in ('y', 'yes', '1', 's', 'success', 'true'):
        return True
    if text in ('n', 'no', '0', 'f', 'fail', 'failure', 'false'):
        return False
    return None
