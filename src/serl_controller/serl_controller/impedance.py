"""
Cartesian impedance law with SERL's reference limiting, structured like a ros2_control controller.

Law (Khatib, "A unified approach for motion and force control of robot manipulators: the
operational space formulation", IEEE J. Robotics and Automation 3(1), 1987; as implemented for
the Franka arms by franka_ros2's `cartesian_impedance_example_controller` and by SERL's
`serl_franka_controllers`, Luo et al. arXiv 2401.16013, Sec. IV-C):

    e      = clip([x - x_d ; log(R R_d^T)], -clip_neg, +clip_pos)      (6,)  reference limiting
    F      = -K e - D J dq - K_i clamp(int e dt)                        (6,)  N, N m
    tau_ns = (I - J^T J^T#) (k_ns (q_ns - q) - 2 sqrt(k_ns) dq)         (7,)  nullspace posture
    tau_d  = J^T F + tau_ns + C(q, dq) dq                               (7,)  N m, no gravity
    tau    = sat_limits(tau_prev + clip(tau_d - tau_prev, +-rate dt))         rate + torque limit

with J^T# = (J J^T + lambda^2 I)^-1 J the damped pseudo-inverse of J^T. The target pose, K, D
and k_ns follow their commanded values through a first-order low-pass (0.005 per 1 ms), and the
target position is clipped into the workspace box. Clipping the error (not the target) bounds
the commanded force to K clip + D |J dq| whatever target the policy sends: this is what lets an
RL policy touch the world safely. Gravity is not in tau (compensated by the FR3 firmware, and by
the simulator in sim).

The orientation error is the rotation vector of R R_d^T (rad), so the rotational stiffness is in
N m/rad; franka_ros2 and SERL use the quaternion vector part (sin(angle/2) * axis), which halves
the effective stiffness at small angles.
"""

from dataclasses import dataclass, field
import math
from typing import Optional

import numpy as np

from serl_controller.params import ImpedanceParams
from serl_controller.robot_model import ARM_DOF, RobotState
from serl_controller.rotations import (
    normalize_quaternion, orientation_error, quat_conjugate, quat_exp, quat_log, quat_multiply)

_FILTER_REFERENCE_PERIOD = 1e-3  # s: filter_coefficient is defined per 1 ms (SERL)


class _Derived:
    """Per-axis vectors derived once from `ImpedanceParams` (kept out of the 1 kHz loop)."""

    def __init__(self, p: ImpedanceParams) -> None:
        self.stiffness, self.damping = _gain_vectors(p)
        self.clip_low = -np.concatenate((p.translational_clip_neg, p.rotational_clip_neg))
        self.clip_high = np.concatenate((p.translational_clip_pos, p.rotational_clip_pos))
        self.ki = np.array([p.translational_ki] * 3 + [p.rotational_ki] * 3)
        self.integral_on = self.ki > 0.0
        self.integral_limit = np.array([p.translational_integral_limit] * 3
                                       + [p.rotational_integral_limit] * 3)
        self.torque_limits = np.asarray(p.joint_torque_limits, dtype=np.float64)
        self.lambda2_eye = p.pseudo_inverse_damping ** 2 * np.eye(6)
        self.q_nullspace = (None if p.nullspace_target is None
                            else np.asarray(p.nullspace_target, dtype=np.float64))


@dataclass
class ControllerStatus:
    """
    What the last `update` did, plus counters since configuration (for diagnostics).

    Attributes
    ----------
        error: (6,) pose error before clipping (m, rad), base frame.
        clipped_error: (6,) pose error after reference limiting.
        wrench: (6,) commanded Cartesian wrench F (N, N m), base frame.
        tau_desired: (7,) torque before the rate and torque limits, N m.
        tau: (7,) torque returned, N m.
        reference_limited: the last error was clipped on some axis.
        rate_limited: the last torque was rate limited on some joint.
        torque_limited: the last torque saturated on some joint.
        box_clipped: the current target was clipped into the workspace box.
        reference_limit_hits / rate_limit_hits / torque_limit_hits / box_clips: counters.

    """

    error: np.ndarray = field(default_factory=lambda: np.zeros(6))
    clipped_error: np.ndarray = field(default_factory=lambda: np.zeros(6))
    wrench: np.ndarray = field(default_factory=lambda: np.zeros(6))
    tau_desired: np.ndarray = field(default_factory=lambda: np.zeros(ARM_DOF))
    tau: np.ndarray = field(default_factory=lambda: np.zeros(ARM_DOF))
    reference_limited: bool = False
    rate_limited: bool = False
    torque_limited: bool = False
    box_clipped: bool = False
    reference_limit_hits: int = 0
    rate_limit_hits: int = 0
    torque_limit_hits: int = 0
    box_clips: int = 0


class CartesianImpedanceController:
    """
    SERL-style Cartesian impedance controller for a 7-DoF arm (pure numpy, no ROS).

    Lifecycle as in ros2_control: `on_configure(params)`, `on_activate(state)`, then
    `update(time, period, state)` every control period, `on_deactivate()`. Targets arrive with
    `set_equilibrium_pose`; named gain sets with `set_params`.
    """

    def __init__(self) -> None:
        self._params: Optional[ImpedanceParams] = None
        self._derived: Optional[_Derived] = None
        self._active = False
        self.status = ControllerStatus()
        self._target_position = np.zeros(3)
        self._target_quaternion = np.array([0.0, 0.0, 0.0, 1.0])
        self._position_d = np.zeros(3)
        self._quaternion_d = np.array([0.0, 0.0, 0.0, 1.0])
        self._stiffness = np.zeros(6)
        self._damping = np.zeros(6)
        self._nullspace_stiffness = 0.0
        self._q_nullspace = np.zeros(ARM_DOF)
        self._integral = np.zeros(6)
        self._tau_prev = np.zeros(ARM_DOF)
        self._tcp_position = np.zeros(3)
        self._tcp_quaternion = np.array([0.0, 0.0, 0.0, 1.0])

    # ------------------------------------------------------------------ lifecycle
    @property
    def params(self) -> Optional[ImpedanceParams]:
        """Return the parameters in force (gains are approached through the low-pass filter)."""
        return self._params

    @property
    def active(self) -> bool:
        """Return True between `on_activate` and `on_deactivate`."""
        return self._active

    def on_configure(self, params: ImpedanceParams) -> None:
        """
        Take a validated copy of `params`; reset the counters.

        Raises
        ------
            ValueError: if `params.validate()` fails (the previous parameters are kept).

        """
        self._params = params.validate()
        self._derived = _Derived(self._params)
        self.status = ControllerStatus()

    def on_activate(self, state: RobotState) -> None:
        """
        Start holding the current pose: target = current TCP pose (box-clipped), gains set.

        Parameters
        ----------
        state : RobotState
            The robot state at activation; its `q` is the nullspace target unless
            `params.nullspace_target` is set.

        Raises
        ------
            RuntimeError: if not configured.
            ValueError: if `state` is malformed or not finite.

        """
        if self._params is None:
            raise RuntimeError('on_activate called before on_configure')
        state.validate()
        p = self._params
        self._target_position, self.status.box_clipped = self._clip_to_box(state.tcp_position)
        self._target_quaternion = normalize_quaternion(state.tcp_quaternion)
        self._position_d = self._target_position.copy()
        self._quaternion_d = self._target_quaternion.copy()
        self._tcp_position = np.asarray(state.tcp_position, dtype=np.float64).copy()
        self._tcp_quaternion = self._target_quaternion.copy()
        self._stiffness, self._damping = _gain_vectors(p)
        self._nullspace_stiffness = p.nullspace_stiffness
        self._q_nullspace = (np.asarray(state.q, dtype=np.float64).copy()
                             if p.nullspace_target is None
                             else np.asarray(p.nullspace_target, dtype=np.float64))
        self._integral = np.zeros(6)
        self._tau_prev = np.zeros(ARM_DOF)
        self._active = True

    def on_deactivate(self) -> None:
        """Stop: `update` raises until the next `on_activate`; the torque history is cleared."""
        self._active = False
        self._tau_prev = np.zeros(ARM_DOF)
        self._integral = np.zeros(6)

    # ------------------------------------------------------------------ commands
    def set_params(self, params: ImpedanceParams) -> None:
        """
        Switch parameters (e.g. to another named gain set) while configured or active.

        Gains (K, D, k_ns) and a new nullspace target are approached through the low-pass
        filter; clip, limits and box apply at the next `update` (the target is re-clipped).

        Raises
        ------
            ValueError: if `params.validate()` fails (nothing changes).

        """
        params = params.validate()
        self._params = params
        self._derived = _Derived(params)
        if params.nullspace_target is not None and not self._active:
            self._q_nullspace = np.asarray(params.nullspace_target, dtype=np.float64)
        self._target_position, self.status.box_clipped = self._clip_to_box(self._target_position)

    def set_equilibrium_pose(self, position, quaternion) -> bool:
        """
        Set the target TCP pose in the base frame `fr3_link0`.

        Parameters
        ----------
        position : array_like (3,)
            Target TCP position, m.
        quaternion : array_like (4,)
            Target orientation (x, y, z, w); normalised here.

        Returns
        -------
            True if the position was outside the workspace box and was clipped into it.

        Raises
        ------
            RuntimeError: if not configured.
            ValueError: for NaN/inf entries, wrong shapes or a non-normalisable quaternion; the
                last valid target is kept.

        """
        if self._params is None:
            raise RuntimeError('set_equilibrium_pose called before on_configure')
        pos = np.asarray(position, dtype=np.float64)
        if pos.shape != (3,):
            raise ValueError(f'equilibrium position must have 3 entries, got shape {pos.shape}')
        if not np.all(np.isfinite(pos)):
            raise ValueError(f'equilibrium position contains NaN or inf: {pos}')
        quat = normalize_quaternion(quaternion)
        clipped, was_clipped = self._clip_to_box(pos)
        self._target_position = clipped
        self._target_quaternion = quat
        self.status.box_clipped = was_clipped
        if was_clipped:
            self.status.box_clips += 1
        return was_clipped

    @property
    def target_position(self) -> np.ndarray:
        """(3,) m: the box-clipped target position (before filtering)."""
        return self._target_position.copy()

    @property
    def target_quaternion(self) -> np.ndarray:
        """(4,) (x, y, z, w): the target orientation (before filtering)."""
        return self._target_quaternion.copy()

    # ------------------------------------------------------------------ control law
    def update(self, time: float, period: float, state: RobotState) -> np.ndarray:
        """
        Compute the joint torques for one control period.

        Parameters
        ----------
        time : float
            Current time, s (kept for the ros2_control signature; unused by the law).
        period : float
            Time since the previous update, s (> 0); scales the filter, the torque-rate limit
            and the integral.
        state : RobotState
            Robot state now (base frame, gravity excluded from `coriolis`).

        Returns
        -------
            (7,) float64 joint torques, N m, gravity excluded.

        Raises
        ------
            RuntimeError: if not active.
            ValueError: if `period` is not a positive finite number or `state` is malformed.

        """
        if not self._active:
            raise RuntimeError('update called while the controller is not active')
        if not (math.isfinite(period) and period > 0.0):
            raise ValueError(f'period must be a positive finite number of seconds, got {period}')
        p = self._params
        g = self._derived
        st = self.status

        # First-order low-pass of the target and gains, at a rate independent of `period`.
        alpha = 1.0 - (1.0 - p.filter_coefficient) ** (period / _FILTER_REFERENCE_PERIOD)
        self._stiffness += alpha * (g.stiffness - self._stiffness)
        self._damping += alpha * (g.damping - self._damping)
        self._nullspace_stiffness += alpha * (p.nullspace_stiffness - self._nullspace_stiffness)
        if g.q_nullspace is not None:
            self._q_nullspace += alpha * (g.q_nullspace - self._q_nullspace)
        self._position_d += alpha * (self._target_position - self._position_d)
        step = quat_log(quat_multiply(self._target_quaternion, quat_conjugate(self._quaternion_d)))
        self._quaternion_d = quat_multiply(quat_exp(alpha * step), self._quaternion_d)
        self._quaternion_d /= math.sqrt(float(self._quaternion_d @ self._quaternion_d))

        # Everything below depends on `state`; nothing is committed until tau is known finite
        # (NaN/inf in any used input propagates to tau), so a bad state changes nothing.
        try:
            tau_d, wrench, error, clipped, integral = self._law(period, state)
        except (ValueError, TypeError, AttributeError, IndexError):
            tau_d = None
        if tau_d is None or tau_d.shape != (ARM_DOF,) or not np.isfinite(tau_d).all():
            state.validate()  # raises ValueError naming the bad field
            raise ValueError(f'impedance law produced an invalid torque {tau_d}')

        # Torque-rate limit, then joint torque limits.
        max_step = p.torque_rate_limit * period
        delta = tau_d - self._tau_prev
        delta_limited = np.minimum(np.maximum(delta, -max_step), max_step)
        torque_limits = g.torque_limits
        tau = np.minimum(np.maximum(self._tau_prev + delta_limited, -torque_limits), torque_limits)
        st.reference_limited = bool((clipped != error).any())
        st.reference_limit_hits += int(st.reference_limited)
        st.rate_limited = bool((delta_limited != delta).any())
        st.torque_limited = bool((np.abs(tau) >= torque_limits).any())
        st.rate_limit_hits += int(st.rate_limited)
        st.torque_limit_hits += int(st.torque_limited)
        self._tau_prev = tau
        self._integral = integral

        st.error = error
        st.clipped_error = clipped
        st.wrench = wrench
        st.tau_desired = tau_d
        st.tau = tau
        self._tcp_position = state.tcp_position
        self._tcp_quaternion = state.tcp_quaternion
        return tau.copy()

    def _law(self, period: float, state: RobotState):
        """Evaluate the law on `state`; return (tau_d, wrench, error, clipped, integral)."""
        g = self._derived
        # Pose error and SERL's reference limiting (per axis, per sign).
        quat = state.tcp_quaternion
        quat = quat / math.sqrt(float(quat @ quat))
        error = np.empty(6)
        error[:3] = state.tcp_position - self._position_d
        error[3:] = orientation_error(quat, self._quaternion_d)
        clipped = np.minimum(np.maximum(error, g.clip_low), g.clip_high)

        # Integral of the clipped error, clamped (anti-windup); only while a gain is set.
        integral = self._integral
        if g.integral_on.any():
            integral = np.minimum(np.maximum(integral + clipped * period, -g.integral_limit),
                                  g.integral_limit)
            integral = np.where(g.integral_on, integral, 0.0)

        jacobian = state.jacobian
        twist = jacobian @ state.dq
        wrench = -self._stiffness * clipped - self._damping * twist - g.ki * integral

        # Nullspace posture torque projected with the damped pseudo-inverse of J^T:
        # (I - J^T J^T#) v = v - J^T (J J^T + lambda^2 I)^-1 J v, no 7x7 matrix formed.
        k_ns = self._nullspace_stiffness
        posture = k_ns * (self._q_nullspace - state.q) - 2.0 * math.sqrt(k_ns) * state.dq
        gram = jacobian @ jacobian.T
        gram += g.lambda2_eye
        tau_ns = posture - jacobian.T @ np.linalg.solve(gram, jacobian @ posture)
        tau_d = jacobian.T @ wrench + tau_ns + state.coriolis
        return tau_d, wrench, error, clipped, integral

    def limited_target(self):
        """
        Return the equilibrium pose that the last clipped error corresponds to.

        Returns
        -------
        tuple
            (position (3,) m, quaternion (4,) x, y, z, w) in the base frame: the current TCP
            pose moved by minus the clipped error, i.e. the target as the law saw it.

        """
        clipped = self.status.clipped_error
        quat = self._tcp_quaternion / np.linalg.norm(self._tcp_quaternion)
        return (self._tcp_position - clipped[:3],
                quat_multiply(quat_exp(-clipped[3:]), quat))

    def _clip_to_box(self, position: np.ndarray):
        p = self._params
        clipped = np.clip(position, p.workspace_min, p.workspace_max)
        return clipped, bool(np.any(clipped != position))


def _gain_vectors(p: ImpedanceParams):
    stiffness = np.array([p.translational_stiffness] * 3 + [p.rotational_stiffness] * 3)
    damping = np.array([p.translational_damping] * 3 + [p.rotational_damping] * 3)
    return stiffness, damping
