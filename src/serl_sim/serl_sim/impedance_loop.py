"""
The Cartesian impedance law closed on the simulated arm at the physics rate.

One code path for everything in serl_sim that drives the arm by an equilibrium pose: the
Gymnasium envs (:mod:`serl_sim.envs.base`) and the sim node's ``control_mode: impedance``, which
emulates franka_ros2's C++ ``cartesian_impedance_example_controller`` (the real FR3 path, where
``serl_controller``'s node runs in ``forward`` mode). The law is ``serl_controller``'s
:class:`~serl_controller.impedance.CartesianImpedanceController` (Khatib 1987, with SERL's
reference limiting, Luo et al. arXiv 2401.16013 Sec. IV-C); its model quantities come from the
simulator's own MuJoCo model through :class:`~serl_controller.mujoco_model.MujocoRobotModel`.
No ROS here.
"""

import math
from typing import Optional, Sequence

import numpy as np
from serl_controller.impedance import CartesianImpedanceController
from serl_controller.mujoco_model import MujocoRobotModel
from serl_controller.params import ImpedanceParams

from serl_sim import description
from serl_sim.simulation import FrankaSim

#: Largest deviation of a target quaternion's norm from 1 that :meth:`ImpedanceLoop.submit`
#: accepts (then normalised); a larger one is a malformed message, not rounding.
QUATERNION_NORM_TOLERANCE = 0.01


class ImpedanceLoop:
    """
    Run the impedance law on every physics step of a :class:`FrankaSim`.

    The target (equilibrium pose) is held until a new one is set, as the C++ controller holds
    its last target; :meth:`activate` (after each reset) makes the current TCP pose the target.

    Parameters
    ----------
    sim
        the simulated arm; the law reads its live state and ``physics_dt``.
    params
        gains, limits and safety box of the law (validated here).
    base_frame
        frame id a target must carry (``fr3_link0``); an empty frame id is taken as this one.

    Attributes
    ----------
    controller
        the law (its ``status`` holds the last error, wrench and limiter counters).
    received, rejected
        targets offered through :meth:`submit` and those rejected (NaN/inf, a quaternion
        whose norm is not 1 within ``QUATERNION_NORM_TOLERANCE``, wrong frame).

    Raises
    ------
        ValueError: if ``params`` do not validate (naming the field).

    """

    def __init__(self, sim: FrankaSim, params: ImpedanceParams,
                 base_frame: str = description.BASE_LINK) -> None:
        self.sim = sim
        self.params = params.validate()
        self.base_frame = base_frame
        self.robot_model = MujocoRobotModel(sim.model, sim.data, description.TCP_FRAME,
                                            description.ARM_JOINT_NAMES)
        self.controller = CartesianImpedanceController()
        self.received = self.rejected = 0

    def activate(self) -> None:
        """Hold the current TCP pose (box-clipped): call after every reset or teleport."""
        self.controller.on_configure(self.params)
        self.controller.on_activate(self.robot_model.read_state())

    def set_target(self, position: Sequence[float], quaternion: Sequence[float]) -> bool:
        """
        Set the equilibrium pose: ``position`` (3,) m, ``quaternion`` (4,) xyzw, base frame.

        Returns
        -------
            True if the position was clipped into the workspace box.

        Raises
        ------
            ValueError: for NaN/inf entries, wrong shapes or a non-normalisable quaternion
                (the previous target stays in force).

        """
        return self.controller.set_equilibrium_pose(position, quaternion)

    def submit(self, position: Sequence[float], quaternion: Sequence[float],
               frame_id: str = '') -> Optional[str]:
        """
        Offer a target received from outside (a ROS message); count it.

        Returns
        -------
            None when accepted, else the reason it was rejected (the previous target holds).

        """
        norm = math.sqrt(sum(float(v) ** 2 for v in quaternion)) if len(quaternion) == 4 else 0
        if frame_id not in ('', self.base_frame):
            error = f'frame_id {frame_id!r} is not the base frame {self.base_frame!r}'
        elif not abs(norm - 1.0) <= QUATERNION_NORM_TOLERANCE:  # also NaN, inf, wrong length
            error = (f'quaternion {list(quaternion)} is not a unit quaternion (norm {norm:.4g}, '
                     f'tolerance {QUATERNION_NORM_TOLERANCE})')
        else:
            try:
                self.set_target(position, quaternion)
                error = None
            except ValueError as exc:
                error = str(exc)
        if error is not None:
            self.rejected += 1
        self.received += 1  # counted once the target took effect (readers poll the counter)
        return error

    def torque(self) -> np.ndarray:
        """Return the law's (7,) joint torques, N m, gravity excluded, for the next step."""
        sim = self.sim
        return self.controller.update(sim.time, sim.physics_dt, self.robot_model.read_state())

    def step(self) -> None:
        """Advance the physics by one timestep under the law."""
        self.sim.step(self.torque())
