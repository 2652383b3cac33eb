"""Action -> equilibrium pose mapping and the finite-difference TCP twist."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from serl_agent.runtime.action_mapping import (equilibrium_target, finger_width,
                                               gripper_width_command, tcp_pose_vector,
                                               twist_from_poses)


def test_target_scaled_and_clipped():
    lo, hi = [0.2, -0.3, 0.0], [0.6, 0.3, 0.5]
    np.testing.assert_allclose(equilibrium_target([0.4, 0.0, 0.3], [1, -0.5, 0, 1], 0.03, lo, hi),
                               [0.43, -0.015, 0.3])
    np.testing.assert_allclose(equilibrium_target([0.59, 0.0, 0.01], [1, 0, -1, 0], 0.03, lo, hi),
                               [0.6, 0.0, 0.0])
    for bad in ([np.nan, 0, 0, 0], [1.5, 0, 0, 0], [np.inf, 0, 0, 0]):
        with pytest.raises(ValueError):
            equilibrium_target([0.4, 0.0, 0.3], bad, 0.03, lo, hi)


def test_gripper_and_fingers():
    assert gripper_width_command(-0.2) == 0.0
    assert gripper_width_command(0.7) == 0.08
    assert gripper_width_command(0.0) is None
    names = ['fr3_joint1', 'fr3_finger_joint1', 'fr3_finger_joint2']
    assert finger_width(names, [0.3, 0.01, 0.015]) == pytest.approx(0.025)
    assert finger_width(names[:2], [0.3, 0.01]) is None


def test_twist_matches_a_known_motion():
    w = np.array([0.0, 0.0, 0.5])  # rad/s about z
    v = np.array([0.1, -0.2, 0.05])
    q0 = Rotation.from_euler('x', 180, degrees=True)
    q1 = Rotation.from_rotvec(w * 0.02) * q0
    twist = twist_from_poses([0, 0, 0], q0.as_quat(), 1.0, v * 0.02, q1.as_quat(), 1.02)
    np.testing.assert_allclose(twist, np.concatenate((v, w)), atol=1e-9)
    with pytest.raises(ValueError):
        twist_from_poses([0, 0, 0], q0.as_quat(), 1.0, [0, 0, 0], q0.as_quat(), 1.0)
    pose = tcp_pose_vector([1, 2, 3], [0, 0, 0, 2])
    assert pose.dtype == np.float32 and pose[6] == 1.0
