"""Fixed-capacity ring buffer of camera frame sets (uint8), for VICE's negatives and positives."""

import numpy as np


class FrameBuffer:
    """
    Holds up to ``capacity`` frame sets; the oldest is overwritten when full.

    :param keys: camera names.
    :param size: (height, width) of every image in pixels.
    :param capacity: number of frame sets kept (memory: capacity x cameras x H x W x 3 bytes).
    """

    def __init__(self, keys, size, capacity):
        if capacity < 1:
            raise ValueError(f'capacity must be >= 1, got {capacity}')
        self.keys = tuple(keys)
        self.capacity = int(capacity)
        self.images = {k: np.zeros((capacity, *size, 3), np.uint8) for k in self.keys}
        self._next = 0
        self._size = 0

    def __len__(self):
        return self._size

    def add(self, frames):
        """Store one frame set: camera name -> uint8 (H, W, 3)."""
        for key in self.keys:
            self.images[key][self._next] = frames[key]
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def extend(self, images):
        """Store many frame sets: camera name -> uint8 (N, H, W, 3)."""
        count = len(images[self.keys[0]])
        for i in range(count):
            self.add({k: images[k][i] for k in self.keys})

    def sample(self, count, rng):
        """
        ``count`` frame sets drawn uniformly with replacement: name -> (count, H, W, 3).

        :raises ValueError: the buffer is empty.
        """
        if self._size == 0:
            raise ValueError('cannot sample from an empty frame buffer')
        index = rng.integers(0, self._size, size=count)
        return {k: v[index] for k, v in self.images.items()}
