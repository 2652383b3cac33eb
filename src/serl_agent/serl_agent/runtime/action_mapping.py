"""
Normalised agent actions -> equilibrium pose and gripper commands (no rclpy).

The same convention as serl_sim's envs (and SERL's real-robot envs): action
``(dx, dy, dz, gripper)`` in [-1, 1]; the equilibrium position becomes the current TCP position
plus ``action_scale * (dx, dy, dz)`` metres, clipped into the workspace box (``fr3_link0``);
the orientation is fixed (TCP pointing down); ``gripper < 0`` closes, ``> 0`` opens, ``0``
keeps the last command.
"""

from typing import Optional, Sequence, Tuple

import numpy as np

#: TCP pointing down in ``fr3_link0`` (quaternion x, y, z, w), as serl_sim's envs.
DOWN = (1.0, 0.0, 0.0, 0.0)
#: Franka Hand opening, m.
GRIPPER_OPEN_WIDTH = 0.08


def equilibrium_target(tcp_position: Sequence[float], action: Sequence[float],
                       action_scale: float, workspace_min: Sequence[float],
                       workspace_max: Sequence[float]) -> np.ndarray:
    """
    Return the equilibrium position (3,) m for one action.

    :param tcp_position: current TCP position (3,) m in ``fr3_link0``.
    :param action: (>= 3,) normalised action; entries 0..2 are (dx, dy, dz) in [-1, 1].
    :param action_scale: metres of translation per unit action.
    :param workspace_min: lower corner (3,) m of the workspace box.
    :param workspace_max: upper corner (3,) m.
    :raises ValueError: a NaN/inf or out-of-range action (never turned into a command).
    """
    a = np.asarray(action, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] < 3:
        raise ValueError(f'action must be a vector of at least 3 entries, got shape {a.shape}')
    if not np.all(np.isfinite(a)):
        raise ValueError(f'action contains NaN or inf: {a}')
    if np.any(np.abs(a) > 1.0 + 1e-6):
        raise ValueError(f'action {a} is outside [-1, 1]')
    tcp = np.asarray(tcp_position, dtype=np.float64)
    target = tcp + float(action_scale) * np.clip(a[:3], -1.0, 1.0)
    return np.clip(target, np.asarray(workspace_min, np.float64),
                   np.asarray(workspace_max, np.float64))


def gripper_width_command(gripper_action: float) -> Optional[float]:
    """
    Return the commanded opening (m) for the gripper entry of an action, or None to keep it.

    ``< 0`` closes (0 m), ``> 0`` opens (0.08 m), ``0`` keeps the last command.
    """
    if gripper_action < 0.0:
        return 0.0
    if gripper_action > 0.0:
        return GRIPPER_OPEN_WIDTH
    return None


def twist_from_poses(p0: Sequence[float], q0: Sequence[float], t0: float,
                     p1: Sequence[float], q1: Sequence[float], t1: float) -> np.ndarray:
    """
    Return the TCP twist (6,) between two poses by finite differences.

    Linear velocity ``(p1 - p0) / dt`` m/s; angular velocity ``rotvec(q1 * q0^-1) / dt`` rad/s,
    both in the base frame ``fr3_link0`` (the frame of the poses), linear first, as serl_sim's
    ``tcp_vel``. Quaternions (x, y, z, w).

    :raises ValueError: ``t1 <= t0``.
    """
    from scipy.spatial.transform import Rotation
    dt = float(t1) - float(t0)
    if dt <= 0.0:
        raise ValueError(f'poses must be in time order, got dt = {dt} s')
    linear = (np.asarray(p1, np.float64) - np.asarray(p0, np.float64)) / dt
    rot = Rotation.from_quat(np.asarray(q1, np.float64)) * \
        Rotation.from_quat(np.asarray(q0, np.float64)).inv()
    return np.concatenate((linear, rot.as_rotvec() / dt))


def tcp_pose_vector(position: Sequence[float], quaternion: Sequence[float]) -> np.ndarray:
    """Return ``tcp_pose`` (7,) float32: position m then unit quaternion (x, y, z, w)."""
    q = np.asarray(quaternion, np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f'TCP quaternion {q} cannot be normalised')
    return np.concatenate((np.asarray(position, np.float64), q / norm)).astype(np.float32)


def finger_width(names: Sequence[str], positions: Sequence[float],
                 fingers: Tuple[str, str] = ('fr3_finger_joint1', 'fr3_finger_joint2')
                 ) -> Optional[float]:
    """Return the opening between the fingers (sum of both finger joints, m) or None."""
    index = {n: i for i, n in enumerate(names)}
    if not all(f in index for f in fingers):
        return None
    return float(sum(positions[index[f]] for f in fingers))
