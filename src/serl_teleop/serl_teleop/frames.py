"""The operator's view -> ``fr3_link0`` (REP 103), shared by the keyboard and SpaceMouse."""

import math
from typing import Sequence

import numpy as np


def operator_to_base(v: Sequence[float], yaw: float) -> np.ndarray:
    """
    Rotate a velocity (3,) from the operator's frame into ``fr3_link0`` (about z by ``yaw``).

    :param v: (3,) m/s, x forward / y left / z up as the operator sees it.
    :param yaw: rad, the operator's forward direction in ``fr3_link0`` (0: along +x; pi/2:
        the operator looks along +y, i.e. stands on the robot's right side).
    :returns: (3,) float64 m/s in ``fr3_link0``.
    """
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]], np.float64)
