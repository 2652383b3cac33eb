"""What a task adds to the scene: its objects, how an episode starts, and when it succeeds."""

import abc
from typing import Dict, Optional, Tuple

import numpy as np
from serl_controller.params import ImpedanceParams
from serl_sim import description

#: TCP orientation of every task: pointing down (quaternion xyzw, ``fr3_link0``).
DOWN = np.array([1.0, 0.0, 0.0, 0.0])


class Task(abc.ABC):
    """
    A SERL task on the FR3 scene (pure MuJoCo + numpy).

    Attributes (class level, override per task):
        name: short name, e.g. ``'pick_cube'``.
        workspace_min / workspace_max: (3,) m, corners of the box in ``fr3_link0`` the TCP
            target is clipped into.
        gripper_locked: the gripper stays closed whatever the action says (peg insertion).
        gripper_speed: m/s of opening, the fastest the fingers' command moves
            (``description.GRIPPER_SPEED``, a real hand's); None: the command jumps and the
            fingers' position servo alone sets their speed (up to 5 m/s per finger).
        impedance: overrides of ``serl_controller.params.ImpedanceParams`` for this task's
            Gymnasium env (stiffness, clip, ...).

    """

    name = 'task'
    workspace_min = np.array([0.2, -0.3, 0.0])
    workspace_max = np.array([0.6, 0.3, 0.5])
    gripper_locked = False
    gripper_speed: Optional[float] = description.GRIPPER_SPEED
    impedance: Dict[str, object] = {}

    def impedance_params(self, **fields) -> ImpedanceParams:
        """
        Return the law's parameters for this task: ImpedanceParams defaults, ``impedance`` on top.

        The workspace box is not taken from ``impedance`` (the caller decides it: the env clips
        to the task's box, the sim node keeps the controller's); ``fields`` are applied last.
        Not validated (the callers validate, naming their own parameters).
        """
        overrides = {k: v for k, v in self.impedance.items()
                     if k not in ('workspace_min', 'workspace_max')}
        return ImpedanceParams(**{**overrides, **fields})

    def mjcf_asset(self) -> str:
        """MJCF fragment added to ``<asset>``."""
        return ''

    @abc.abstractmethod
    def mjcf_worldbody(self) -> str:
        """MJCF fragment added to ``<worldbody>``: the task's objects."""

    @abc.abstractmethod
    def bind(self, sim) -> None:
        """Look up the task's ids in ``sim.model`` (called once, after the model is built)."""

    @abc.abstractmethod
    def reset(self, sim, rng: np.random.Generator) -> None:
        """
        Sample the layout from ``rng``, place the objects and the arm (``sim.data``).

        On return the arm holds its start configuration with zero velocity and the gripper
        control is set; the caller runs ``mj_forward``.
        """

    @abc.abstractmethod
    def success(self, sim) -> Tuple[bool, str]:
        """Return (success, human-readable reason) for the current ``sim.data``."""

    @abc.abstractmethod
    def object_pose(self, sim) -> Tuple[np.ndarray, np.ndarray]:
        """Pose of the task object in ``fr3_link0``: position (3,) m, quaternion (4,) xyzw."""
