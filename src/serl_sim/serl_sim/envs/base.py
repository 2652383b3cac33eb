"""
Gymnasium env shared by the tasks: 10 Hz actions, the impedance law at the physics rate.

Each ``step`` moves the equilibrium pose of ``serl_controller``'s Cartesian impedance
controller (the same law the controller node runs on the real FR3) by the action and then runs
the law on every physics step (500 Hz by default) for one control period (0.1 s).

Action: Box(-1, 1, (4,)) = (dx, dy, dz, gripper). The equilibrium position becomes the current
TCP position + ``action_scale`` * (dx, dy, dz) (m; SERL's real-robot convention), clipped into
the task's workspace box; the orientation stays pointing down. gripper < 0 closes, > 0 opens,
0 keeps the last command (ignored by tasks with a locked gripper).

Observation: a Dict of float32 ``tcp_pose`` (7: m, quaternion xyzw), ``tcp_vel`` (6: m/s,
rad/s), ``gripper_width`` (1: m) and, for state tasks, ``object_pos`` (3: m) and ``object_rel``
(3: m, ``object_pos`` minus the TCP position: where the object is as seen from the gripper, the
quantity a reaching policy acts on); vision tasks replace both by ``front`` and ``wrist`` uint8
RGB images (128, 128, 3). All in ``fr3_link0``.

Reward: sparse, 1.0 on success (then ``terminated``); ``truncated`` after ``max_episode_steps``
(100 through ``gymnasium.make``, whose ``TimeLimit`` the registration sets; ``gym.make(id,
max_episode_steps=N)`` changes it); ``info['succeed']`` is the success flag.
"""

from typing import Any, Dict, Optional, Tuple

import gymnasium as gym
from gymnasium import spaces
import numpy as np

from serl_sim import description
from serl_sim.impedance_loop import ImpedanceLoop
from serl_sim.rendering import CameraRenderer
from serl_sim.scene import CAMERA_NAMES
from serl_sim.simulation import FrankaSim
from serl_sim.tasks.base import DOWN, Task

#: Observation bounds (observations are clipped to them): positions within 2 m of the base,
#: unit quaternions, TCP speeds up to 5 m/s and 30 rad/s (beyond the FR3's limits).
POSE_BOUND = np.array([2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0], np.float32)
VELOCITY_BOUND = np.array([5.0, 5.0, 5.0, 30.0, 30.0, 30.0], np.float32)


def _box(bound: np.ndarray) -> spaces.Box:
    return spaces.Box(-bound, bound, bound.shape, np.float32)


class FrankaEnv(gym.Env):
    """
    The FR3 scene with one task as a Gymnasium env.

    Parameters
    ----------
    task
        the task (objects, reset, success).
    image_obs
        observe the ``front`` and ``wrist`` cameras instead of the object position.
    render_mode
        None or ``'rgb_array'`` (the front camera).
    control_dt
        s per env step (0.1: 10 Hz).
    physics_dt
        s per physics step; the impedance law runs on each (0.002: 500 Hz).
    action_scale
        m of equilibrium translation per unit action.
    max_episode_steps
        steps before ``truncated``; None (default) leaves the limit to ``gymnasium.make``'s
        ``TimeLimit`` (100 steps as registered).
    image_size
        (height, width) of the camera images.
    settle_steps
        physics steps run at reset with the law holding the start pose.

    Raises
    ------
        ValueError: if ``control_dt`` is not a multiple of ``physics_dt`` or the law would run
            slower than 500 Hz.

    """

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 10}

    def __init__(self, task: Task, image_obs: bool = False, render_mode: Optional[str] = None,
                 control_dt: float = 0.1, physics_dt: float = 0.002, action_scale: float = 0.03,
                 max_episode_steps: Optional[int] = None, image_size: Tuple[int, int] = (128, 128),
                 settle_steps: int = 25) -> None:
        substeps = control_dt / physics_dt
        if abs(substeps - round(substeps)) > 1e-6 or round(substeps) < 1:
            raise ValueError(f'control_dt {control_dt} must be a multiple of physics_dt '
                             f'{physics_dt}')
        if physics_dt > 0.002 + 1e-12:
            raise ValueError(f'physics_dt {physics_dt} s runs the law below 500 Hz')
        if render_mode not in (None, 'rgb_array'):
            raise ValueError(f'render_mode must be None or "rgb_array", got {render_mode!r}')
        self.task = task
        self.sim = FrankaSim(task, physics_dt)
        self.image_obs = image_obs
        self.render_mode = render_mode
        self.control_dt = control_dt
        self.substeps = int(round(substeps))
        self.action_scale = action_scale
        self.max_episode_steps = max_episode_steps
        self.settle_steps = settle_steps
        self.image_size = tuple(image_size)
        self.params = task.impedance_params(
            workspace_min=tuple(task.workspace_min), workspace_max=tuple(task.workspace_max),
        ).validate()
        self.impedance = ImpedanceLoop(self.sim, self.params)
        self._renderer: Optional[CameraRenderer] = None
        self._steps = 0
        self._gripper_command = 1.0

        obs = {
            'tcp_pose': _box(POSE_BOUND),
            'tcp_vel': _box(VELOCITY_BOUND),
            'gripper_width': spaces.Box(0.0, 2 * description.FINGER_TRAVEL, (1,), np.float32),
        }
        if image_obs:
            for name in CAMERA_NAMES:
                obs[name] = spaces.Box(0, 255, self.image_size + (3,), np.uint8)
        else:
            obs['object_pos'] = _box(POSE_BOUND[:3])
            obs['object_rel'] = _box(2 * POSE_BOUND[:3])
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: Optional[int] = None,
              options: Optional[Dict[str, Any]] = None) -> Tuple[Dict[str, np.ndarray], Dict]:
        """
        Sample a new layout from the env's RNG (re-seeded when ``seed`` is given).

        ``options={'keep_objects': True}``: only the arm and gripper start over, the task's
        objects stay where they are (a reset-free episode start).
        """
        super().reset(seed=seed)
        self.sim.reset(self.np_random, keep_objects=bool((options or {}).get('keep_objects')))
        self.impedance.activate()
        self.impedance.set_target(self.sim.tcp_position(), DOWN)
        self._gripper_command = -1.0 if self.task.gripper_locked else 1.0
        self._run_law(self.settle_steps)
        self._steps = 0
        succeed, _ = self.sim.success()
        return self._observation(), {'succeed': succeed}

    def step(self, action: np.ndarray):
        """
        Apply one action for ``control_dt``; return (obs, reward, terminated, truncated, info).

        Raises
        ------
            ValueError: if the action has the wrong shape or NaN/inf entries.

        """
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (4,):
            raise ValueError(f'action must have shape (4,), got {action.shape}')
        if not np.all(np.isfinite(action)):
            raise ValueError(f'action contains NaN or inf: {action}')
        action = np.clip(action, -1.0, 1.0)
        target = np.clip(self.sim.tcp_position() + self.action_scale * action[:3],
                         self.task.workspace_min, self.task.workspace_max)
        self.impedance.set_target(target, DOWN)
        if not self.task.gripper_locked and action[3] != 0.0:
            self._gripper_command = float(np.sign(action[3]))
        self._run_law(self.substeps)
        self._steps += 1
        succeed, _ = self.sim.success()
        truncated = (not succeed and self.max_episode_steps is not None
                     and self._steps >= self.max_episode_steps)
        return self._observation(), float(succeed), succeed, truncated, {'succeed': succeed}

    def render(self) -> Optional[np.ndarray]:
        """Return the front camera image, uint8 (H, W, 3), in ``rgb_array`` mode (else None)."""
        if self.render_mode != 'rgb_array':
            return None
        return self._camera_renderer().render(self.sim.data, 'front')

    def close(self) -> None:
        """Free the renderer's GL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ------------------------------------------------------------------ internals
    def _run_law(self, steps: int) -> None:
        width = 0.0 if self._gripper_command < 0 else 2 * description.FINGER_TRAVEL
        self.sim.set_gripper(width)
        step = self.impedance.step
        for _ in range(steps):
            step()

    def _camera_renderer(self) -> CameraRenderer:
        if self._renderer is None:
            self._renderer = CameraRenderer(self.sim.model, *self.image_size)
        return self._renderer

    def _observation(self) -> Dict[str, np.ndarray]:
        sim = self.sim
        pose = np.concatenate((sim.tcp_position(), sim.tcp_quaternion()))
        obs = {
            'tcp_pose': np.clip(pose, -POSE_BOUND, POSE_BOUND).astype(np.float32),
            'tcp_vel': np.clip(sim.tcp_velocity(), -VELOCITY_BOUND, VELOCITY_BOUND
                               ).astype(np.float32),
            'gripper_width': np.clip([sim.gripper_width()], 0.0, 2 * description.FINGER_TRAVEL
                                     ).astype(np.float32),
        }
        if self.image_obs:
            renderer = self._camera_renderer()
            for name in CAMERA_NAMES:
                obs[name] = renderer.render(sim.data, name)
        else:
            obj = np.clip(sim.object_pose()[0], -POSE_BOUND[:3], POSE_BOUND[:3])
            obs['object_pos'] = obj.astype(np.float32)
            obs['object_rel'] = (obj - pose[:3]).astype(np.float32)
        return obs
