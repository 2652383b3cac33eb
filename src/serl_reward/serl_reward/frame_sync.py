"""Match images of several cameras by stamp (an approximate-time synchroniser, no rclpy)."""

import collections


class FrameSynchroniser:
    """
    Emits one set of frames (one per camera) whose stamps lie within ``tolerance`` seconds.

    Each camera keeps its ``history`` newest frames. When a frame arrives, every other camera's
    frame nearest in stamp is looked up; if all are within ``tolerance`` of the new frame, the
    set is emitted, unless its newest stamp is not newer than that of the last emitted set (each
    set is used once, stamps only move forward).

    :param names: camera names.
    :param tolerance: largest stamp difference in seconds between frames of one set (>= 0).
    :param history: frames kept per camera.
    """

    def __init__(self, names, tolerance, history=5):
        if tolerance < 0:
            raise ValueError(f'tolerance must be >= 0, got {tolerance}')
        self.names = tuple(names)
        self.tolerance = float(tolerance)
        self._frames = {n: collections.deque(maxlen=history) for n in self.names}
        self._last_emitted = float('-inf')

    def add(self, name, stamp, payload):
        """
        Add a frame of camera ``name`` with stamp ``stamp`` (seconds).

        :returns: None, or a tuple (newest stamp in seconds, name of the camera with the
            newest stamp, dict camera -> payload) when a new complete set is available.

        :raises KeyError: ``name`` is not one of the cameras.
        """
        if name not in self._frames:
            raise KeyError(f'unknown camera {name!r}; expected one of {self.names}')
        self._frames[name].append((float(stamp), payload))
        chosen = {name: (float(stamp), payload)}
        for other in self.names:
            if other == name:
                continue
            if not self._frames[other]:
                return None
            nearest = min(self._frames[other], key=lambda item: abs(item[0] - stamp))
            if abs(nearest[0] - stamp) > self.tolerance:
                return None
            chosen[other] = nearest
        newest_name = max(chosen, key=lambda n: chosen[n][0])
        newest = chosen[newest_name][0]
        if newest <= self._last_emitted:
            return None
        self._last_emitted = newest
        return newest, newest_name, {n: chosen[n][1] for n in self.names}
