"""
Scripted experts for the sim tasks: they produce the demonstrations RLPD starts from.

Each expert is a small state machine over waypoints of the TCP. It reads the TCP from the
observation and the task's ground truth (object or hole position) from the simulator, so the
same expert drives the state and the vision variant of a task. Actions follow the env's
convention: (dx, dy, dz) = (waypoint - TCP) / action_scale clipped to [-1, 1]; gripper -1 closes,
+1 opens.
"""

from typing import Callable, Dict

import numpy as np

from serl_sim.tasks.peg_insert import (
    HOLE_DEPTH, PEG_BELOW_TCP, PEG_HALF_LENGTH, PegInsertTask)
from serl_sim.tasks.pick_cube import CUBE_HALF, PickCubeTask

Policy = Callable[[Dict[str, np.ndarray]], np.ndarray]


def _toward(target: np.ndarray, tcp: np.ndarray, scale: float, gripper: float,
            gain: float = 1.0) -> np.ndarray:
    delta = gain * (target - tcp) / scale
    return np.concatenate((np.clip(delta, -1.0, 1.0), [gripper])).astype(np.float32)


class _Expert:
    """Shared episode bookkeeping: a drop of the simulated time means a new episode."""

    def __init__(self, env) -> None:
        self.env = env.unwrapped
        self._last_time = float('inf')
        self.reset()

    def reset(self) -> None:
        """Start a new episode's state machine."""
        raise NotImplementedError

    def _new_episode_check(self) -> None:
        now = self.env.sim.time
        if now < self._last_time:
            self.reset()
        self._last_time = now


class PickCubeExpert(_Expert):
    """
    Above the cube, down, close, lift: 35-60 steps per episode.

    Parameters
    ----------
    env
        a pick-cube env (``PandaPickCube-v0`` or ``PandaPickCubeVision-v0``), possibly
        wrapped.

    """

    HOVER = 0.06        # m above the cube centre before descending
    LIFT_TO = 0.2       # m, TCP height to lift to (cube bottom ~0.18 m above the table)

    def reset(self) -> None:
        """Start a new episode's state machine."""
        self.phase = 'approach'
        self.closing_steps = 0

    def __call__(self, obs: Dict[str, np.ndarray]) -> np.ndarray:
        """Return the action (4,) float32 for observation ``obs``."""
        env = self.env
        tcp = np.asarray(obs['tcp_pose'][:3], dtype=np.float64)
        self._new_episode_check()
        cube = env.task.cube_position(env.sim)
        scale = env.action_scale
        if self.phase == 'approach':
            target = cube + [0.0, 0.0, self.HOVER]
            if np.linalg.norm((target - tcp)[:2]) < 0.006 and abs(target[2] - tcp[2]) < 0.02:
                self.phase = 'descend'
            return _toward(target, tcp, scale, 1.0)
        if self.phase == 'descend':
            target = cube.copy()
            target[2] = CUBE_HALF
            if tcp[2] - target[2] < 0.008:
                self.phase = 'close'
            return _toward(target, tcp, scale, 1.0)
        if self.phase == 'close':
            self.closing_steps += 1
            if self.closing_steps >= 4:
                self.phase = 'lift'
            return _toward(tcp, tcp, scale, -1.0)
        target = np.array([tcp[0], tcp[1], self.LIFT_TO])
        return _toward(target, tcp, scale, -1.0)


class PegInsertExpert(_Expert):
    """
    Align over the hole at the start height, then push straight down (compliantly).

    Parameters
    ----------
    env
        a ``PandaPegInsert-v0`` env, possibly wrapped.
    aim_offset
        (3,) m added to the hole position the expert aims at (0 by default); a misaligned
        expert shows what the arm's compliance absorbs.

    """

    ALIGNED = 0.002    # m, xy error below which the expert descends (the round tip guides)

    def __init__(self, env, aim_offset=(0.0, 0.0, 0.0)) -> None:
        self.aim_offset = np.asarray(aim_offset, dtype=np.float64)
        super().__init__(env)

    def reset(self) -> None:
        """Start a new episode's state machine."""
        self.phase = 'align'

    def __call__(self, obs: Dict[str, np.ndarray]) -> np.ndarray:
        """Return the action (4,) float32 for observation ``obs``."""
        env = self.env
        self._new_episode_check()
        tcp = np.asarray(obs['tcp_pose'][:3], dtype=np.float64)
        hole = env.task.hole_top(env.sim) + self.aim_offset
        peg_tip = tcp[2] - PEG_BELOW_TCP - PEG_HALF_LENGTH
        scale = env.action_scale
        xy_error = np.linalg.norm(hole[:2] - tcp[:2])
        if self.phase == 'align' and peg_tip < hole[2] - 0.005:
            self.phase = 'insert'
        if self.phase == 'align':
            hover = hole[2] + 0.01 + PEG_BELOW_TCP + PEG_HALF_LENGTH
            target = np.array([hole[0], hole[1], max(tcp[2], hover)
                               if xy_error > 0.005 else hover])
            if xy_error < self.ALIGNED and abs(target[2] - tcp[2]) < 0.003:
                self.phase = 'insert'
            return _toward(target, tcp, scale, -1.0)
        bottom = hole[2] - HOLE_DEPTH + PEG_BELOW_TCP + PEG_HALF_LENGTH
        target = np.array([hole[0], hole[1], bottom])
        return _toward(target, tcp, scale, -1.0)


def make_expert(env) -> Policy:
    """
    Return the scripted expert of ``env``'s task: a callable ``obs -> action`` (4,) float32.

    The expert reads ground truth from the simulator (``env.unwrapped.sim``); call its
    ``reset()`` at each episode start (it also restarts by itself when it sees one).

    Raises
    ------
        ValueError: when ``env`` is not one of serl_sim's envs.

    """
    task = getattr(env.unwrapped, 'task', None)
    if isinstance(task, PickCubeTask):
        return PickCubeExpert(env)
    if isinstance(task, PegInsertTask):
        return PegInsertExpert(env)
    raise ValueError(f'no scripted expert for {env!r}: not a serl_sim env')
