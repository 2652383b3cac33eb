"""
Unit-quaternion helpers in (x, y, z, w) order, numpy only (fast enough for a 1 kHz loop).

Conventions: Hamilton product; `quat_log` returns the rotation vector (axis times angle, rad)
of the shortest rotation, so q and -q give the same result (hemisphere flip). See Sola,
"Quaternion kinematics for the error-state Kalman filter" (2017), eqs. 12 and 101-105.
"""

import math

import numpy as np

_NORM_TOLERANCE = 1e-6


def normalize_quaternion(quaternion) -> np.ndarray:
    """
    Return `quaternion` (4,) (x, y, z, w) scaled to unit norm, as float64.

    Raises
    ------
        ValueError: if it has the wrong shape, NaN/inf entries, or a norm too small to
            normalise (below 1e-6).

    """
    q = np.asarray(quaternion, dtype=np.float64)
    if q.shape != (4,):
        raise ValueError(f'quaternion must have 4 entries (x, y, z, w), got shape {q.shape}')
    if not np.all(np.isfinite(q)):
        raise ValueError(f'quaternion contains NaN or inf: {q}')
    norm = float(np.linalg.norm(q))
    if norm < _NORM_TOLERANCE:
        raise ValueError(f'quaternion {q} cannot be normalised (norm {norm:.3g})')
    return q / norm


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of quaternions (4,) in (x, y, z, w) order."""
    ax, ay, az, aw = a.tolist() if isinstance(a, np.ndarray) else a
    bx, by, bz, bw = b.tolist() if isinstance(b, np.ndarray) else b
    return np.array([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ])


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse for a unit quaternion) of q (4,) (x, y, z, w)."""
    return np.array([-q[0], -q[1], -q[2], q[3]])


def quat_log(q: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) rad of unit quaternion q, shortest way round (|angle| <= pi)."""
    x, y, z, w = q.tolist() if isinstance(q, np.ndarray) else q
    if w < 0.0:
        x, y, z, w = -x, -y, -z, -w
    n = math.sqrt(x * x + y * y + z * z)
    scale = 2.0 if n < 1e-12 else 2.0 * math.atan2(n, w) / n
    return np.array([scale * x, scale * y, scale * z])


def quat_exp(rotvec: np.ndarray) -> np.ndarray:
    """Return the unit quaternion (4,) (x, y, z, w) of a rotation vector (3,) rad."""
    x, y, z = rotvec.tolist() if isinstance(rotvec, np.ndarray) else rotvec
    angle = math.sqrt(x * x + y * y + z * z)
    if angle < 1e-12:
        q = np.array([0.5 * x, 0.5 * y, 0.5 * z, 1.0])
        return q / np.linalg.norm(q)
    s = math.sin(0.5 * angle) / angle
    return np.array([s * x, s * y, s * z, math.cos(0.5 * angle)])


def orientation_error(current: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """
    Rotation vector (3,) rad, base frame, of R_current R_desired^T (hemisphere-flipped).

    It is the orientation analogue of x - x_d: -K times it is a restoring torque. Both inputs
    are unit quaternions (x, y, z, w) in the base frame.
    """
    return quat_log(quat_multiply(current, quat_conjugate(desired)))
