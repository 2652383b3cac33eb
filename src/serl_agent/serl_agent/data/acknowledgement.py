"""
Transition acknowledgement bookkeeping (no rclpy): the actor's outbox, the learner's tracker.

Protocol (docs/architecture.md, ``serl_msgs/TransitionAck``): an actor numbers its transitions
1, 2, 3, ... per ``actor_id``; the learner acknowledges the highest *contiguous* sequence it has
stored durably; the actor keeps every unacknowledged transition and re-sends the ones older
than a timeout, so a learner that restarts (or a message that DDS dropped) loses nothing. The
learner drops duplicates by ``(actor_id, sequence)``.
"""

from collections import OrderedDict
from typing import Dict, List, Optional, Set, Tuple


class Outbox:
    """
    The actor's unacknowledged transitions, bounded.

    :param capacity: most transitions kept; when full, the oldest is dropped and counted in
        :attr:`dropped` (the actor never blocks on a missing learner).
    """

    def __init__(self, capacity: int = 10000):
        if capacity < 1:
            raise ValueError(f'outbox capacity must be >= 1, got {capacity}')
        self.capacity = int(capacity)
        self._items: 'OrderedDict[int, Tuple[bytes, float]]' = OrderedDict()
        self.acked = 0
        self.dropped = 0

    def __len__(self) -> int:
        """Return the number of unacknowledged transitions held."""
        return len(self._items)

    def add(self, sequence: int, data: bytes, now: float) -> None:
        """Keep ``data`` (serialised transition ``sequence``), sent at time ``now`` (s)."""
        if sequence <= self.acked:
            return
        self._items[int(sequence)] = (data, now)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
            self.dropped += 1

    def ack(self, sequence: int) -> int:
        """Drop every transition with sequence <= ``sequence``; return how many were dropped."""
        if sequence <= self.acked:
            return 0
        self.acked = int(sequence)
        n = 0
        while self._items and next(iter(self._items)) <= sequence:
            self._items.popitem(last=False)
            n += 1
        return n

    def due(self, now: float, resend_after: float, limit: int = 100) -> List[Tuple[int, bytes]]:
        """
        Return up to ``limit`` transitions sent more than ``resend_after`` s ago, oldest first.

        Their send time is set to ``now`` (the caller re-sends them).
        """
        out = []
        for seq, (data, sent) in self._items.items():
            if len(out) >= limit:
                break
            if now - sent >= resend_after:
                out.append((seq, data))
        for seq, data in out:
            self._items[seq] = (data, now)
        return out


class AckTracker:
    """
    The learner's view of what each actor sent: duplicates, and the contiguous watermark.

    :meth:`receive` tells whether a transition is new (store it) or a duplicate (drop it);
    :meth:`persisted` is called after the stored transitions are durable and returns the new
    watermarks to acknowledge. A gap (a transition the actor no longer has, e.g. dropped from a
    full outbox) is skipped once transitions after it have been waiting ``gap_timeout`` s, so
    acknowledgements keep flowing; :attr:`skipped` counts the sequences given up.

    :param gap_timeout: seconds before a missing sequence is given up.
    """

    def __init__(self, gap_timeout: float = 60.0):
        self.gap_timeout = float(gap_timeout)
        self.watermark: Dict[str, int] = {}
        self._above: Dict[str, Set[int]] = {}
        self._pending: Dict[str, Set[int]] = {}
        self._gap_since: Dict[str, Optional[float]] = {}
        self.skipped = 0

    def seen(self, actor_id: str, sequence: int) -> bool:
        """Return True when (actor_id, sequence) was received before."""
        return (sequence <= self.watermark.get(actor_id, 0)
                or sequence in self._above.get(actor_id, ())
                or sequence in self._pending.get(actor_id, ()))

    def receive(self, actor_id: str, sequence: int) -> bool:
        """Register a received transition; return True if new, False if a duplicate."""
        if sequence < 1 or self.seen(actor_id, sequence):
            return False
        self._pending.setdefault(actor_id, set()).add(int(sequence))
        return True

    def persisted(self, now: float) -> Dict[str, int]:
        """
        Mark everything received so far as durable; return ``{actor_id: watermark}`` changed.

        :param now: current time (s, monotonic) for the gap timeout.
        """
        changed = {}
        for actor, seqs in self._pending.items():
            self._above.setdefault(actor, set()).update(seqs)
        self._pending.clear()
        for actor, above in self._above.items():
            old = mark = self.watermark.get(actor, 0)
            while mark + 1 in above:
                mark += 1
                above.discard(mark)
            if above:  # a gap below the lowest stored sequence
                since = self._gap_since.get(actor)
                if since is None:
                    self._gap_since[actor] = now
                elif now - since >= self.gap_timeout:
                    low = min(above)
                    self.skipped += low - 1 - mark
                    mark = low
                    above.discard(low)
                    while mark + 1 in above:
                        mark += 1
                        above.discard(mark)
                    self._gap_since[actor] = now if above else None
            else:
                self._gap_since[actor] = None
            if mark != old:
                self.watermark[actor] = mark
                changed[actor] = mark
        return changed
