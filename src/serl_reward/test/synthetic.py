"""A separable synthetic success task for the tests: success = a bright square in the top half."""

import numpy as np

from serl_reward.dataset import FrameDataset


def make_frames(count, size=32, seed=0, keys=('front', 'wrist'), episode_length=10):
    """``count`` labelled frame sets; half success (square in top half of 'front')."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2 == 0
    rng.shuffle(labels)
    images = {k: rng.integers(0, 60, size=(count, size, size, 3), dtype=np.uint8) for k in keys}
    square = size // 4
    for i, success in enumerate(labels):
        row = rng.integers(0, size // 2 - square) if success else rng.integers(
            size // 2, size - square)
        col = rng.integers(0, size - square)
        images[keys[0]][i, row:row + square, col:col + square] = (230, 60, 60)
    episodes = np.arange(count) // episode_length
    return FrameDataset(images, labels, episodes)
