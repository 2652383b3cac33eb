"""Ground-truth success over time, to answer label queries about past frames (no rclpy)."""

import bisect
import collections


class LabelHistory:
    """
    A ground-truth signal sampled over time, kept as runs of equal values, looked up by time.

    Samples of equal value that follow each other within ``max_gap`` seconds form one run
    (``[first time, last time, value]``), so an hour of a 20 Hz signal that changes a few
    times per episode takes a few kilobytes: a query about a frame re-offered long after it
    was taken (RAQ re-asks unanswered queries) still finds its ground truth.

    :param span: seconds of history kept, counted back from the newest sample.
    :param max_gap: seconds between two samples beyond which a run ends (the signal is not
        known in between: a stalled poll is not read as the value before it).
    :raises ValueError: if ``span`` or ``max_gap`` is not positive.
    """

    def __init__(self, span=3600.0, max_gap=0.2):
        if span <= 0 or max_gap <= 0:
            raise ValueError(f'LabelHistory: span ({span}) and max_gap ({max_gap}) must be > 0')
        self.span, self.max_gap = float(span), float(max_gap)
        self._runs = collections.deque()  # [t_first, t_last, value], time-ordered

    def __len__(self):
        """Return the number of runs held (a run: consecutive samples of equal value)."""
        return len(self._runs)

    def add(self, time, success):
        """Record ``success`` (bool) at ``time`` (seconds); out-of-order samples are dropped."""
        time, success = float(time), bool(success)
        if self._runs:
            last = self._runs[-1]
            if time < last[1]:
                return
            if success == last[2] and time - last[1] <= self.max_gap:
                last[1] = time
            else:
                self._runs.append([time, time, success])
        else:
            self._runs.append([time, time, success])
        while self._runs[0][1] < time - self.span:
            self._runs.popleft()

    def lookup(self, time, tolerance):
        """
        Return the ground truth at ``time`` (seconds), or None where it is not known.

        Known: ``time`` lies inside a run, or within ``tolerance`` seconds of a run's first or
        last sample (the nearest wins).

        :returns: bool success, or None.
        """
        starts = [r[0] for r in self._runs]
        i = bisect.bisect_right(starts, time) - 1
        best, best_distance = None, float(tolerance)
        for j in (i, i + 1):
            if 0 <= j < len(self._runs):
                t0, t1, value = self._runs[j]
                distance = 0.0 if t0 <= time <= t1 else min(abs(time - t0), abs(time - t1))
                if distance <= best_distance:
                    best, best_distance = value, distance
        return best


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
