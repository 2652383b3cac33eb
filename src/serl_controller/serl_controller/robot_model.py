"""
Robot state and the robot-model interface the impedance law reads its model quantities from.

The controller never asks a simulator or a robot driver directly: it receives a `RobotState`
built by a `RobotModel`. In simulation `serl_controller.mujoco_model.MujocoRobotModel` fills it
from MuJoCo; on the real FR3 the same quantities come from libfranka's robot state (franka_ros2's
`franka_robot_state_broadcaster` / the model interface of a C++ controller).

Gravity convention: like the FR3 (whose firmware adds gravity compensation to every torque
command), torques computed from a `RobotState` exclude gravity. `coriolis` therefore holds only
the Coriolis and centrifugal torques C(q, dq) dq, never g(q); a simulator must compensate gravity
itself (see docs/architecture.md, "Gravity").
"""

from dataclasses import dataclass
import math
from typing import Protocol, runtime_checkable

import numpy as np

ARM_DOF = 7
_SHAPES = ((ARM_DOF,), (ARM_DOF,), (3,), (4,), (6, ARM_DOF), (ARM_DOF, ARM_DOF), (ARM_DOF,))


@dataclass(frozen=True)
class RobotState:
    """
    Joint state and model quantities of a 7-DoF arm at one instant (all float64).

    Attributes
    ----------
        q: (7,) joint positions, rad.
        dq: (7,) joint velocities, rad/s.
        tcp_position: (3,) TCP position in the base frame (`fr3_link0`), m.
        tcp_quaternion: (4,) TCP orientation in the base frame, unit quaternion (x, y, z, w).
        jacobian: (6, 7) geometric TCP Jacobian in the base frame; rows 0-2 linear velocity
            (m/s per rad/s), rows 3-5 angular velocity (rad/s per rad/s).
        mass_matrix: (7, 7) joint-space inertia matrix M(q), kg m^2.
        coriolis: (7,) Coriolis and centrifugal torques C(q, dq) dq, N m (no gravity).

    """

    q: np.ndarray
    dq: np.ndarray
    tcp_position: np.ndarray
    tcp_quaternion: np.ndarray
    jacobian: np.ndarray
    mass_matrix: np.ndarray
    coriolis: np.ndarray

    def validate(self) -> None:
        """
        Check shapes and finiteness.

        Raises
        ------
            ValueError: naming the first field with a wrong shape or a NaN/inf entry.

        """
        values = (self.q, self.dq, self.tcp_position, self.tcp_quaternion, self.jacobian,
                  self.mass_matrix, self.coriolis)
        try:
            # Fast path for the 1 kHz loop: one finiteness test of a sum (NaN/inf propagate).
            if (tuple(v.shape for v in values) == _SHAPES
                    and math.isfinite(sum(float(v.sum()) for v in values))):
                return
        except AttributeError:
            pass
        shapes = {
            'q': (ARM_DOF,), 'dq': (ARM_DOF,), 'tcp_position': (3,), 'tcp_quaternion': (4,),
            'jacobian': (6, ARM_DOF), 'mass_matrix': (ARM_DOF, ARM_DOF), 'coriolis': (ARM_DOF,),
        }
        for name, shape in shapes.items():
            value = getattr(self, name)
            if getattr(value, 'shape', None) != shape:
                shape_found = np.shape(value)
                raise ValueError(f'RobotState.{name} has shape {shape_found}, expected {shape}')
            if not np.isfinite(value).all():
                raise ValueError(f'RobotState.{name} contains NaN or inf: {value}')


@runtime_checkable
class RobotModel(Protocol):
    """Anything that turns a joint state into a `RobotState` (kinematics and dynamics)."""

    def state(self, q: np.ndarray, dq: np.ndarray) -> RobotState:
        """Return the `RobotState` at joint positions `q` (7,) rad, velocities `dq` (7,) rad/s."""
        ...
