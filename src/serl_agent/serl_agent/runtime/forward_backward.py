"""
Forward-backward reset-free training without ROS: two agents that reset each other's task.

SERL's third pillar (Luo et al. 2024, arXiv 2401.16013, Sec. 4 "Resets"; its bin relocation
task, after Eysenbach et al. 2018's "Leave no trace", arXiv 1711.06782, and Sharma et al.
2021's forward-backward RL): a forward policy solves the task (cube from region A to region
B), a backward policy undoes it (B to A); they take turns, each episode starting where the
previous one left the scene, so a robot trains for hours without a person resetting it.

- :class:`ResetFreeSchedule` says which direction runs next and when the scene needs a real
  reset: at the start, and when the object left the reachable workspace (counted: on a robot,
  each is a person's intervention). A direction whose goal is already met where the scene is
  (the forward policy failed and left the cube in A, which is the backward goal) is skipped.
- :func:`train_forward_backward` runs it on a Gymnasium env with ``direction`` and
  ``keep_objects`` reset options (``serl_sim``'s ``PandaBinRelocation-v0``): one agent, one
  online buffer, one demo buffer (scripted expert) and one checkpoint per direction; an agent
  learns only from its own direction's transitions, ``agent.update`` once per env step of its
  direction (its configured UTD). Each direction is evaluated on its own env with full resets
  (evaluation may reset; fixed seeds).
"""

from dataclasses import dataclass
from pathlib import Path
import time
from typing import Callable, Dict, List, Optional, Tuple

import gymnasium as gym
from serl_agent.agents.config import AgentConfig
from serl_agent.agents.registry import load_config, make_agent
from serl_agent.data import checkpoint
from serl_agent.data.replay import ReplayBuffer
from serl_agent.runtime.evaluation import EVAL_SEED, evaluate_policy

DIRECTIONS = ('forward', 'backward')


def other(direction: str) -> str:
    """Return the other direction ('forward' <-> 'backward')."""
    return DIRECTIONS[1 - DIRECTIONS.index(direction)]


@dataclass
class ResetFreeSchedule:
    """
    Which direction runs next, and whether the scene must be reset (see the module docstring).

    :ivar direction: the direction of the episode about to run.
    :ivar resets: real resets so far (the first one included).
    :ivar out_of_reach_resets: resets because the object was out of reach.
    :ivar skipped: episodes not run because their goal was already met where the scene was.
    """

    direction: str = 'forward'
    resets: int = 0
    out_of_reach_resets: int = 0
    skipped: int = 0
    started: bool = False

    def next_episode(self, in_reach: bool) -> Tuple[str, bool]:
        """
        Decide the next episode after the previous one ended.

        :param in_reach: whether the object can still be handled (ignored before the first
            episode, which always starts with a reset).
        :returns: ``(direction, reset)``: the direction to run and whether to reset the scene
            (True) or start with the objects where they are (False).
        """
        if not self.started:
            self.started = True
            self.resets += 1
            return self.direction, True
        self.direction = other(self.direction)
        if not in_reach:
            self.resets += 1
            self.out_of_reach_resets += 1
            return self.direction, True
        return self.direction, False

    def goal_already_met(self) -> str:
        """Record that the episode's goal held at its start; return the other direction."""
        self.skipped += 1
        self.direction = other(self.direction)
        return self.direction


def object_in_reach(env: gym.Env) -> bool:
    """Return whether a serl_sim env's object is in reach (True for other envs)."""
    task = getattr(env.unwrapped, 'task', None)
    check = getattr(task, 'object_in_reach', None)
    return True if check is None else bool(check(env.unwrapped.sim))


@dataclass
class DirectionState:
    """One direction's agent, buffers, checkpoint directory and counters."""

    agent: object
    online: ReplayBuffer
    demo: Optional[ReplayBuffer]
    run_dir: Path
    eval_env: gym.Env
    env_steps: int = 0
    episodes: int = 0
    successes: int = 0


def train_forward_backward(env_id: str, steps: int, run_dir, config: Optional[AgentConfig] = None,
                           agent_name: str = 'rlpd', seed: int = 0,
                           demo_factory: Optional[Callable[[gym.Env], ReplayBuffer]] = None,
                           eval_every: int = 2000, eval_episodes: int = 20,
                           target_success: float = 0.9, capacity: int = 200_000,
                           in_reach: Callable[[gym.Env], bool] = object_in_reach,
                           log: Optional[Callable[[str], None]] = None,
                           first_direction: str = 'forward',
                           stop_at_target: bool = True) -> dict:
    """
    Train a forward and a backward agent in turns on one env, resetting only when needed.

    :param env_id: a Gymnasium env taking ``direction=`` and the reset options ``direction``
        and ``keep_objects`` (``PandaBinRelocation-v0``); actions already in [-1, 1].
    :param steps: env steps in all (both directions).
    :param run_dir: run directory: ``<run_dir>/forward`` and ``<run_dir>/backward`` hold each
        agent's checkpoints (resumed when present).
    :param config: the agents' config (the agent's defaults when None).
    :param demo_factory: ``demo_factory(env)`` fills a direction's demo buffer from an env
        made in that direction (e.g. the scripted expert); None: no demos.
    :param eval_every: env steps (in all) between evaluations of both directions.
    :param eval_episodes: deterministic episodes per direction and evaluation.
    :param target_success: stop once both directions reach it in the same evaluation (with
        ``stop_at_target``; else train on to ``steps``, e.g. to see whether success lasts and
        how often the scene needs a reset later).
    :param in_reach: ``in_reach(env)``: whether the object can still be handled.
    :param log: called with one line per evaluation.
    :param first_direction: the direction of the first episode (after a reset).
    :returns: ``{'env_steps', 'episodes', 'resets', 'out_of_reach_resets', 'lost_at' (the
        object's position, m, where each out-of-reach episode left it), 'skipped',
        'evals': [(env_steps, forward_success, backward_success)], 'reached_at' (env steps
        of the first evaluation where both reached ``target_success``, or None),
        'at_target': {'episodes', 'resets', 'out_of_reach_resets'} when ``reached_at`` was
        recorded (else None),
        'per_direction': {direction: {'env_steps', 'episodes', 'successes', 'critic_updates'}},
        'seconds'}``.
    :raises ValueError: an env without the ``direction`` option, or a bad config.
    """
    import serl_sim  # noqa: F401 - registers the serl_sim envs
    config = config if config is not None else load_config(agent_name)
    run_dir = checkpoint.open_run(run_dir)
    env = gym.make(env_id, direction='forward')
    env.action_space.seed(seed)
    states: Dict[str, DirectionState] = {}
    for i, direction in enumerate(DIRECTIONS):
        eval_env = gym.make(env_id, direction=direction)
        agent = make_agent(agent_name, env.observation_space, env.action_space, config,
                           seed=seed + 1000 * i)
        demo = demo_factory(gym.make(env_id, direction=direction)) if demo_factory else None
        state = DirectionState(agent, ReplayBuffer(env.observation_space, env.action_space,
                                                   capacity), demo,
                               checkpoint.open_run(run_dir / direction), eval_env)
        agent.observe_buffer(demo)
        restored = checkpoint.load(state.run_dir, agent, {'online': state.online})
        if restored is not None:
            state.env_steps = int(restored['counters'].get('env_steps', 0))
            state.episodes = int(restored['counters'].get('episodes', 0))
        states[direction] = state
    schedule = ResetFreeSchedule(first_direction)
    evals: List[Tuple[int, float, float]] = []
    reached_at = None
    at_target = None
    t0 = time.time()

    def total_steps():
        return sum(s.env_steps for s in states.values())

    def evaluate_both():
        nonlocal reached_at, at_target
        rates = {}
        for direction, s in states.items():
            rates[direction] = evaluate_policy(s.agent, s.eval_env, eval_episodes,
                                               EVAL_SEED)['success_rate']
        evals.append((total_steps(), rates['forward'], rates['backward']))
        if log is not None:
            log(f'{total_steps()} env steps: forward {rates["forward"]:.0%}, backward '
                f'{rates["backward"]:.0%}; resets {schedule.resets} in '
                f'{sum(s.episodes for s in states.values())} episodes')
        if reached_at is None and min(rates.values()) >= target_success:
            reached_at = total_steps()
            at_target = {'episodes': sum(s.episodes for s in states.values()),
                         'resets': schedule.resets,
                         'out_of_reach_resets': schedule.out_of_reach_resets}

    def save():
        for s in states.values():
            checkpoint.save(s.run_dir, s.agent, {'online': s.online},
                            {'env_steps': s.env_steps, 'episodes': s.episodes})

    next_eval = (total_steps() // eval_every + 1) * eval_every if eval_every else None
    episode_seed = seed
    lost = []   # where the object was when an episode left it out of reach (m, fr3_link0)
    obs = None
    try:
        while total_steps() < steps and (reached_at is None or not stop_at_target):
            reach = in_reach(env)
            if schedule.started and not reach and obs is not None and 'object_pos' in obs:
                lost.append([round(float(v), 3) for v in obs['object_pos']])
            direction, reset = schedule.next_episode(reach)
            episode_seed += 1
            options = {'direction': direction} if reset else {'direction': direction,
                                                              'keep_objects': True}
            obs, info = env.reset(seed=episode_seed if reset else None, options=options)
            if info.get('succeed'):   # this direction's goal holds already: the other runs
                direction = schedule.goal_already_met()
                obs, info = env.reset(options={'direction': direction, 'keep_objects': True})
            s = states[direction]
            done = False
            while not done:
                action = s.agent.act(obs)
                next_obs, reward, terminated, truncated, info = env.step(action)
                s.online.insert(obs, action, reward, next_obs, terminated, truncated)
                s.agent.observe(obs)
                s.env_steps += 1
                s.agent.update(s.online, s.demo)
                obs, done = next_obs, terminated or truncated
                if next_eval is not None and total_steps() >= next_eval:
                    evaluate_both()
                    next_eval += eval_every
            s.episodes += 1
            s.successes += int(bool(info.get('succeed')))
    finally:
        save()
        env.close()
        for s in states.values():
            s.eval_env.close()
    return {'env_steps': total_steps(), 'episodes': sum(s.episodes for s in states.values()),
            'resets': schedule.resets, 'out_of_reach_resets': schedule.out_of_reach_resets,
            'skipped': schedule.skipped, 'evals': evals, 'reached_at': reached_at,
            'at_target': at_target,
            'lost_at': lost,
            'per_direction': {d: {'env_steps': s.env_steps, 'episodes': s.episodes,
                                  'successes': s.successes,
                                  'critic_updates': s.agent.critic_updates}
                              for d, s in states.items()},
            'seconds': time.time() - t0}
