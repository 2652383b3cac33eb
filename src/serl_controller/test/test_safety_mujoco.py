"""Safety of the impedance law on the MuJoCo FR3 (serl_sim's MJCF), physics in the loop."""

import mujoco
import numpy as np
import pytest

from serl_controller.mujoco_model import MujocoRobotModel
from serl_controller.params import ImpedanceParams
from serl_sim import description

from fr3_sim import Fr3Loop  # noqa: I100 (test helper module)


def test_far_target_force_is_bounded_by_reference_limit():
    params = ImpedanceParams(workspace_min=(-2.0, -2.0, -2.0), workspace_max=(2.0, 2.0, 2.0))
    loop = Fr3Loop(params)
    loop.controller.set_equilibrium_pose(loop.home_position + [1.0, 0.0, 0.0],
                                         loop.home_quaternion)
    excess = []
    worst = []

    def record(sim, tau):
        status = sim.controller.status
        twist = sim.state.jacobian @ sim.state.dq
        bound_force = 2000.0 * 0.01 + 89.0 * np.abs(twist[:3])
        bound_torque = 150.0 * 0.05 + 7.0 * np.abs(twist[3:])
        bound = np.concatenate((bound_force, bound_torque))
        excess.append(np.max(np.abs(status.wrench) - bound))
        worst.append(np.linalg.norm(status.wrench[:3]))

    loop.run(0.5, record)
    assert max(excess) <= 1e-9
    # The clip is active (the arm is pulled, not flung) and the arm moves towards the target.
    assert loop.controller.status.reference_limit_hits > 400
    assert max(worst) <= 20.0 * np.sqrt(3) + 89.0 * 2.0
    moved = loop.state.tcp_position - loop.home_position
    assert moved[0] > 0.05
    speed = np.linalg.norm(loop.state.jacobian[:3] @ loop.state.dq)
    assert speed < 0.5  # m/s: 20 N against 89 N s/m damping gives about 0.22 m/s


@pytest.mark.parametrize('axis', [0, 1, 2])
def test_5cm_step_settles_within_2mm_with_overshoot_below_20_percent(axis):
    loop = Fr3Loop()
    step = np.zeros(3)
    step[axis] = 0.05
    target = loop.home_position + step
    loop.controller.set_equilibrium_pose(target, loop.home_quaternion)
    progress = []
    loop.run(2.5, lambda sim, tau: progress.append(sim.state.tcp_position[axis]))
    travelled = np.array(progress) - loop.home_position[axis]
    overshoot = (travelled.max() - 0.05) / 0.05
    final_error = np.linalg.norm(loop.state.tcp_position - target)
    assert final_error < 0.002, f'final error {final_error * 1e3:.2f} mm'
    assert overshoot < 0.2, f'overshoot {overshoot:.1%}'


def test_invalid_targets_rejected_and_last_valid_target_held():
    loop = Fr3Loop()
    valid = loop.home_position + [0.0, 0.03, 0.0]
    loop.controller.set_equilibrium_pose(valid, loop.home_quaternion)
    loop.run(0.2)
    bad = [([np.nan, 0.0, 0.3], loop.home_quaternion),
           ([0.4, np.inf, 0.3], loop.home_quaternion),
           (valid, [0.0, 0.0, 0.0, 0.0]),
           (valid, [np.nan, 0.0, 0.0, 1.0]),
           (valid, [0.0, -np.inf, 0.0, 1.0])]
    for position, quaternion in bad:
        with pytest.raises(ValueError, match='NaN|inf|normalised'):
            loop.controller.set_equilibrium_pose(position, quaternion)
        loop.run(0.05)
    loop.run(2.0)
    assert np.all(np.isfinite(loop.data.qpos))
    np.testing.assert_allclose(loop.controller.target_position, valid)
    assert np.linalg.norm(loop.state.tcp_position - valid) < 0.002


def test_target_outside_box_is_clipped_reported_and_reached_at_the_face():
    params = ImpedanceParams(workspace_min=(0.3, -0.2, 0.2), workspace_max=(0.5, 0.2, 0.4))
    loop = Fr3Loop(params)
    clipped = loop.controller.set_equilibrium_pose([0.4, 0.0, -0.5], loop.home_quaternion)
    assert clipped
    assert loop.controller.status.box_clips == 1
    np.testing.assert_allclose(loop.controller.target_position, [0.4, 0.0, 0.2])
    loop.run(3.0)
    assert abs(loop.state.tcp_position[2] - 0.2) < 0.002


def test_mujoco_model_quantities_on_fr3():
    model = mujoco.MjModel.from_xml_path(str(description.MJCF_PATH))
    data = mujoco.MjData(model)
    robot = MujocoRobotModel(model, data)
    assert robot.base_body_name == description.BASE_LINK
    q = np.asarray(description.ARM.home) + 0.1
    rng = np.random.default_rng(0)
    dq = rng.normal(size=7)
    state = robot.state(q, dq)
    state.validate()
    # Jacobian against central differences of the TCP position.
    eps = 1e-6
    numeric = np.zeros((3, 7))
    for i in range(7):
        dqi = np.zeros(7)
        dqi[i] = eps
        numeric[:, i] = (robot.state(q + dqi, dq).tcp_position
                         - robot.state(q - dqi, dq).tcp_position) / (2 * eps)
    np.testing.assert_allclose(state.jacobian[:3], numeric, atol=1e-7)
    # No gravity in `coriolis`: it vanishes at zero velocity, and it is quadratic in dq.
    np.testing.assert_allclose(robot.state(q, np.zeros(7)).coriolis, np.zeros(7), atol=1e-12)
    np.testing.assert_allclose(robot.state(q, 2 * dq).coriolis, 4 * state.coriolis, atol=1e-9)
    # Mass matrix symmetric positive definite.
    np.testing.assert_allclose(state.mass_matrix, state.mass_matrix.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(state.mass_matrix) > 0.0)
    # read_state() does not write the live data.
    before = data.qpos.copy()
    robot.read_state()
    np.testing.assert_array_equal(data.qpos, before)
