"""The sim node over real DDS: streams, latched description, commands, bad input, services."""

import functools
import os
import signal
import subprocess
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, WrenchStamped
import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from serl_common.qos import LATCHED, RELIABLE, SENSOR
from serl_msgs.msg import GripperCommand
from serl_msgs.srv import GetSuccess, ResetEpisode
import sim_fixtures
from sim_fixtures import running_sim
from std_msgs.msg import Float64MultiArray, String


TIMEOUT = 15.0
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


wait_for = functools.partial(sim_fixtures.wait_for, timeout=TIMEOUT)


class Probe(Node):
    """Subscribes to everything the sim publishes and keeps the latest of each."""

    def __init__(self, context):
        super().__init__('sim_probe', context=context)
        self.latest = {}
        self.counts = {}
        topics = {
            '/joint_states': JointState,
            '/franka_robot_state_broadcaster/current_pose': PoseStamped,
            '/franka_robot_state_broadcaster/external_wrench_in_base_frame': WrenchStamped,
            '/franka_robot_state_broadcaster/measured_joint_states': JointState,
            '/sim/object_pose': PoseStamped,
            '/clock': Clock,
            '/cameras/front/image_raw': Image,
            '/cameras/wrist/image_raw': Image,
            '/cameras/front/camera_info': CameraInfo,
        }
        for topic, kind in topics.items():
            self.create_subscription(kind, topic, self._keep(topic), SENSOR)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._keep('/diagnostics'),
                                 RELIABLE)
        self.effort = self.create_publisher(Float64MultiArray, '/effort_controller/commands',
                                            RELIABLE)
        self.gripper = self.create_publisher(GripperCommand, '/gripper/command', RELIABLE)
        self.reset = self.create_client(ResetEpisode, '/sim/reset_episode')
        self.get_success = self.create_client(GetSuccess, '/sim/get_success')

    def _keep(self, topic):
        def callback(msg):
            self.latest[topic] = msg
            self.counts[topic] = self.counts.get(topic, 0) + 1
        return callback

    def get(self, topic):
        return wait_for(lambda: self.latest.get(topic), what=topic)

    def diagnostics(self):
        msg = self.get('/diagnostics')
        return {kv.key: kv.value for kv in msg.status[0].values}

    def call(self, client, request, resend_after=5.0):
        """
        Call an idempotent service; send it again when no answer came within ``resend_after`` s.

        wait_for_service only proves the request reader is matched: the server's response
        writer may not have matched this client's reader yet, and DDS then drops the response.
        Every request stays pending; the first answer wins.
        """
        assert client.wait_for_service(timeout_sec=TIMEOUT), client.srv_name
        futures = []
        deadline = time.monotonic() + 3 * TIMEOUT
        while time.monotonic() < deadline:
            futures.append(client.call_async(request))
            try:
                done = wait_for(lambda: next((f for f in futures if f.done()), None),
                                timeout=resend_after, what=f'{client.srv_name} response')
            except AssertionError:
                continue
            for future in futures:
                if future is not done:
                    client.remove_pending_request(future)
            return done.result()
        raise AssertionError(f'no {client.srv_name} response within {3 * TIMEOUT} s')


@pytest.fixture(scope='module')
def ros():
    with running_sim(Probe, [
            Parameter('camera_rate', value=10.0), Parameter('diagnostics_rate', value=20.0),
            Parameter('state_rate', value=250.0), Parameter('seed', value=3)]) as (sim, probe):
        yield sim, probe


def test_streams_mirror_the_fr3_interface(ros):
    sim, probe = ros
    joint = probe.get('/joint_states')
    assert list(joint.name) == [f'fr3_joint{i}' for i in range(1, 8)] + [
        'fr3_finger_joint1', 'fr3_finger_joint2']
    assert len(joint.position) == len(joint.velocity) == len(joint.effort) == 9
    measured = probe.get('/franka_robot_state_broadcaster/measured_joint_states')
    assert len(measured.name) == 7
    pose = probe.get('/franka_robot_state_broadcaster/current_pose')
    assert pose.header.frame_id == 'fr3_link0'
    p = pose.pose.position
    np.testing.assert_allclose([p.x, p.y, p.z], [0.4, 0.0, 0.3], atol=0.01)
    wrench = probe.get('/franka_robot_state_broadcaster/external_wrench_in_base_frame')
    assert wrench.header.frame_id == 'fr3_link0'
    cube = probe.get('/sim/object_pose').pose.position
    assert 0.25 <= cube.x <= 0.55 and -0.25 <= cube.y <= 0.25
    first = probe.get('/clock').clock
    wait_for(lambda: probe.latest['/clock'].clock.sec * 1e9 + probe.latest['/clock'].clock.nanosec
             > first.sec * 1e9 + first.nanosec + 1e8, what='/clock to advance 0.1 s')


def test_cameras_publish_rgb8_images_with_camera_info(ros):
    _, probe = ros
    for name in ('front', 'wrist'):
        image = probe.get(f'/cameras/{name}/image_raw')
        assert (image.height, image.width, image.encoding, image.step) == (128, 128, 'rgb8', 384)
        pixels = np.frombuffer(bytes(image.data), np.uint8)
        assert pixels.size == 128 * 128 * 3 and pixels.std() > 5
    info = probe.get('/cameras/front/camera_info')
    assert info.width == 128 and info.k[0] > 0 and info.k[2] == pytest.approx(63.5)


def test_robot_description_is_latched(ros):
    sim, _ = ros
    received = []
    late = Node('late_joiner', context=sim.context)
    late.create_subscription(String, '/robot_description', received.append, LATCHED)
    executor = rclpy.executors.SingleThreadedExecutor(context=sim.context)
    executor.add_node(late)
    deadline = time.monotonic() + TIMEOUT
    while not received and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    late.destroy_node()
    assert received, 'no /robot_description for a subscriber that joined late'
    assert '<robot name="fr3">' in received[0].data and 'fr3_hand_tcp' in received[0].data


def _send(probe, values):
    wait_for(lambda: probe.effort.get_subscription_count() > 0, what='effort subscriber')
    probe.effort.publish(Float64MultiArray(data=[float(v) for v in values]))


def test_effort_command_moves_the_arm_and_expires(ros):
    sim, probe = ros
    q0 = probe.get('/joint_states').position[0]
    deadline = time.monotonic() + TIMEOUT
    while abs(probe.latest['/joint_states'].position[0] - q0) < 0.01:
        assert time.monotonic() < deadline, 'joint 1 did not move under 20 N m'
        _send(probe, [20.0, 0, 0, 0, 0, 0, 0])
        time.sleep(0.002)
    # No more commands: within one hold period of sim time the torques are zero.
    wait_for(lambda: not sim.guard.active, what='the held command to expire')
    assert int(wait_for(lambda: probe.diagnostics()['effort_commands_expired'] != '0',
                        what='expiry in /diagnostics')) >= 1


def test_bad_effort_commands_are_rejected_and_out_of_range_ones_clipped(ros):
    sim, probe = ros
    before = sim.guard.rejected
    _send(probe, [float('nan')] + [0.0] * 6)
    _send(probe, [0.0] * 6)
    _send(probe, [float('inf')] * 7)
    wait_for(lambda: sim.guard.rejected == before + 3, what='three rejections')
    wait_for(lambda: int(probe.diagnostics()['effort_commands_rejected']) >= before + 3,
             what='rejections in /diagnostics')
    clipped = sim.guard.clipped
    _send(probe, [500.0, 0, 0, 0, 0, 0, -50.0])
    wait_for(lambda: sim.guard.clipped == clipped + 1, what='a clipped command')
    held = sim.guard.torque(sim.clock_seconds())
    assert held[0] <= 87.0 and held[6] >= -12.0
    status = probe.get('/diagnostics').status[0]
    wait_for(lambda: probe.get('/diagnostics').status[0].level == b'\x01',
             what='WARN level in /diagnostics')
    assert status.hardware_id == 'mujoco_fr3'


def test_gripper_command_closes_and_bad_width_is_rejected(ros):
    sim, probe = ros
    wait_for(lambda: probe.gripper.get_subscription_count() > 0, what='gripper subscriber')
    before = sim.gripper_rejected
    probe.gripper.publish(GripperCommand(width=0.02, speed=0.1, force=0.0))
    wait_for(lambda: sim.sim.data.ctrl[sim.sim.gripper_actuator] == 0.01,
             what='the 2 cm target (1 cm per finger)')
    target = sim.sim.data.ctrl[sim.sim.gripper_actuator].copy()
    probe.gripper.publish(GripperCommand(width=0.5, speed=0.1, force=0.0))   # wider than 0.08 m
    probe.gripper.publish(GripperCommand(width=float('nan'), speed=0.1, force=0.0))
    wait_for(lambda: sim.gripper_rejected == before + 2, what='two rejected gripper commands')
    assert sim.sim.data.ctrl[sim.sim.gripper_actuator] == target   # neither reached the sim
    wait_for(lambda: int(probe.diagnostics()['gripper_commands_rejected']) >= before + 2,
             what='the rejections in /diagnostics')
    probe.gripper.publish(GripperCommand(width=0.0, speed=0.1, force=20.0))
    wait_for(lambda: sum(probe.latest['/joint_states'].position[7:]) < 0.01,
             what='fingers to close')
    probe.gripper.publish(GripperCommand(width=0.08, speed=0.1, force=0.0))
    wait_for(lambda: sum(probe.latest['/joint_states'].position[7:]) > 0.07,
             what='fingers to open')


def test_reset_is_deterministic_per_seed_and_success_is_queried(ros):
    sim, probe = ros

    def reset(seed):
        response = probe.call(probe.reset, ResetEpisode.Request(seed=seed))
        assert response.success, response.message
        return sim.sim.object_pose()[0]

    a, b, c = reset(5), reset(5), reset(6)
    np.testing.assert_allclose(a, b, atol=1e-4)  # physics runs on between reset and read
    assert np.linalg.norm(a - c) > 1e-3
    wait_for(lambda: abs(probe.latest['/sim/object_pose'].pose.position.x - c[0]) < 1e-6,
             what='object pose of the new episode')
    tcp = wait_for(lambda: probe.latest['/franka_robot_state_broadcaster/current_pose'])
    np.testing.assert_allclose(tcp.pose.position.x, 0.4, atol=0.01)
    before = sim.clock_seconds()
    result = probe.call(probe.get_success, GetSuccess.Request())
    assert result.success is False and 'above table' in result.message
    # the answer is dated in sim time (the camera stamps' clock), between the call and now
    stamp = result.header.stamp.sec + result.header.stamp.nanosec * 1e-9
    assert before - 1e-6 <= stamp <= sim.clock_seconds() + 1e-6


def test_reset_keeping_objects_moves_only_the_arm_and_bad_directions_are_refused(ros):
    sim, probe = ros
    assert probe.call(probe.reset, ResetEpisode.Request(seed=8)).success
    cube = sim.sim.object_pose()[0]
    response = probe.call(probe.reset, ResetEpisode.Request(seed=9, keep_objects=True))
    assert response.success and 'objects kept' in response.message
    np.testing.assert_allclose(sim.sim.object_pose()[0], cube, atol=1e-3)   # not re-sampled
    refused = probe.call(probe.reset, ResetEpisode.Request(seed=-1, direction='backward'))
    assert not refused.success and 'pick_cube has no directions' in refused.message


def test_console_script_starts_from_config_and_stops_on_sigint():
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(int(env['ROS_DOMAIN_ID']) + 50)
    env['PYTHONFAULTHANDLER'] = '1'  # a crash prints every thread's Python stack
    script = os.path.join(ROOT, 'install', 'serl_sim', 'lib', 'serl_sim', 'sim_node')
    config = os.path.join(ROOT, 'config', 'sim.yaml')
    proc = subprocess.Popen([script, '--ros-args', '--params-file', config, '-p',
                             'task:=PandaPegInsert-v0', '-p', 'camera_rate:=0.0'], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=int(env['ROS_DOMAIN_ID']))
        node = Node('script_probe', context=context)
        received = []
        node.create_subscription(PoseStamped, '/sim/object_pose', received.append, SENSOR)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 30.0
        while not received and time.monotonic() < deadline and proc.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        assert received, 'sim_node (console script) published no /sim/object_pose'
        assert received[0].pose.position.z == pytest.approx(0.04)  # the hole's opening
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output


def test_parameters_cannot_change_while_running(ros):
    sim, _ = ros
    result = sim.set_parameters([Parameter('real_time_factor', value=2.0)])[0]
    assert not result.successful and 'restart' in result.reason
    assert sim.get_parameter('real_time_factor').value == 1.0
