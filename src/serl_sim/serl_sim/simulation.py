"""
The simulated FR3 with one task: physics stepping and what the real robot reports.

``FrankaSim`` owns the MuJoCo model and data of the scene (:mod:`serl_sim.scene`) and offers
what both the Gymnasium envs and the sim node need: reset an episode from a seed, apply joint
torques (gravity excluded, as on the FR3), command the gripper, and read joint states, the TCP
pose and twist, the external wrench estimate and the task's ground truth. No ROS, no Gymnasium.
"""

from typing import Optional, Sequence, Tuple

import mujoco
import numpy as np

from serl_sim import description, scene
from serl_sim.tasks.base import Task

JOINT_NAMES = description.ARM_JOINT_NAMES + description.FINGER_JOINT_NAMES


class FrankaSim:
    """
    MuJoCo FR3 + table + task objects, with the robot base ``fr3_link0`` as world frame.

    Parameters
    ----------
    task
        the task that adds objects and defines reset and success.
    physics_dt
        physics timestep, s (1-2 ms).

    Attributes
    ----------
    model, data
        the MuJoCo model and data (world frame = ``fr3_link0``).
    effort_limits
        (7,) joint torque limits, N m.

    Raises
    ------
        ValueError: for a non-positive or non-finite ``physics_dt``.

    """

    def __init__(self, task: Task, physics_dt: float = 0.002) -> None:
        if not (np.isfinite(physics_dt) and physics_dt > 0.0):
            raise ValueError(f'physics_dt must be a positive number of seconds, got {physics_dt}')
        self.task = task
        xml = scene.build_mjcf(task_asset=task.mjcf_asset(), task_worldbody=task.mjcf_worldbody(),
                               timestep=physics_dt)
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self._scratch = mujoco.MjData(self.model)
        m = self.model
        arm = [m.joint(n).id for n in description.ARM_JOINT_NAMES]
        fingers = [m.joint(n).id for n in description.FINGER_JOINT_NAMES]
        self.arm_qpos = np.array([m.jnt_qposadr[j] for j in arm])
        self.arm_dof = np.array([m.jnt_dofadr[j] for j in arm])
        self.finger_qpos = np.array([m.jnt_qposadr[j] for j in fingers])
        self.finger_dof = np.array([m.jnt_dofadr[j] for j in fingers])
        self.joint_qpos = np.concatenate((self.arm_qpos, self.finger_qpos))
        self.joint_dof = np.concatenate((self.arm_dof, self.finger_dof))
        self.arm_actuators = np.array([m.actuator(n).id for n in description.ARM_JOINT_NAMES])
        self.gripper_actuator = m.actuator('fr3_gripper').id
        #: m per finger: where the gripper command ramps to (``set_gripper``)
        self._finger_target = 0.0
        self._finger_speed = (task.gripper_speed or 0.0) / 2.0   # m/s per finger
        self.tcp_site = m.site(description.TCP_FRAME).id
        self.effort_limits = description.ARM.effort_limits
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))
        self._velocity = np.zeros(6)
        self._quat = np.zeros(4)
        task.bind(self)

    # ------------------------------------------------------------------ episode
    @property
    def physics_dt(self) -> float:
        """Physics timestep, s."""
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Return the simulated time since the last reset, s."""
        return float(self.data.time)

    def reset(self, rng: np.random.Generator, keep_objects: bool = False) -> None:
        """
        Start an episode: clear the physics state, let the task sample and place everything.

        Parameters
        ----------
        rng
            the episode's random generator (the layout is a function of its state).
        keep_objects
            only the arm and gripper start over; the task's objects stay where they are, at
            rest (a reset-free episode start, as a real robot's arm returning home leaves the
            scene as it is; an object held in the gripper drops from where it was).

        """
        if keep_objects:
            qpos = self.data.qpos.copy()
        mujoco.mj_resetData(self.model, self.data)
        self._finger_target = float(self.data.ctrl[self.gripper_actuator])
        self.task.reset(self, rng)
        if keep_objects:
            objects_q = np.setdiff1d(np.arange(self.model.nq), self.joint_qpos)
            objects_v = np.setdiff1d(np.arange(self.model.nv), self.joint_dof)
            self.data.qpos[objects_q] = qpos[objects_q]
            self.data.qvel[objects_v] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def set_arm_configuration(self, q: Sequence[float]) -> None:
        """Teleport the arm to joint positions ``q`` (7,) rad at rest; zero torque command."""
        self.data.qpos[self.arm_qpos] = q
        self.data.qvel[self.arm_dof] = 0.0
        self.data.ctrl[self.arm_actuators] = 0.0
        mujoco.mj_kinematics(self.model, self.data)

    def set_finger_opening(self, opening: float, target: Optional[float] = None) -> None:
        """
        Teleport both fingers to ``opening`` (m, per finger) at rest, commanded to ``target``.

        ``target`` (m, per finger; None: ``opening``) is commanded at once, without the
        gripper's speed ramp: a target inside ``opening`` squeezes what the fingers hold (a
        grasped peg) from the first step.
        """
        self.data.qpos[self.finger_qpos] = opening
        self.data.qvel[self.finger_dof] = 0.0
        self._finger_target = opening if target is None else target
        self.data.ctrl[self.gripper_actuator] = self._finger_target

    def set_tcp_pose(self, position: Sequence[float], quaternion: Sequence[float]) -> None:
        """
        Teleport the arm so that the TCP is at ``position`` (3,) m, ``quaternion`` xyzw.

        Uses :meth:`inverse_kinematics` from the home configuration.
        """
        self.set_arm_configuration(self.inverse_kinematics(position, quaternion))

    def inverse_kinematics(self, position: Sequence[float], quaternion: Sequence[float],
                           q_init: Optional[Sequence[float]] = None,
                           iterations: int = 200) -> np.ndarray:
        """
        Joint positions (7,) rad putting the TCP at a pose, by damped least squares.

        Newton steps on the 6D pose error with a nullspace pull towards ``ARM.home`` (Buss,
        "Introduction to inverse kinematics with Jacobian transpose, pseudoinverse and damped
        least squares methods", 2004, eq. 10), clamped to the joint limits.

        Parameters
        ----------
        position
            (3,) m in ``fr3_link0``.
        quaternion
            (4,) xyzw.
        q_init
            start configuration, default ``ARM.home``.
        iterations
            Newton steps.

        Returns
        -------
            (7,) float64 joint positions.

        Raises
        ------
            ValueError: when the pose is not reached within 1 mm / 0.01 rad.

        """
        m, d = self.model, self._scratch
        home = np.asarray(description.ARM.home)
        q = np.array(home if q_init is None else q_init, dtype=float)
        target = np.asarray(position, dtype=float)
        x, y, z, w = quaternion
        target_quat = np.array([w, x, y, z]) / np.linalg.norm(quaternion)
        error = np.zeros(6)
        lower, upper = description.ARM.lower, description.ARM.upper
        for _ in range(iterations):
            d.qpos[self.arm_qpos] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            error[:3] = target - d.site_xpos[self.tcp_site]
            mujoco.mju_mat2Quat(self._quat, d.site_xmat[self.tcp_site])
            conj = np.zeros(4)
            mujoco.mju_negQuat(conj, self._quat)
            diff = np.zeros(4)
            mujoco.mju_mulQuat(diff, target_quat, conj)
            mujoco.mju_quat2Vel(error[3:], diff, 1.0)
            if np.linalg.norm(error[:3]) < 1e-5 and np.linalg.norm(error[3:]) < 1e-4:
                break
            mujoco.mj_jacSite(m, d, self._jacp, self._jacr, self.tcp_site)
            jac = np.vstack((self._jacp[:, self.arm_dof], self._jacr[:, self.arm_dof]))
            pinv = jac.T @ np.linalg.inv(jac @ jac.T + 1e-6 * np.eye(6))
            step = pinv @ error + 0.1 * (np.eye(7) - pinv @ jac) @ (home - q)
            q = np.clip(q + step, lower, upper)
        if np.linalg.norm(error[:3]) > 1e-3 or np.linalg.norm(error[3:]) > 1e-2:
            raise ValueError(f'TCP pose {list(position)}, {list(quaternion)} is out of reach')
        return q

    # ------------------------------------------------------------------ commands
    def step(self, tau: Optional[np.ndarray] = None) -> None:
        """
        Advance the physics by one timestep.

        Parameters
        ----------
        tau
            (7,) joint torques, N m, gravity excluded (MuJoCo compensates the robot's
            gravity, as the FR3 firmware does); clipped to the torque limits by the
            actuators' ``ctrlrange``. None keeps the previous torques.

        """
        if tau is not None:
            self.data.ctrl[self.arm_actuators] = tau
        ctrl = self.data.ctrl[self.gripper_actuator]
        if ctrl != self._finger_target:   # the command ramps at the gripper's speed
            step = self._finger_speed * self.model.opt.timestep
            self.data.ctrl[self.gripper_actuator] = min(max(self._finger_target, ctrl - step),
                                                        ctrl + step)
        mujoco.mj_step(self.model, self.data)

    def set_gripper(self, width: float, speed: Optional[float] = None) -> None:
        """
        Command the gripper to an opening ``width`` (m, between the fingers, 0..0.08).

        The fingers' position command ramps there at ``speed`` (m/s of the opening, as
        franka_gripper's move action), at most and by default the task's ``gripper_speed``
        (``description.GRIPPER_SPEED``); a command given while it ramps replaces its goal. A
        task with ``gripper_speed = None`` (pick-cube) jumps the command there.

        :raises ValueError: a ``speed`` that is not a positive number.
        """
        if speed is not None and not (np.isfinite(speed) and speed > 0.0):
            raise ValueError(f'gripper speed must be a positive number of m/s, got {speed}')
        self._finger_target = min(max(float(width) / 2.0, 0.0), description.FINGER_TRAVEL)
        top = self.task.gripper_speed
        if top is None:   # the task's choice: the command jumps (the servo sets the speed)
            self.data.ctrl[self.gripper_actuator] = self._finger_target
            return
        self._finger_speed = (top if speed is None else min(float(speed), top)) / 2.0

    # ------------------------------------------------------------------ readings
    def joint_positions(self) -> np.ndarray:
        """(9,) rad / m: 7 arm joints then the 2 fingers (``JOINT_NAMES`` order)."""
        return self.data.qpos[self.joint_qpos].copy()

    def joint_velocities(self) -> np.ndarray:
        """(9,) rad/s / m/s, ``JOINT_NAMES`` order."""
        return self.data.qvel[self.joint_dof].copy()

    def joint_efforts(self) -> np.ndarray:
        """
        (9,) N m / N: the joint torques the motors apply, gravity compensation included.

        As the FR3's measured link-side torques ``tau_J``, the arm values contain gravity; the
        finger values are the gripper actuator's force on each finger.
        """
        d = self.data
        return (d.qfrc_actuator[self.joint_dof] + d.qfrc_gravcomp[self.joint_dof]).copy()

    def tcp_position(self) -> np.ndarray:
        """(3,) TCP position in ``fr3_link0``, m."""
        return self.data.site_xpos[self.tcp_site].copy()

    def tcp_quaternion(self) -> np.ndarray:
        """(4,) TCP orientation in ``fr3_link0``, quaternion (x, y, z, w)."""
        mujoco.mju_mat2Quat(self._quat, self.data.site_xmat[self.tcp_site])
        w, x, y, z = self._quat
        return np.array([x, y, z, w])

    def tcp_velocity(self) -> np.ndarray:
        """(6,) TCP twist in ``fr3_link0``: linear (m/s) then angular (rad/s)."""
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE,
                                 self.tcp_site, self._velocity, 0)
        return np.concatenate((self._velocity[3:], self._velocity[:3]))

    def tcp_jacobian(self) -> np.ndarray:
        """(6, 7) TCP Jacobian of the arm joints in ``fr3_link0`` (linear rows first)."""
        mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.tcp_site)
        return np.vstack((self._jacp[:, self.arm_dof], self._jacr[:, self.arm_dof]))

    def external_wrench(self) -> np.ndarray:
        """
        (6,) estimated external wrench at the TCP in ``fr3_link0``: force N, torque N m.

        As the FR3 estimates ``O_F_ext_hat_K``: the joint torques that contacts exert on the
        arm, ``tau_ext`` (MuJoCo ``qfrc_constraint``), mapped to the TCP through the
        pseudo-inverse of ``J^T``: ``F = (J J^T)^-1 J tau_ext`` (damped by 1e-6). It is the
        wrench the environment applies to the robot (pressing down on a table reads +z).
        """
        jac = self.tcp_jacobian()
        tau_ext = self.data.qfrc_constraint[self.arm_dof]
        return np.linalg.solve(jac @ jac.T + 1e-6 * np.eye(6), jac @ tau_ext)

    def gripper_width(self) -> float:
        """Return the opening between the fingers, m (0..0.08)."""
        return float(self.data.qpos[self.finger_qpos].sum())

    def success(self) -> Tuple[bool, str]:
        """Ground truth of the task: (success, reason)."""
        return self.task.success(self)

    def object_pose(self) -> Tuple[np.ndarray, np.ndarray]:
        """Task object pose in ``fr3_link0``: position (3,) m, quaternion (4,) xyzw."""
        return self.task.object_pose(self)
