"""
Run Gymnasium episodes and emit numbered transitions (no rclpy).

Used by the actor node (transitions go to ``/serl/transitions``) and by ``serl_record_demos``
(transitions go straight into a bag). Transition dicts have the keys of
:func:`serl_agent.data.transition_codec.transition_to_dict`; the success flag is the env's
``info['succeed']`` (serl_sim and SERL's convention) or ``info['success']``.
"""

from dataclasses import dataclass
import time
from typing import Callable, Dict, Optional, Tuple

import gymnasium as gym
import numpy as np

#: ``obs -> (action, intervention)``: the action in [-1, 1] and whether a person or a scripted
#: expert (not the learnt policy) chose it.
ActionFn = Callable[[Dict[str, np.ndarray]], Tuple[np.ndarray, bool]]


class DictObservation(gym.ObservationWrapper):
    """
    Present a Box-observation env as a Dict env with one key, ``'state'``.

    ``serl_msgs/Observation`` carries named arrays, so every env the actor runs needs Dict
    observations.
    """

    def __init__(self, env: gym.Env, key: str = 'state'):
        super().__init__(env)
        self.key = key
        self.observation_space = gym.spaces.Dict({key: env.observation_space})

    def observation(self, observation):
        """Wrap ``observation`` as ``{key: observation}`` (float32)."""
        return {self.key: np.asarray(observation, dtype=np.float32)}


def as_agent_env(env: gym.Env) -> gym.Env:
    """
    Return ``env`` with the agent's conventions: Dict observations, actions in [-1, 1].

    A Box observation is wrapped by :class:`DictObservation`; a Box action space with other
    bounds by ``gymnasium.wrappers.RescaleAction`` (e.g. Pendulum's [-2, 2]).

    :raises ValueError: a non-Box action space or unbounded action bounds.
    """
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f'the action space must be a Box, got {space!r}')
    if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f'the action space {space!r} is unbounded: cannot normalise')
        env = gym.wrappers.RescaleAction(env, -1.0, 1.0)
    if not isinstance(env.observation_space, gym.spaces.Dict):
        env = DictObservation(env)
    return env


def success_of(info: dict) -> bool:
    """Return the success flag of a step's ``info`` (``'succeed'`` or ``'success'``)."""
    return bool(info.get('succeed', info.get('success', False)))


@dataclass
class EpisodeResult:
    """Summary of one episode: steps, undiscounted return, success, how it ended."""

    episode: int
    steps: int
    episode_return: float
    success: bool
    terminated: bool
    truncated: bool
    interventions: int = 0   # steps a person (or the scripted expert) acted


class EpisodeRunner:
    """
    Step an env with an action function, numbering transitions per actor.

    :param env: Gymnasium env with Dict observations and a Box action space in [-1, 1].
    :param actor_id: written into every transition.
    :param first_sequence: sequence number of the first transition (>= 1).
    :param max_steps: cut an episode after this many steps (``truncated``); 0: the env's limit.
    :param clock_ns: source of the transition stamps (ns).
    :param success_hold_steps: after an episode's first success, keep stepping the policy for
        this many more steps before the episode ends (0: end at the first success). Demos
        recorded this way hold the success state, as HIL-SERL's success frames do (the reward
        classifier needs them, docs/reward.md). Each held step that is still a success is a
        terminal success transition (``terminated``, the env's reward: 1); the last one is also
        ``truncated``: the explicit end of the episode (:class:`serl_agent.data.bag_io.
        EpisodeBagWriter` closes the bag on it). A held step that lost the success (e.g. the
        cube slipped) ends the hold at once, as the env reports it (reward 0, not terminated)
        and ``truncated`` (the value target bootstraps through it).
    :raises ValueError: ``success_hold_steps`` < 0.
    """

    def __init__(self, env: gym.Env, actor_id: str, first_sequence: int = 1,
                 max_steps: int = 0, clock_ns: Callable[[], int] = time.time_ns,
                 success_hold_steps: int = 0):
        if int(success_hold_steps) < 0:
            raise ValueError(f'success_hold_steps must be >= 0, got {success_hold_steps}')
        self.env = env
        self.actor_id = actor_id
        self.next_sequence = int(first_sequence)
        self.max_steps = int(max_steps)
        self.clock_ns = clock_ns
        self.success_hold_steps = int(success_hold_steps)

    def run_episode(self, act: ActionFn, episode: int, seed: Optional[int] = None,
                    on_transition: Optional[Callable[[dict], None]] = None,
                    should_stop: Callable[[], bool] = lambda: False,
                    options: Optional[dict] = None,
                    skip_if_succeeded: bool = False) -> Optional[EpisodeResult]:
        """
        Run one episode; call ``on_transition(transition_dict)`` after every step.

        :param act: action function (see :data:`ActionFn`).
        :param episode: episode counter written into the transitions.
        :param seed: reset seed.
        :param on_transition: consumer of the transitions; None: the episode's transitions
            are not kept and take no sequence number (the numbering stays contiguous for the
            learner's acknowledgements).
        :param should_stop: polled every step; True ends the episode early (marked truncated).
        :param options: the env's reset options (e.g. ``direction``, ``keep_objects``).
        :param skip_if_succeeded: when the reset's ``info`` reports success (the goal holds
            already, as in a reset-free episode start), return None without a step.
        :raises ValueError: an action that is not finite or outside [-1, 1] (never sent).

        With ``success_hold_steps`` (see the class), the episode goes on after its first
        success; the result then counts the held steps and their rewards too.
        """
        obs, info = self.env.reset(seed=seed, options=options)
        if skip_if_succeeded and success_of(info):
            return None
        total, step, success, interventions = 0.0, 0, False, 0
        terminated = truncated = False
        held = None  # steps held after the first success; None: not holding
        ended = False
        while not ended:
            action, intervention = act(obs)
            interventions += int(bool(intervention))
            action = np.asarray(action, dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(action)) or np.any(np.abs(action) > 1.0 + 1e-6):
                raise ValueError(f'action {action} is not finite or outside [-1, 1]')
            stamp = self.clock_ns()
            next_obs, reward, terminated, truncated, info = self.env.step(action)
            step_success = success_of(info)
            success = success or step_success
            if held is not None:  # holding the success
                held += 1
                terminated = bool(terminated) or step_success
                if not step_success or held >= self.success_hold_steps:
                    truncated = True  # the success was lost, or the last held step
            elif terminated and step_success and not truncated and self.success_hold_steps:
                held = 0  # a terminal success transition; the episode goes on
            if self.max_steps and step + 1 >= self.max_steps and not terminated:
                truncated = True
            if should_stop() and (held is not None or not terminated):
                truncated = True
            ended = bool(truncated) or (bool(terminated) and held is None)
            if on_transition is not None:  # only consumed transitions take a sequence number
                on_transition({
                    'observation': obs, 'action': action, 'reward': float(reward),
                    'next_observation': next_obs, 'terminated': bool(terminated),
                    'truncated': bool(truncated), 'success': step_success,
                    'intervention': bool(intervention), 'actor_id': self.actor_id,
                    'sequence': self.next_sequence, 'episode': int(episode), 'step': step,
                    'stamp_ns': stamp,
                })
                self.next_sequence += 1
            total += float(reward)
            step += 1
            obs = next_obs
        return EpisodeResult(int(episode), step, total, success, bool(terminated),
                             bool(truncated), interventions)
