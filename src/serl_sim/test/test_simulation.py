"""FrankaSim: what the simulated robot reports (wrench, efforts, gripper) and its errors."""

import numpy as np
import pytest
from serl_controller.impedance import CartesianImpedanceController
from serl_controller.mujoco_model import MujocoRobotModel
from serl_controller.params import ImpedanceParams

from serl_sim import description
from serl_sim.simulation import FrankaSim
from serl_sim.tasks import make_task, PegInsertTask, PickCubeTask
from serl_sim.tasks.bin_relocation import BinRelocationTask


def test_pressing_down_on_the_table_reads_an_upward_external_force():
    sim = FrankaSim(PickCubeTask())
    sim.reset(np.random.default_rng(0))
    sim.set_tcp_pose([0.45, 0.2, 0.03], [1, 0, 0, 0])  # beside the cube's range in y
    model = MujocoRobotModel(sim.model, sim.data)
    law = CartesianImpedanceController()
    law.on_configure(ImpedanceParams(workspace_min=(0.2, -0.5, -0.1)))
    law.on_activate(model.read_state())
    np.testing.assert_allclose(sim.external_wrench(), 0.0, atol=1e-6)
    law.set_equilibrium_pose([0.45, 0.2, -0.05], [1, 0, 0, 0])  # 5 cm into the table
    for _ in range(1000):
        sim.step(law.update(sim.time, sim.physics_dt, model.read_state()))
    force = sim.external_wrench()[:3]
    # The law's error clip (1 cm at 2000 N/m) bounds the push near 20 N.
    assert 10.0 < force[2] < 30.0, force
    assert np.all(np.abs(force[:2]) < 0.3 * force[2]), force


def test_joint_efforts_contain_gravity_like_the_fr3s_measured_torques():
    sim = FrankaSim(PickCubeTask())
    sim.reset(np.random.default_rng(0))
    sim.step(np.zeros(7))
    efforts = sim.joint_efforts()
    assert efforts.shape == (9,)
    assert abs(efforts[1]) > 1.0  # the shoulder holds the arm up
    position_before = sim.tcp_position()
    for _ in range(500):
        sim.step(np.zeros(7))
    np.testing.assert_allclose(sim.tcp_position(), position_before, atol=1e-4)


def test_gripper_width_follows_the_command_and_is_clamped():
    sim = FrankaSim(PickCubeTask())
    sim.reset(np.random.default_rng(0))
    assert sim.gripper_width() == pytest.approx(0.08)
    sim.set_gripper(0.03)
    for _ in range(500):
        sim.step()
    assert sim.gripper_width() == pytest.approx(0.03, abs=1e-3)
    sim.set_gripper(1.0)
    for _ in range(500):
        sim.step()
    assert sim.data.ctrl[sim.gripper_actuator] == pytest.approx(description.FINGER_TRAVEL)


def test_the_fingers_move_at_the_grippers_speed_not_the_servos():
    sim = FrankaSim(BinRelocationTask())
    sim.reset(np.random.default_rng(0))
    sim.set_gripper(0.0)   # close from 0.08 m: 0.8 s at 0.1 m/s
    steps = int(round(0.1 / sim.physics_dt))
    fastest = 0.0
    for _ in range(steps):
        sim.step()
        fastest = max(fastest, float(np.abs(sim.joint_velocities()[7:]).max()))
    assert sim.gripper_width() == pytest.approx(0.08 - 0.1 * description.GRIPPER_SPEED,
                                                abs=2e-3)
    assert fastest < 0.6 * description.GRIPPER_SPEED   # per finger: half the opening's speed
    sim.set_gripper(0.08, speed=0.02)   # a slower command (sim_node's GripperCommand.speed)
    width = sim.gripper_width()
    for _ in range(steps):
        sim.step()
    assert sim.gripper_width() - width == pytest.approx(0.1 * 0.02, abs=1e-3)
    sim.set_gripper(0.08, speed=5.0)   # faster than the hand: its speed
    before = sim.data.ctrl[sim.gripper_actuator]
    sim.step()
    assert 2 * (sim.data.ctrl[sim.gripper_actuator] - before) == pytest.approx(
        description.GRIPPER_SPEED * sim.physics_dt)
    for bad in (0.0, -1.0, float('nan')):
        with pytest.raises(ValueError, match='gripper speed'):
            sim.set_gripper(0.0, speed=bad)
    pick = FrankaSim(PickCubeTask())   # gripper_speed None: the command jumps, as measured
    pick.reset(np.random.default_rng(0))
    pick.set_gripper(0.0)
    assert pick.data.ctrl[pick.gripper_actuator] == 0.0


def test_peg_starts_held_between_the_fingers_above_the_hole():
    sim = FrankaSim(PegInsertTask())
    sim.reset(np.random.default_rng(4))
    tip = sim.task.peg_tip(sim)
    hole = sim.task.hole_top(sim)
    offset = tip - sim.tcp_position()
    assert 0.02 - 1e-6 <= np.linalg.norm(tip[:2] - hole[:2]) <= 0.04 + 1e-6
    assert 0.03 - 1e-6 <= tip[2] - hole[2] <= 0.05 + 1e-6
    np.testing.assert_allclose(offset, [0.0, 0.0, -0.05], atol=1e-6)
    for _ in range(200):  # zero torque: the arm floats (gravity-compensated), the peg stays put
        sim.step(np.zeros(7))
    np.testing.assert_allclose(sim.task.peg_tip(sim) - sim.tcp_position(), offset, atol=2e-3)
    assert sim.success()[0] is False


def test_errors_name_what_was_wrong():
    with pytest.raises(ValueError, match='unknown task'):
        make_task('PandaStack-v0')
    with pytest.raises(ValueError, match='physics_dt'):
        FrankaSim(PickCubeTask(), physics_dt=0.0)
    sim = FrankaSim(PickCubeTask())
    with pytest.raises(ValueError, match='out of reach'):
        sim.inverse_kinematics([2.0, 0.0, 0.3], [1, 0, 0, 0])
