"""The sim node in control_mode impedance over real DDS: equilibrium poses move the arm."""

import functools
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from serl_common.qos import RELIABLE, SENSOR
from serl_msgs.srv import ResetEpisode
from serl_sim.sim_node import SimNode
import sim_fixtures
from sim_fixtures import running_sim
from std_msgs.msg import Float64MultiArray

TIMEOUT = 20.0
TOPIC = '/cartesian_impedance_example_controller/equilibrium_pose'
DOWN = (1.0, 0.0, 0.0, 0.0)


wait_for = functools.partial(sim_fixtures.wait_for, timeout=TIMEOUT)


class Probe(Node):
    """Sends equilibrium poses and effort commands; keeps the latest TCP pose and diagnostics."""

    def __init__(self, context):
        super().__init__('impedance_probe', context=context)
        self.latest = {}
        self.create_subscription(PoseStamped, '/franka_robot_state_broadcaster/current_pose',
                                 lambda m: self.latest.__setitem__('pose', m), SENSOR)
        self.create_subscription(DiagnosticArray, '/diagnostics',
                                 lambda m: self.latest.__setitem__('diag', m), RELIABLE)
        self.target = self.create_publisher(PoseStamped, TOPIC, RELIABLE)
        self.effort = self.create_publisher(Float64MultiArray, '/effort_controller/commands',
                                            RELIABLE)
        self.reset = self.create_client(ResetEpisode, '/sim/reset_episode')

    def tcp(self):
        p = wait_for(lambda: self.latest.get('pose'), what='current_pose').pose.position
        return np.array([p.x, p.y, p.z])

    def diagnostics(self):
        msg = wait_for(lambda: self.latest.get('diag'), what='/diagnostics')
        return {kv.key: kv.value for kv in msg.status[0].values}

    def send(self, position, quaternion=DOWN, frame_id='fr3_link0'):
        wait_for(lambda: self.target.get_subscription_count() > 0, what='target subscriber')
        msg = PoseStamped()
        msg.header.frame_id = frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (
            float(v) for v in position)
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = (float(v) for v in quaternion)
        self.target.publish(msg)


@pytest.fixture(scope='module')
def ros():
    with running_sim(Probe, [
            Parameter('control_mode', value='impedance'), Parameter('camera_rate', value=0.0),
            Parameter('state_rate', value=100.0), Parameter('diagnostics_rate', value=20.0),
            Parameter('seed', value=3)]) as (sim, probe):
        yield sim, probe


def _wait_sim_time(sim, seconds):
    start = sim.clock_seconds()
    wait_for(lambda: sim.clock_seconds() >= start + seconds, what=f'{seconds} s of sim time')


def test_equilibrium_pose_moves_the_tcp_and_the_last_target_holds(ros):
    sim, probe = ros
    start = probe.tcp()
    target = start + [0.0, 0.06, -0.04]
    probe.send(target)
    wait_for(lambda: np.linalg.norm(probe.tcp() - target) < 0.004,
             what=f'the TCP to reach {target} (now {probe.tcp()})')
    # No more targets: the last one stays in force (franka_ros2's controller holds it).
    _wait_sim_time(sim, 0.5)
    np.testing.assert_allclose(probe.tcp(), target, atol=0.004)
    diagnostics = probe.diagnostics()
    assert diagnostics['control_mode'] == 'impedance'
    assert int(wait_for(lambda: probe.diagnostics()['equilibrium_poses_received'] != '0',
                        what='received targets in /diagnostics')) >= 1


def test_bad_equilibrium_poses_are_rejected_and_the_target_kept(ros):
    sim, probe = ros
    n = sim.impedance.received
    probe.send(probe.tcp())
    wait_for(lambda: sim.impedance.received > n, what='a target')
    kept = sim.impedance.controller.target_position
    before = sim.impedance.rejected
    probe.send([np.nan, 0.0, 0.3])
    probe.send([0.4, 0.0, 0.3], quaternion=(0.0, 0.0, 0.0, 0.0))
    probe.send([0.4, 0.0, 0.3], quaternion=(2.0, 0.0, 0.0, 0.0))
    probe.send([0.4, 0.0, np.inf], quaternion=(np.nan, 0.0, 0.0, 1.0))
    probe.send([0.4, 0.0, 0.3], frame_id='world')
    wait_for(lambda: sim.impedance.rejected == before + 5, what='five rejections')
    np.testing.assert_array_equal(sim.impedance.controller.target_position, kept)
    wait_for(lambda: int(probe.diagnostics()['equilibrium_poses_rejected']) >= before + 5,
             what='rejections in /diagnostics')
    wait_for(lambda: probe.latest['diag'].status[0].level == b'\x01', what='WARN level')
    assert 'equilibrium poses rejected' in probe.latest['diag'].status[0].message


def test_effort_commands_are_ignored_and_counted(ros):
    sim, probe = ros
    probe.send(probe.tcp())
    wait_for(lambda: probe.effort.get_subscription_count() > 0, what='effort subscriber')
    held = probe.tcp()
    deadline = time.monotonic() + TIMEOUT
    while sim.effort_ignored < 20:  # 20 N m on joint 1 would swing the arm within 0.1 s
        assert time.monotonic() < deadline, 'effort commands were not counted as ignored'
        probe.effort.publish(Float64MultiArray(data=[20.0, 0, 0, 0, 0, 0, 0]))
        time.sleep(0.002)
    np.testing.assert_allclose(probe.tcp(), held, atol=0.004)
    assert sim.guard.received == 0
    wait_for(lambda: int(probe.diagnostics()['effort_commands_ignored']) >= 20,
             what='ignored commands in /diagnostics')


def test_reset_holds_the_new_start_pose(ros):
    sim, probe = ros
    probe.send(probe.tcp() + [0.05, 0.0, 0.0])
    wait_for(lambda: probe.reset.wait_for_service(timeout_sec=1.0), what='reset service')
    future = probe.reset.call_async(ResetEpisode.Request(seed=4))
    assert wait_for(future.done, what='reset response') and future.result().success
    start = sim.sim.tcp_position()
    np.testing.assert_allclose(sim.impedance.controller.target_position, start, atol=1e-6)
    _wait_sim_time(sim, 0.3)
    np.testing.assert_allclose(probe.tcp(), start, atol=0.003)


def test_bad_control_mode_and_gains_are_named():
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(ValueError, match='control_mode'):
            SimNode(context=context, parameter_overrides=[
                Parameter('control_mode', value='torque'), Parameter('camera_rate', value=0.0)])
        with pytest.raises(ValueError, match='translational_stiffness'):
            SimNode(context=context, parameter_overrides=[
                Parameter('control_mode', value='impedance'),
                Parameter('camera_rate', value=0.0),
                Parameter('impedance.translational_stiffness', value=-1.0)])
    finally:
        rclpy.try_shutdown(context=context)
