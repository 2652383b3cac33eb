"""
Scripted experts for the sim tasks: they produce the demonstrations RLPD starts from.

Each expert is a small state machine over waypoints of the TCP. It reads the TCP and, when the
observation has one, ``object_pos`` (the cube, or the hole's opening) from the observation, so
it also drives an env built on ROS topics (``/sim/object_pose``); without ``object_pos`` (vision
envs) it reads the task's ground truth from the simulator. Actions follow the env's convention:
(dx, dy, dz) = (waypoint - TCP) / action_scale clipped to [-1, 1]; gripper -1 closes, +1 opens.

Call ``reset()`` at each episode start. Without that call, an expert with a simulator notices a
new episode by the simulated time going back; one without notices a jump of the TCP or of the
object (a teleport no 10 Hz step can make).
"""

from typing import Callable, Dict, Optional

import numpy as np

from serl_sim.tasks.bin_relocation import BinRelocationTask, TCP_CEILING
from serl_sim.tasks.peg_insert import (
    HOLE_DEPTH, PEG_BELOW_TCP, PEG_HALF_LENGTH, PegInsertTask)
from serl_sim.tasks.pick_cube import CUBE_HALF, PickCubeTask

Policy = Callable[[Dict[str, np.ndarray]], np.ndarray]
DEFAULT_ACTION_SCALE = 0.03


def _toward(target: np.ndarray, tcp: np.ndarray, scale: float, gripper: float,
            gain: float = 1.0) -> np.ndarray:
    delta = gain * (target - tcp) / scale
    return np.concatenate((np.clip(delta, -1.0, 1.0), [gripper])).astype(np.float32)


class _Expert:
    """Shared bookkeeping: action scale, object position source, new-episode detection."""

    #: m: a TCP or object displacement between two calls that only a reset makes.
    JUMP = 0.06

    def __init__(self, env=None, action_scale: Optional[float] = None) -> None:
        self.env = env.unwrapped if env is not None else None
        if action_scale is None:
            action_scale = getattr(self.env, 'action_scale', DEFAULT_ACTION_SCALE)
        self.action_scale = float(action_scale)
        self._last_time = float('inf')
        self._last_tcp: Optional[np.ndarray] = None
        self._last_object: Optional[np.ndarray] = None
        self.reset()

    def reset(self) -> None:
        """Start a new episode's state machine."""
        raise NotImplementedError

    def _ground_truth(self) -> np.ndarray:
        raise NotImplementedError

    def _observe(self, obs: Dict[str, np.ndarray]):
        """Return (tcp, object) positions (3,) float64; reset on a detected new episode."""
        tcp = np.asarray(obs['tcp_pose'][:3], dtype=np.float64)
        if 'object_pos' in obs:
            obj = np.asarray(obs['object_pos'], dtype=np.float64)
        elif self.env is not None:
            obj = self._ground_truth()
        else:
            raise ValueError('the observation has no object_pos and the expert has no '
                             'simulator to read the object from')
        sim = getattr(self.env, 'sim', None)
        if sim is not None:
            if sim.time < self._last_time:
                self.reset()
            self._last_time = sim.time
        elif self._last_tcp is not None and (
                np.linalg.norm(tcp - self._last_tcp) > self.JUMP
                or np.linalg.norm(obj - self._last_object) > self.JUMP):
            self.reset()
        self._last_tcp, self._last_object = tcp, obj
        return tcp, obj


class PickCubeExpert(_Expert):
    """
    Above the cube (gripper closed), open, down, close, lift: 25-60 steps per episode.

    The approach is flown with the gripper closed and the gripper opens above the cube. For the
    task this changes nothing; for the reward classifier trained on the demos it matters: without
    it, closed fingers appear only around the cube, the classifier learns "fingers closed" as the
    success cue, and a policy closing the gripper on nothing gets rewarded (measured in
    docs/benchmarks.md, serl_reward).

    Parameters
    ----------
    env
        a pick-cube env (``PandaPickCube-v0`` or ``PandaPickCubeVision-v0``), possibly
        wrapped; None for an env without a simulator (then ``object_pos`` must be observed).
    action_scale
        m per unit action; default the env's ``action_scale`` (0.03 without an env).
    approach_closed
        fly the approach with the gripper closed (default); False keeps it open throughout.

    """

    HOVER = 0.06        # m above the cube centre before descending
    LIFT_TO = 0.2       # m, TCP height to lift to (cube bottom ~0.18 m above the table)
    OPEN_STEPS = 3      # steps held at the hover point to open the gripper after the approach

    def __init__(self, env=None, action_scale: Optional[float] = None,
                 approach_closed: bool = True) -> None:
        self.approach_closed = bool(approach_closed)
        super().__init__(env, action_scale)

    def reset(self) -> None:
        """Start a new episode's state machine."""
        self.phase = 'approach'
        self.closing_steps = 0
        self.opening_steps = 0

    def _ground_truth(self) -> np.ndarray:
        return self.env.task.cube_position(self.env.sim)

    def __call__(self, obs: Dict[str, np.ndarray]) -> np.ndarray:
        """Return the action (4,) float32 for observation ``obs``."""
        tcp, cube = self._observe(obs)
        scale = self.action_scale
        if self.phase == 'approach':
            target = cube + [0.0, 0.0, self.HOVER]
            if np.linalg.norm((target - tcp)[:2]) < 0.006 and abs(target[2] - tcp[2]) < 0.02:
                self.phase = 'open' if self.approach_closed else 'descend'
            return _toward(target, tcp, scale, -1.0 if self.approach_closed else 1.0)
        if self.phase == 'open':
            self.opening_steps += 1
            if self.opening_steps >= self.OPEN_STEPS:
                self.phase = 'descend'
            return _toward(cube + [0.0, 0.0, self.HOVER], tcp, scale, 1.0)
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
        a ``PandaPegInsert-v0`` env, possibly wrapped; None for an env without a simulator
        (then ``object_pos``, the hole's opening, must be observed).
    action_scale
        m per unit action; default the env's ``action_scale`` (0.03 without an env).
    aim_offset
        (3,) m added to the hole position the expert aims at (0 by default); a misaligned
        expert shows what the arm's compliance absorbs.

    """

    ALIGNED = 0.002    # m, xy error below which the expert descends (the round tip guides)

    def __init__(self, env=None, action_scale: Optional[float] = None,
                 aim_offset=(0.0, 0.0, 0.0)) -> None:
        self.aim_offset = np.asarray(aim_offset, dtype=np.float64)
        super().__init__(env, action_scale)

    def _ground_truth(self) -> np.ndarray:
        return self.env.task.hole_top(self.env.sim)

    def reset(self) -> None:
        """Start a new episode's state machine."""
        self.phase = 'align'

    def __call__(self, obs: Dict[str, np.ndarray]) -> np.ndarray:
        """Return the action (4,) float32 for observation ``obs``."""
        tcp, hole = self._observe(obs)
        hole = hole + self.aim_offset
        peg_tip = tcp[2] - PEG_BELOW_TCP - PEG_HALF_LENGTH
        scale = self.action_scale
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


class BinRelocationExpert(_Expert):
    """
    Pick the cube up, carry it over the target region, lower it, let go, move up: 45-80 steps.

    The pick is ``PickCubeExpert``'s (approach with the gripper closed, open above the cube,
    descend, close); then lift to ``CARRY_Z``, fly over the target region's centre, lower the
    cube to just above the table and open. A cube lost on the way (farther than 3 cm from the
    TCP) sends the expert back to its approach.

    Parameters
    ----------
    env
        a bin-relocation env (``PandaBinRelocation-v0`` or its vision variant), possibly
        wrapped: the target region follows its task's ``direction`` at every step; None for an
        env without a simulator (then ``object_pos`` must be observed and ``direction`` given).
    action_scale
        m per unit action; default the env's ``action_scale`` (0.03 without an env).
    direction
        ``'forward'`` or ``'backward'``; only without an env.

    Raises
    ------
        ValueError: neither an env nor a direction.

    """

    # under the task's TCP_CEILING (1 cm under the tray's rim)
    HOVER = TCP_CEILING - CUBE_HALF   # m above the cube centre before descending: at the ceiling
    CARRY_Z = TCP_CEILING - 0.005     # m, TCP height while carrying
    RELEASE_Z = CUBE_HALF + 0.006   # m, TCP height at which the cube is let go
    OPEN_STEPS = 3
    CLOSE_STEPS = 4
    LOST = 0.03         # m, cube farther than this from the TCP while carried: lost

    def __init__(self, env=None, action_scale: Optional[float] = None,
                 direction: Optional[str] = None) -> None:
        if env is None and direction is None:
            raise ValueError('BinRelocationExpert needs an env or a direction')
        self.direction = direction
        # without an env, a task of that direction tells the target region (and checks it)
        self._task = BinRelocationTask(direction) if env is None else None
        super().__init__(env, action_scale)

    def reset(self) -> None:
        """Start a new episode's state machine."""
        self.phase = 'approach'
        self.count = 0

    def _ground_truth(self) -> np.ndarray:
        return self.env.task.cube_position(self.env.sim)

    def _target_centre(self) -> np.ndarray:
        task = self.env.task if self.env is not None else self._task
        return task.region_centre(task.target)

    def _next(self, phase: str) -> None:
        self.phase, self.count = phase, 0

    def __call__(self, obs: Dict[str, np.ndarray]) -> np.ndarray:  # noqa: C901 - one machine
        """Return the action (4,) float32 for observation ``obs``."""
        tcp, cube = self._observe(obs)
        scale = self.action_scale
        goal = self._target_centre()
        carried = self.phase in ('lift', 'carry', 'lower')
        if carried and np.linalg.norm(cube - tcp) > self.LOST:
            self._next('approach')
        self.count += 1
        if self.phase == 'approach':
            target = cube + [0.0, 0.0, self.HOVER]
            if np.linalg.norm((target - tcp)[:2]) < 0.006 and abs(target[2] - tcp[2]) < 0.02:
                self._next('open')
            return _toward(target, tcp, scale, -1.0)
        if self.phase == 'open':
            if self.count >= self.OPEN_STEPS:
                self._next('descend')
            return _toward(cube + [0.0, 0.0, self.HOVER], tcp, scale, 1.0)
        if self.phase == 'descend':
            target = np.array([cube[0], cube[1], CUBE_HALF])
            if tcp[2] - target[2] < 0.008:
                self._next('close')
            return _toward(target, tcp, scale, 1.0)
        if self.phase == 'close':
            if self.count >= self.CLOSE_STEPS:
                self._next('lift')
            return _toward(tcp, tcp, scale, -1.0)
        if self.phase == 'lift':
            target = np.array([tcp[0], tcp[1], self.CARRY_Z])
            if tcp[2] > self.CARRY_Z - 0.01:
                self._next('carry')
            return _toward(target, tcp, scale, -1.0)
        if self.phase == 'carry':
            target = np.array([goal[0], goal[1], self.CARRY_Z])
            if np.linalg.norm((target - tcp)[:2]) < 0.008:
                self._next('lower')
            return _toward(target, tcp, scale, -1.0)
        if self.phase == 'lower':
            target = np.array([goal[0], goal[1], self.RELEASE_Z])
            if tcp[2] - self.RELEASE_Z < 0.008:
                self._next('release')
            return _toward(target, tcp, scale, -1.0)
        if self.phase == 'release':
            if self.count >= self.OPEN_STEPS:
                self._next('retreat')
            return _toward(tcp, tcp, scale, 1.0)
        return _toward(np.array([tcp[0], tcp[1], self.CARRY_Z]), tcp, scale, 1.0)


def make_expert(env, task: Optional[str] = None) -> Policy:
    """
    Return the scripted expert of ``env``'s task: a callable ``obs -> action`` (4,) float32.

    For serl_sim's envs the task comes from the env, and the expert may read the simulator's
    ground truth (vision envs). For any other env with the same observation keys (e.g. one
    built on ROS topics, observing ``object_pos`` from ``/sim/object_pose``), name the task.
    Call the expert's ``reset()`` at each episode start (it also notices a new episode).

    Parameters
    ----------
    env
        the env (wrapped or not); its ``unwrapped.action_scale`` is used when it has one.
    task
        ``'pick_cube'`` / ``'peg_insert'`` / ``'bin_relocation_forward'`` /
        ``'bin_relocation_backward'`` or an env id; default from the env (its serl_sim task,
        else ``env.spec.id``).

    Raises
    ------
        ValueError: when the task cannot be told or has no expert.

    """
    sim_task = getattr(env.unwrapped, 'task', None)
    if task is None and isinstance(sim_task, PickCubeTask):
        return PickCubeExpert(env)
    if task is None and isinstance(sim_task, PegInsertTask):
        return PegInsertExpert(env)
    if task is None and isinstance(sim_task, BinRelocationTask):
        return BinRelocationExpert(env)
    name = task or getattr(getattr(env, 'spec', None), 'id', None)
    scale = getattr(env.unwrapped, 'action_scale', None)
    if name in ('pick_cube', 'PandaPickCube-v0', 'PandaPickCubeVision-v0'):
        return PickCubeExpert(None, scale)
    if name in ('peg_insert', 'PandaPegInsert-v0'):
        return PegInsertExpert(None, scale)
    for direction in ('forward', 'backward'):
        if name == f'bin_relocation_{direction}':
            return BinRelocationExpert(None, scale, direction)
    raise ValueError(f'no scripted expert for {env!r} (task {name!r}): not a serl_sim task; '
                     "name it with task='pick_cube', 'peg_insert' or 'bin_relocation_<direction>'")
