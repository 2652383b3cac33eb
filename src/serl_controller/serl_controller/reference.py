"""
SERL's reference limiting on its own, for forwarding a safe target to a C++ impedance controller.

On the real FR3 a Python loop cannot promise a 1 kHz deadline, so the controller node may run
in `forward` mode: it clips the equilibrium position into the workspace box and limits the pose
error to the per-axis, per-sign clip (SERL, Luo et al. arXiv 2401.16013; its
`serl_franka_controllers` clips the error inside the 1 kHz loop), then publishes the limited
pose to franka_ros2's or CRISP's C++ impedance controller. The limited pose lies at most
`clip` away from the current TCP pose on each axis, so any stiffness K in the C++ controller
produces at most K * clip of spring force.
"""

from dataclasses import dataclass

import numpy as np

from serl_controller.params import ImpedanceParams
from serl_controller.rotations import (
    normalize_quaternion, orientation_error, quat_exp, quat_multiply)


@dataclass
class LimitedPose:
    """
    Result of `limit_reference`.

    Attributes
    ----------
    position : (3,) m, base frame; the limited equilibrium position.
    quaternion : (4,) (x, y, z, w); the limited equilibrium orientation.
    error : (6,) the error current - target before clipping (m, rad).
    clipped_error : (6,) the error after clipping.
    limited : True if any axis was clipped.

    """

    position: np.ndarray
    quaternion: np.ndarray
    error: np.ndarray
    clipped_error: np.ndarray
    limited: bool


def clip_to_box(position, params: ImpedanceParams):
    """Return (position clipped into the workspace box (3,) m, whether it was clipped)."""
    position = np.asarray(position, dtype=np.float64)
    clipped = np.clip(position, params.workspace_min, params.workspace_max)
    return clipped, bool(np.any(clipped != position))


def limit_reference(current_position, current_quaternion, target_position, target_quaternion,
                    params: ImpedanceParams) -> LimitedPose:
    """
    Limit the pose error between the current TCP pose and a (box-clipped) target.

    Parameters
    ----------
    current_position : array_like (3,)
        Current TCP position, m, base frame.
    current_quaternion : array_like (4,)
        Current TCP orientation (x, y, z, w).
    target_position : array_like (3,)
        Target position, m (clip it into the box first with `clip_to_box`).
    target_quaternion : array_like (4,)
        Target orientation (x, y, z, w).
    params : ImpedanceParams
        Supplies the per-axis, per-sign clip.

    Returns
    -------
    LimitedPose
        The pose whose error to the current pose equals the clipped error:
        p = x - clip(x - x_d), R = exp(-clip(log(R_cur R_d^T))) R_cur.

    Raises
    ------
    ValueError
        For NaN/inf inputs or non-normalisable quaternions.

    """
    x = np.asarray(current_position, dtype=np.float64)
    xd = np.asarray(target_position, dtype=np.float64)
    if x.shape != (3,) or xd.shape != (3,) or not (np.all(np.isfinite(x))
                                                   and np.all(np.isfinite(xd))):
        raise ValueError(f'positions must be 3 finite values, got {x} and {xd}')
    q = normalize_quaternion(current_quaternion)
    qd = normalize_quaternion(target_quaternion)
    error = np.concatenate((x - xd, orientation_error(q, qd)))
    low = -np.concatenate((params.translational_clip_neg, params.rotational_clip_neg))
    high = np.concatenate((params.translational_clip_pos, params.rotational_clip_pos))
    clipped = np.clip(error, low, high)
    return LimitedPose(
        position=x - clipped[:3],
        quaternion=quat_multiply(quat_exp(-clipped[3:]), q),
        error=error, clipped_error=clipped, limited=bool(np.any(clipped != error)))
