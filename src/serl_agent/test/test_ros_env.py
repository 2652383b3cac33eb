"""RosEnv against the real sim node and impedance controller node over DDS."""

import contextlib
import signal
import subprocess
import sys
import threading
import time

from agent_fixtures import ros_context, spin_until
from geometry_msgs.msg import PoseStamped
import gymnasium as gym
import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from serl_agent.ros.ros_env import ros_expert, RosEnv, RosEnvSettings, StaleStateError
from serl_common import qos
from serl_msgs.msg import GripperCommand
import serl_sim  # noqa: F401


def _start(cmd):
    return subprocess.Popen([sys.executable, '-m'] + cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _stop(proc, sig=signal.SIGINT):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.communicate()[0]


@contextlib.contextmanager
def _env_on_sim(parameters, make_extra, task='PandaPickCube-v0'):
    """
    Yield (env, sim process, executor, extra node) with the sim node and RosEnv spinning.

    ``parameters`` are declared on the env's node before RosEnv reads them; ``make_extra``
    builds the test's own node in the context. Stops everything, the sim with SIGKILL.
    """
    sim = _start(['serl_sim.sim_node', '--ros-args', '-p', 'camera_rate:=0.0',
                  '-p', f'task:={task}'])
    # the sim's reset pauses its state stream: 1 s, as the main job sets in sim
    # (SIM_STATE_TIMEOUT; the 0.5 s default failed a reset once on a loaded machine)
    parameters = {'state_timeout': 1.0, **parameters}
    with ros_context() as (context, executor):
        node = Node('ros_env_test', context=context)
        extra = make_extra(context)
        for name, value in parameters.items():
            node.declare_parameter(name, value)
        env = RosEnv(node, RosEnvSettings.from_node(node))
        spin = SingleThreadedExecutor(context=context)
        spin.add_node(node)
        spin.add_node(extra)
        spinner = threading.Thread(target=spin.spin, daemon=True)
        spinner.start()
        try:
            yield env, sim, executor, extra
        finally:
            spin.shutdown(timeout_sec=10.0)
            spinner.join(10.0)
            # destroying a node while an executor thread still waits on it can crash rclpy
            alive = spinner.is_alive()
            if not alive:
                # before the sim goes: Fast DDS handling the sim participant's removal on its
                # own threads while rcl_node_fini runs crashed this process once (SIGSEGV)
                node.destroy_node()
                extra.destroy_node()
            _stop(sim, signal.SIGKILL)
        assert not alive, 'the executor thread did not stop within 10 s'


def _wait_steady(env, duration, timeout):
    # the sim node is starting up (MuJoCo model, first reset): wait for a steady stream
    deadline = time.monotonic() + timeout
    since = None
    while time.monotonic() < deadline:
        if env.state_age() < 0.1:
            since = since or time.monotonic()
            if time.monotonic() - since >= duration:
                return True
        else:
            since = None
        time.sleep(0.01)
    return False


def test_ros_env_on_sim_node():
    """Observations match PandaPickCube-v0; actions become equilibrium poses; stale -> error."""
    commands, grippers = [], []

    def make_watcher(context):
        watcher = Node('watcher', context=context)
        watcher.create_subscription(PoseStamped,
                                    '/cartesian_impedance_controller/equilibrium_pose',
                                    commands.append, qos.RELIABLE)
        watcher.create_subscription(GripperCommand, '/gripper/command', grippers.append,
                                    qos.RELIABLE)
        return watcher

    parameters = {'reward_source': 'ground_truth'}
    with _env_on_sim(parameters, make_watcher) as (env, sim, executor, _):
        reference = gym.make('PandaPickCube-v0').observation_space
        assert set(env.observation_space.spaces) == set(reference.spaces)
        assert _wait_steady(env, 1.0, 60.0), 'no steady robot state from the sim node'
        obs, info = env.reset(seed=3)
        assert reference.contains(obs), obs
        assert info == {'succeed': False}
        assert _wait_steady(env, 0.5, 30.0)
        n = len(commands)
        tcp = env.tcp_position()
        obs, reward, terminated, truncated, info = env.step(
            np.array([1.0, -0.5, 0.0, -1.0], np.float32))
        assert reference.contains(obs)
        assert (reward, terminated, truncated) == (0.0, False, False)
        # the sim's ground truth: no success, the cube in reach
        assert info == {'succeed': False, 'object_in_reach': True}
        spin_until(executor, lambda: len(commands) > n, 5.0, 'the equilibrium pose')
        cmd = commands[-1]
        assert cmd.header.frame_id == 'fr3_link0'
        target = [cmd.pose.position.x, cmd.pose.position.y, cmd.pose.position.z]
        np.testing.assert_allclose(target, tcp + [0.03, -0.015, 0.0], atol=2e-3)
        q = cmd.pose.orientation
        assert (q.x, q.y, q.z, q.w) == (1.0, 0.0, 0.0, 0.0)
        spin_until(executor, lambda: grippers and grippers[-1].width == 0.0, 5.0,
                   'the closing gripper command')
        with pytest.raises(ValueError, match='NaN'):
            env.step(np.array([np.nan, 0, 0, 0], np.float32))
        _stop(sim, signal.SIGKILL)  # the robot goes silent
        deadline = time.monotonic() + 10.0
        while env.state_age() <= env.settings.state_timeout:
            assert time.monotonic() < deadline, 'state never became stale'
            time.sleep(0.01)
        sent = len(commands)
        with pytest.raises(StaleStateError, match='no command sent'):
            env.step(np.array([1.0, 0.0, 0.0, 1.0], np.float32))
        # a marker through the same reliable publisher: in-order delivery proves that
        # nothing was published before it
        env._publish_equilibrium([0.123, 0.0, 0.3])
        spin_until(executor, lambda: len(commands) > sent, 5.0, 'the marker pose')
        assert [c.pose.position.x for c in commands[sent:]] == [0.123]


def _stamped_classifier(context, lag: float):
    """Return a node that publishes success rewards stamped ``lag`` s before the sim's /clock."""
    from rosgraph_msgs.msg import Clock
    from serl_msgs.msg import RewardStamped
    classifier = Node('fake_classifier', context=context)
    pub = classifier.create_publisher(RewardStamped, '/reward', qos.RELIABLE)
    clock = []

    def publish():
        if clock:
            msg = RewardStamped(probability=0.99, reward=1.0, success=True)
            t = max(0.0, clock[-1] - lag)
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int(t % 1.0 * 1e9)
            pub.publish(msg)

    classifier.create_subscription(
        Clock, '/clock', lambda m: clock.append(m.clock.sec + m.clock.nanosec * 1e-9),
        qos.SENSOR)
    classifier.create_timer(0.01, publish)
    return classifier


def test_ground_truth_success_counts_the_sim_not_the_classifier():
    """A classifier's false positive ends the episode (its reward) but is no success."""
    parameters = {'reward_source': 'classifier', 'ground_truth_success': True}
    with _env_on_sim(parameters, lambda c: _stamped_classifier(c, 0.0)) as (env, _, _, _):
        assert _wait_steady(env, 0.5, 60.0), 'no steady robot state from the sim node'
        env.reset(seed=1)
        _, reward, terminated, truncated, info = env.step(np.zeros(4, np.float32))
        assert (reward, terminated, truncated) == (1.0, True, False)
        assert info == {'succeed': False, 'object_in_reach': True}  # the cube is on the table


@pytest.mark.parametrize('missing_reward', [0.0, -10.0])   # sparse; log p's floor
def test_reward_of_a_frame_before_the_command_is_not_taken(missing_reward):
    """A /reward computed on an older frame is not taken: ``missing_reward``, no success."""
    parameters = {'reward_source': 'classifier', 'reward_timeout': 0.3,
                  'missing_reward': missing_reward}
    # stamped 2 s (sim time) in the past: received after every command, never newer than the
    # state a command came from (as the previous episode's last frame after a reset)
    with _env_on_sim(parameters, lambda c: _stamped_classifier(c, 2.0)) as (env, _, _, _):
        assert _wait_steady(env, 0.5, 60.0), 'no steady robot state from the sim node'
        env.reset(seed=1)
        for _ in range(3):
            _, reward, terminated, _, _ = env.step(np.zeros(4, np.float32))
            assert (reward, terminated) == (missing_reward, False)


def test_ground_truth_success_needs_the_sim():
    with ros_context() as (context, _):
        node = Node('ros_env_truth_real', context=context)
        node.declare_parameter('robot', 'real')
        node.declare_parameter('ground_truth_success', True)
        with pytest.raises(ValueError, match='ground_truth_success needs robot sim'):
            RosEnvSettings.from_node(node)
        node.destroy_node()


def test_the_ros_expert_is_the_tasks_own():
    """Peg insertion over the topics gets the peg expert, aiming at the hole the sim publishes."""
    from serl_sim.experts import PegInsertExpert, PickCubeExpert
    parameters = {'reward_source': 'ground_truth', 'control_rate': 10.0}
    with _env_on_sim(parameters, lambda c: Node('idle', context=c),
                     task='PandaPegInsert-v0') as (env, _, _, _):
        assert _wait_steady(env, 0.5, 30.0)
        obs, _ = env.reset(seed=1)
        expert = ros_expert(env, 'PandaPegInsert-v0')
        assert isinstance(expert, PegInsertExpert)
        expert.reset()
        action = expert(obs)
        to_hole = obs['object_pos'][:2] - obs['tcp_pose'][:2]   # /sim/object_pose: the hole
        assert np.dot(action[:2], to_hole) > 0 and action[3] < 0   # toward it, gripper closed
        assert isinstance(ros_expert(env, 'PandaPickCube-v0'), PickCubeExpert)
        with pytest.raises(ValueError, match='no scripted expert'):
            ros_expert(env, 'NoSuchTask-v0')


def test_a_camera_of_the_wrong_size_or_encoding_stops_the_step_naming_it():
    from sensor_msgs.msg import Image
    with ros_context() as (context, executor):
        node = Node('ros_env_camera_test', context=context)
        env = RosEnv(node, RosEnvSettings(robot='real', reward_source='none',
                                          object_pose=False, image_keys=('front',),
                                          image_size=(128, 128)))
        camera = Node('camera_driver', context=context)
        pub = camera.create_publisher(Image, '/cameras/front/image_raw', qos.SENSOR)
        executor.add_node(node)
        executor.add_node(camera)

        def frame(width, height, encoding='rgb8'):
            channels = 3 if encoding in ('rgb8', 'bgr8') else 1
            return Image(width=width, height=height, encoding=encoding,
                         step=width * channels, data=bytes(width * height * channels))

        def refused():
            return env._camera_errors.get('front')

        pub.publish(frame(64, 64))
        spin_until(executor, refused, 10.0, 'the 64x64 frame to be refused')
        wrong_size = r'camera front .*64x64 frames, expected 128x128'
        with pytest.raises(StaleStateError, match=wrong_size):
            env.observation()
        pub.publish(frame(128, 128, 'mono16'))
        spin_until(executor, lambda: 'mono16' in (refused() or ''), 10.0,
                   'the mono16 frame to be refused')
        pub.publish(frame(128, 128))   # a good frame clears the error
        spin_until(executor, lambda: refused() is None, 10.0, 'a good frame to be taken')
        assert env._images['front'].shape == (128, 128, 3)
        node.destroy_node()
        camera.destroy_node()
