"""Labelled camera frames: the training and held-out data of the success classifier."""

import dataclasses
import os

import numpy as np


class DatasetError(ValueError):
    """Frames that cannot form a dataset (shape, key or file problem); names what is wrong."""


@dataclasses.dataclass
class FrameDataset:
    """
    N labelled frame sets, one image per camera each.

    :ivar images: camera name -> uint8 array (N, H, W, 3), RGB.
    :ivar labels: (N,) bool, True for a frame of task success.
    :ivar episodes: (N,) int64 episode id; frames of one episode stay on one side of a split.
    """

    images: dict
    labels: np.ndarray
    episodes: np.ndarray

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=bool).reshape(-1)
        self.episodes = np.asarray(self.episodes, dtype=np.int64).reshape(-1)
        if self.episodes.shape != self.labels.shape:
            raise DatasetError(f'{self.labels.size} labels but {self.episodes.size} episode ids')
        for key, value in self.images.items():
            value = np.asarray(value)
            if value.dtype != np.uint8 or value.ndim != 4 or value.shape[-1] != 3:
                raise DatasetError(f'images[{key!r}] must be uint8 (N, H, W, 3), got '
                                   f'{value.dtype} {value.shape}')
            if value.shape[0] != self.labels.size:
                raise DatasetError(f'images[{key!r}] has {value.shape[0]} frames, labels '
                                   f'{self.labels.size}')
            self.images[key] = value

    def __len__(self):
        return int(self.labels.size)

    @property
    def num_positive(self):
        """Count the success frames."""
        return int(self.labels.sum())

    def subset(self, index):
        """Return the frames at ``index`` (int array or bool mask), as a new dataset."""
        return FrameDataset({k: v[index] for k, v in self.images.items()},
                            self.labels[index], self.episodes[index])

    def select_keys(self, keys, size=None):
        """
        Keep only cameras ``keys``; check each has frames of ``size`` (height, width).

        :raises DatasetError: a camera is missing or has another image size.
        """
        images = {}
        for key in keys:
            if key not in self.images:
                raise DatasetError(f'no images named {key!r}; have {sorted(self.images)}')
            if size is not None and tuple(self.images[key].shape[1:3]) != tuple(size):
                raise DatasetError(f'images[{key!r}] are {self.images[key].shape[1:3]}, '
                                   f'expected {tuple(size)}')
            images[key] = self.images[key]
        return FrameDataset(images, self.labels, self.episodes)

    def summary(self):
        """One line: frames, positives, episodes."""
        return (f'{len(self)} frames ({self.num_positive} success, '
                f'{len(self) - self.num_positive} failure) from '
                f'{len(np.unique(self.episodes))} episodes')


def from_frames(frames, labels, episodes):
    """
    Build a dataset from a list of per-frame dicts camera name -> (H, W, 3) uint8.

    :raises DatasetError: empty input, differing camera sets, or mismatched lengths.
    """
    if not frames:
        raise DatasetError('no frames')
    keys = sorted(frames[0])
    for i, frame in enumerate(frames):
        if sorted(frame) != keys:
            raise DatasetError(f'frame {i} has cameras {sorted(frame)}, frame 0 has {keys}')
    if len(labels) != len(frames) or len(episodes) != len(frames):
        raise DatasetError(f'{len(frames)} frames, {len(labels)} labels, '
                           f'{len(episodes)} episode ids')
    try:
        images = {k: np.stack([np.asarray(f[k], dtype=np.uint8) for f in frames]) for k in keys}
    except ValueError as error:
        raise DatasetError(f'frames differ in size: {error}') from error
    return FrameDataset(images, np.asarray(labels), np.asarray(episodes))


def concatenate(datasets):
    """
    Join datasets with the same cameras; episode ids are renumbered to stay distinct.

    :raises DatasetError: no datasets, or the camera sets differ.
    """
    datasets = [d for d in datasets if len(d)]
    if not datasets:
        raise DatasetError('no frames in any dataset')
    keys = sorted(datasets[0].images)
    episodes, offset = [], 0
    for d in datasets:
        if sorted(d.images) != keys:
            raise DatasetError(f'cameras differ: {sorted(d.images)} vs {keys}')
        _, renumbered = np.unique(d.episodes, return_inverse=True)
        episodes.append(renumbered + offset)
        offset += int(renumbered.max()) + 1
    return FrameDataset(
        {k: np.concatenate([d.images[k] for d in datasets]) for k in keys},
        np.concatenate([d.labels for d in datasets]), np.concatenate(episodes))


def split_by_episode(dataset, holdout_fraction, seed=0):
    """
    Split into (train, held-out) by whole episodes, so near-identical frames never straddle.

    Episodes are shuffled with ``seed``; episodes go to the held-out side until it holds about
    ``holdout_fraction`` of the frames. Both sides keep at least one episode.

    :raises DatasetError: fewer than two episodes, or ``holdout_fraction`` outside (0, 1).
    """
    if not 0.0 < holdout_fraction < 1.0:
        raise DatasetError(f'holdout_fraction must be in (0, 1), got {holdout_fraction}')
    ids = np.unique(dataset.episodes)
    if ids.size < 2:
        raise DatasetError(f'need >= 2 episodes to split, got {ids.size}')
    rng = np.random.default_rng(seed)
    rng.shuffle(ids)
    counts = {i: int(np.sum(dataset.episodes == i)) for i in ids}
    held, total = [], 0
    for i in ids[:-1]:
        if total >= holdout_fraction * len(dataset):
            break
        held.append(i)
        total += counts[i]
    mask = np.isin(dataset.episodes, held)
    return dataset.subset(~mask), dataset.subset(mask)


def save_npz(path, dataset):
    """Write a dataset to a compressed ``.npz`` (keys ``image/<camera>``, labels, episodes)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    arrays = {f'image/{k}': v for k, v in dataset.images.items()}
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, labels=dataset.labels, episodes=dataset.episodes, **arrays)
    os.replace(tmp, path)


def load_npz(path):
    """
    Read a dataset written by :func:`save_npz`.

    :raises DatasetError: missing or unreadable file, or missing arrays; names ``path``.
    """
    try:
        with np.load(path) as data:
            images = {k[len('image/'):]: data[k] for k in data.files if k.startswith('image/')}
            return FrameDataset(images, data['labels'], data['episodes'])
    except (OSError, KeyError, ValueError) as error:
        raise DatasetError(f'labelled frames file {path!r}: {error}') from error
