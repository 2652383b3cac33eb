"""
RosEnv.reset over DDS against a scripted robot whose streams pause during a reset.

The robot here is a node in this process that streams the TCP pose, the joint states and the
object pose at 100 Hz and serves ``/sim/reset_episode`` like serl_sim's sim node: a reset
pauses its streams (as the sim does while it resets on a loaded machine) and each stream
resumes at its own time; it can also leave reset requests unanswered (a lost DDS response).
"""

import threading
import time

from agent_fixtures import ros_context
from geometry_msgs.msg import PoseStamped
import numpy as np
import pytest
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import JointState
from serl_agent.ros.ros_env import RosEnv, RosEnvSettings, StaleStateError
from serl_common import qos
from serl_msgs.srv import ResetEpisode

STREAMS = ('pose', 'joints', 'object')


class ScriptedRobot(Node):
    """
    Streams of a robot and a reset service with scripted pauses and lost answers.

    :param pause: s every stream stays silent after a reset request.
    :param lag: extra s of silence per stream after ``pause`` (e.g. ``{'object': 0.3}``).
    :param unanswered: how many reset requests get no answer (until :meth:`release`).
    """

    def __init__(self, context, pause=0.0, lag=None, unanswered=0):
        super().__init__('scripted_robot', context=context)
        self.pause, self.lag, self.unanswered = pause, dict(lag or {}), unanswered
        self.silent_until = {k: 0.0 for k in STREAMS}
        self.requests = []
        self.options = {}
        self.released = threading.Event()
        self.pub = {'pose': self.create_publisher(
                        PoseStamped, '/franka_robot_state_broadcaster/current_pose', qos.SENSOR),
                    'joints': self.create_publisher(JointState, '/joint_states', qos.SENSOR),
                    'object': self.create_publisher(PoseStamped, '/sim/object_pose',
                                                    qos.SENSOR)}
        self.create_timer(0.01, self._publish)
        self.create_service(ResetEpisode, '/sim/reset_episode', self._on_reset,
                            callback_group=ReentrantCallbackGroup())

    def silence(self, stream, seconds):
        """Keep ``stream`` silent for ``seconds`` from now."""
        self.silent_until[stream] = time.monotonic() + seconds

    def release(self):
        """Let the unanswered reset requests be answered (late)."""
        self.released.set()

    def _publish(self):
        now = time.monotonic()
        stamp = self.get_clock().now().to_msg()
        if now >= self.silent_until['pose']:
            msg = PoseStamped()
            msg.header.stamp, msg.header.frame_id = stamp, 'fr3_link0'
            msg.pose.position.x, msg.pose.position.z, msg.pose.orientation.x = 0.3, 0.3, 1.0
            msg.pose.orientation.w = 0.0
            self.pub['pose'].publish(msg)
        if now >= self.silent_until['joints']:
            msg = JointState(name=['fr3_finger_joint1', 'fr3_finger_joint2'],
                             position=[0.04, 0.04])
            msg.header.stamp = stamp
            self.pub['joints'].publish(msg)
        if now >= self.silent_until['object']:
            msg = PoseStamped()
            msg.header.stamp, msg.header.frame_id = stamp, 'fr3_link0'
            msg.pose.position.x, msg.pose.position.z, msg.pose.orientation.w = 0.5, 0.02, 1.0
            self.pub['object'].publish(msg)

    def _on_reset(self, request, response):
        self.requests.append(int(request.seed))
        self.options = {'keep_objects': request.keep_objects, 'direction': request.direction}
        for stream in STREAMS:
            self.silence(stream, self.pause + self.lag.get(stream, 0.0))
        if len(self.requests) <= self.unanswered:
            self.released.wait()  # this answer is lost for the client
        response.success = True
        response.message = f'reset {len(self.requests)}'
        return response


@pytest.fixture
def graph():
    """Yield ``make(robot_kwargs, settings_overrides) -> (robot, env)``; spins both."""
    with ros_context() as (context, _):
        made = []

        def make(robot_kwargs, **overrides):
            robot = ScriptedRobot(context, **robot_kwargs)
            node = Node('ros_env_reset_test', context=context)
            for name, value in overrides.items():
                node.declare_parameter(name, value)
            env = RosEnv(node, RosEnvSettings.from_node(node))
            robot_exec = MultiThreadedExecutor(num_threads=6, context=context)
            robot_exec.add_node(robot)
            env_exec = SingleThreadedExecutor(context=context)
            env_exec.add_node(node)
            threads = [threading.Thread(target=e.spin, daemon=True)
                       for e in (robot_exec, env_exec)]
            for t in threads:
                t.start()
            made.append((robot, node, (robot_exec, env_exec), threads))
            return robot, env

        try:
            yield make
        finally:
            for robot, node, executors, threads in made:
                robot.release()
                for e in executors:
                    e.shutdown()
                for t in threads:
                    t.join(10.0)
                robot.destroy_node()
                node.destroy_node()


def test_reset_waits_for_every_stream_to_resume(graph):
    """A stream resuming late after the reset's pause delays the first observation, no error."""
    robot, env = graph({'pause': 0.8, 'lag': {'object': 0.4}},
                       robot='sim', reward_source='none', state_timeout=0.5, reset_timeout=5.0)
    env.wait_for_state(30.0)
    start = time.monotonic()
    obs, _ = env.reset(seed=4)
    assert time.monotonic() - start >= 1.2 - 0.05  # waited for the late object pose
    np.testing.assert_allclose(obs['object_pos'], [0.5, 0.0, 0.02], atol=1e-6)
    np.testing.assert_allclose(obs['object_rel'], obs['object_pos'] - obs['tcp_pose'][:3],
                               atol=1e-6)
    assert robot.requests == [4]
    # stepping keeps the safety timeout: a stream silent for > state_timeout stops motion
    robot.silence('object', 60.0)
    deadline = time.monotonic() + 10.0
    while not any('/sim/object_pose' in s for s in _stale(env)):
        assert time.monotonic() < deadline, 'the object pose never became stale'
        time.sleep(0.01)
    with pytest.raises(StaleStateError, match='/sim/object_pose'):
        env.step(np.zeros(4, np.float32))


def _stale(env):
    try:
        env._check_fresh()
    except StaleStateError as exc:
        return [str(exc)]
    return []


def test_reset_names_a_stream_that_never_resumes(graph):
    """A stream still silent after reset_timeout: StaleStateError naming it, in time."""
    robot, env = graph({'pause': 0.2, 'lag': {'joints': 60.0}},
                       robot='sim', reward_source='none', reset_timeout=1.5)
    env.wait_for_state(30.0)
    start = time.monotonic()
    with pytest.raises(StaleStateError, match=r'after the reset on /joint_states$'):
        env.reset(seed=1)
    assert time.monotonic() - start < 1.5 + 2.0


def test_reset_resends_a_request_whose_answer_was_lost(graph):
    """The first reset answer never arrives: the request is sent again, same seed."""
    robot, env = graph({'unanswered': 1}, robot='sim', reward_source='none',
                       reset_timeout=4.0)
    env.wait_for_state(30.0)
    obs, _ = env.reset(seed=7)
    assert robot.requests == [7, 7]
    assert obs['tcp_pose'].shape == (7,)


def test_reset_gives_up_when_no_answer_comes(graph):
    """No answer to any attempt: RuntimeError within reset_timeout, after several attempts."""
    robot, env = graph({'unanswered': 100}, robot='sim', reward_source='none',
                       reset_timeout=2.0)
    env.wait_for_state(30.0)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match='did not answer within 2.0 s'):
        env.reset(seed=2)
    assert time.monotonic() - start < 2.0 + 1.0
    assert len(robot.requests) >= 3


def test_reset_options_reach_the_reset_service(graph):
    """A reset-free episode start: keep the objects, set the task's direction."""
    robot, env = graph({}, reset_timeout=5.0)
    env.reset(seed=3, options={'keep_objects': True, 'direction': 'backward'})
    assert robot.requests == [3]
    assert robot.options == {'keep_objects': True, 'direction': 'backward'}
    env.reset()
    assert robot.options == {'keep_objects': False, 'direction': ''}   # the defaults
