"""Unit tests of the impedance law with hand-set model quantities (no simulator, no ROS)."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from serl_controller.impedance import CartesianImpedanceController
from serl_controller.loop_stats import LoopStats
from serl_controller.params import ImpedanceParams, PRECISION_GAINS
from serl_controller.reference import limit_reference
from serl_controller.robot_model import RobotState
from serl_controller.rotations import normalize_quaternion, orientation_error

DOWN = np.array([1.0, 0.0, 0.0, 0.0])  # TCP z pointing down (x, y, z, w)


def make_state(position=(0.4, 0.0, 0.3), quaternion=DOWN, dq=None, jacobian=None,
               coriolis=None):
    rng = np.random.default_rng(3)
    return RobotState(
        q=np.zeros(7), dq=np.zeros(7) if dq is None else np.asarray(dq, float),
        tcp_position=np.asarray(position, float), tcp_quaternion=np.asarray(quaternion, float),
        jacobian=rng.normal(size=(6, 7)) if jacobian is None else jacobian,
        mass_matrix=np.eye(7), coriolis=np.zeros(7) if coriolis is None else coriolis)


def active_controller(params=None, state=None):
    controller = CartesianImpedanceController()
    controller.on_configure(params or ImpedanceParams(filter_coefficient=1.0))
    controller.on_activate(state or make_state())
    return controller


def test_orientation_error_is_rotation_vector_with_hemisphere_flip():
    desired = Rotation.from_quat(DOWN)
    current = Rotation.from_rotvec([0.0, 0.0, 0.2]) * desired
    q = current.as_quat()
    np.testing.assert_allclose(orientation_error(q, DOWN), [0.0, 0.0, 0.2], atol=1e-12)
    np.testing.assert_allclose(orientation_error(-q, DOWN), [0.0, 0.0, 0.2], atol=1e-12)
    np.testing.assert_allclose(orientation_error(q, -DOWN), [0.0, 0.0, 0.2], atol=1e-12)


def test_normalize_quaternion_rejects_bad_input():
    np.testing.assert_allclose(normalize_quaternion([0, 0, 0, 2]), [0, 0, 0, 1])
    for bad in ([0, 0, 0, 0], [np.nan, 0, 0, 1], [0, 0, np.inf, 1], [0, 0, 1]):
        with pytest.raises(ValueError):
            normalize_quaternion(bad)


def test_law_matches_formula_with_identity_jacobian_and_no_clip():
    jacobian = np.hstack((np.eye(6), np.zeros((6, 1))))
    dq = np.array([0.01, 0.0, 0.0, 0.0, 0.0, 0.02, 0.0])
    coriolis = np.full(7, 0.01)
    params = ImpedanceParams(filter_coefficient=1.0, nullspace_stiffness=0.0,
                             pseudo_inverse_damping=0.0, torque_rate_limit=1e6)
    controller = active_controller(params, make_state(jacobian=jacobian))
    target = np.array([0.405, 0.0, 0.3])
    controller.set_equilibrium_pose(target, DOWN)
    tau = controller.update(0.0, 1e-3, make_state(jacobian=jacobian, dq=dq, coriolis=coriolis))
    expected = np.zeros(7)
    expected[0] = -2000.0 * (0.4 - 0.405) - 89.0 * 0.01
    expected[5] = -7.0 * 0.02
    expected += coriolis
    np.testing.assert_allclose(tau, expected, atol=1e-9)


def test_reference_limit_is_per_axis_and_per_sign():
    params = ImpedanceParams(filter_coefficient=1.0, translational_clip_neg=(0.01, 0.02, 0.03),
                             translational_clip_pos=(0.004, 0.005, 0.006),
                             workspace_min=(-5, -5, -5), workspace_max=(5, 5, 5))
    controller = active_controller(params)
    controller.set_equilibrium_pose([0.4 + 1.0, 0.0 + 1.0, 0.3 - 1.0], DOWN)
    controller.update(0.0, 1e-3, make_state())
    np.testing.assert_allclose(controller.status.clipped_error[:3], [-0.01, -0.02, 0.006])
    np.testing.assert_allclose(controller.status.wrench[:3], [20.0, 40.0, -12.0])
    assert controller.status.reference_limited


def test_rotational_error_clip():
    controller = active_controller()
    target = (Rotation.from_rotvec([0.0, 0.0, 1.0]) * Rotation.from_quat(DOWN)).as_quat()
    controller.set_equilibrium_pose([0.4, 0.0, 0.3], target)
    controller.update(0.0, 1e-3, make_state())
    # Current is 1 rad short of the target about z: error -1 rad, clipped to -0.05 rad, and
    # the restoring torque turns the TCP towards the target (+z).
    np.testing.assert_allclose(controller.status.clipped_error[3:], [0.0, 0.0, -0.05],
                               atol=1e-12)
    np.testing.assert_allclose(controller.status.wrench[3:], [0.0, 0.0, 150.0 * 0.05],
                               atol=1e-9)


def test_torque_rate_limit_scales_with_period():
    jacobian = np.hstack((np.eye(6), np.zeros((6, 1))))
    controller = active_controller(state=make_state(jacobian=jacobian))
    controller.set_equilibrium_pose([0.45, 0.0, 0.3], DOWN)  # 20 N demanded on joint 1
    tau = controller.update(0.0, 1e-3, make_state(jacobian=jacobian))
    assert tau[0] == pytest.approx(1.0)  # 1 N m per 1 ms
    tau = controller.update(0.0, 2e-3, make_state(jacobian=jacobian))
    assert tau[0] == pytest.approx(3.0)
    assert controller.status.rate_limited


def test_joint_torque_limits_saturate():
    params = ImpedanceParams(filter_coefficient=1.0, joint_torque_limits=(5.0,) * 7,
                             torque_rate_limit=1e6)
    jacobian = np.hstack((np.eye(6), np.zeros((6, 1))))
    controller = active_controller(params, make_state(jacobian=jacobian))
    controller.set_equilibrium_pose([0.45, 0.0, 0.3], DOWN)
    tau = controller.update(0.0, 1e-3, make_state(jacobian=jacobian))
    assert tau[0] == pytest.approx(5.0)
    assert controller.status.torque_limited


def test_workspace_box_clips_and_reports():
    controller = active_controller()
    assert controller.set_equilibrium_pose([2.0, -2.0, 0.3], DOWN)
    np.testing.assert_allclose(controller.target_position, [0.8, -0.5, 0.3])
    assert controller.status.box_clips == 1
    assert not controller.set_equilibrium_pose([0.5, 0.0, 0.3], DOWN)


def test_invalid_target_rejected_and_last_valid_target_kept():
    controller = active_controller()
    controller.set_equilibrium_pose([0.5, 0.1, 0.3], DOWN)
    for position, quaternion in (([np.nan, 0, 0.3], DOWN), ([0.5, np.inf, 0.3], DOWN),
                                 ([0.5, 0.0, 0.3], [0, 0, 0, 0]),
                                 ([0.5, 0.0, 0.3], [np.nan, 0, 0, 1])):
        with pytest.raises(ValueError):
            controller.set_equilibrium_pose(position, quaternion)
    np.testing.assert_allclose(controller.target_position, [0.5, 0.1, 0.3])
    np.testing.assert_allclose(controller.target_quaternion, DOWN)


def test_target_filter_is_first_order_at_0_005_per_ms():
    controller = active_controller(ImpedanceParams())
    controller.set_equilibrium_pose([0.41, 0.0, 0.3], DOWN)
    controller.update(0.0, 1e-3, make_state())
    assert controller.status.error[0] == pytest.approx(-0.01 * 0.005)
    controller.update(0.0, 2e-3, make_state())  # two reference periods at once
    assert controller.status.error[0] == pytest.approx(-0.01 * (1 - 0.995 ** 3))


def test_nullspace_torque_does_not_act_on_the_task():
    rng = np.random.default_rng(0)
    jacobian = rng.normal(size=(6, 7))
    params = ImpedanceParams(filter_coefficient=1.0, nullspace_stiffness=10.0,
                             nullspace_target=tuple(rng.normal(size=7)),
                             pseudo_inverse_damping=0.0, torque_rate_limit=1e6)
    controller = active_controller(params, make_state(jacobian=jacobian))
    tau = controller.update(0.0, 1e-3, make_state(jacobian=jacobian))
    assert np.linalg.norm(tau) > 1.0
    # Pose held exactly: the task wrench is zero, so J^T# tau (the task-space force) vanishes.
    np.testing.assert_allclose(np.linalg.pinv(jacobian.T) @ tau, np.zeros(6), atol=1e-9)


def test_integral_term_is_clamped():
    params = ImpedanceParams(filter_coefficient=1.0, translational_ki=100.0,
                             translational_integral_limit=0.002, torque_rate_limit=1e6)
    jacobian = np.hstack((np.eye(6), np.zeros((6, 1))))
    controller = active_controller(params, make_state(jacobian=jacobian))
    controller.set_equilibrium_pose([0.45, 0.0, 0.3], DOWN)
    for _ in range(1000):
        controller.update(0.0, 1e-3, make_state(jacobian=jacobian))
    assert controller.status.wrench[0] == pytest.approx(20.0 + 100.0 * 0.002)


def test_gain_switch_is_filtered():
    controller = active_controller(ImpedanceParams())
    controller.set_params(ImpedanceParams().with_gains(PRECISION_GAINS))
    controller.set_equilibrium_pose([0.401, 0.0, 0.3], DOWN)
    for _ in range(2000):
        controller.update(0.0, 1e-3, make_state())
    stiffness = -controller.status.wrench[0] / controller.status.clipped_error[0]
    assert stiffness == pytest.approx(3000.0, rel=1e-3)


@pytest.mark.parametrize('field, value', [
    ('translational_stiffness', -1.0), ('rotational_damping', math.nan),
    ('translational_clip_pos', (0.01, math.inf, 0.01)), ('joint_torque_limits', (1.0,) * 6),
    ('filter_coefficient', 0.0), ('workspace_min', (0.9, 0.0, 0.0)),
])
def test_params_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field.split('_')[0]):
        ImpedanceParams(**{field: value}).validate()


def test_update_rejects_non_finite_state_and_bad_period():
    controller = active_controller()
    with pytest.raises(ValueError, match='dq'):
        controller.update(0.0, 1e-3, make_state(dq=[np.nan] * 7))
    with pytest.raises(ValueError, match='period'):
        controller.update(0.0, 0.0, make_state())
    controller.on_deactivate()
    with pytest.raises(RuntimeError):
        controller.update(0.0, 1e-3, make_state())


def test_limit_reference_bounds_the_forwarded_pose():
    params = ImpedanceParams()
    target = (Rotation.from_rotvec([0.0, 0.0, 1.0]) * Rotation.from_quat(DOWN)).as_quat()
    limited = limit_reference([0.4, 0.0, 0.3], DOWN, [0.8, -0.5, 0.3], target, params)
    np.testing.assert_allclose(limited.position, [0.41, -0.01, 0.3])
    assert limited.limited
    # The forwarded orientation is 0.05 rad from the current one, towards the target.
    np.testing.assert_allclose(orientation_error(limited.quaternion, DOWN), [0, 0, 0.05],
                               atol=1e-12)
    with pytest.raises(ValueError):
        limit_reference([0.4, np.nan, 0.3], DOWN, [0.8, 0.0, 0.3], DOWN, params)


def test_loop_stats_percentiles():
    stats = LoopStats(1e-3)
    now = 0.0
    stats.tick(now)
    for period in [1e-3] * 98 + [2e-3, 5e-3]:
        now += period
        stats.tick(now)
    summary = stats.summary()
    assert summary['samples'] == 100
    assert summary['period_p50_ms'] == pytest.approx(1.0)
    assert summary['period_max_ms'] == pytest.approx(5.0)
    assert summary['jitter_max_ms'] == pytest.approx(4.0)
    assert summary['rate_hz'] == pytest.approx(100 / 0.105)
