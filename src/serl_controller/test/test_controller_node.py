"""The controller lifecycle node over real DDS: lifecycle services, efforts, safety, parameters."""

import math
import multiprocessing
from pathlib import Path
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import numpy as np
import pytest
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from serl_common import qos
from serl_controller.controller_node import CartesianImpedanceControllerNode, FR3_HOME
from serl_controller.params import ImpedanceParams, params_from_flat, PRECISION_GAINS
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import Marker
import yaml

# DDS keeps C++ threads alive in this process after the tests below; a later fork()ed worker
# (ament_flake8 runs a multiprocessing pool) can then deadlock. Fresh interpreters are safe.
multiprocessing.set_start_method('spawn', force=True)

NODE = '/cartesian_impedance_controller'
TIMEOUT = 10.0


def wait_for(condition, timeout=TIMEOUT, what='condition'):
    """Poll `condition` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        time.sleep(0.005)


class Probe:
    """A test node playing robot and actor: joint states in, efforts and diagnostics out."""

    def __init__(self, node):
        self.node = node
        self.efforts = []
        self.diagnostics = []
        self.limited = []
        self.forwarded = []
        self.publish_states = threading.Event()
        self.joint_pub = node.create_publisher(JointState, '/joint_states', qos.SENSOR)
        self.pose_pub = node.create_publisher(PoseStamped, f'{NODE}/equilibrium_pose',
                                              qos.RELIABLE)
        self.current_pose_pub = node.create_publisher(
            PoseStamped, '/franka_robot_state_broadcaster/current_pose', qos.SENSOR)
        node.create_subscription(Float64MultiArray, '/effort_controller/commands',
                                 self.efforts.append, qos.RELIABLE)
        node.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics.append,
                                 qos.RELIABLE)
        node.create_subscription(PoseStamped, f'{NODE}/limited_target', self.limited.append,
                                 qos.SENSOR)
        node.create_subscription(PoseStamped, '/test/forward_target', self.forwarded.append,
                                 qos.RELIABLE)
        self.change_state = node.create_client(ChangeState, f'{NODE}/change_state')
        self.get_state = node.create_client(GetState, f'{NODE}/get_state')
        self.set_params = node.create_client(SetParameters, f'{NODE}/set_parameters')
        self.current_pose = None
        node.create_timer(0.002, self._publish)

    def _publish(self):
        if not self.publish_states.is_set():
            return
        if self.current_pose is not None:
            self.current_pose_pub.publish(self.current_pose)
            return
        msg = JointState()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.name = [f'fr3_joint{i}' for i in range(1, 8)] + ['fr3_finger_joint1',
                                                             'fr3_finger_joint2']
        msg.position = list(FR3_HOME) + [0.04, 0.04]
        msg.velocity = [0.0] * 9
        msg.effort = [0.0] * 9
        self.joint_pub.publish(msg)

    def call(self, client, request):
        assert client.wait_for_service(timeout_sec=TIMEOUT), f'{client.srv_name} not available'
        future = client.call_async(request)
        wait_for(future.done, what=f'{client.srv_name} response')
        return future.result()

    def transition(self, transition_id):
        return self.call(self.change_state,
                         ChangeState.Request(transition=Transition(id=transition_id))).success

    def lifecycle_state(self):
        return self.call(self.get_state, GetState.Request()).current_state.label

    def set_parameters(self, *parameters):
        request = SetParameters.Request(parameters=[p.to_parameter_msg() for p in parameters])
        return self.call(self.set_params, request).results

    def send_pose(self, position, quaternion=(1.0, 0.0, 0.0, 0.0), frame_id='fr3_link0'):
        wait_for(lambda: self.pose_pub.get_subscription_count() > 0,
                 what='equilibrium pose subscriber')
        msg = PoseStamped()
        msg.header.frame_id = frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = position
        (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
         msg.pose.orientation.w) = quaternion
        self.pose_pub.publish(msg)


@pytest.fixture
def ros():
    """Start the controller node (built with the given overrides) and a probe, spinning."""
    rclpy.init()
    created = {}

    def start(**overrides):
        params = [Parameter(k, value=v) for k, v in
                  {'autostart': False, 'diagnostics_rate': 20.0, **overrides}.items()]
        controller = CartesianImpedanceControllerNode(parameter_overrides=params)
        probe = Probe(rclpy.create_node('controller_test_probe'))
        executor = SingleThreadedExecutor()
        executor.add_node(controller)
        executor.add_node(probe.node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        created.update(executor=executor, thread=thread, nodes=(controller, probe.node))
        return controller, probe

    yield start
    if created:
        for node in created['nodes']:
            created['executor'].remove_node(node)
        created['executor'].shutdown()
        created['thread'].join(timeout=TIMEOUT)
        for node in created['nodes']:
            node.destroy_node()
    rclpy.try_shutdown()


def test_lifecycle_services_drive_the_node_and_efforts_arrive(ros):
    controller, probe = ros(state_timeout=0.5)
    assert probe.lifecycle_state() == 'unconfigured'
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    assert probe.lifecycle_state() == 'inactive'
    assert not probe.transition(Transition.TRANSITION_ACTIVATE)  # no robot state yet
    probe.publish_states.set()
    wait_for(lambda: probe.joint_pub.get_subscription_count() > 0, what='joint state match')
    wait_for(lambda: controller._state_received is not None, what='first joint state')
    assert probe.transition(Transition.TRANSITION_ACTIVATE)
    wait_for(lambda: len(probe.efforts) >= 50, what='effort commands')
    tau = np.array(probe.efforts[-1].data)
    assert tau.shape == (7,) and np.all(np.isfinite(tau))
    assert np.all(np.abs(tau) < 1.0)  # holding the current pose: near-zero torques
    wait_for(lambda: len(probe.limited) > 0, what='limited target')
    assert probe.transition(Transition.TRANSITION_DEACTIVATE)
    assert probe.lifecycle_state() == 'inactive'
    assert probe.transition(Transition.TRANSITION_CLEANUP)
    assert probe.lifecycle_state() == 'unconfigured'


def test_stale_state_stops_torques_and_deactivates_with_error(ros):
    # The default timeout is 20 ms; this test uses 250 ms so that scheduling hiccups of a loaded
    # machine (publisher and node share one Python process here) cannot trip it before the
    # first efforts (100 ms did, once, with the suite at nice 19 beside two training graphs).
    controller, probe = ros(state_timeout=0.25)
    controller._autostart_pending = True
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    probe.publish_states.set()
    wait_for(lambda: len(probe.efforts) >= 20, what='efforts after autostart activation')
    probe.publish_states.clear()
    wait_for(lambda: probe.lifecycle_state() == 'inactive', what='deactivation on stale state')

    def stale_error():
        return any(s.level == DiagnosticStatus.ERROR and 'stale' in s.message
                   for d in probe.diagnostics for s in d.status)
    wait_for(stale_error, what='stale-state error in /diagnostics')
    wait_for(lambda: np.all(np.array(probe.efforts[-1].data) == 0.0), what='zero torque')
    # The robot state comes back: the node stays inactive and publishes no more torques.
    count = len(probe.efforts)
    probe.publish_states.set()
    seen = len(probe.diagnostics)
    wait_for(lambda: len(probe.diagnostics) >= seen + 3, what='three more diagnostics')
    assert len(probe.efforts) == count
    assert probe.lifecycle_state() == 'inactive'


def test_auto_reactivate_resumes_after_the_state_returns(ros):
    controller, probe = ros(state_timeout=0.25, auto_reactivate=True)  # see the test above
    controller._autostart_pending = True
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    probe.publish_states.set()
    wait_for(lambda: len(probe.efforts) >= 20, what='efforts after autostart activation')
    probe.publish_states.clear()
    wait_for(lambda: probe.lifecycle_state() == 'inactive', what='deactivation on stale state')
    count = len(probe.efforts)
    probe.publish_states.set()
    wait_for(lambda: probe.lifecycle_state() == 'active', what='reactivation')
    wait_for(lambda: len(probe.efforts) >= count + 20, what='efforts after reactivation')


def test_default_state_timeout_is_20_ms(ros):
    controller, _ = ros()
    assert controller.get_parameter('state_timeout').value == pytest.approx(0.02)


def test_invalid_parameter_updates_are_rejected_and_gain_sets_switch(ros):
    controller, probe = ros(state_timeout=0.5)
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    bad = [
        Parameter('compliance.translational_stiffness', value=-1.0),
        Parameter('precision.rotational_damping', value=math.nan),
        Parameter('workspace_min', value=[0.9, 0.0, 0.0]),
        Parameter('compliance.translational_clip_pos', value=[0.01, math.inf, 0.01]),
        Parameter('active_gain_set', value='bogus'),
        Parameter('update_rate', value=0.0),
    ]
    for parameter in bad:
        (result,) = probe.set_parameters(parameter)
        assert not result.successful, parameter.name
        assert result.reason, parameter.name
    assert controller.controller.params.translational_stiffness == 2000.0
    (result,) = probe.set_parameters(Parameter('active_gain_set', value='precision'))
    assert result.successful
    assert controller.controller.params.translational_stiffness == 3000.0
    (result,) = probe.set_parameters(Parameter('precision.translational_stiffness',
                                               value=2500.0))
    assert result.successful
    assert controller.controller.params.translational_stiffness == 2500.0


def test_bad_targets_rejected_and_box_clipping_reported(ros):
    controller, probe = ros(state_timeout=0.5)
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    probe.publish_states.set()
    wait_for(lambda: controller._state_received is not None, what='first joint state')
    assert probe.transition(Transition.TRANSITION_ACTIVATE)
    probe.send_pose((0.45, 0.0, 0.3))
    wait_for(lambda: np.allclose(controller.controller.target_position, [0.45, 0.0, 0.3]),
             what='valid target')
    probe.send_pose((math.nan, 0.0, 0.3))
    probe.send_pose((0.45, 0.0, 0.3), (0.0, 0.0, 0.0, 0.0))
    probe.send_pose((0.45, math.inf, 0.3))
    probe.send_pose((0.5, 0.0, 0.3), frame_id='world')  # not the base frame
    wait_for(lambda: controller._rejected_targets == 4, what='four rejections')
    assert 'frame_id' in controller._last_rejection
    np.testing.assert_allclose(controller.controller.target_position, [0.45, 0.0, 0.3])
    probe.send_pose((2.0, 0.0, 0.3))
    wait_for(lambda: controller.controller.status.box_clips == 1, what='box clip')
    np.testing.assert_allclose(controller.controller.target_position, [0.8, 0.0, 0.3])

    def reported():
        values = [{kv.key: kv.value for kv in s.values} for d in probe.diagnostics
                  for s in d.status]
        return any(v.get('box_clips') == '1' and v.get('rejected_targets') == '4'
                   for v in values)
    wait_for(reported, what='box clip and rejections in /diagnostics')


def test_forward_mode_publishes_limited_box_clipped_target(ros):
    controller, probe = ros(mode='forward', update_rate=100.0, state_timeout=0.5,
                            forward_topic='/test/forward_target')
    current = PoseStamped()
    current.pose.position.x, current.pose.position.z = 0.4, 0.3
    current.pose.orientation.x = 1.0
    probe.current_pose = current
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    probe.publish_states.set()
    wait_for(lambda: controller._state_received is not None, what='first current pose')
    assert probe.transition(Transition.TRANSITION_ACTIVATE)
    probe.send_pose((2.0, 0.0, -1.0))  # far outside the box
    wait_for(lambda: controller.controller.status.box_clips == 1, what='box clip')
    wait_for(lambda: probe.forwarded and probe.forwarded[-1].pose.position.z < 0.295,
             what='limited forwarded target')
    p = probe.forwarded[-1].pose.position
    # 1 cm error clip around the current TCP pose, towards the box-clipped target (0.8, 0, 0).
    assert (p.x, p.y, p.z) == pytest.approx((0.41, 0.0, 0.29), abs=1e-9)


def test_config_file_loads_validates_and_matches_code_defaults(ros):
    """config/controller.yaml loads through --params-file and equals the code's defaults."""
    config = Path(__file__).resolve().parents[3] / 'config' / 'controller.yaml'
    node = CartesianImpedanceControllerNode(
        cli_args=['--ros-args', '--params-file', str(config)])
    try:
        with open(config) as stream:
            values = yaml.safe_load(stream)['cartesian_impedance_controller']['ros__parameters']
        flat = {}
        for key, value in values.items():
            if isinstance(value, dict):
                flat.update({f'{key}.{k}': v for k, v in value.items()})
            else:
                flat[key] = value
        for key, value in flat.items():
            assert node.get_parameter(key).value == value, key
        compliance = params_from_flat(flat, 'compliance')
        defaults = ImpedanceParams()
        for field in ('translational_stiffness', 'translational_damping', 'rotational_stiffness',
                      'rotational_damping', 'nullspace_stiffness', 'translational_clip_neg',
                      'rotational_clip_pos', 'torque_rate_limit', 'filter_coefficient',
                      'workspace_min', 'workspace_max', 'joint_torque_limits'):
            assert getattr(compliance, field) == pytest.approx(getattr(defaults, field)), field
        precision = params_from_flat(flat, 'precision')
        assert precision.translational_stiffness == PRECISION_GAINS['translational_stiffness']
    finally:
        node.destroy_node()


def test_safety_box_is_published_latched_and_follows_the_workspace(ros):
    controller, probe = ros()
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    boxes = []   # a subscriber that joins after the publication still gets it (latched)
    probe.node.create_subscription(Marker, f'{NODE}/safety_box', boxes.append, qos.LATCHED)
    wait_for(lambda: boxes, what='the latched safety box')
    box = boxes[-1]
    assert box.header.frame_id == 'fr3_link0' and box.type == Marker.CUBE
    np.testing.assert_allclose([box.scale.x, box.scale.y, box.scale.z], [0.6, 1.0, 0.8])
    np.testing.assert_allclose([box.pose.position.x, box.pose.position.y,
                                box.pose.position.z], [0.5, 0.0, 0.4])
    results = probe.set_parameters(Parameter('workspace_max', value=[0.6, 0.5, 0.8]))
    assert all(r.successful for r in results)
    wait_for(lambda: boxes[-1].scale.x == pytest.approx(0.4), what='the updated box')
