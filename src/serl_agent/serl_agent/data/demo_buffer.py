"""
Demo buffer: episodes read from rosbag2 bags of ``/serl/transitions`` into a replay buffer.

RLPD (Ball et al. 2023, arXiv 2302.02948, Sec. 3) samples half of every batch from prior data;
here that prior data is what an expert or person recorded as ``serl_msgs/Transition``. Episodes
are grouped by ``(actor_id, episode)``, ordered by ``step``, de-duplicated by
``(actor_id, sequence)`` (an actor re-sends unacknowledged transitions after a learner restart,
so a live recording may hold a transition twice), and inserted in order, so that episode
boundaries (``terminated`` / ``truncated`` on the last step) are kept as recorded.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import gymnasium as gym
import numpy as np

from serl_agent.data.bag_io import PathLike, read_transitions
from serl_agent.data.transition_codec import transition_to_dict


class DemoError(ValueError):
    """Demo data do not fit the spaces or are empty; the text names the bag and step."""


@dataclass
class Episode:
    """
    One recorded episode.

    :ivar actor_id: actor that produced it.
    :ivar episode: the actor's episode counter.
    :ivar bags: bag directories it was read from.
    :ivar transitions: dicts as returned by
        :func:`serl_agent.data.transition_codec.transition_to_dict`, ordered by step.
    """

    actor_id: str
    episode: int
    bags: List[Path] = field(default_factory=list)
    transitions: List[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Return True when any step was marked successful."""
        return any(t['success'] for t in self.transitions)

    @property
    def complete(self) -> bool:
        """Return True when the last step ended the episode (terminated or truncated)."""
        return bool(self.transitions) and (self.transitions[-1]['terminated']
                                           or self.transitions[-1]['truncated'])

    @property
    def episode_return(self) -> float:
        """Undiscounted sum of rewards."""
        return float(sum(t['reward'] for t in self.transitions))


def read_episodes(bag_paths: Union[PathLike, Sequence[PathLike]],
                  typestore=None) -> List[Episode]:
    """
    Read every episode in the bags, in order of first appearance.

    An episode is keyed by ``(bag, actor_id, episode)``; within a bag a repeated
    ``(actor_id, sequence)`` (a re-sent transition) is kept once.

    :raises serl_agent.data.bag_io.BagError: a missing or corrupt bag (named in the text).
    """
    episodes: Dict[Tuple[Path, str, int], Episode] = {}
    seen = set()
    for item in read_transitions(bag_paths, typestore=typestore):
        tr = transition_to_dict(item.msg)
        ident = (item.bag, tr['actor_id'], tr['sequence'])
        if tr['sequence'] and ident in seen:
            continue
        seen.add(ident)
        key = (item.bag, tr['actor_id'], tr['episode'])
        ep = episodes.get(key)
        if ep is None:
            ep = episodes[key] = Episode(tr['actor_id'], tr['episode'], [item.bag])
        tr['bag'] = item.bag
        ep.transitions.append(tr)
    for ep in episodes.values():
        ep.transitions.sort(key=lambda t: (t['step'], t['sequence']))
    return list(episodes.values())


def check_transition(tr: dict, observation_space: gym.spaces.Dict,
                     action_space: gym.spaces.Box) -> None:
    """
    Raise :class:`DemoError` when a transition does not fit the spaces.

    Checks keys and shapes of both observations and the action shape (values are not clipped:
    a demo action outside the action space's bounds is an error too).
    """
    where = f'{tr.get("bag", "?")}: actor {tr["actor_id"]!r} episode {tr["episode"]} ' \
            f'step {tr["step"]}'
    for key in ('observation', 'next_observation'):
        obs = tr[key]
        if set(obs) != set(observation_space.spaces):
            raise DemoError(f'{where}: {key} keys {sorted(obs)} differ from the observation '
                            f'space keys {sorted(observation_space.spaces)}')
        for name, space in observation_space.spaces.items():
            if obs[name].shape != space.shape:
                raise DemoError(f'{where}: {key}[{name!r}] has shape {obs[name].shape}, '
                                f'the observation space has {space.shape}')
    action = tr['action']
    if action.shape != action_space.shape:
        raise DemoError(f'{where}: action shape {action.shape} differs from the action space '
                        f'shape {action_space.shape}')
    if np.any(action < action_space.low - 1e-6) or np.any(action > action_space.high + 1e-6):
        raise DemoError(f'{where}: action {action} is outside the action space bounds')


def select_keys(tr: dict, keys: Optional[Sequence[str]]) -> dict:
    """
    Return ``tr`` with both observations restricted to ``keys`` (None or empty: unchanged).

    Lets a state-based agent learn from bags that also carry camera images (the reward
    classifier trains on the images of the same demos).

    :raises DemoError: an observation lacks one of ``keys`` (the text names the transition).
    """
    if not keys:
        return tr
    out = dict(tr)
    for part in ('observation', 'next_observation'):
        obs = tr[part]
        missing = [k for k in keys if k not in obs]
        if missing:
            raise DemoError(f'{tr.get("bag", "?")}: actor {tr["actor_id"]!r} episode '
                            f'{tr["episode"]} step {tr["step"]}: {part} has no key(s) '
                            f'{missing} (it has {sorted(obs)})')
        out[part] = {k: obs[k] for k in keys}
    return out


@dataclass(frozen=True)
class EpisodeSummary:
    """What was inserted from one episode: ids, length, success flag and source bags."""

    actor_id: str
    episode: int
    steps: int
    success: bool
    complete: bool
    bags: Tuple[Path, ...]


def load_demo_data(bag_paths: Union[PathLike, Sequence[PathLike]],
                   observation_space: gym.spaces.Dict, action_space: gym.spaces.Box,
                   capacity: Optional[int] = None, successful_only: bool = False,
                   typestore=None, observation_keys: Optional[Sequence[str]] = None,
                   transform: Optional[Callable[[dict], dict]] = None):
    """
    Like :func:`load_demo_buffer`, also returning one :class:`EpisodeSummary` per episode.

    :param observation_keys: keep only these observation keys (:func:`select_keys`); None:
        all keys.
    :param transform: applied to each transition dict after the key selection (e.g. camera
        images -> frozen features, :mod:`serl_agent.vision.image_features`).
    :returns: ``(buffer, summaries)``.
    """
    from serl_agent.data.replay import ReplayBuffer

    episodes = read_episodes(bag_paths, typestore=typestore)
    kept = [ep for ep in episodes if ep.success] if successful_only else episodes
    for ep in kept:
        if observation_keys:
            ep.transitions = [select_keys(tr, observation_keys) for tr in ep.transitions]
        if transform is not None:
            ep.transitions = [transform(tr) for tr in ep.transitions]
    total = sum(len(ep.transitions) for ep in kept)
    if total == 0:
        raise DemoError(f'{bag_paths}: no {"successful " if successful_only else ""}episodes '
                        f'found ({len(episodes)} episodes in the bags)')
    for ep in kept:
        for tr in ep.transitions:
            check_transition(tr, observation_space, action_space)
    buffer = ReplayBuffer(observation_space, action_space, capacity or total)
    summaries = []
    for ep in kept:
        for tr in ep.transitions:
            buffer.insert(tr['observation'], tr['action'], tr['reward'],
                          tr['next_observation'], tr['terminated'], tr['truncated'])
        summaries.append(EpisodeSummary(ep.actor_id, ep.episode, len(ep.transitions),
                                        ep.success, ep.complete, tuple(ep.bags)))
    return buffer, summaries


def load_demo_buffer(bag_paths: Union[PathLike, Sequence[PathLike]],
                     observation_space: gym.spaces.Dict, action_space: gym.spaces.Box,
                     capacity: Optional[int] = None, successful_only: bool = False,
                     typestore=None, observation_keys: Optional[Sequence[str]] = None,
                     transform: Optional[Callable[[dict], dict]] = None):
    """
    Fill a :class:`serl_agent.data.replay.ReplayBuffer` with the episodes recorded in bags.

    :param bag_paths: bag directories or directories of bags.
    :param observation_space: Dict space of the agent; every transition must match its keys and
        shapes.
    :param action_space: Box action space; recorded actions must have its shape and bounds.
    :param capacity: buffer capacity; default the number of transitions kept.
    :param successful_only: keep only episodes with a step marked ``success``.
    :param typestore: from :func:`serl_agent.data.bag_io.make_typestore` (default).
    :param observation_keys: keep only these observation keys (:func:`select_keys`); None:
        all keys.
    :param transform: applied to each transition dict after the key selection.

    :returns: The filled ``ReplayBuffer``, episodes inserted whole and in step order.

    :raises serl_agent.data.bag_io.BagError: missing or corrupt bag.
    :raises DemoError: no transitions kept, or a transition that does not fit the spaces.
    """
    return load_demo_data(bag_paths, observation_space, action_space, capacity,
                          successful_only, typestore, observation_keys, transform)[0]
