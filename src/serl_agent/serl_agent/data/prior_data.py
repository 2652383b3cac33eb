"""
Prior data from earlier runs: every transition a run collected, successes and failures alike.

AWAC (Nair et al. 2020, arXiv 2006.09359, Sec. 5) reuses all the data of earlier experiments,
suboptimal included; RLPD (Ball et al. 2023) samples half of each batch from such prior data.
A path given as prior data may hold, in this order of lookup:

- ``transitions.spool``: a learner run directory (``serl_train``, ``learner_node``): every
  transition it ever acknowledged (:mod:`serl_agent.data.transition_spool`);
- ``checkpoints/latest.json``: a ``serl_train_gym`` run directory: the online replay buffer of
  its latest checkpoint (the demo buffer there is the run's own prior data, not read again);
- rosbag2 bags of ``/serl/transitions`` (``metadata.yaml``), the path itself or any directory
  below it (a run's ``demos/`` and ``negatives/``).

Transitions keep only the observation keys of the agent's space (bags of the ROS jobs also
carry camera images), and must fit its keys, shapes and action bounds.
"""

import os
from pathlib import Path
from typing import List, Sequence, Union

import gymnasium as gym
from serl_agent.data import checkpoint
from serl_agent.data.bag_io import BagError, make_typestore, TRANSITION_TYPE
from serl_agent.data.demo_buffer import (check_transition, DemoError, load_demo_buffer,
                                         select_keys)
from serl_agent.data.replay import ReplayBuffer
from serl_agent.data.transition_codec import transition_to_dict
from serl_agent.data.transition_spool import read_spool

PathLike = Union[str, os.PathLike]
SPOOL_NAME = 'transitions.spool'


class PriorDataError(ValueError):
    """A prior-data path that is missing, holds no transitions, or ones that do not fit."""


def check_paths(paths: Sequence[PathLike]) -> None:
    """Raise ``PriorDataError`` naming the first of ``paths`` that does not exist."""
    for path in paths:
        if not Path(path).exists():
            raise PriorDataError(f'prior data {path}: no such file or directory')


def _keys(space: gym.Space):
    return list(space.spaces) if isinstance(space, gym.spaces.Dict) else None


def _from_spool(path: Path, space: gym.Space, action_space: gym.spaces.Box) -> ReplayBuffer:
    typestore = make_typestore()
    rows = []
    for data in read_spool(path):
        tr = transition_to_dict(typestore.deserialize_cdr(data, TRANSITION_TYPE))
        tr['bag'] = path
        tr = select_keys(tr, _keys(space))
        check_transition(tr, space, action_space)
        rows.append(tr)
    buf = ReplayBuffer(space, action_space, max(1, len(rows)))
    for tr in rows:
        buf.insert(tr['observation'], tr['action'], tr['reward'], tr['next_observation'],
                   tr['terminated'], tr['truncated'])
    return buf


def _from_checkpoint(run: Path, space: gym.Space, action_space: gym.spaces.Box
                     ) -> ReplayBuffer:
    path = checkpoint.latest_checkpoint(run)
    saved = checkpoint.read(path)['buffers']
    if 'online' not in saved:
        raise PriorDataError(f'prior data {path}: the checkpoint holds no online buffer '
                             f'(buffers {sorted(saved)})')
    state = saved['online']
    buf = ReplayBuffer(space, action_space, max(1, int(state['capacity'])))
    try:
        buf.load_state_dict(state)
    except ValueError as e:
        raise PriorDataError(f'prior data {path}: {e}') from e
    return buf


def _bag_dirs(path: Path) -> List[Path]:
    if (path / 'metadata.yaml').exists():
        return [path]
    return sorted(p.parent for p in path.rglob('metadata.yaml'))


def load_prior_buffer(paths: Sequence[PathLike], observation_space: gym.Space,
                      action_space: gym.spaces.Box) -> ReplayBuffer:
    """
    One replay buffer, exactly full, of every transition found under ``paths`` (see above).

    :raises PriorDataError: a path that does not exist, holds no transitions, or holds
        transitions whose observation keys, shapes or actions do not fit the spaces (the text
        names the path and the mismatch); nothing is trained on then.
    """
    check_paths(paths)
    parts = []
    for p in map(Path, paths):
        try:
            if (p / SPOOL_NAME).exists():
                buf = _from_spool(p / SPOOL_NAME, observation_space, action_space)
            elif checkpoint.latest_checkpoint(p) is not None:
                buf = _from_checkpoint(p, observation_space, action_space)
            elif _bag_dirs(p):
                if not isinstance(observation_space, gym.spaces.Dict):
                    raise PriorDataError(f'prior data {p}: its bags hold dict observations, '
                                         f'the observation space is {observation_space}')
                buf = load_demo_buffer(_bag_dirs(p), observation_space, action_space,
                                       observation_keys=_keys(observation_space))
            else:
                raise PriorDataError(f'prior data {p}: no transitions (no {SPOOL_NAME}, no '
                                     f'checkpoint, no rosbag2 bag under it)')
        except (DemoError, BagError, checkpoint.CheckpointError) as e:
            raise PriorDataError(f'prior data {p}: {e}') from e
        if len(buf) == 0:
            raise PriorDataError(f'prior data {p}: no transitions')
        parts.append(buf)
    return ReplayBuffer.concatenate(parts)
